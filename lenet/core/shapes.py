"""Output sizes of convolution and pooling layers, with errors a student can act on."""

from __future__ import annotations

Pair = tuple[int, int]
IntOrPair = int | tuple[int, int] | list[int]


def as_pair(value: IntOrPair, name: str) -> Pair:
    """Turn 3 into (3, 3); check that a pair really has two whole numbers."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number or a pair of whole numbers, not {value!r}.")
    if isinstance(value, int):
        return (value, value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return (int(value[0]), int(value[1]))
    raise ValueError(f"{name} must be a whole number or a pair of whole numbers, not {value!r}.")


def _check_positive(pair: Pair, name: str) -> None:
    if min(pair) < 1:
        raise ValueError(f"{name} must be at least 1 in each direction (got {pair}).")


def conv_output_shape(
    input_hw: IntOrPair,
    kernel_size: IntOrPair,
    padding: IntOrPair = 0,
    stride: IntOrPair = 1,
    dilation: IntOrPair = 1,
) -> Pair:
    """Height and width after a convolution: floor((n + 2p - d(k - 1) - 1) / s) + 1 per direction.

    Raises ValueError, saying which setting to change, when a value is invalid or the
    output would be empty. Agrees with torch.nn.functional.conv2d.
    """
    n = as_pair(input_hw, "input size")
    k = as_pair(kernel_size, "kernel size")
    p = as_pair(padding, "padding")
    s = as_pair(stride, "stride")
    d = as_pair(dilation, "dilation")
    _check_positive(n, "input size")
    _check_positive(k, "kernel size")
    _check_positive(s, "stride")
    _check_positive(d, "dilation")
    if min(p) < 0:
        raise ValueError(f"padding cannot be negative (got {p}); use 0 for no padding.")
    out = []
    for axis, ni, ki, pi, si, di in zip(("height", "width"), n, k, p, s, d):
        span = di * (ki - 1) + 1
        if span > ni + 2 * pi:
            what = f"kernel {ki}" if di == 1 else f"kernel {ki} with dilation {di} (spanning {span})"
            need = (span - ni + 1) // 2
            raise ValueError(
                f"The {what} is larger than the padded input {ni} + 2x{pi} = {ni + 2 * pi} "
                f"in {axis}: make the kernel smaller or the padding at least {need}."
            )
        out.append((ni + 2 * pi - span) // si + 1)
    return (out[0], out[1])


def pool_output_shape(
    input_hw: IntOrPair,
    pool_size: IntOrPair,
    padding: IntOrPair = 0,
    stride: IntOrPair | None = None,
) -> Pair:
    """Height and width after max or average pooling, following torch's rules.

    stride=None means the window size, as in nn.MaxPool2d. Torch also refuses padding
    over half the window, since a window could then see nothing but padding.
    """
    k = as_pair(pool_size, "pool size")
    p = as_pair(padding, "padding")
    _check_positive(k, "pool size")
    if min(p) >= 0 and any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError(
            f"Pooling padding {p} is more than half the window {k}: "
            f"use padding of at most {(k[0] // 2, k[1] // 2)}."
        )
    return conv_output_shape(input_hw, k, p, k if stride is None else stride)


def mlp_parameter_count(n_inputs: int, hidden_sizes: list[int] | tuple[int, ...], n_outputs: int | None = None) -> int:
    """Weights and biases of a fully connected network (an MLP)."""
    sizes = [n_inputs, *hidden_sizes] + ([n_outputs] if n_outputs else [])
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def conv_parameter_count(in_channels: int, out_channels: int, kernel_size: IntOrPair, bias: bool = True) -> int:
    """c_o * c_i * k_h * k_w weights, plus one bias per output channel."""
    kh, kw = as_pair(kernel_size, "kernel size")
    return out_channels * in_channels * kh * kw + (out_channels if bias else 0)


def dense_equivalent_parameter_count(
    in_channels: int,
    input_hw: IntOrPair,
    out_channels: int,
    kernel_size: IntOrPair,
    padding: IntOrPair = 0,
    stride: IntOrPair = 1,
) -> int:
    """Parameters a fully connected layer needs to map the same input to the same output as a conv layer."""
    h, w = as_pair(input_hw, "input size")
    oh, ow = conv_output_shape((h, w), kernel_size, padding, stride)
    n_in, n_out = in_channels * h * w, out_channels * oh * ow
    return n_in * n_out + n_out



def split_padding(total: int) -> tuple[int, int]:
    """Total padding over both sides -> (before, after); an odd total puts the extra row on top
    (column on the left), as d2l suggests. PyTorch's padding="same" puts it at the bottom (right)."""
    return (total + 1) // 2, total // 2


def total_padding_sides(total: IntOrPair) -> tuple[int, int, int, int]:
    """F.pad's (left, right, top, bottom) for a total padding per axis (height, width)."""
    p_h, p_w = as_pair(total, "padding")
    if min(p_h, p_w) < 0:
        raise ValueError(f"padding cannot be negative (got {(p_h, p_w)}); use 0 for no padding.")
    return (*split_padding(p_w), *split_padding(p_h))


def total_padding_output_shape(
    input_hw: IntOrPair, kernel_size: IntOrPair, total: IntOrPair, stride: IntOrPair = 1, dilation: IntOrPair = 1
) -> Pair:
    """The book's output size floor((n - k + p + s) / s), where p is the padding over both sides together.

    Raises ValueError, saying which setting to change, when the output would be empty.
    """
    left, right, top, bottom = total_padding_sides(total)
    n, k, d = as_pair(input_hw, "input size"), as_pair(kernel_size, "kernel size"), as_pair(dilation, "dilation")
    for axis, ni, ki, di, pi in zip(("height", "width"), n, k, d, (top + bottom, left + right)):
        span = di * (ki - 1) + 1
        if span > ni + pi:
            raise ValueError(
                f"The kernel {ki} is larger than the padded input {ni} + {pi} = {ni + pi} in {axis}: "
                f"make the kernel smaller or the total padding at least {span - ni}."
            )
    return conv_output_shape((n[0] + top + bottom, n[1] + left + right), k, 0, stride, d)
