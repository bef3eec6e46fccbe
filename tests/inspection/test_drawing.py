"""A drawing pad's RGBA pixels -> a 28 x 28 image like the dataset's, the same as uploading the drawing as a PNG."""

import numpy as np
import pytest
import torch
from PIL import Image

from lenet.data.images import BOX, load_drawn_image, load_uploaded_image
from helpers import encode

PAD = 280


def stroke(background=(255, 255, 255, 255), ink=(0, 0, 0, 255), width=22) -> np.ndarray:
    """A pad with one thick diagonal stroke from (60, 40) to (200, 220), drawn point by point as a pen would."""
    rgba = np.zeros((PAD, PAD, 4), dtype=np.uint8)
    rgba[:] = background
    rows, cols = np.mgrid[:PAD, :PAD]
    for t in np.linspace(0, 1, 200):
        r, c = 40 + 180 * t, 60 + 140 * t
        rgba[(rows - r) ** 2 + (cols - c) ** 2 <= (width / 2) ** 2] = ink
    return rgba


def bbox(pixels: torch.Tensor) -> tuple[int, int, int, int]:
    rows, cols = torch.nonzero(pixels > 0, as_tuple=True)
    return rows.min().item(), rows.max().item(), cols.min().item(), cols.max().item()


@pytest.mark.parametrize("dataset", ["fashion-mnist", "mnist"])
def test_a_drawn_stroke_is_converted_exactly_like_the_same_drawing_uploaded(dataset):
    rgba = stroke()
    pixels, picture = load_drawn_image(rgba, BOX[dataset])
    uploaded, _ = load_uploaded_image(encode(Image.fromarray(rgba, "RGBA")), BOX[dataset])
    assert pixels.dtype == torch.uint8 and pixels.shape == (28, 28) and picture.size == (224, 224)
    assert torch.equal(pixels, uploaded)


def test_black_ink_on_white_becomes_a_light_stroke_on_black_fitted_and_centred_in_the_box():
    pixels, _ = load_drawn_image(stroke(), box=20)
    top, bottom, left, right = bbox(pixels)
    assert bottom - top + 1 == 20, "the stroke's longer side (its height) fills the box"
    assert abs(top - (27 - bottom)) <= 1 and abs(left - (27 - right)) <= 1, "centred"
    assert pixels[0, 0] == 0 and pixels.max() == 255, "light on dark, like Fashion-MNIST"
    centre = pixels[(top + bottom) // 2, (left + right) // 2]
    assert centre > 200, "the stroke runs through the middle of its box"


def test_a_transparent_pad_gives_the_same_as_a_white_one():
    on_white = load_drawn_image(stroke())[0]
    on_nothing = load_drawn_image(stroke(background=(0, 0, 0, 0)))[0]
    assert torch.equal(on_white, on_nothing)


def test_white_ink_on_black_is_kept_as_it_is():
    inverted = stroke(background=(0, 0, 0, 255), ink=(255, 255, 255, 255))
    assert torch.equal(load_drawn_image(inverted)[0], load_drawn_image(stroke())[0])


@pytest.mark.parametrize("rgba, message", [
    (np.full((PAD, PAD, 4), 255, dtype=np.uint8), "blank"),
    (np.zeros((PAD, PAD, 3), dtype=np.uint8), "RGBA"),
    (np.zeros((PAD, PAD, 4), dtype=np.float32), "RGBA"),
])
def test_an_empty_pad_or_other_arrays_are_refused_with_a_sentence(rgba, message):
    with pytest.raises(ValueError, match=message):
        load_drawn_image(rgba)
