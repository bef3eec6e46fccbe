"""Small pure helpers behind the concept pages: parsing input, worked arithmetic, examples, comparisons."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

import pandas as pd
import torch
import torch.nn.functional as F

from .data import DatasetNotFoundError, load_split
from .model import LeNetConfig, layer_table
from .ops import corr2d, corr2d_1x1, corr2d_fast, corr2d_multi_in_out, pool2d
from .shapes import (
    IntOrPair,
    Pair,
    as_pair,
    conv_output_shape,
    conv_parameter_count,
    dense_equivalent_parameter_count,
    mlp_parameter_count,
)

MAX_MATRIX_SIDE = 10


def format_number(value: float) -> str:
    """19.0 -> '19', 0.5 -> '0.5', -1.0 -> '-1': short enough to write inside a sum."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.4g}"


def parse_matrix(text: str, name: str = "matrix", max_side: int = MAX_MATRIX_SIDE) -> torch.Tensor:
    """'0 1 2; 3 4 5' (rows split by ';' or new lines, numbers by spaces or commas) -> a float tensor."""
    rows = [row for row in re.split(r"[;\n]", text) if row.strip()]
    if not rows:
        raise ValueError(f"{name} is empty: type numbers with rows separated by ';', e.g. 0 1; 2 3.")
    values = []
    for row in rows:
        try:
            values.append([float(v) for v in row.replace(",", " ").split()])
        except ValueError:
            raise ValueError(f"{name}: '{row.strip()}' is not a row of numbers.") from None
    lengths = [len(row) for row in values]
    if len(set(lengths)) > 1:
        raise ValueError(f"{name}: every row needs the same number of values (the rows have {lengths}).")
    if len(values) > max_side or lengths[0] > max_side:
        raise ValueError(f"{name} is {len(values)} x {lengths[0]}: keep it at most {max_side} x {max_side}.")
    X = torch.tensor(values)
    if not torch.isfinite(X).all():
        raise ValueError(f"{name} holds inf or nan: use ordinary numbers.")
    return X


def format_matrix(X: torch.Tensor) -> str:
    """The inverse of parse_matrix: '0 1 2; 3 4 5'."""
    return "; ".join(" ".join(format_number(v) for v in row) for row in X.tolist())


def _term(value: float) -> str:
    text = format_number(value)
    return f"({text})" if text.startswith("-") else text


def window_arithmetic(X: torch.Tensor, K: torch.Tensor, cell: tuple[int, int]) -> str:
    """One output value of corr2d written out: '0×0 + 1×1 + 3×2 + 4×3 = 19'."""
    i, j = cell
    h, w = K.shape
    window = X[i : i + h, j : j + w]
    products = " + ".join(f"{_term(x)}×{_term(k)}" for x, k in zip(window.flatten().tolist(), K.flatten().tolist()))
    return f"{products} = {format_number((window * K).sum())}"


def pool_arithmetic(
    X: torch.Tensor, pool_size: IntOrPair, mode: str, padding: IntOrPair, stride: IntOrPair, cell: tuple[int, int]
) -> str:
    """One output value of pool2d written out: 'max(0, 1, 3, 4) = 4'; padding shows as -∞ (max) or 0 (avg)."""
    (k_h, k_w), (p_h, p_w), (s_h, s_w) = as_pair(pool_size, "pool size"), as_pair(padding, "padding"), as_pair(stride, "stride")
    fill = float("-inf") if mode == "max" else 0.0
    padded = F.pad(X.float(), (p_w, p_w, p_h, p_h), value=fill)
    i, j = cell
    window = padded[i * s_h : i * s_h + k_h, j * s_w : j * s_w + k_w].flatten()
    values = ", ".join("-∞" if math.isinf(v) else format_number(v) for v in window.tolist())
    result = window.max() if mode == "max" else window.mean()
    return f"{'max' if mode == 'max' else 'mean'}({values}) = {format_number(result)}"


def diverged(losses: list[float]) -> bool:
    """True when training ended with a higher (or overflowed) loss than it started with."""
    return not math.isfinite(losses[-1]) or losses[-1] > losses[0]


def step_to_cell(step: int, out_hw: Pair) -> tuple[int, int]:
    """Step 1, 2, ... walks the output row by row: step 1 is (0, 0), step out_w + 1 is (1, 0)."""
    total = out_hw[0] * out_hw[1]
    if not 1 <= step <= total:
        raise ValueError(f"step must be between 1 and {total} (got {step}).")
    return divmod(step - 1, out_hw[1])


def kernel_footprint(
    cell: tuple[int, int], kernel_size: IntOrPair, stride: IntOrPair = 1, dilation: IntOrPair = 1
) -> list[tuple[int, int]]:
    """The (row, column) positions in the padded input that the kernel reads for one output cell."""
    (k_h, k_w), (s_h, s_w), (d_h, d_w) = as_pair(kernel_size, "kernel size"), as_pair(stride, "stride"), as_pair(dilation, "dilation")
    i, j = cell
    return [(i * s_h + a * d_h, j * s_w + b * d_w) for a in range(k_h) for b in range(k_w)]


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


def output_size_formulas(
    input_hw: IntOrPair,
    kernel_size: IntOrPair,
    padding: IntOrPair = 0,
    stride: IntOrPair = 1,
    dilation: IntOrPair = 1,
    total: bool = False,
) -> list[str]:
    """The output-size formula in LaTeX for height and width, with the numbers put in.

    total=False: p rows on each side (PyTorch's padding=p); total=True: p rows over both sides (the book's p_h).
    Raises a ValueError when the output would be empty.
    """
    if total:
        return _total_padding_formulas(input_hw, kernel_size, padding, stride, dilation)
    out = conv_output_shape(input_hw, kernel_size, padding, stride, dilation)
    n, k, p = as_pair(input_hw, "input size"), as_pair(kernel_size, "kernel size"), as_pair(padding, "padding")
    s, d = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    lines = []
    for axis, a, ni, ki, pi, si, di, oi in zip(("height", "width"), "hw", n, k, p, s, d, out):
        if di == 1:
            symbols = rf"\frac{{n_{a} - k_{a} + 2p_{a}}}{{s_{a}}}"
            numbers = rf"\frac{{{ni} - {ki} + 2 \cdot {pi}}}{{{si}}}"
        else:
            symbols = rf"\frac{{n_{a} + 2p_{a} - d_{a}(k_{a} - 1) - 1}}{{s_{a}}}"
            numbers = rf"\frac{{{ni} + 2 \cdot {pi} - {di} \cdot ({ki} - 1) - 1}}{{{si}}}"
        lines.append(
            rf"\text{{{axis}: }} \left\lfloor {symbols} \right\rfloor + 1"
            rf" = \left\lfloor {numbers} \right\rfloor + 1 = {oi}"
        )
    return lines


def _total_padding_formulas(
    input_hw: IntOrPair, kernel_size: IntOrPair, total: IntOrPair, stride: IntOrPair, dilation: IntOrPair
) -> list[str]:
    out = total_padding_output_shape(input_hw, kernel_size, total, stride, dilation)
    n, k, p = as_pair(input_hw, "input size"), as_pair(kernel_size, "kernel size"), as_pair(total, "padding")
    s, d = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    lines = []
    for axis, a, ni, ki, pi, si, di, oi in zip(("height", "width"), "hw", n, k, p, s, d, out):
        if di == 1:
            symbols = rf"\frac{{n_{a} - k_{a} + p_{a} + s_{a}}}{{s_{a}}}"
            numbers = rf"\frac{{{ni} - {ki} + {pi} + {si}}}{{{si}}}"
        else:
            symbols = rf"\frac{{n_{a} - d_{a}(k_{a} - 1) - 1 + p_{a} + s_{a}}}{{s_{a}}}"
            numbers = rf"\frac{{{ni} - {di} \cdot ({ki} - 1) - 1 + {pi} + {si}}}{{{si}}}"
        lines.append(
            rf"\text{{{axis}: }} \left\lfloor {symbols} \right\rfloor"
            rf" = \left\lfloor {numbers} \right\rfloor = {oi}"
        )
    return lines


def pattern_image(size: int = 28) -> torch.Tensor:
    """A built-in test pattern (a ring and a bar) for when Fashion-MNIST is not installed."""
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    radius = ((y - size / 2) ** 2 + (x - size / 2) ** 2).sqrt()
    ring = (radius - size / 3).abs() < size / 14
    bar = (x - size / 2).abs() < size / 14
    return (ring | bar).float()


def sample_image(index: int = 0) -> tuple[torch.Tensor, str]:
    """A Fashion-MNIST test image in [0, 1] with its caption, or the built-in pattern when the data is missing."""
    try:
        split = load_split("fashion-mnist", train=False, download=False)
    except DatasetNotFoundError:
        return pattern_image(), "Built-in test pattern (Fashion-MNIST is not installed here)"
    index = index % len(split)
    label = split.classes[int(split.labels[index])]
    return split.images[index].float() / 255, f"Fashion-MNIST test image {index}: {label}"


EXAMPLE_KERNELS = ("blur", "vertical edges", "horizontal edges")


def example_kernel(name: str, kernel_size: IntOrPair) -> torch.Tensor:
    """A kernel of any size that does something visible: an average, or a left-minus-right (top-minus-bottom) edge detector."""
    k_h, k_w = as_pair(kernel_size, "kernel size")
    if name == "blur":
        return torch.full((k_h, k_w), 1.0 / (k_h * k_w))
    if name == "vertical edges":
        return torch.linspace(1, -1, k_w).repeat(k_h, 1) / k_h
    if name == "horizontal edges":
        return torch.linspace(1, -1, k_h)[:, None].repeat(1, k_w) / k_w
    raise ValueError(f"kernel must be one of {EXAMPLE_KERNELS}, not {name!r}.")


def apply_conv(
    image: torch.Tensor,
    kernel: torch.Tensor,
    padding: IntOrPair = 0,
    stride: IntOrPair = 1,
    dilation: IntOrPair = 1,
    total: bool = False,
) -> torch.Tensor:
    """One (h, w) image through one conv kernel with torch's conv2d, after checking the output size.

    total=True reads padding as rows (columns) over both sides and pads with F.pad, unevenly when odd.
    """
    s, d = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    if total:
        total_padding_output_shape(tuple(image.shape), tuple(kernel.shape), padding, stride, dilation)
        padded = F.pad(image, total_padding_sides(padding))
        return F.conv2d(padded[None, None], kernel[None, None], stride=s, dilation=d)[0, 0]
    conv_output_shape(tuple(image.shape), tuple(kernel.shape), padding, stride, dilation)
    return F.conv2d(image[None, None], kernel[None, None], padding=as_pair(padding, "padding"), stride=s, dilation=d)[0, 0]


def example_channels(in_channels: int, out_channels: int, size: int, kernel_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """d2l's multi-channel example grown to any size: X[c] = 0, 1, 2, ... + c and K[o, c] = 0, 1, 2, ... + c + o.

    With 2 input channels, size 3 and a 2x2 kernel this is d2l's X and K (output [[56, 72], [104, 120]]).
    """
    X = torch.arange(size * size, dtype=torch.float32).reshape(1, size, size) + torch.arange(in_channels).reshape(-1, 1, 1)
    base = torch.arange(kernel_size * kernel_size, dtype=torch.float32).reshape(1, 1, kernel_size, kernel_size)
    K = base + torch.arange(in_channels).reshape(1, -1, 1, 1) + torch.arange(out_channels).reshape(-1, 1, 1, 1)
    return X, K


def per_channel_correlations(X: torch.Tensor, K_out: torch.Tensor) -> list[torch.Tensor]:
    """The terms that corr2d_multi_in adds up: each input channel correlated with its own kernel slice."""
    return [corr2d_fast(x, k) for x, k in zip(X, K_out)]


def torch_difference(X: torch.Tensor, K: torch.Tensor) -> float:
    """Largest difference between corr2d_multi_in_out and torch's conv2d on the same X and K (0 when they agree)."""
    return float((corr2d_multi_in_out(X, K) - F.conv2d(X[None], K)[0]).abs().max())


def matmul_difference(X: torch.Tensor, K: torch.Tensor) -> float:
    """Largest difference between a 1x1 convolution done as a matrix multiply and done by sliding (0 when equal)."""
    return float((corr2d_1x1(X, K) - corr2d_multi_in_out(X, K)).abs().max())


def one_by_one_kernel(in_channels: int, out_channels: int) -> torch.Tensor:
    """A 1x1 kernel (c_o x c_i x 1 x 1) holding 1, 2, 3, ... so every mixing weight is easy to read."""
    return torch.arange(1.0, out_channels * in_channels + 1).reshape(out_channels, in_channels, 1, 1)


@dataclass
class ShiftDemo:
    """A conv output and its pooled version, before and after the input moves a few pixels."""

    conv: torch.Tensor
    conv_shifted: torch.Tensor
    pooled: torch.Tensor
    pooled_shifted: torch.Tensor

    @property
    def conv_changed(self) -> list[tuple[int, int]]:
        """The conv output cells whose value changed."""
        return changed_cells(self.conv, self.conv_shifted)

    @property
    def pooled_changed(self) -> list[tuple[int, int]]:
        """The pooled output cells whose value changed."""
        return changed_cells(self.pooled, self.pooled_shifted)


def changed_cells(a: torch.Tensor, b: torch.Tensor, tolerance: float = 1e-6) -> list[tuple[int, int]]:
    """(row, column) of every cell where a and b differ."""
    return [tuple(ij) for ij in ((a - b).abs() > tolerance).nonzero().tolist()]


def shift_demo(
    X: torch.Tensor, K: torch.Tensor, pool_size: IntOrPair, mode: str = "max", stride: IntOrPair = 1, shift: int = 1
) -> ShiftDemo:
    """Correlate X with K and pool the result; do the same with X moved `shift` pixels right (wrapping round)."""
    X_shifted = torch.roll(X, shifts=shift, dims=1)
    conv, conv_shifted = corr2d(X, K), corr2d(X_shifted, K)
    pooled = pool2d(conv, pool_size, mode, stride=stride)
    return ShiftDemo(conv, conv_shifted, pooled, pool2d(conv_shifted, pool_size, mode, stride=stride))


def lenet_parameter_count() -> int:
    """d2l's LeNet, counted from its layer table (61,706)."""
    return int(layer_table(LeNetConfig.classic())["parameters"].sum())


def parameter_comparison(
    height: int, width: int, channels: int, hidden: int, conv_channels: int = 6, kernel_size: int = 5
) -> pd.DataFrame:
    """Parameters and float32 bytes of a dense layer, a conv layer, a dense layer doing the conv's job, and LeNet.

    The conv layer uses "same" padding, (k - 1) // 2 on each side.
    """
    n_in = channels * height * width
    padding = (kernel_size - 1) // 2
    out_h, out_w = conv_output_shape((height, width), kernel_size, padding)
    counts = {
        f"Dense layer: {n_in:,} inputs → {hidden:,} units": mlp_parameter_count(n_in, [hidden]),
        f"Dense layer with the conv layer's output size ({conv_channels}×{out_h}×{out_w})": dense_equivalent_parameter_count(
            channels, (height, width), conv_channels, kernel_size, padding
        ),
        f"Conv layer: {channels} → {conv_channels} channels, {kernel_size}×{kernel_size} kernel": conv_parameter_count(
            channels, conv_channels, kernel_size
        ),
        "d2l's LeNet, all layers (1×28×28 input)": lenet_parameter_count(),
    }
    rows = [(layer, n, 4 * n, human_bytes(4 * n)) for layer, n in counts.items()]  # Python ints: no int64 overflow
    return pd.DataFrame(rows, columns=["layer", "parameters", "float32 bytes", "float32 memory"])


def human_count(n: int) -> str:
    """3_600_000_100 -> '3.6 billion'; small numbers keep every digit."""
    for size, word in ((10**15, "quadrillion"), (10**12, "trillion"), (10**9, "billion"), (10**6, "million")):
        if n >= size:
            return f"{n / size:.3g} {word}"
    return f"{n:,}"


def human_bytes(n: int) -> str:
    """14_400_000_400 -> '14.4 GB' (decimal units, as disks and the curriculum count)."""
    for size, unit in ((10**18, "EB"), (10**15, "PB"), (10**12, "TB"), (10**9, "GB"), (10**6, "MB"), (10**3, "kB")):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def pad_to(image: torch.Tensor, size: int) -> torch.Tensor:
    """An image centred on a zero border of `size` x `size`, like LeCun's LeNet reading 28 x 28 digits as 32 x 32."""
    h, w = image.shape
    if size < max(h, w):
        raise ValueError(f"cannot pad a {h} x {w} image to {size} x {size}: choose at least {max(h, w)}.")
    top, left = (size - h) // 2, (size - w) // 2
    return F.pad(image, (left, size - w - left, top, size - h - top))


def other_padding_convention(
    input_hw: IntOrPair, kernel_size: IntOrPair, padding: IntOrPair, stride: IntOrPair, dilation: IntOrPair, total: bool
) -> str:
    """The same padding told in the other convention (markdown), with F.pad's sides when a total is odd."""
    p_h, p_w = as_pair(padding, "padding")
    if not total:
        both = (2 * p_h, 2 * p_w)
        out = total_padding_output_shape(input_hw, kernel_size, both, stride, dilation)
        return (f"Counted over both sides, as the book does, this is $p = {both}$: "
                f"$\\lfloor (n - k + p + s) / s \\rfloor$ gives the same {out[0]} × {out[1]}.")
    if p_h % 2 == 0 and p_w % 2 == 0:
        half = (p_h // 2, p_w // 2)
        out = conv_output_shape(input_hw, kernel_size, half, stride, dilation)
        return f"Per side this is PyTorch's `padding={half}`, which gives the same {out[0]} × {out[1]}."
    sides = total_padding_sides((p_h, p_w))
    return (f"An odd total cannot be split evenly, and PyTorch's `padding=` pads both sides alike: pad first with "
            f"`F.pad(X, {sides})` (left, right, top, bottom), the extra row on top and the extra column on the left "
            "as d2l suggests. PyTorch's `padding=\"same\"` puts the extra one at the bottom and right instead.")


def convolution_terms(kernel_hw: tuple[int, int], cell: tuple[int, int]) -> str:
    """True convolution's sum for one output cell with the indices written out: 'X[0, 0]·K[1, 1] + X[0, 1]·K[1, 0] + ...'.

    Y[i, j] = sum over a, b of X[i + a, j + b] K[k_h - 1 - a, k_w - 1 - b]: the kernel read backwards.
    """
    (k_h, k_w), (i, j) = kernel_hw, cell
    return " + ".join(
        f"X[{i + a}, {j + b}]·K[{k_h - 1 - a}, {k_w - 1 - b}]" for a in range(k_h) for b in range(k_w)
    )


def convolve1d(f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Full 1-D convolution (f * g)(n) = sum over t of f(t) g(n - t): cross-correlation with g flipped, zeros around f."""
    padded = F.pad(f[None, None].float(), (len(g) - 1, len(g) - 1))
    return F.conv1d(padded, g.flip(0)[None, None].float())[0, 0]


FACES = 6
DIE = torch.full((FACES,), 1 / FACES)  # a fair die: P(1) = ... = P(6) = 1/6


def dice_sum_distribution() -> torch.Tensor:
    """P(sum = 2), ..., P(sum = 12) for two fair dice: the convolution of their distributions."""
    return convolve1d(DIE, DIE)


def dice_arithmetic(total: int) -> str:
    """The convolution sum for two fair dice adding up to `total`, term by term, in 36ths."""
    if not 2 <= total <= 2 * FACES:
        raise ValueError(f"two dice sum to 2 to {2 * FACES}, not {total}.")
    pairs = [(m, total - m) for m in range(1, FACES + 1) if 1 <= total - m <= FACES]
    outcomes = FACES * FACES
    line = f"P(sum = {total}) = " + " + ".join(f"f({m})g({n})" for m, n in pairs)
    if len(pairs) > 1:
        line += " = " + " + ".join(f"1/{outcomes}" for _ in pairs)
    line += f" = {len(pairs)}/{outcomes}"
    reduced = Fraction(len(pairs), outcomes)
    return line + (f" = {reduced}" if reduced.denominator != outcomes else "")


def softmax_loss_floor(num_classes: int) -> float:
    """The smallest cross-entropy a model can reach when its outputs are already probabilities: log(1 + (C - 1)/e).

    CrossEntropyLoss applies log-softmax itself, so a one-hot output p gives softmax(p) = e / (e + C - 1) at best.
    """
    return math.log(1 + (num_classes - 1) / math.e)


def softmax_before_loss_warning(num_classes: int) -> str:
    """Why a softmax before CrossEntropyLoss still trains, but worse; with numbers measured on this project."""
    return (
        "**Softmax before the loss.** This network still builds and trains: softmax keeps the order of the scores, so "
        "the largest output still names the predicted class. But `nn.CrossEntropyLoss` applies log-softmax itself, "
        "so it now sees a softmax of probabilities: squeezed into [0, 1], the scores can never be confident, the loss "
        f"cannot fall below log(1 + {num_classes - 1}/e) ≈ {softmax_loss_floor(num_classes):.2f}, and the second "
        "softmax shrinks the gradients. Measured on Fashion-MNIST: the modern preset (2 epochs, all 60,000 images, "
        "seeds 0 and 1) reaches test accuracy 0.888 and 0.843 instead of 0.905 and 0.903; d2l's classic recipe "
        "(sigmoid, 10 epochs on 20,000 images) stays at chance, 0.100 instead of 0.673. Leave the last layer's "
        "scores (logits) as they are, and apply softmax only to read probabilities."
    )
