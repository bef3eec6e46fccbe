"""Shared by the concept pages: parsing and printing a matrix, walking the windows, the PNG button."""



import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lenet import (
    conv_output_shape,
    corr2d,
)
from lenet.lessons.grids import WINDOW_COLOR, WINDOW_HALO, format_matrix, kernel_footprint, parse_matrix, sliding_window_figure, step_to_cell
import ui
from helpers import K2, X3, heatmaps, outlined_cells


def test_parse_and_format_matrix_round_trip():
    X = parse_matrix("0 1 2; 3 4 5\n6, 7, 8.5")
    assert torch.equal(X, torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.5]]))
    assert torch.equal(parse_matrix(format_matrix(X)), X)


@pytest.mark.parametrize(
    "text, message",
    [("", "empty"), ("1 2; 3", "same number"), ("1 a", "not a row of numbers"), ("1 inf", "inf or nan"),
     ("; ".join(["1"] * 11), "at most 10")],
)
def test_parse_matrix_explains_bad_input(text, message):
    with pytest.raises(ValueError, match=message):
        parse_matrix(text)


def test_step_to_cell_walks_row_by_row():
    assert [step_to_cell(t, (2, 3)) for t in range(1, 7)] == [(i, j) for i in range(2) for j in range(3)]
    with pytest.raises(ValueError, match="between 1 and 6"):
        step_to_cell(7, (2, 3))


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
        cells = kernel_footprint(step_to_cell(step, (out_h, out_w)), k, s, d)
        assert [r * (n + 2 * p) + c for r, c in cells] == windows[:, step - 1].long().tolist()


def test_png_config():
    config = ui.png_config("pooling")
    assert config["toImageButtonOptions"] == {"format": "png", "filename": "pooling", "scale": 2}


def test_sliding_window_figure_draws_the_window_and_the_output():
    Y = corr2d(X3, K2)
    fig = sliding_window_figure(X3, Y, (1, 0), 2, K=K2)
    values, padding, kernel, output = heatmaps(fig)
    assert torch.equal(torch.tensor(output.z), Y) and torch.equal(torch.tensor(kernel.z), K2)
    assert torch.equal(torch.tensor(values.z), X3)
    assert outlined_cells(fig, "x") == sorted(kernel_footprint((1, 0), 2))
    assert outlined_cells(fig, "x3") == [(1, 0)]


def window_traces(fig):
    return [t for t in fig.data if t.name == "window halo"]


def test_the_window_hides_no_number_and_shows_on_light_and_dark_cells():
    """A dark line on a white halo, no fill: every value under it keeps its cell's colour (and its contrasting text)."""
    Y = corr2d(X3, K2)
    fig = sliding_window_figure(X3, Y, (1, 1), 2, K=K2)
    lines = [t for t in fig.data if t.name == "window"]
    assert lines and all(t.fill in (None, "none") and t.opacity in (None, 1) and t.mode == "lines" for t in lines)
    assert {t.line.color for t in lines} == {WINDOW_COLOR} and min(t.line.width for t in lines) >= 3
    halos = window_traces(fig)
    assert [t.xaxis for t in halos] == ["x", "x3"] and {t.line.color for t in halos} == {WINDOW_HALO}
    assert min(t.line.width for t in halos) > max(t.line.width for t in lines)
    assert all(fig.data.index(h) < fig.data.index(t) for h, t in zip(halos, lines)), "the line is drawn over its halo"
    assert all(t.hoverinfo == "skip" and t.showlegend is False for t in halos)
    boxes = [(x, y) for x, y in zip(halos[0].x, halos[0].y) if x is not None]
    assert len(boxes) == 5 * 4 and {(min(x for x, _ in boxes), min(y for _, y in boxes))} == {(0.5, 0.5)}
    values = heatmaps(fig)[0]
    assert values.texttemplate == "%{text}" and not values.textfont.color, "plotly picks the text colour per cell"
