"""Cross-correlation, channels and pooling, written the way d2l explains them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .shapes import IntOrPair, as_pair, conv_output_shape, pool_output_shape


def corr2d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """2-D cross-correlation as a sliding window: the loop a student can follow by hand."""
    conv_output_shape(tuple(X.shape), tuple(K.shape))  # a clear error instead of an empty or negative size
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=torch.result_type(X, K))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i : i + h, j : j + w] * K).sum()
    return Y


def corr2d_fast(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """The same result as corr2d, with every window taken at once (unfold) instead of a Python loop."""
    conv_output_shape(tuple(X.shape), tuple(K.shape))  # a clear error instead of an empty result
    windows = X.unfold(0, K.shape[0], 1).unfold(1, K.shape[1], 1)  # (out_h, out_w, k_h, k_w)
    return (windows * K).sum(dim=(-2, -1))


def corr2d_multi_in(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Several input channels: correlate each channel with its own kernel slice, then add up."""
    if len(X) != len(K):
        raise ValueError(f"X has {len(X)} channels but the kernel has {len(K)} slices: they must match.")
    return sum(corr2d_fast(x, k) for x, k in zip(X, K))


def corr2d_multi_in_out(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Several output channels: one multi-input correlation per kernel stack in K (c_o x c_i x k_h x k_w)."""
    return torch.stack([corr2d_multi_in(X, k) for k in K], 0)


def corr2d_1x1(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution is a matrix multiply: (c_o x c_i) times (c_i x pixels)."""
    c_i, h, w = X.shape
    c_o = K.shape[0]
    Y = K.reshape(c_o, c_i) @ X.reshape(c_i, h * w)
    return Y.reshape(c_o, h, w)


def pool2d(
    X: torch.Tensor,
    pool_size: IntOrPair,
    mode: str = "max",
    padding: IntOrPair = 0,
    stride: IntOrPair | None = None,
) -> torch.Tensor:
    """Max or average pooling of a (h, w) or (channels, h, w) tensor, one window at a time.

    stride=None slides one step at a time, like d2l's from-scratch pool2d. Careful:
    nn.MaxPool2d(3) uses stride 3 by default. Padding counts as -inf for max and 0 for
    average, as in torch (count_include_pad=True).
    """
    if mode not in ("max", "avg"):
        raise ValueError(f"mode must be 'max' or 'avg', not {mode!r}.")
    if X.dim() == 3:
        return torch.stack([pool2d(x, pool_size, mode, padding, stride) for x in X])
    p_h, p_w = as_pair(pool_size, "pool size")
    s_h, s_w = as_pair(1 if stride is None else stride, "stride")
    pad_h, pad_w = as_pair(padding, "padding")
    out_h, out_w = pool_output_shape(tuple(X.shape), (p_h, p_w), (pad_h, pad_w), (s_h, s_w))
    fill = float("-inf") if mode == "max" else 0.0
    X = F.pad(X.float(), (pad_w, pad_w, pad_h, pad_h), value=fill)
    Y = torch.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = X[i * s_h : i * s_h + p_h, j * s_w : j * s_w + p_w]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y


class Conv2D(nn.Module):
    """d2l's convolution layer: a learnable kernel `weight` and a scalar `bias`."""

    def __init__(self, kernel_size: IntOrPair):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(as_pair(kernel_size, "kernel size")))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return corr2d_fast(x, self.weight) + self.bias


def conv1d(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """1-D cross-correlation (text, time series): the same rule with one axis."""
    conv_output_shape((1, len(x)), (1, len(k)))  # a clear error when the kernel is longer than x
    return (x.unfold(0, k.shape[0], 1) * k).sum(-1)


def convolve2d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """True convolution: cross-correlation with the kernel flipped in both directions."""
    return corr2d_fast(X, torch.flip(K, dims=(0, 1)))



def convolve1d(f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Full 1-D convolution (f * g)(n) = sum over t of f(t) g(n - t): cross-correlation with g flipped, zeros around f."""
    padded = F.pad(f[None, None].float(), (len(g) - 1, len(g) - 1))
    return F.conv1d(padded, g.flip(0)[None, None].float())[0, 0]
