"""The Cross-correlation lesson: worked sums, snippets, true convolution, dice, its figures."""


import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from lenet import (
    EDGE_KERNEL,
    corr2d,
    edge_image,
    learn_kernel,
)
from lenet import convolve2d
from lenet.core.ops import convolve1d
from lenet.core.shapes import total_padding_output_shape
from lenet.lessons.cross_correlation import convolution_terms, corr2d_code, dice_arithmetic, dice_code, dice_figure, dice_sum_distribution, diverged, edge_code, kernel_comparison_figure, learn_kernel_code, loss_figure, window_arithmetic
from lenet.lessons.grids import parse_matrix, WINDOW_COLOR
from lenet.lessons.mlp_vs_cnn import parameter_comparison, parameter_figure
from lenet.lessons.padding import conv_shape_code
from helpers import K2, X3, run_snippet


def test_window_arithmetic_worked_example():
    assert window_arithmetic(X3, K2, (0, 0)) == "0×0 + 1×1 + 3×2 + 4×3 = 19"
    assert window_arithmetic(torch.tensor([[1.0, 0.0]]), EDGE_KERNEL, (0, 0)) == "1×1 + 0×(-1) = 1"


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 5), w=st.integers(1, 5), kh=st.integers(1, 3), kw=st.integers(1, 3), seed=st.integers(0, 99))
def test_window_arithmetic_adds_up_to_corr2d(h, w, kh, kw, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randint(-5, 6, (h + kh, w + kw), generator=g).float()
    K = torch.randint(-3, 4, (kh, kw), generator=g).float()
    Y = corr2d(X, K)
    i, j = h // 2, w // 2
    products, total = window_arithmetic(X, K, (i, j)).split(" = ")
    assert float(total) == Y[i, j]
    assert len(products.split(" + ")) == kh * kw


def test_diverged():
    assert not diverged([19.0, 1.0, 0.1])
    assert diverged([19.0, 25.0]) and diverged([19.0, float("nan")]) and diverged([1.0, float("inf")])


def test_corr2d_snippet():
    X = parse_matrix("1 -2 3.5; 0 4 1; 2 2 -1")
    assert torch.allclose(run_snippet(corr2d_code(X, K2))["Y"], corr2d(X, K2))


def test_edge_snippet():
    ns = run_snippet(edge_code())
    assert torch.equal(ns["Y"], corr2d(edge_image(), EDGE_KERNEL))
    assert torch.equal(ns["Y_t"], corr2d(edge_image().t(), EDGE_KERNEL))


@pytest.mark.parametrize("lr, iterations", [(0.03, 10), (0.01, 4)])
def test_learn_kernel_snippet(lr, iterations):
    ns = run_snippet(learn_kernel_code(lr, iterations))
    kernel, losses = learn_kernel(edge_image(), corr2d(edge_image(), EDGE_KERNEL), lr=lr, iterations=iterations)
    assert torch.allclose(ns["conv2d"].weight.reshape(1, 2), kernel, atol=1e-5)
    assert ns["losses"] == pytest.approx(losses, rel=1e-4)


def test_line_and_bar_figures():
    losses = [19.0, 5.0, 1.0]
    assert list(loss_figure(losses).data[0].y) == losses
    assert loss_figure(losses).layout.yaxis.type == "log"
    table = parameter_comparison(3000, 4000, 3, 100)
    fig = parameter_figure(table)
    assert fig.layout.xaxis.type == "log" and list(fig.data[0].x) == table["parameters"].tolist()
    assert "14.4 GB" in fig.data[0].text[0]
    learned = torch.tensor([[0.9, -1.1]])
    bars = kernel_comparison_figure(learned, EDGE_KERNEL).data
    assert list(bars[0].y) == pytest.approx(learned.flatten().tolist()) and list(bars[1].y) == [1.0, -1.0]


def test_convolution_terms_are_the_mathematical_definition():
    X, K = torch.arange(20.0).reshape(4, 5), torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
    Y = convolve2d(X, K)
    k_h, k_w = K.shape
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            m, n = i + k_h - 1, j + k_w - 1  # (K * X)(m, n) = sum over h, k of K(h, k) X(m - h, n - k)
            definition = sum(K[h, k] * X[m - h, n - k] for h in range(k_h) for k in range(k_w))
            terms = convolution_terms((k_h, k_w), (i, j))
            pairs = re.findall(r"X\[(\d+), (\d+)\]·K\[(\d+), (\d+)\]", terms)
            assert len(pairs) == k_h * k_w
            assert sum(X[int(a), int(b)] * K[int(c), int(d)] for a, b, c, d in pairs) == definition == Y[i, j]
    assert convolution_terms((2, 2), (0, 0)).startswith("X[0, 0]·K[1, 1] + X[0, 1]·K[1, 0]")


@settings(max_examples=25, deadline=None)
@given(f=st.lists(st.integers(-5, 5), min_size=1, max_size=8), g=st.lists(st.integers(-5, 5), min_size=1, max_size=8))
def test_convolve1d_is_numpys_convolve(f, g):
    ours = convolve1d(torch.tensor(f), torch.tensor(g))
    assert ours.tolist() == pytest.approx(np.convolve(f, g).tolist())


def test_two_dice_sum_to_4_with_chance_3_36():
    counts = torch.zeros(11)
    for a in range(1, 7):
        for b in range(1, 7):
            counts[a + b - 2] += 1
    assert torch.allclose(dice_sum_distribution(), counts / 36)
    assert dice_arithmetic(4) == "P(sum = 4) = f(1)g(3) + f(2)g(2) + f(3)g(1) = 1/36 + 1/36 + 1/36 = 3/36 = 1/12"
    assert dice_arithmetic(12) == "P(sum = 12) = f(6)g(6) = 1/36"
    with pytest.raises(ValueError, match="2 to 12"):
        dice_arithmetic(13)


def test_new_snippets_reproduce_the_pages():
    X = parse_matrix("1 -2 3.5; 0 4 1; 2 2 -1")
    assert torch.allclose(run_snippet(corr2d_code(X, K2, flip=True))["Y"], convolve2d(X, K2))
    ns = run_snippet(dice_code(4))
    assert torch.allclose(ns["p"], dice_sum_distribution()) and ns["p_total"] == pytest.approx(3 / 36)
    for n, k, p, s in [(8, 4, 3, 1), ((8, 9), (3, 2), (1, 4), (2, 1))]:
        Y = run_snippet(conv_shape_code(n, k, p, s, total=True))["Y"]
        assert tuple(Y.shape[-2:]) == total_padding_output_shape(n, k, p, s)


def test_dice_figure_highlights_the_chosen_sum():
    fig = dice_figure(dice_sum_distribution(), 4)
    bars = fig.data[0]
    assert list(bars.x) == list(range(2, 13)) and bars.text[2] == "3/36"
    assert [i for i, c in enumerate(bars.marker.color) if c == WINDOW_COLOR] == [2]
