"""Convolution as a matrix (d2l 7.2's exercise, 7.4's 1x1 case grown up): im2col turns the windows into the columns
of one matrix, so the convolution is one matrix product; or the kernel is written into the dense weight matrix W of
the equivalent fully connected layer (doubly block-Toeplitz): most of its entries are zero, the rest shared."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import torch
import torch.nn.functional as F

from ..core.shapes import IntOrPair, as_pair, conv_output_shape
from ..core.units import format_number
from .checks import TorchCheck
from .grids import HEADER


def with_channels(X: torch.Tensor, K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """X as (c_i, h, w) and K as (c_o, c_i, k_h, k_w), in float: a 2-D X (h, w) and K (k_h, k_w) get channel axes."""
    X = X[None] if X.dim() == 2 else X
    K = K[None, None] if K.dim() == 2 else K
    if X.dim() != 3 or K.dim() != 4 or X.shape[0] != K.shape[1]:
        raise ValueError(f"X {tuple(X.shape)} and K {tuple(K.shape)} do not fit: K must be "
                         "(output channels, input channels of X, k_h, k_w).")
    return X.float(), K.float()


def im2col(X: torch.Tensor, kernel_size: IntOrPair, padding: IntOrPair = 0, stride: IntOrPair = 1) -> torch.Tensor:
    """X (c_i, h, w) unfolded to a (c_i k_h k_w) x L matrix: column l holds the window of output position l."""
    conv_output_shape(tuple(X.shape[-2:]), kernel_size, padding, stride)  # a sentence instead of an empty matrix
    return F.unfold(X[None], kernel_size, padding=padding, stride=stride)[0]


def kernel_matrix(K: torch.Tensor) -> torch.Tensor:
    """K (c_o, c_i, k_h, k_w) as a c_o x (c_i k_h k_w) matrix: row o is output channel o's kernel, flattened."""
    return K.reshape(K.shape[0], -1)


def weight_positions(kernel_shape: tuple[int, int, int, int], input_hw: tuple[int, int], padding: IntOrPair = 0,
                     stride: IntOrPair = 1) -> torch.Tensor:
    """Which kernel weight each entry of W holds, as an index into K.flatten(); -1 where W is 0 whatever K holds.

    Row (o, i, j) of W is output channel o at position (i, j); column (c, r, s) is pixel (r, s) of input channel c.
    """
    c_o, c_i, k_h, k_w = kernel_shape
    h, w = input_hw
    (p_h, p_w), (s_h, s_w) = as_pair(padding, "padding"), as_pair(stride, "stride")
    out_h, out_w = conv_output_shape(input_hw, (k_h, k_w), padding, stride)
    rows, columns, weights = [], [], []
    for row, (o, i, j) in enumerate(product(range(c_o), range(out_h), range(out_w))):
        for entry, (c, a, b) in enumerate(product(range(c_i), range(k_h), range(k_w))):
            r, s = i * s_h - p_h + a, j * s_w - p_w + b  # the pixel under kernel entry (a, b); outside is padding
            if 0 <= r < h and 0 <= s < w:
                rows.append(row)
                columns.append((c * h + r) * w + s)
                weights.append(o * c_i * k_h * k_w + entry)
    index = torch.full((c_o * out_h * out_w, c_i * h * w), -1)
    index[rows, columns] = torch.tensor(weights, dtype=torch.long)
    return index


def toeplitz_matrix(K: torch.Tensor, input_hw: tuple[int, int], padding: IntOrPair = 0,
                    stride: IntOrPair = 1) -> torch.Tensor:
    """The dense W with W @ X.flatten() == conv2d(X, K).flatten() for every X of size input_hw, built from K."""
    return weights_at(K, weight_positions(tuple(K.shape), input_hw, padding, stride))


def weights_at(K: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The W that weight_positions' index describes: K's weight where index >= 0, 0 elsewhere."""
    return torch.where(index >= 0, K.flatten()[index.clamp(min=0)], 0.0)


@dataclass(frozen=True)
class MatrixCounts:
    """What W holds: its entries, those that are always 0, and how many distinct kernel weights fill the rest."""
    rows: int
    columns: int
    zeros: int
    weights: int  # distinct kernel weights that appear in W (each shared by many entries)

    @property
    def entries(self) -> int:
        return self.rows * self.columns

    @property
    def sparsity(self) -> float:
        return self.zeros / self.entries

    @property
    def summary(self) -> str:
        """One sentence for the page: how sparse W is and how few weights it shares, against a dense layer."""
        filled = self.entries - self.zeros
        uses = filled / max(self.weights, 1)
        often = format_number(uses) if uses.is_integer() else f"{uses:.1f} on average"
        return (f"W is {self.rows} × {self.columns}: of its {self.entries:,} entries {self.zeros:,} "
                f"({self.sparsity:.0%}) are always 0, and the other {filled:,} are copies of only "
                f"{self.weights:,} kernel weights, each used {often} times. A dense layer of the same shape has "
                f"{self.entries:,} free weights, {_times(self.entries / max(self.weights, 1))} as many.")


def _times(ratio: float) -> str:
    return f"{ratio:,.0f}×" if ratio >= 10 else f"{ratio:.2g}×"


def matrix_counts(index: torch.Tensor) -> MatrixCounts:
    """MatrixCounts of the W that weight_positions' `index` describes."""
    used = index[index >= 0]
    return MatrixCounts(index.shape[0], index.shape[1], int((index < 0).sum()), int(used.unique().numel()))


def _torch_output(X: torch.Tensor, K: torch.Tensor, padding: IntOrPair, stride: IntOrPair) -> torch.Tensor:
    return F.conv2d(X[None], K, padding=padding, stride=stride)[0]


def im2col_check(X: torch.Tensor, K: torch.Tensor, product_rows: torch.Tensor, padding: IntOrPair = 0,
                 stride: IntOrPair = 1) -> TorchCheck:
    """The product kernel_matrix(K) @ im2col(X), a row per output channel, against torch's F.conv2d."""
    Y_torch = _torch_output(X, K, padding, stride)
    difference = (product_rows.reshape(Y_torch.shape) - Y_torch).abs().max()
    return TorchCheck("torch's `F.conv2d` gives the same Y as the product, each row reshaped to the output's size",
                      float(difference), Y_torch, TorchCheck.scale_of(Y_torch))


def toeplitz_check(X: torch.Tensor, K: torch.Tensor, W: torch.Tensor, padding: IntOrPair = 0,
                   stride: IntOrPair = 1) -> TorchCheck:
    """W @ X.flatten() against torch's F.conv2d(X, K), flattened."""
    Y_torch = _torch_output(X, K, padding, stride)
    difference = (W @ X.flatten() - Y_torch.flatten()).abs().max()
    return TorchCheck("W @ X.flatten() equals torch's `F.conv2d(X, K)`, flattened", float(difference), Y_torch,
                      TorchCheck.scale_of(Y_torch))


@dataclass(frozen=True)
class ConvolutionMatrices:
    """A convolution of X (c_i, h, w) with K (c_o, c_i, k_h, k_w), stride 1 and no padding, as matrices."""
    X: torch.Tensor
    K: torch.Tensor
    columns: torch.Tensor  # im2col(X): (c_i k_h k_w) x L
    product: torch.Tensor  # kernel_matrix(K) @ columns: c_o x L
    out_hw: tuple[int, int]
    index: torch.Tensor  # weight_positions: which kernel weight each entry of W holds, -1 for 0
    W: torch.Tensor
    im2col_check: TorchCheck
    toeplitz_check: TorchCheck
    counts: MatrixCounts


def convolution_matrices(X: torch.Tensor, K: torch.Tensor) -> ConvolutionMatrices:
    """X and K (2-D, or with channels) as im2col's product and as the weight matrix W, both checked against torch."""
    X, K = with_channels(X, K)
    out_hw = conv_output_shape(tuple(X.shape[-2:]), tuple(K.shape[-2:]))
    columns = im2col(X, tuple(K.shape[-2:]))
    product_rows = kernel_matrix(K) @ columns
    index = weight_positions(tuple(K.shape), tuple(X.shape[-2:]))
    W = weights_at(K, index)
    return ConvolutionMatrices(X, K, columns, product_rows, out_hw, index, W, im2col_check(X, K, product_rows),
                               toeplitz_check(X, K, W), matrix_counts(index))


def _literal(values: torch.Tensor) -> str:
    def rounded(v):
        return [rounded(x) for x in v] if isinstance(v, list) else round(v, 6)

    return f"torch.tensor({rounded(values.tolist())})"


def as_matrix_code(X: torch.Tensor, K: torch.Tensor) -> str:
    """im2col's product and the weight matrix W for the page's X and K, checked with conv2d; leaves cols, Y and W."""
    X, K = with_channels(X, K)
    (c_o, c_i, k_h, k_w), (h, w) = K.shape, X.shape[-2:]
    out_h, out_w = conv_output_shape((h, w), (k_h, k_w))
    return HEADER + f"""
X = {_literal(X)}  # (input channels, height, width)
K = {_literal(K)}  # (output channels, input channels, k_h, k_w)
Y = F.conv2d(X[None], K)[0]

# im2col: one column per output position, holding its window ({c_i} x {k_h} x {k_w} numbers)
cols = F.unfold(X[None], kernel_size=({k_h}, {k_w}))[0]  # {c_i * k_h * k_w} x {out_h * out_w}
Y_im2col = (K.reshape({c_o}, -1) @ cols).reshape({c_o}, {out_h}, {out_w})  # a row of K per output channel
assert torch.allclose(Y_im2col, Y)

# W: column m of the dense layer's weights is what the convolution makes of the one-hot image m
one_hot = torch.eye({c_i * h * w}).reshape(-1, {c_i}, {h}, {w})
W = F.conv2d(one_hot, K).reshape({c_i * h * w}, -1).T  # {c_o * out_h * out_w} x {c_i * h * w}
assert torch.allclose(W @ X.flatten(), Y.flatten())
"""
