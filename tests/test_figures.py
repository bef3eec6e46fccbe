"""The concept pages' library side: lessons helpers, 'show the code' snippets and plotly figures,
checked against lenet's ops and against torch's own operators."""

import contextlib
import io
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from torch import nn

from lenet import (
    EDGE_KERNEL,
    LeNetConfig,
    build_lenet,
    conv_output_shape,
    conv_parameter_count,
    corr2d,
    corr2d_1x1,
    corr2d_multi_in,
    corr2d_multi_in_out,
    count_parameters,
    edge_image,
    learn_kernel,
    mlp_parameter_count,
    pool2d,
)
from lenet import convolve2d, figures, lessons, snippets
from lenet.receptive import unit_field

X3 = torch.arange(9.0).reshape(3, 3)
K2 = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
X16 = torch.arange(16.0).reshape(4, 4)


def run_snippet(code: str) -> dict:
    """Execute a snippet quietly and return its variables."""
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "<snippet>", "exec"), namespace)
    return namespace


# ---- parsing and worked arithmetic -------------------------------------------------------------

def test_parse_and_format_matrix_round_trip():
    X = lessons.parse_matrix("0 1 2; 3 4 5\n6, 7, 8.5")
    assert torch.equal(X, torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.5]]))
    assert torch.equal(lessons.parse_matrix(lessons.format_matrix(X)), X)


@pytest.mark.parametrize(
    "text, message",
    [("", "empty"), ("1 2; 3", "same number"), ("1 a", "not a row of numbers"), ("1 inf", "inf or nan"),
     ("; ".join(["1"] * 11), "at most 10")],
)
def test_parse_matrix_explains_bad_input(text, message):
    with pytest.raises(ValueError, match=message):
        lessons.parse_matrix(text)


def test_window_arithmetic_worked_example():
    assert lessons.window_arithmetic(X3, K2, (0, 0)) == "0×0 + 1×1 + 3×2 + 4×3 = 19"
    assert lessons.window_arithmetic(torch.tensor([[1.0, 0.0]]), EDGE_KERNEL, (0, 0)) == "1×1 + 0×(-1) = 1"


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 5), w=st.integers(1, 5), kh=st.integers(1, 3), kw=st.integers(1, 3), seed=st.integers(0, 99))
def test_window_arithmetic_adds_up_to_corr2d(h, w, kh, kw, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randint(-5, 6, (h + kh, w + kw), generator=g).float()
    K = torch.randint(-3, 4, (kh, kw), generator=g).float()
    Y = corr2d(X, K)
    i, j = h // 2, w // 2
    products, total = lessons.window_arithmetic(X, K, (i, j)).split(" = ")
    assert float(total) == Y[i, j]
    assert len(products.split(" + ")) == kh * kw


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("k, p, s", [((2, 2), (0, 0), (1, 1)), ((3, 3), (1, 1), (2, 2)), ((2, 3), (0, 1), (2, 3))])
def test_pool_arithmetic_matches_pool2d(mode, k, p, s):
    Y = pool2d(X16, k, mode, p, s)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            text = lessons.pool_arithmetic(X16, k, mode, p, s, (i, j))
            assert text.startswith("max(" if mode == "max" else "mean(")
            assert text.endswith(f" = {lessons.format_number(Y[i, j])}")
    assert lessons.pool_arithmetic(X3, 2, "max", 0, 1, (0, 0)) == "max(0, 1, 3, 4) = 4"


def test_step_to_cell_walks_row_by_row():
    assert [lessons.step_to_cell(t, (2, 3)) for t in range(1, 7)] == [(i, j) for i in range(2) for j in range(3)]
    with pytest.raises(ValueError, match="between 1 and 6"):
        lessons.step_to_cell(7, (2, 3))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(3, 9), k=st.integers(1, 3), p=st.integers(0, 2), s=st.integers(1, 3), d=st.integers(1, 2))
def test_kernel_footprint_is_what_torch_unfold_reads(n, k, p, s, d):
    if d * (k - 1) + 1 > n + 2 * p:
        return
    padded_index = torch.arange((n + 2 * p) ** 2, dtype=torch.float32).reshape(1, 1, n + 2 * p, n + 2 * p)
    windows = F.unfold(padded_index, k, dilation=d, stride=s)[0]  # (k*k, number of windows)
    out_h, out_w = conv_output_shape(n, k, p, s, d)
    assert windows.shape[1] == out_h * out_w
    for step in range(1, out_h * out_w + 1):
        cells = lessons.kernel_footprint(lessons.step_to_cell(step, (out_h, out_w)), k, s, d)
        assert [r * (n + 2 * p) + c for r, c in cells] == windows[:, step - 1].long().tolist()


@pytest.mark.parametrize(
    "n, k, p, s, expected",
    [(8, 3, 1, 2, (4, 4)), ((8, 8), (3, 5), (0, 1), (3, 4), (2, 2))],  # the curriculum's two examples
)
def test_output_size_formulas_end_with_the_output_size(n, k, p, s, expected):
    lines = lessons.output_size_formulas(n, k, p, s)
    assert [int(line.rsplit("=", 1)[1]) for line in lines] == list(conv_output_shape(n, k, p, s)) == list(expected)
    assert "height" in lines[0] and "width" in lines[1]


def test_output_size_formulas_with_dilation_and_errors():
    line = lessons.output_size_formulas(8, 3, 0, 1, 2)[0]
    assert "d_h" in line and int(line.rsplit("=", 1)[1]) == conv_output_shape(8, 3, 0, 1, 2)[0]
    with pytest.raises(ValueError, match="padding at least"):
        lessons.output_size_formulas(4, 7)


def test_diverged():
    assert not lessons.diverged([19.0, 1.0, 0.1])
    assert lessons.diverged([19.0, 25.0]) and lessons.diverged([19.0, float("nan")]) and lessons.diverged([1.0, float("inf")])


# ---- examples ----------------------------------------------------------------------------------

def test_sample_image_is_a_fashion_mnist_image_or_the_pattern(monkeypatch):
    image, caption = lessons.sample_image(3)
    assert image.shape == (28, 28) and 0 <= image.min() and image.max() <= 1
    assert caption.startswith(("Fashion-MNIST test image 3", "Built-in"))

    def missing(*args, **kwargs):
        raise lessons.DatasetNotFoundError("not here")

    monkeypatch.setattr(lessons, "load_split", missing)
    image, caption = lessons.sample_image(3)
    assert torch.equal(image, lessons.pattern_image()) and "Built-in" in caption


def test_example_kernels():
    assert torch.equal(lessons.example_kernel("vertical edges", (1, 2)), EDGE_KERNEL)
    assert torch.equal(lessons.example_kernel("horizontal edges", (2, 1)), EDGE_KERNEL.t())
    assert lessons.example_kernel("blur", (3, 5)).sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="kernel must be one of"):
        lessons.example_kernel("sharpen", 3)


def test_apply_conv_agrees_with_corr2d_and_the_shape_formula():
    image = lessons.pattern_image()
    K = lessons.example_kernel("vertical edges", 3)
    assert torch.allclose(lessons.apply_conv(image, K), corr2d(image, K), atol=1e-6)
    assert lessons.apply_conv(image, K, (1, 2), (2, 3), 2).shape == conv_output_shape(28, 3, (1, 2), (2, 3), 2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        lessons.apply_conv(image, K, 0, 1, 20)


def test_example_channels_is_d2l_and_agrees_with_torch():
    X, K = lessons.example_channels(2, 3, 3, 2)
    assert torch.equal(corr2d_multi_in(X, K[0]), torch.tensor([[56.0, 72.0], [104.0, 120.0]]))
    assert torch.equal(K[1], K[0] + 1) and torch.equal(K[2], K[0] + 2)
    assert lessons.torch_difference(X, K) == 0
    partials = lessons.per_channel_correlations(X, K[1])
    assert torch.equal(sum(partials), corr2d_multi_in(X, K[1]))
    K1 = lessons.one_by_one_kernel(2, 3)
    assert K1.shape == (3, 2, 1, 1) and lessons.matmul_difference(X, K1) == 0


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("window, stride, shift", [(2, 1, 1), (2, 2, 1), (3, 1, 2), (2, 1, 0)])
def test_shift_demo_against_torch(mode, window, stride, shift):
    X = edge_image()
    demo = lessons.shift_demo(X, EDGE_KERNEL, window, mode, stride, shift)
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    conv = F.conv2d(X[None, None], EDGE_KERNEL[None, None])
    conv_shifted = F.conv2d(torch.roll(X, shift, 1)[None, None], EDGE_KERNEL[None, None])
    pooled, pooled_shifted = pool(conv, window, stride), pool(conv_shifted, window, stride)
    assert len(demo.conv_changed) == int((conv != conv_shifted).sum())
    assert len(demo.pooled_changed) == int((pooled != pooled_shifted).sum())
    assert torch.allclose(demo.pooled_shifted, pooled_shifted[0, 0])


def test_pooling_with_stride_one_hides_a_one_pixel_shift_better():
    demo = lessons.shift_demo(edge_image(), EDGE_KERNEL, 2, "max", 1, 1)
    assert len(demo.pooled_changed) / demo.pooled.numel() < len(demo.conv_changed) / demo.conv.numel()


def test_parameter_comparison_twelve_megapixels():
    table = lessons.parameter_comparison(3000, 4000, 3, 100, 6, 5)
    dense, dense_same, conv, lenet = table["parameters"].tolist()
    assert dense == mlp_parameter_count(3 * 3000 * 4000, [100]) == 36_000_000 * 100 + 100
    assert table["float32 memory"][0] == "14.4 GB" and lessons.human_count(dense) == "3.6 billion"
    assert conv == count_parameters(nn.Conv2d(3, 6, 5))
    assert dense_same == count_parameters(nn.Linear(3 * 3000 * 4000, 6 * 3000 * 4000, device="meta"))
    assert lenet == count_parameters(build_lenet(LeNetConfig.classic())) == 61_706
    assert (table["float32 bytes"] == 4 * table["parameters"]).all()


def test_human_units():
    assert lessons.human_count(61_706) == "61,706" and lessons.human_count(2_500_000) == "2.5 million"
    assert lessons.human_bytes(999) == "999 bytes" and lessons.human_bytes(1_820) == "1.82 kB"


# ---- "show the code" snippets reproduce the pages' numbers -------------------------------------

def test_corr2d_snippet():
    X = lessons.parse_matrix("1 -2 3.5; 0 4 1; 2 2 -1")
    assert torch.allclose(run_snippet(snippets.corr2d_code(X, K2))["Y"], corr2d(X, K2))


def test_edge_snippet():
    ns = run_snippet(snippets.edge_code())
    assert torch.equal(ns["Y"], corr2d(edge_image(), EDGE_KERNEL))
    assert torch.equal(ns["Y_t"], corr2d(edge_image().t(), EDGE_KERNEL))


@pytest.mark.parametrize("lr, iterations", [(0.03, 10), (0.01, 4)])
def test_learn_kernel_snippet(lr, iterations):
    ns = run_snippet(snippets.learn_kernel_code(lr, iterations))
    kernel, losses = learn_kernel(edge_image(), corr2d(edge_image(), EDGE_KERNEL), lr=lr, iterations=iterations)
    assert torch.allclose(ns["conv2d"].weight.reshape(1, 2), kernel, atol=1e-5)
    assert ns["losses"] == pytest.approx(losses, rel=1e-4)


@pytest.mark.parametrize("n, k, p, s, d", [(8, 3, 1, 2, 1), ((8, 8), (3, 5), (0, 1), (3, 4), 1), ((9, 7), 3, 0, 1, (2, 3))])
def test_conv_shape_snippet(n, k, p, s, d):
    assert tuple(run_snippet(snippets.conv_shape_code(n, k, p, s, d))["Y"].shape[-2:]) == conv_output_shape(n, k, p, s, d)


@pytest.mark.parametrize("c_i, c_o, n, k", [(2, 1, 3, 2), (3, 2, 4, 3), (1, 4, 5, 1)])
def test_channel_snippets(c_i, c_o, n, k):
    X, K = lessons.example_channels(c_i, c_o, n, k)
    ns = run_snippet(snippets.channels_code(c_i, c_o, n, k))
    assert torch.equal(ns["X"], X) and torch.equal(ns["K"], K)
    assert torch.equal(ns["Y"], corr2d_multi_in_out(X, K))
    assert ns["n_parameters"] == conv_parameter_count(c_i, c_o, k)
    ns = run_snippet(snippets.one_by_one_code(c_i, c_o, n))
    assert torch.equal(ns["Y"], corr2d_1x1(X, lessons.one_by_one_kernel(c_i, c_o)))


@pytest.mark.parametrize(
    "X, k, mode, p, s",
    [(X3, 2, "max", 0, 1), (X3, 2, "avg", 0, 1), (X16, 3, "max", 0, 3), (X16, 3, "max", 1, 2),
     (X16, (2, 3), "max", (0, 1), (2, 3)), (X16, 3, "avg", 1, 2)],
)
def test_pooling_snippet(X, k, mode, p, s):
    assert torch.allclose(run_snippet(snippets.pooling_code(X, k, mode, p, s))["Y"], pool2d(X, k, mode, p, s))


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_shift_snippet(mode):
    ns = run_snippet(snippets.shift_code(2, mode, 1, 1))
    demo = lessons.shift_demo(edge_image(), EDGE_KERNEL, 2, mode, 1, 1)
    assert int((ns["conv"] != ns["conv_shifted"]).sum()) == len(demo.conv_changed)
    assert int((ns["pooled"] != ns["pooled_shifted"]).sum()) == len(demo.pooled_changed)


def test_parameter_count_snippet():
    ns = run_snippet(snippets.parameter_count_code(3000, 4000, 3, 100, 6, 5))
    table = lessons.parameter_comparison(3000, 4000, 3, 100, 6, 5)
    assert [ns["dense"], ns["conv"], ns["lenet"]] == [table["parameters"][i] for i in (0, 2, 3)]


# ---- figures -----------------------------------------------------------------------------------

def heatmaps(fig):
    return [t for t in fig.data if t.type == "heatmap"]


def outlined_cells(fig, xref: str):
    return sorted((round(s.y0 + 0.5), round(s.x0 + 0.5)) for s in fig.layout.shapes if s.xref == xref)


def all_figures():
    demo = lessons.shift_demo(edge_image(), EDGE_KERNEL, 2)
    X, K = lessons.example_channels(2, 2, 3, 2)
    K1 = lessons.one_by_one_kernel(2, 2)
    image = lessons.pattern_image()
    return {
        "sliding window": figures.sliding_window_figure(X3, corr2d(X3, K2), (1, 0), 2, K=K2),
        "padding": figures.padding_figure(8, 3, 1, 2, 1, 5),
        "matrix grid": figures.matrix_grid_figure([[("X", X3), ("K", K2, "Oranges")]], "grid"),
        "channels": figures.channels_figure(X, K, 1, lessons.per_channel_correlations(X, K[1]), corr2d_multi_in(X, K[1])),
        "one by one": figures.one_by_one_figure(X, K1, corr2d_1x1(X, K1)),
        "shift": figures.shift_figure(demo, 1),
        "image pair": figures.image_pair_figure(image, lessons.apply_conv(image, torch.ones(3, 3), 0, 2), "t", "out"),
        "loss": figures.loss_figure([19.0, 5.0, 1.0]),
        "kernels": figures.kernel_comparison_figure(torch.tensor([[0.9, -1.1]]), EDGE_KERNEL),
        "parameters": figures.parameter_figure(lessons.parameter_comparison(28, 28, 1, 100)),
        "padding over both sides": figures.padding_figure(8, 4, 3, 1, 1, 1, total=True),
        "dice": figures.dice_figure(lessons.dice_sum_distribution(), 4),
        "receptive field": figures.receptive_field_figure(
            image, unit_field(LeNetConfig.classic(), "conv2", (0, 0)), (10, 10), "t"
        ),
    }


@pytest.mark.parametrize("name, fig", list(all_figures().items()))
def test_every_figure_has_a_title_axis_labels_and_a_sensible_height(name, fig):
    assert fig.layout.title.text
    assert 300 <= fig.layout.height <= 800
    axes = fig.layout.to_plotly_json()
    assert any(fig.layout[key].title.text for key in axes if key.startswith("xaxis"))
    assert any(fig.layout[key].title.text for key in axes if key.startswith("yaxis"))


def test_png_config():
    config = figures.png_config("pooling")
    assert config["toImageButtonOptions"] == {"format": "png", "filename": "pooling", "scale": 2}


def test_sliding_window_figure_draws_the_window_and_the_output():
    Y = corr2d(X3, K2)
    fig = figures.sliding_window_figure(X3, Y, (1, 0), 2, K=K2)
    values, padding, kernel, output = heatmaps(fig)
    assert torch.equal(torch.tensor(output.z), Y) and torch.equal(torch.tensor(kernel.z), K2)
    assert torch.equal(torch.tensor(values.z), X3)
    assert outlined_cells(fig, "x") == sorted(lessons.kernel_footprint((1, 0), 2))
    assert outlined_cells(fig, "x3") == [(1, 0)]


def test_padding_figure_marks_every_window_start_and_the_padding():
    out_h, out_w = conv_output_shape(8, 3, 1, 2)
    fig = figures.padding_figure(8, 3, 1, 2, 1, 6)
    starts = next(t for t in fig.data if t.type == "scatter")
    assert len(starts.x) == out_h * out_w and max(starts.x) == 2 * (out_w - 1)
    inside, padding, output = heatmaps(fig)
    padded = torch.tensor(padding.z, dtype=torch.float32)
    assert padded.shape == (10, 10) and int((~padded.isnan()).sum()) == 10 * 10 - 8 * 8
    assert torch.equal(torch.tensor(output.z), torch.arange(1.0, out_h * out_w + 1).reshape(out_h, out_w))
    assert outlined_cells(fig, "x") == sorted(lessons.kernel_footprint(lessons.step_to_cell(6, (out_h, out_w)), 3, 2))


def test_dilated_window_outlines_spread_cells():
    fig = figures.padding_figure(8, 3, 0, 1, 2, 1)
    assert outlined_cells(fig, "x") == [(r, c) for r in (0, 2, 4) for c in (0, 2, 4)]


def test_channels_and_one_by_one_figures_show_the_library_results():
    X, K = lessons.example_channels(3, 2, 4, 3)
    total = corr2d_multi_in(X, K[1])
    fig = figures.channels_figure(X, K, 1, lessons.per_channel_correlations(X, K[1]), total)
    assert len(heatmaps(fig)) == 3 * 3 + 1
    assert torch.equal(torch.tensor(heatmaps(fig)[-1].z), total)
    K1 = lessons.one_by_one_kernel(3, 2)
    Y = corr2d_1x1(X, K1)
    k_panel, x_panel, y_panel = heatmaps(figures.one_by_one_figure(X, K1, Y))
    assert torch.equal(torch.tensor(k_panel.z) @ torch.tensor(x_panel.z), torch.tensor(y_panel.z))
    assert torch.equal(torch.tensor(y_panel.z).reshape(2, 4, 4), Y)


def test_shift_figure_outlines_exactly_the_changed_cells():
    demo = lessons.shift_demo(edge_image(), EDGE_KERNEL, 2)
    fig = figures.shift_figure(demo, 1)
    assert outlined_cells(fig, "x2") == sorted(demo.conv_changed)
    assert outlined_cells(fig, "x4") == sorted(demo.pooled_changed)


def test_image_pair_figure_draws_both_at_the_same_scale():
    image = lessons.pattern_image()
    out = lessons.apply_conv(image, torch.ones(3, 3) / 9, 0, 2)
    fig = figures.image_pair_figure(image, out, "t", "out")
    assert [torch.tensor(h.z).shape for h in heatmaps(fig)] == [image.shape, out.shape]
    assert list(fig.layout.xaxis.range) == list(fig.layout.xaxis2.range) == [-0.5, 27.5]


def test_line_and_bar_figures():
    losses = [19.0, 5.0, 1.0]
    assert list(figures.loss_figure(losses).data[0].y) == losses
    assert figures.loss_figure(losses).layout.yaxis.type == "log"
    table = lessons.parameter_comparison(3000, 4000, 3, 100)
    fig = figures.parameter_figure(table)
    assert fig.layout.xaxis.type == "log" and list(fig.data[0].x) == table["parameters"].tolist()
    assert "14.4 GB" in fig.data[0].text[0]
    learned = torch.tensor([[0.9, -1.1]])
    bars = figures.kernel_comparison_figure(learned, EDGE_KERNEL).data
    assert list(bars[0].y) == pytest.approx(learned.flatten().tolist()) and list(bars[1].y) == [1.0, -1.0]


@settings(max_examples=25, deadline=None)
@given(
    n=st.tuples(st.integers(1, 16), st.integers(1, 16)), k=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    p=st.tuples(st.integers(0, 6), st.integers(0, 6)), s=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    d=st.tuples(st.integers(1, 4), st.integers(1, 4)),
)
def test_any_padding_page_setting_gives_a_figure_or_a_clear_error(n, k, p, s, d):
    """The padding page's widget ranges: every combination draws, or raises the ValueError the page shows."""
    try:
        out = conv_output_shape(n, k, p, s, d)
    except ValueError as e:
        assert "make the kernel smaller or the padding at least" in str(e)
        with pytest.raises(ValueError):
            lessons.output_size_formulas(n, k, p, s, d)
        return
    fig = figures.padding_figure(n, k, p, s, d, out[0] * out[1])
    assert outlined_cells(fig, "x2") == [(out[0] - 1, out[1] - 1)]
    assert max(r for r, _ in outlined_cells(fig, "x")) < n[0] + 2 * p[0]


@settings(max_examples=25, deadline=None)
@given(k=st.tuples(st.integers(1, 4), st.integers(1, 4)), p=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       s=st.tuples(st.integers(1, 4), st.integers(1, 4)), mode=st.sampled_from(["max", "avg"]))
def test_any_pooling_page_setting_matches_torch_or_gives_a_clear_error(k, p, s, mode):
    X = torch.arange(1.0, 26.0).reshape(5, 5)
    try:
        Y = pool2d(X, k, mode, p, s)
    except ValueError as e:
        assert "more than half the window" in str(e) or "larger than the padded input" in str(e)
        return
    torch_pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    assert torch.allclose(Y, torch_pool(X[None, None], k, s, p)[0, 0])
    last = (Y.shape[0] - 1, Y.shape[1] - 1)
    assert lessons.pool_arithmetic(X, k, mode, p, s, last).endswith(f" = {lessons.format_number(Y[last])}")



# ---- padding over both sides, convolution proper, dice, receptive fields, the softmax mistake -----

@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 12), k=st.integers(1, 7), p=st.integers(0, 12), s=st.integers(1, 4), d=st.integers(1, 3))
def test_total_padding_is_the_books_formula_and_what_f_pad_gives(n, k, p, s, d):
    left, right, top, bottom = lessons.total_padding_sides(p)
    assert left + right == top + bottom == p and 0 <= top - bottom <= 1
    try:
        out = lessons.total_padding_output_shape(n, k, p, s, d)
    except ValueError as e:
        assert f"total padding at least {d * (k - 1) + 1 - n}" in str(e)
        with pytest.raises(RuntimeError):
            F.conv2d(F.pad(torch.zeros(1, 1, n, n), (left, right, top, bottom)), torch.zeros(1, 1, k, k), dilation=d)
        return
    Y = F.conv2d(F.pad(torch.zeros(1, 1, n, n), (left, right, top, bottom)), torch.zeros(1, 1, k, k), stride=s, dilation=d)
    assert out == tuple(Y.shape[-2:])
    if d == 1:
        assert out[0] == (n - k + p + s) // s  # the book's formula
    lines = lessons.output_size_formulas(n, k, p, s, d, total=True)
    assert [int(line.rsplit("=", 1)[1]) for line in lines] == list(out)


def test_the_same_example_in_both_conventions():
    assert lessons.total_padding_output_shape(8, 3, 2, 2) == conv_output_shape(8, 3, 1, 2) == (4, 4)
    assert "this is $p = (2, 2)$" in lessons.other_padding_convention(8, 3, 1, 2, 1, total=False)
    assert "`padding=(1, 1)`, which gives the same 4 × 4" in lessons.other_padding_convention(8, 3, 2, 2, 1, total=True)
    assert "F.pad(X, (2, 1, 2, 1))" in lessons.other_padding_convention(8, 4, 3, 1, 1, total=True)
    assert r"\frac{8 - 3 + 2 + 2}{2}" in lessons.output_size_formulas(8, 3, 2, 2, total=True)[0]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_odd_total_padding_puts_the_extra_row_on_top_and_torch_same_at_the_bottom():
    torch.manual_seed(0)
    X, K = torch.randn(7, 6), torch.randn(4, 4)
    ours = lessons.apply_conv(X, K, 3, total=True)
    assert ours.shape == X.shape
    mirrored_same = F.conv2d(X.flip(0, 1)[None, None], K.flip(0, 1)[None, None], padding="same")[0, 0].flip(0, 1)
    assert torch.allclose(ours, mirrored_same, atol=1e-5)
    assert not torch.allclose(ours, F.conv2d(X[None, None], K[None, None], padding="same")[0, 0], atol=1e-3)
    with pytest.raises(ValueError, match="total padding at least 5"):
        lessons.apply_conv(torch.zeros(4, 4), torch.zeros(9, 9), 2, total=True)


@settings(max_examples=15, deadline=None)
@given(
    n=st.tuples(st.integers(1, 10), st.integers(1, 10)), k=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    p=st.tuples(st.integers(0, 12), st.integers(0, 12)), s=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    d=st.tuples(st.integers(1, 4), st.integers(1, 4)),
)
def test_any_total_padding_setting_gives_a_figure_or_a_clear_error(n, k, p, s, d):
    try:
        out = lessons.total_padding_output_shape(n, k, p, s, d)
    except ValueError as e:
        assert "make the kernel smaller or the total padding at least" in str(e)
        return
    fig = figures.padding_figure(n, k, p, s, d, out[0] * out[1], total=True)
    inside, padding, output = heatmaps(fig)
    left, right, top, bottom = lessons.total_padding_sides(p)
    expected = F.pad(torch.zeros(n), (left, right, top, bottom), value=1.0).bool()
    assert torch.equal(~torch.tensor(padding.z, dtype=torch.float32).isnan(), expected)
    assert outlined_cells(fig, "x2") == [(out[0] - 1, out[1] - 1)]


def test_convolution_terms_are_the_mathematical_definition():
    X, K = torch.arange(20.0).reshape(4, 5), torch.tensor([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
    Y = convolve2d(X, K)
    k_h, k_w = K.shape
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            m, n = i + k_h - 1, j + k_w - 1  # (K * X)(m, n) = sum over h, k of K(h, k) X(m - h, n - k)
            definition = sum(K[h, k] * X[m - h, n - k] for h in range(k_h) for k in range(k_w))
            terms = lessons.convolution_terms((k_h, k_w), (i, j))
            pairs = re.findall(r"X\[(\d+), (\d+)\]·K\[(\d+), (\d+)\]", terms)
            assert len(pairs) == k_h * k_w
            assert sum(X[int(a), int(b)] * K[int(c), int(d)] for a, b, c, d in pairs) == definition == Y[i, j]
    assert lessons.convolution_terms((2, 2), (0, 0)).startswith("X[0, 0]·K[1, 1] + X[0, 1]·K[1, 0]")


@settings(max_examples=25, deadline=None)
@given(f=st.lists(st.integers(-5, 5), min_size=1, max_size=8), g=st.lists(st.integers(-5, 5), min_size=1, max_size=8))
def test_convolve1d_is_numpys_convolve(f, g):
    ours = lessons.convolve1d(torch.tensor(f), torch.tensor(g))
    assert ours.tolist() == pytest.approx(np.convolve(f, g).tolist())


def test_two_dice_sum_to_4_with_chance_3_36():
    counts = torch.zeros(11)
    for a in range(1, 7):
        for b in range(1, 7):
            counts[a + b - 2] += 1
    assert torch.allclose(lessons.dice_sum_distribution(), counts / 36)
    assert lessons.dice_arithmetic(4) == "P(sum = 4) = f(1)g(3) + f(2)g(2) + f(3)g(1) = 1/36 + 1/36 + 1/36 = 3/36 = 1/12"
    assert lessons.dice_arithmetic(12) == "P(sum = 12) = f(6)g(6) = 1/36"
    with pytest.raises(ValueError, match="2 to 12"):
        lessons.dice_arithmetic(13)


@pytest.mark.parametrize("classes", [2, 10, 100])
def test_softmax_loss_floor_is_what_cross_entropy_gives_a_one_hot_output(classes):
    one_hot = torch.zeros(1, classes)
    one_hot[0, 0] = 1.0
    assert F.cross_entropy(one_hot, torch.tensor([0])).item() == pytest.approx(lessons.softmax_loss_floor(classes))
    assert f"≈ {lessons.softmax_loss_floor(classes):.2f}" in lessons.softmax_before_loss_warning(classes)


def test_pad_to_centres_the_image():
    image = torch.rand(28, 28)
    framed = lessons.pad_to(image, 32)
    assert framed.shape == (32, 32) and torch.equal(framed[2:30, 2:30], image) and torch.isclose(framed.sum(), image.sum())
    with pytest.raises(ValueError, match="at least 28"):
        lessons.pad_to(image, 20)


def test_new_snippets_reproduce_the_pages():
    X = lessons.parse_matrix("1 -2 3.5; 0 4 1; 2 2 -1")
    assert torch.allclose(run_snippet(snippets.corr2d_code(X, K2, flip=True))["Y"], convolve2d(X, K2))
    ns = run_snippet(snippets.dice_code(4))
    assert torch.allclose(ns["p"], lessons.dice_sum_distribution()) and ns["p_total"] == pytest.approx(3 / 36)
    for n, k, p, s in [(8, 4, 3, 1), ((8, 9), (3, 2), (1, 4), (2, 1))]:
        Y = run_snippet(snippets.conv_shape_code(n, k, p, s, total=True))["Y"]
        assert tuple(Y.shape[-2:]) == lessons.total_padding_output_shape(n, k, p, s)


@pytest.mark.parametrize(
    "config, layer, unit",
    [(LeNetConfig.classic(), "conv2", (0, 0)), (LeNetConfig.modern(), "pool2", (2, 3)),
     (LeNetConfig(image_size=32, kernel_sizes=(3, 3), strides=(2, 1), paddings=(0, 1), pool_after=(False, True)), "pool2", (3, 1))],
)
def test_receptive_field_snippet_finds_the_same_pixels(config, layer, unit):
    seen = run_snippet(snippets.receptive_field_code(config, layer, unit))["seen"]
    assert torch.equal(seen, unit_field(config, layer, unit).mask)


def test_receptive_field_figure_greys_exactly_the_unseen_pixels():
    field = unit_field(LeNetConfig.classic(), "conv2", (0, 0))
    fig = figures.receptive_field_figure(lessons.pattern_image(), field, (10, 10), "t")
    image, unseen, units = heatmaps(fig)
    assert torch.equal(torch.tensor(unseen.z, dtype=torch.float32).isnan(), field.mask)
    box = next(s for s in fig.layout.shapes if s.line.color == figures.WINDOW_COLOR and s.xref == "x")
    assert (box.y0 + 0.5, box.x0 + 0.5, box.y1 - 0.5, box.x1 - 0.5) == field.box == (-2, -2, 11, 11)
    assert outlined_cells(fig, "x2") == [(0, 0)] and torch.tensor(units.z).shape == (10, 10)
    assert fig.layout.xaxis.range[0] == -2.5


def test_dice_figure_highlights_the_chosen_sum():
    fig = figures.dice_figure(lessons.dice_sum_distribution(), 4)
    bars = fig.data[0]
    assert list(bars.x) == list(range(2, 13)) and bars.text[2] == "3/36"
    assert [i for i, c in enumerate(bars.marker.color) if c == figures.WINDOW_COLOR] == [2]
