"""The Padding and stride lesson: output-size formulas, padding per side or in total, its figures and snippet."""



import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lenet import (
    EDGE_KERNEL,
    conv_output_shape,
    corr2d,
)
from lenet.core.shapes import total_padding_output_shape, total_padding_sides
from lenet.lessons.grids import START_OFFSET, kernel_footprint, step_to_cell
from lenet.lessons.images import IMAGE_CONVENTION, pattern_image
from lenet.lessons.padding import apply_conv, conv_shape_code, example_kernel, image_pair_figure, other_padding_convention, output_size_formulas, padding_figure
from helpers import heatmaps, outlined_cells, run_snippet


@pytest.mark.parametrize(
    "n, k, p, s, expected",
    [(8, 3, 1, 2, (4, 4)), ((8, 8), (3, 5), (0, 1), (3, 4), (2, 2))],  # the curriculum's two examples
)
def test_output_size_formulas_end_with_the_output_size(n, k, p, s, expected):
    lines = output_size_formulas(n, k, p, s)
    assert [int(line.rsplit("=", 1)[1]) for line in lines] == list(conv_output_shape(n, k, p, s)) == list(expected)
    assert "height" in lines[0] and "width" in lines[1]


def test_output_size_formulas_with_dilation_and_errors():
    line = output_size_formulas(8, 3, 0, 1, 2)[0]
    assert "d_h" in line and int(line.rsplit("=", 1)[1]) == conv_output_shape(8, 3, 0, 1, 2)[0]
    with pytest.raises(ValueError, match="padding at least"):
        output_size_formulas(4, 7)


def test_example_kernels():
    assert torch.equal(example_kernel("vertical edges", (1, 2)), EDGE_KERNEL)
    assert torch.equal(example_kernel("horizontal edges", (2, 1)), EDGE_KERNEL.t())
    assert example_kernel("blur", (3, 5)).sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="kernel must be one of"):
        example_kernel("sharpen", 3)


def test_apply_conv_agrees_with_corr2d_and_the_shape_formula():
    image = pattern_image()
    K = example_kernel("vertical edges", 3)
    assert torch.allclose(apply_conv(image, K), corr2d(image, K), atol=1e-6)
    assert apply_conv(image, K, (1, 2), (2, 3), 2).shape == conv_output_shape(28, 3, (1, 2), (2, 3), 2)
    with pytest.raises(ValueError, match="larger than the padded input"):
        apply_conv(image, K, 0, 1, 20)


@pytest.mark.parametrize("n, k, p, s, d", [(8, 3, 1, 2, 1), ((8, 8), (3, 5), (0, 1), (3, 4), 1), ((9, 7), 3, 0, 1, (2, 3))])
def test_conv_shape_snippet(n, k, p, s, d):
    assert tuple(run_snippet(conv_shape_code(n, k, p, s, d))["Y"].shape[-2:]) == conv_output_shape(n, k, p, s, d)


def test_padding_figure_marks_every_window_start_and_the_padding():
    out_h, out_w = conv_output_shape(8, 3, 1, 2)
    fig = padding_figure(8, 3, 1, 2, 1, 6)
    starts = next(t for t in fig.data if t.name == "where a window starts")
    assert len(starts.x) == out_h * out_w and max(starts.x) == 2 * (out_w - 1) - START_OFFSET
    inside, padding, output = heatmaps(fig)
    padded = torch.tensor(padding.z, dtype=torch.float32)
    assert padded.shape == (10, 10) and int((~padded.isnan()).sum()) == 10 * 10 - 8 * 8
    assert torch.equal(torch.tensor(output.z), torch.arange(1.0, out_h * out_w + 1).reshape(out_h, out_w))
    assert outlined_cells(fig, "x") == sorted(kernel_footprint(step_to_cell(6, (out_h, out_w)), 3, 2))


def test_dilated_window_outlines_spread_cells():
    fig = padding_figure(8, 3, 0, 1, 2, 1)
    assert outlined_cells(fig, "x") == [(r, c) for r in (0, 2, 4) for c in (0, 2, 4)]


def test_image_pair_figure_draws_both_at_the_same_scale():
    image = pattern_image()
    out = apply_conv(image, torch.ones(3, 3) / 9, 0, 2)
    fig = image_pair_figure(image, out, "t", "out")
    assert [torch.tensor(h.z).shape for h in heatmaps(fig)] == [image.shape, out.shape]
    assert list(fig.layout.xaxis.range) == [-0.5, 27.5] and list(fig.layout.xaxis2.range) == [-0.5, 12.5]


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
            output_size_formulas(n, k, p, s, d)
        return
    fig = padding_figure(n, k, p, s, d, out[0] * out[1])
    assert outlined_cells(fig, "x2") == [(out[0] - 1, out[1] - 1)]
    assert max(r for r, _ in outlined_cells(fig, "x")) < n[0] + 2 * p[0]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 12), k=st.integers(1, 7), p=st.integers(0, 12), s=st.integers(1, 4), d=st.integers(1, 3))
def test_total_padding_is_the_books_formula_and_what_f_pad_gives(n, k, p, s, d):
    left, right, top, bottom = total_padding_sides(p)
    assert left + right == top + bottom == p and 0 <= top - bottom <= 1
    try:
        out = total_padding_output_shape(n, k, p, s, d)
    except ValueError as e:
        assert f"total padding at least {d * (k - 1) + 1 - n}" in str(e)
        with pytest.raises(RuntimeError):
            F.conv2d(F.pad(torch.zeros(1, 1, n, n), (left, right, top, bottom)), torch.zeros(1, 1, k, k), dilation=d)
        return
    Y = F.conv2d(F.pad(torch.zeros(1, 1, n, n), (left, right, top, bottom)), torch.zeros(1, 1, k, k), stride=s, dilation=d)
    assert out == tuple(Y.shape[-2:])
    if d == 1:
        assert out[0] == (n - k + p + s) // s  # the book's formula
    lines = output_size_formulas(n, k, p, s, d, total=True)
    assert [int(line.rsplit("=", 1)[1]) for line in lines] == list(out)


def test_the_same_example_in_both_conventions():
    assert total_padding_output_shape(8, 3, 2, 2) == conv_output_shape(8, 3, 1, 2) == (4, 4)
    assert "this is $p = (2, 2)$" in other_padding_convention(8, 3, 1, 2, 1, total=False)
    assert "`padding=(1, 1)`, which gives the same 4 × 4" in other_padding_convention(8, 3, 2, 2, 1, total=True)
    assert "F.pad(X, (2, 1, 2, 1))" in other_padding_convention(8, 4, 3, 1, 1, total=True)
    assert r"\frac{8 - 3 + 2 + 2}{2}" in output_size_formulas(8, 3, 2, 2, total=True)[0]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_odd_total_padding_puts_the_extra_row_on_top_and_torch_same_at_the_bottom():
    torch.manual_seed(0)
    X, K = torch.randn(7, 6), torch.randn(4, 4)
    ours = apply_conv(X, K, 3, total=True)
    assert ours.shape == X.shape
    mirrored_same = F.conv2d(X.flip(0, 1)[None, None], K.flip(0, 1)[None, None], padding="same")[0, 0].flip(0, 1)
    assert torch.allclose(ours, mirrored_same, atol=1e-5)
    assert not torch.allclose(ours, F.conv2d(X[None, None], K[None, None], padding="same")[0, 0], atol=1e-3)
    with pytest.raises(ValueError, match="total padding at least 5"):
        apply_conv(torch.zeros(4, 4), torch.zeros(9, 9), 2, total=True)


@settings(max_examples=15, deadline=None)
@given(
    n=st.tuples(st.integers(1, 10), st.integers(1, 10)), k=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    p=st.tuples(st.integers(0, 12), st.integers(0, 12)), s=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    d=st.tuples(st.integers(1, 4), st.integers(1, 4)),
)
def test_any_total_padding_setting_gives_a_figure_or_a_clear_error(n, k, p, s, d):
    try:
        out = total_padding_output_shape(n, k, p, s, d)
    except ValueError as e:
        assert "make the kernel smaller or the total padding at least" in str(e)
        return
    fig = padding_figure(n, k, p, s, d, out[0] * out[1], total=True)
    inside, padding, output = heatmaps(fig)
    left, right, top, bottom = total_padding_sides(p)
    expected = F.pad(torch.zeros(n), (left, right, top, bottom), value=1.0).bool()
    assert torch.equal(~torch.tensor(padding.z, dtype=torch.float32).isnan(), expected)
    assert outlined_cells(fig, "x2") == [(out[0] - 1, out[1] - 1)]


def test_the_output_is_drawn_on_its_own_axes_at_the_input_s_pixel_size():
    """A 28 x 28 image and its 14 x 14 output: each panel spans its own pixels, the output half as wide."""
    image = pattern_image()
    out = apply_conv(image, example_kernel("vertical edges", 5), 2, 2)
    fig = image_pair_figure(image, out, "t", "out")
    assert list(fig.layout.xaxis2.range) == [-0.5, 13.5] and list(fig.layout.yaxis2.range) == [13.5, -0.5]
    widths = [fig.layout[axis].domain[1] - fig.layout[axis].domain[0] for axis in ("xaxis", "xaxis2")]
    assert widths[1] / widths[0] == pytest.approx(0.5)
    tiny = image_pair_figure(image, apply_conv(image, torch.ones(1, 1), 0, 7), "t", "out")  # 4 x 4 stays readable
    widths = [tiny.layout[axis].domain[1] - tiny.layout[axis].domain[0] for axis in ("xaxis", "xaxis2")]
    assert widths[1] / widths[0] == pytest.approx(1 / 3) and list(tiny.layout.xaxis2.range) == [-0.5, 3.5]


def test_the_image_is_drawn_light_on_black_and_says_so():
    image = pattern_image()
    fig = image_pair_figure(image, apply_conv(image, torch.ones(3, 3) / 9, 0, 1), "t", "out")
    for trace in heatmaps(fig):  # a blur stays positive: drawn like the image
        assert trace.colorscale[0][1] == "rgb(0, 0, 0)" and trace.colorscale[-1][1].startswith("rgb(25")  # white
    assert fig.layout.title.subtitle.text == IMAGE_CONVENTION and "black" in IMAGE_CONVENTION
    edges = image_pair_figure(image, apply_conv(image, example_kernel("vertical edges", 3), 0, 1), "t", "out")
    assert heatmaps(edges)[1].zmid == 0 and heatmaps(edges)[1].colorbar.title.text == "output"


def test_window_starts_sit_beside_the_numbers_not_on_them():
    fig = padding_figure(8, 3, 1, 2, 1, 1)
    starts = next(t for t in fig.data if t.name == "where a window starts")
    corners = [(x + START_OFFSET, y + START_OFFSET) for x, y in zip(starts.x, starts.y)]
    assert START_OFFSET >= 0.25 and corners == [(c, r) for r in (0, 2, 4, 6) for c in (0, 2, 4, 6)]
