"""Multiple input and output channels (d2l 7.4), and the 1x1 convolution as a matrix multiply."""

from __future__ import annotations

import plotly.graph_objects as go
import torch
import torch.nn.functional as F

from ..core.ops import corr2d_1x1, corr2d_fast, corr2d_multi_in_out
from .checks import TorchCheck
from .grids import (
    HEADER,
    matrix_grid_figure,
)


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


def torch_difference(X: torch.Tensor, K: torch.Tensor) -> TorchCheck:
    """corr2d_multi_in_out against torch's conv2d on the same X and K (difference 0 when they agree)."""
    Y, Y_torch = corr2d_multi_in_out(X, K), F.conv2d(X[None], K)[0]
    return TorchCheck("the library's result equals torch.nn.functional.conv2d", float((Y - Y_torch).abs().max()),
                      Y_torch, TorchCheck.scale_of(Y))


def matmul_difference(X: torch.Tensor, K: torch.Tensor) -> TorchCheck:
    """A 1x1 convolution done as a matrix multiply against done by sliding (difference 0 when equal)."""
    Y, Y_sliding = corr2d_1x1(X, K), corr2d_multi_in_out(X, K)
    return TorchCheck("the matrix multiply equals sliding the 1×1 kernel", float((Y - Y_sliding).abs().max()),
                      Y_sliding, TorchCheck.scale_of(Y))


def one_by_one_kernel(in_channels: int, out_channels: int) -> torch.Tensor:
    """A 1x1 kernel (c_o x c_i x 1 x 1) holding 1, 2, 3, ... so every mixing weight is easy to read."""
    return torch.arange(1.0, out_channels * in_channels + 1).reshape(out_channels, in_channels, 1, 1)


def channels_figure(X: torch.Tensor, K: torch.Tensor, out_channel: int, partials: list[torch.Tensor], total: torch.Tensor) -> go.Figure:
    """One row per input channel (X[c], K[o, c], their correlation) and the sum that makes output channel o."""
    o = out_channel
    grid = [
        [(f"X[{c}]", X[c]), (f"K[{o}, {c}]", K[o, c], "Oranges"), (f"X[{c}] ⋆ K[{o}, {c}]", partials[c])]
        for c in range(X.shape[0])
    ]
    grid[-1].append((f"sum = Y[{o}]", total, "Greens"))
    return matrix_grid_figure(grid, f"Output channel {o}: one cross-correlation (⋆) per input channel, then the sum")


def one_by_one_figure(X: torch.Tensor, K: torch.Tensor, Y: torch.Tensor) -> go.Figure:
    """A 1x1 convolution drawn as the matrix product (c_o x c_i) @ (c_i x pixels) = (c_o x pixels)."""
    c_o, c_i = K.shape[:2]
    pixels = X.shape[1] * X.shape[2]
    return matrix_grid_figure(
        [[
            (f"K as a {c_o}×{c_i} matrix", K.reshape(c_o, c_i), "Oranges"),
            (f"X as {c_i}×{pixels} (a column per pixel)", X.reshape(c_i, pixels)),
            (f"Y = K X, {c_o}×{pixels}", Y.reshape(c_o, pixels), "Greens"),
        ]],
        "A 1×1 convolution as a matrix multiply: (<i>c</i><sub>o</sub> × <i>c</i><sub>i</sub>) times "
        "(<i>c</i><sub>i</sub> × pixels)",
    )


STAR_TEXT = ("⋆ is cross-correlation, `corr2d` of the Cross-correlation page: slide the kernel over the input, "
             "multiply and add.")


def channels_code(in_channels: int, out_channels: int, size: int, kernel_size: int) -> str:
    """The page's multi-channel example with torch's conv2d; leaves X, K, Y and n_parameters."""
    c_i, c_o, n, k = in_channels, out_channels, size, kernel_size
    return HEADER + f"""
X = torch.arange({n * n}.0).reshape(1, {n}, {n}) + torch.arange({c_i}).reshape(-1, 1, 1)  # X[c] = 0, 1, ... + c
K = (torch.arange({k * k}.0).reshape(1, 1, {k}, {k})
     + torch.arange({c_i}).reshape(1, -1, 1, 1) + torch.arange({c_o}).reshape(-1, 1, 1, 1))  # K[o, c] = 0, 1, ... + c + o
print(K.shape)  # (output channels, input channels, kernel height, kernel width)
Y = F.conv2d(X[None], K)[0]  # every output channel sums over all input channels
print(Y)
n_parameters = sum(p.numel() for p in nn.Conv2d({c_i}, {c_o}, kernel_size={k}).parameters())
print(n_parameters)
"""


def one_by_one_code(in_channels: int, out_channels: int, size: int) -> str:
    """A 1x1 convolution as a matrix multiply, checked against conv2d; leaves X, K and Y."""
    c_i, c_o, n = in_channels, out_channels, size
    return HEADER + f"""
X = torch.arange({n * n}.0).reshape(1, {n}, {n}) + torch.arange({c_i}).reshape(-1, 1, 1)
K = torch.arange(1.0, {c_o * c_i + 1}).reshape({c_o}, {c_i}, 1, 1)
Y = (K.reshape({c_o}, {c_i}) @ X.reshape({c_i}, {n * n})).reshape({c_o}, {n}, {n})  # mixes channels, pixel by pixel
assert torch.allclose(Y, F.conv2d(X[None], K)[0])
print(Y)
"""
