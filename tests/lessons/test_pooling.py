"""The Pooling lesson: worked maxima and means, the shift demo, figures and snippets."""



import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lenet import (
    EDGE_KERNEL,
    edge_image,
    pool2d,
)
from lenet.core.units import format_number
from lenet.lessons.pooling import pool_arithmetic, pooling_code, shift_code, shift_demo, shift_figure
from helpers import X3, X16, outlined_cells, run_snippet


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("k, p, s", [((2, 2), (0, 0), (1, 1)), ((3, 3), (1, 1), (2, 2)), ((2, 3), (0, 1), (2, 3))])
def test_pool_arithmetic_matches_pool2d(mode, k, p, s):
    Y = pool2d(X16, k, mode, p, s)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            text = pool_arithmetic(X16, k, mode, p, s, (i, j))
            assert text.startswith("max(" if mode == "max" else "mean(")
            assert text.endswith(f" = {format_number(Y[i, j])}")
    assert pool_arithmetic(X3, 2, "max", 0, 1, (0, 0)) == "max(0, 1, 3, 4) = 4"


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("window, stride, shift", [(2, 1, 1), (2, 2, 1), (3, 1, 2), (2, 1, 0)])
def test_shift_demo_against_torch(mode, window, stride, shift):
    X = edge_image()
    demo = shift_demo(X, EDGE_KERNEL, window, mode, stride, shift)
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    conv = F.conv2d(X[None, None], EDGE_KERNEL[None, None])
    conv_shifted = F.conv2d(torch.roll(X, shift, 1)[None, None], EDGE_KERNEL[None, None])
    pooled, pooled_shifted = pool(conv, window, stride), pool(conv_shifted, window, stride)
    assert len(demo.conv_changed) == int((conv != conv_shifted).sum())
    assert len(demo.pooled_changed) == int((pooled != pooled_shifted).sum())
    assert torch.allclose(demo.pooled_shifted, pooled_shifted[0, 0])


def test_pooling_with_stride_one_hides_a_one_pixel_shift_better():
    demo = shift_demo(edge_image(), EDGE_KERNEL, 2, "max", 1, 1)
    assert len(demo.pooled_changed) / demo.pooled.numel() < len(demo.conv_changed) / demo.conv.numel()


@pytest.mark.parametrize(
    "X, k, mode, p, s",
    [(X3, 2, "max", 0, 1), (X3, 2, "avg", 0, 1), (X16, 3, "max", 0, 3), (X16, 3, "max", 1, 2),
     (X16, (2, 3), "max", (0, 1), (2, 3)), (X16, 3, "avg", 1, 2)],
)
def test_pooling_snippet(X, k, mode, p, s):
    assert torch.allclose(run_snippet(pooling_code(X, k, mode, p, s))["Y"], pool2d(X, k, mode, p, s))


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_shift_snippet(mode):
    ns = run_snippet(shift_code(2, mode, 1, 1))
    demo = shift_demo(edge_image(), EDGE_KERNEL, 2, mode, 1, 1)
    assert int((ns["conv"] != ns["conv_shifted"]).sum()) == len(demo.conv_changed)
    assert int((ns["pooled"] != ns["pooled_shifted"]).sum()) == len(demo.pooled_changed)


def test_shift_figure_outlines_exactly_the_changed_cells():
    demo = shift_demo(edge_image(), EDGE_KERNEL, 2)
    fig = shift_figure(demo, 1)
    assert outlined_cells(fig, "x2") == sorted(demo.conv_changed)
    assert outlined_cells(fig, "x4") == sorted(demo.pooled_changed)


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
    assert pool_arithmetic(X, k, mode, p, s, last).endswith(f" = {format_number(Y[last])}")


def test_changed_cells_keep_their_value_colour():
    """Outlines without fill over the shifted outputs: the shifted heatmaps are drawn as they are, nothing on top."""
    demo = shift_demo(edge_image(), EDGE_KERNEL, 2)
    fig = shift_figure(demo, 1)
    windows = [t for t in fig.data if t.name in ("window", "window halo")]
    assert windows and all(t.fill in (None, "none") for t in windows)
    shifted = [t for t in fig.data if t.type == "heatmap"][1]
    assert torch.equal(torch.tensor(shifted.z), demo.conv_shifted) and shifted.opacity in (None, 1)
