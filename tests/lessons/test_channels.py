"""The Channels lesson: d2l's example, 1x1 convolution as a matrix multiply, figures and snippets."""



import pytest
import torch

from lenet import (
    conv_parameter_count,
    corr2d_1x1,
    corr2d_multi_in,
    corr2d_multi_in_out,
)
from lenet.lessons.channels import STAR_TEXT, channels_code, channels_figure, example_channels, matmul_difference, one_by_one_code, one_by_one_figure, one_by_one_kernel, per_channel_correlations, torch_difference
from helpers import heatmaps, run_snippet


def test_example_channels_is_d2l_and_agrees_with_torch():
    X, K = example_channels(2, 3, 3, 2)
    assert torch.equal(corr2d_multi_in(X, K[0]), torch.tensor([[56.0, 72.0], [104.0, 120.0]]))
    assert torch.equal(K[1], K[0] + 1) and torch.equal(K[2], K[0] + 2)
    assert torch_difference(X, K).difference == 0
    partials = per_channel_correlations(X, K[1])
    assert torch.equal(sum(partials), corr2d_multi_in(X, K[1]))
    K1 = one_by_one_kernel(2, 3)
    assert K1.shape == (3, 2, 1, 1) and matmul_difference(X, K1).difference == 0


@pytest.mark.parametrize("c_i, c_o, n, k", [(2, 1, 3, 2), (3, 2, 4, 3), (1, 4, 5, 1)])
def test_channel_snippets(c_i, c_o, n, k):
    X, K = example_channels(c_i, c_o, n, k)
    ns = run_snippet(channels_code(c_i, c_o, n, k))
    assert torch.equal(ns["X"], X) and torch.equal(ns["K"], K)
    assert torch.equal(ns["Y"], corr2d_multi_in_out(X, K))
    assert ns["n_parameters"] == conv_parameter_count(c_i, c_o, k)
    ns = run_snippet(one_by_one_code(c_i, c_o, n))
    assert torch.equal(ns["Y"], corr2d_1x1(X, one_by_one_kernel(c_i, c_o)))


def test_channels_and_one_by_one_figures_show_the_library_results():
    X, K = example_channels(3, 2, 4, 3)
    total = corr2d_multi_in(X, K[1])
    fig = channels_figure(X, K, 1, per_channel_correlations(X, K[1]), total)
    assert len(heatmaps(fig)) == 3 * 3 + 1
    assert torch.equal(torch.tensor(heatmaps(fig)[-1].z), total)
    K1 = one_by_one_kernel(3, 2)
    Y = corr2d_1x1(X, K1)
    k_panel, x_panel, y_panel = heatmaps(one_by_one_figure(X, K1, Y))
    assert torch.equal(torch.tensor(k_panel.z) @ torch.tensor(x_panel.z), torch.tensor(y_panel.z))
    assert torch.equal(torch.tensor(y_panel.z).reshape(2, 4, 4), Y)


def test_titles_use_proper_notation_and_define_the_star():
    X, K = example_channels(2, 3, 3, 2)
    K1 = one_by_one_kernel(2, 3)
    title = one_by_one_figure(X, K1, corr2d_1x1(X, K1)).layout.title.text
    assert "c_o" not in title and "c_i" not in title and "<i>c</i><sub>o</sub>" in title
    fig = channels_figure(X, K, 0, per_channel_correlations(X, K[0]), corr2d_multi_in(X, K[0]))
    assert "cross-correlation (⋆)" in fig.layout.title.text
    assert STAR_TEXT.startswith("⋆ is cross-correlation")
