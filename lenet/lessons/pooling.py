"""Pooling (d2l 7.5): one window's max or mean written out, and why pooling tolerates a small shift."""

from __future__ import annotations

import math
from dataclasses import dataclass

import plotly.graph_objects as go
import torch
import torch.nn.functional as F

from ..core.ops import corr2d, pool2d
from ..core.shapes import (
    IntOrPair,
    as_pair,
)
from ..core.units import format_number
from .checks import TorchCheck
from .grids import (
    HEADER,
    matrix_grid_figure,
    tensor_literal,
)


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


def shift_figure(demo: ShiftDemo, shift: int) -> go.Figure:
    """Conv and pooled outputs before and after the shift, with the cells that changed outlined."""
    grid = [
        [("conv output", demo.conv), (f"conv output, input moved {shift} px", demo.conv_shifted)],
        [("pooled", demo.pooled), (f"pooled, input moved {shift} px", demo.pooled_shifted)],
    ]
    highlights = {(0, 1): demo.conv_changed, (1, 1): demo.pooled_changed}
    return matrix_grid_figure(grid, "Which outputs change when the input moves (outlined)", highlights)


def pooling_code(X: torch.Tensor, pool_size: IntOrPair, mode: str, padding: IntOrPair, stride: IntOrPair) -> str:
    """Max or average pooling with torch's layer; leaves Y."""
    layer = "MaxPool2d" if mode == "max" else "AvgPool2d"
    k, p, s = as_pair(pool_size, "pool size"), as_pair(padding, "padding"), as_pair(stride, "stride")
    return HEADER + f"""
X = {tensor_literal(X)}
# careful: without stride=..., nn.{layer} moves by the window size
pool = nn.{layer}({k}, stride={s}, padding={p})
Y = pool(X[None, None])[0, 0]
print(Y)
"""


def shift_code(pool_size: IntOrPair, mode: str, stride: IntOrPair, shift: int) -> str:
    """The shift demo; leaves conv, conv_shifted, pooled and pooled_shifted."""
    layer = "MaxPool2d" if mode == "max" else "AvgPool2d"
    k, s = as_pair(pool_size, "pool size"), as_pair(stride, "stride")
    return HEADER + f"""
X = torch.ones((6, 8))
X[:, 2:6] = 0
K = torch.tensor([[[[1.0, -1.0]]]])
pool = nn.{layer}({k}, stride={s})
X_shifted = torch.roll(X, shifts={shift}, dims=1)  # {shift} pixel(s) to the right, wrapping round
conv, conv_shifted = F.conv2d(X[None, None], K), F.conv2d(X_shifted[None, None], K)
pooled, pooled_shifted = pool(conv), pool(conv_shifted)
print("conv outputs changed:", (conv != conv_shifted).sum().item(), "of", conv.numel())
print("pooled outputs changed:", (pooled != pooled_shifted).sum().item(), "of", pooled.numel())
"""


def torch_pool_check(X: torch.Tensor, Y: torch.Tensor, pool_size: IntOrPair, mode: str, padding: IntOrPair,
                     stride: IntOrPair) -> TorchCheck:
    """Y recomputed with torch's F.max_pool2d or F.avg_pool2d (padding counted as 0 in the mean, torch's default),
    and its largest difference from Y."""
    k, p, s = as_pair(pool_size, "pool size"), as_pair(padding, "padding"), as_pair(stride, "stride")
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    Y_torch = pool(X.float()[None, None], k, stride=s, padding=p)[0, 0]
    return TorchCheck(f"torch's `F.{mode}_pool2d` gives the same Y", float((Y - Y_torch).abs().max()), Y_torch,
                      TorchCheck.scale_of(Y))
