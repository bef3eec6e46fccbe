"""Convolution as a matrix: im2col and the weight matrix W against torch's conv2d, for any shape, padding and stride."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lenet.core.shapes import conv_output_shape
from lenet.lessons.as_matrix import (
    as_matrix_code,
    convolution_matrices,
    im2col,
    im2col_check,
    kernel_matrix,
    matrix_counts,
    toeplitz_check,
    toeplitz_matrix,
    weight_positions,
    with_channels,
)
from lenet.lessons.channels import example_channels
from lenet.lessons.matrix_plots import MAX_ENTRIES, MAX_SHOWN, MAX_WINDOWS, im2col_figure, weight_matrix_figure
from helpers import K2, X3, heatmaps, run_snippet

torch.set_num_threads(1)


@st.composite
def convolutions(draw):
    """X (c_i, h, w) and K (c_o, c_i, k_h, k_w) of small whole numbers, a padding and a stride that fit them."""
    c_i, c_o = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    k_h, k_w = draw(st.integers(1, h + 2 * padding[0])), draw(st.integers(1, w + 2 * padding[1]))
    seed = draw(st.integers(0, 2**16))
    generator = torch.Generator().manual_seed(seed)
    X = torch.randint(-4, 5, (c_i, h, w), generator=generator).float()
    K = torch.randint(-3, 4, (c_o, c_i, k_h, k_w), generator=generator).float()
    return X, K, padding, stride


def one_hot_weights(K: torch.Tensor, input_hw, padding=0, stride=1) -> torch.Tensor:
    """W found without building it: column m is torch's convolution of the one-hot image m."""
    c_i, (h, w) = K.shape[1], input_hw
    one_hot = torch.eye(c_i * h * w).reshape(-1, c_i, h, w)
    return F.conv2d(one_hot, K, padding=padding, stride=stride).reshape(c_i * h * w, -1).T


@settings(max_examples=60, deadline=None)
@given(convolutions())
def test_im2col_holds_the_windows_and_its_product_is_conv2d(case):
    X, K, padding, stride = case
    out_h, out_w = conv_output_shape(tuple(X.shape[1:]), tuple(K.shape[2:]), padding, stride)
    (k_h, k_w), (s_h, s_w) = K.shape[2:], stride
    columns = im2col(X, (k_h, k_w), padding, stride)
    padded = F.pad(X, (padding[1], padding[1], padding[0], padding[0]))
    for i in range(out_h):
        for j in range(out_w):
            window = padded[:, i * s_h : i * s_h + k_h, j * s_w : j * s_w + k_w]
            assert torch.equal(columns[:, i * out_w + j], window.flatten())
    product = kernel_matrix(K) @ columns
    assert torch.equal(product.reshape(-1, out_h, out_w), F.conv2d(X[None], K, padding=padding, stride=stride)[0])
    assert im2col_check(X, K, product, padding, stride).difference == 0


@settings(max_examples=60, deadline=None)
@given(convolutions())
def test_the_weight_matrix_is_the_convolution(case):
    X, K, padding, stride = case
    W = toeplitz_matrix(K, tuple(X.shape[1:]), padding, stride)
    assert torch.equal(W, one_hot_weights(K, tuple(X.shape[1:]), padding, stride))
    Y = F.conv2d(X[None], K, padding=padding, stride=stride)[0]
    assert torch.equal(W @ X.flatten(), Y.flatten())
    assert toeplitz_check(X, K, W, padding, stride).difference == 0


@settings(max_examples=40, deadline=None)
@given(convolutions())
def test_weight_positions_say_which_kernel_weight_and_where_w_is_always_zero(case):
    X, K, padding, stride = case
    hw = tuple(X.shape[1:])
    index = weight_positions(tuple(K.shape), hw, padding, stride)
    reached = one_hot_weights(torch.ones_like(K), hw, padding, stride) != 0  # a kernel of ones marks every reach
    assert torch.equal(index >= 0, reached)
    distinct = torch.arange(1.0, K.numel() + 1).reshape(K.shape)  # every weight its own value: W names the weight
    assert torch.equal(toeplitz_matrix(distinct, hw, padding, stride), torch.where(reached, index + 1.0, 0.0))
    counts = matrix_counts(index)
    assert counts.zeros == int((~reached).sum()) and counts.entries == reached.numel()
    assert counts.weights == int(index[reached].unique().numel())
    assert math.isclose(counts.sparsity, int((~reached).sum()) / reached.numel())


def test_checks_notice_a_wrong_result():
    X, K = with_channels(X3, K2)
    m = convolution_matrices(X3, K2)
    assert m.im2col_check.agrees and m.toeplitz_check.agrees
    assert im2col_check(X, K, m.product + 1).difference == 1
    wrong = m.W.clone()
    wrong[0, -1] = 1.0  # a weight where the window does not reach: the last pixel of X is 8
    assert toeplitz_check(X, K, wrong).difference == X3[-1, -1]


@pytest.mark.parametrize("c_i, c_o, n, k", [(2, 1, 3, 2), (3, 2, 4, 3), (4, 4, 5, 1), (1, 1, 5, 5)])
def test_the_page_example_and_its_snippet(c_i, c_o, n, k):
    X, K = example_channels(c_i, c_o, n, k)
    m = convolution_matrices(X, K)
    Y = F.conv2d(X[None], K)[0]
    assert torch.equal(m.product.reshape(Y.shape), Y) and torch.equal(m.W @ X.flatten(), Y.flatten())
    assert m.counts.weights == K.numel()  # without padding every kernel weight reaches some pixel
    ns = run_snippet(as_matrix_code(X, K))
    assert torch.equal(ns["cols"], m.columns) and torch.equal(ns["W"], m.W) and torch.equal(ns["Y"], Y)


def test_the_summary_counts_the_cross_correlation_example():
    counts = convolution_matrices(X3, K2).counts
    reached = one_hot_weights(torch.ones(1, 1, 2, 2), (3, 3)) != 0
    zeros = int((~reached).sum())
    assert (counts.rows, counts.columns, counts.zeros) == (*reached.shape, zeros)
    assert f"of its {reached.numel()} entries {zeros} " in counts.summary
    assert f"only {K2.numel()} kernel weights" in counts.summary


def test_shapes_that_do_not_fit_say_so():
    with pytest.raises(ValueError, match="do not fit"):
        with_channels(torch.zeros(2, 3, 3), torch.zeros(1, 3, 2, 2))
    with pytest.raises(ValueError, match="kernel"):
        convolution_matrices(torch.zeros(2, 2), torch.zeros(3, 3))


def test_im2col_figure_draws_the_product():
    m = convolution_matrices(X3, K2)
    k_panel, columns_panel, product_panel, y_panel = (torch.tensor(h.z) for h in heatmaps(im2col_figure(m)))
    assert torch.equal(k_panel @ columns_panel, product_panel)
    assert torch.equal(y_panel, F.conv2d(X3[None, None], K2[None, None])[0, 0])
    assert "drawn" not in im2col_figure(m).layout.title.text


def test_a_large_im2col_is_drawn_in_part_and_says_so():
    X, K = example_channels(4, 2, 5, 3)  # im2col is 36 x 9
    fig = im2col_figure(convolution_matrices(X, K))
    k_panel, columns_panel, product_panel = heatmaps(fig)
    assert torch.tensor(columns_panel.z).shape == (MAX_ENTRIES, MAX_WINDOWS) and MAX_ENTRIES < 36 and MAX_WINDOWS < 9
    assert torch.tensor(k_panel.z).shape == (2, MAX_ENTRIES) and torch.tensor(product_panel.z).shape == (2, MAX_WINDOWS)
    note = f"36×9: the first {MAX_ENTRIES} of 36 rows and {MAX_WINDOWS} of 9 columns are drawn"
    assert note in fig.layout.title.text


@pytest.mark.parametrize("X, K", [(X3, K2), example_channels(2, 2, 3, 2), example_channels(2, 4, 5, 1)])
def test_weight_matrix_figure_colours_each_entry_by_its_kernel_weight(X, K):
    m = convolution_matrices(X, K)
    fig = weight_matrix_figure(m)
    kernel_panel, w_panel = heatmaps(fig)
    z = torch.tensor(w_panel.z, dtype=torch.float64)
    rows, columns = min(m.W.shape[0], MAX_SHOWN), min(m.W.shape[1], MAX_SHOWN)
    reached = (one_hot_weights(torch.ones_like(m.K), tuple(m.X.shape[1:])) != 0)[:rows, :columns]
    assert z.shape == (rows, columns) and torch.equal(z.isnan(), ~reached)  # blank exactly where W is always 0
    weights = m.K.flatten()[z[reached].long()]  # the colour (z) names the kernel weight whose value is written
    assert [float(t) for row, keep in zip(w_panel.text, reached.tolist()) for t, k in zip(row, keep) if k] == \
        weights.tolist()
    assert sorted(torch.tensor(kernel_panel.z).flatten().tolist()) == list(range(m.K.numel()))
    assert ("are drawn" in fig.layout.title.text) == (tuple(m.W.shape) != (rows, columns))
