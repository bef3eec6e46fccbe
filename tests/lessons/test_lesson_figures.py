"""Every concept page's figure has a title, axis titles and a sensible height."""



import pytest
import torch

from lenet import (
    EDGE_KERNEL,
    LeNetConfig,
    corr2d,
    corr2d_1x1,
    corr2d_multi_in,
    edge_image,
)
from lenet.core.receptive import unit_field
from lenet.lessons.channels import channels_figure, example_channels, one_by_one_figure, one_by_one_kernel, per_channel_correlations
from lenet.lessons.cross_correlation import dice_figure, dice_sum_distribution, kernel_comparison_figure, loss_figure
from lenet.lessons.grids import matrix_grid_figure, sliding_window_figure
from lenet.lessons.images import pattern_image
from lenet.lessons.mlp_vs_cnn import parameter_comparison, parameter_figure
from lenet.lessons.padding import apply_conv, image_pair_figure, padding_figure
from lenet.lessons.pooling import shift_demo, shift_figure
from lenet.lessons.receptive_fields import receptive_field_figure
from helpers import K2, X3


def all_figures():
    demo = shift_demo(edge_image(), EDGE_KERNEL, 2)
    X, K = example_channels(2, 2, 3, 2)
    K1 = one_by_one_kernel(2, 2)
    image = pattern_image()
    return {
        "sliding window": sliding_window_figure(X3, corr2d(X3, K2), (1, 0), 2, K=K2),
        "padding": padding_figure(8, 3, 1, 2, 1, 5),
        "matrix grid": matrix_grid_figure([[("X", X3), ("K", K2, "Oranges")]], "grid"),
        "channels": channels_figure(X, K, 1, per_channel_correlations(X, K[1]), corr2d_multi_in(X, K[1])),
        "one by one": one_by_one_figure(X, K1, corr2d_1x1(X, K1)),
        "shift": shift_figure(demo, 1),
        "image pair": image_pair_figure(image, apply_conv(image, torch.ones(3, 3), 0, 2), "t", "out"),
        "loss": loss_figure([19.0, 5.0, 1.0]),
        "kernels": kernel_comparison_figure(torch.tensor([[0.9, -1.1]]), EDGE_KERNEL),
        "parameters": parameter_figure(parameter_comparison(28, 28, 1, 100)),
        "padding over both sides": padding_figure(8, 4, 3, 1, 1, 1, total=True),
        "dice": dice_figure(dice_sum_distribution(), 4),
        "receptive field": receptive_field_figure(
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
