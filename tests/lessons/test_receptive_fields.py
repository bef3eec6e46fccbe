"""The Receptive fields lesson's figure and snippet (the maths is tested in tests/core)."""

import pytest
import torch

from lenet import (
    LeNetConfig,
)
from lenet.core.receptive import unit_field
from lenet.lessons.grids import window_boxes
from lenet.lessons.images import IMAGE_CONVENTION, pattern_image
from lenet.lessons.receptive_fields import pad_to, receptive_field_code, receptive_field_figure
from helpers import heatmaps, outlined_cells, run_snippet


def test_pad_to_centres_the_image():
    image = torch.rand(28, 28)
    framed = pad_to(image, 32)
    assert framed.shape == (32, 32) and torch.equal(framed[2:30, 2:30], image) and torch.isclose(framed.sum(), image.sum())
    with pytest.raises(ValueError, match="at least 28"):
        pad_to(image, 20)


@pytest.mark.parametrize(
    "config, layer, unit",
    [(LeNetConfig.classic(), "conv2", (0, 0)), (LeNetConfig.modern(), "pool2", (2, 3)),
     (LeNetConfig(image_size=32, kernel_sizes=(3, 3), strides=(2, 1), paddings=(0, 1), pool_after=(False, True)), "pool2", (3, 1))],
)
def test_receptive_field_snippet_finds_the_same_pixels(config, layer, unit):
    seen = run_snippet(receptive_field_code(config, layer, unit))["seen"]
    assert torch.equal(seen, unit_field(config, layer, unit).mask)


def test_receptive_field_figure_greys_exactly_the_unseen_pixels():
    field = unit_field(LeNetConfig.classic(), "conv2", (0, 0))
    fig = receptive_field_figure(pattern_image(), field, (10, 10), "t")
    image, unseen, units = heatmaps(fig)
    assert torch.equal(torch.tensor(unseen.z, dtype=torch.float32).isnan(), field.mask)
    x0, x1, y0, y1 = window_boxes(fig, "x")[0]
    assert (y0 + 0.5, x0 + 0.5, y1 - 0.5, x1 - 0.5) == field.box == (-2, -2, 11, 11)
    assert outlined_cells(fig, "x2") == [(0, 0)] and torch.tensor(units.z).shape == (10, 10)
    assert fig.layout.xaxis.range[0] == -2.5


def test_the_image_is_drawn_light_on_black_as_on_every_page():
    field = unit_field(LeNetConfig.classic(), "conv2", (0, 0))
    fig = receptive_field_figure(pattern_image(), field, (10, 10), "t")
    image = heatmaps(fig)[0]
    assert image.colorscale[0][1] == "rgb(0, 0, 0)" and image.colorscale[-1][1].startswith("rgb(25")  # white
    assert fig.layout.title.subtitle.text == IMAGE_CONVENTION
