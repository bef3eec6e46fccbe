"""Uploaded files -> 28 x 28 images like the dataset's; every file is built here, in memory."""

import io
import pickle
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image, features

from lenet.data import images as images_module
from lenet.data import load_split
from lenet.data.images import BOX, load_uploaded_image, MAX_BYTES
from helpers import dark_shape_on_white, encode, png_header_only


def bbox(pixels: torch.Tensor) -> tuple[int, int, int, int]:
    rows, cols = torch.nonzero(pixels > 0, as_tuple=True)
    return rows.min().item(), rows.max().item(), cols.min().item(), cols.max().item()


def test_dark_on_light_is_inverted_and_fitted_in_a_centred_20_pixel_box_like_mnist():
    pixels, picture = load_uploaded_image(encode(dark_shape_on_white()), box=BOX["mnist"])
    assert pixels.dtype == torch.uint8 and pixels.shape == (28, 28)
    top, bottom, left, right = bbox(pixels)
    assert right - left + 1 == 20, "the longer side fills the box"
    assert bottom - top + 1 in (13, 14), "the aspect ratio 60:40 is kept"
    assert (left, 27 - right) == (4, 4) and abs(top - (27 - bottom)) <= 1, "centred"
    assert pixels[14, 14] == 255 and pixels[0, 0] == 0, "a white object on black, like Fashion-MNIST"
    assert picture.size == (224, 224) and picture.mode == "L"
    assert torch.equal(torch.from_numpy(np.asarray(picture)[::8, ::8].copy()), pixels)


def test_fashion_mnist_objects_fill_the_frame_by_default():
    top, bottom, left, right = bbox(load_uploaded_image(encode(dark_shape_on_white()))[0])
    assert (left, right) == (0, 27) and bottom - top + 1 in (18, 19)


def test_fashion_mnist_images_come_back_almost_unchanged():
    split = load_split("fashion-mnist", train=False)
    diffs = []
    for image in split.images[:50]:
        pixels, _ = load_uploaded_image(encode(Image.fromarray(image.numpy())))
        diffs.append((pixels.float() - image.float()).abs().mean().item())
    assert np.median(diffs) < 0.5 and np.mean(diffs) < 3, diffs


def test_jpeg_photo_of_a_dark_shape_matches_the_png():
    from_png, _ = load_uploaded_image(encode(dark_shape_on_white()))
    from_jpeg, _ = load_uploaded_image(encode(dark_shape_on_white(), "JPEG", quality=85))
    assert (from_png.float() - from_jpeg.float()).abs().mean() < 8


def test_exif_rotation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    pixels, _ = load_uploaded_image(encode(dark_shape_on_white(), "JPEG", exif=exif))
    top, bottom, left, right = bbox(pixels)
    assert bottom - top > right - left, "the wide shape stands upright once rotated"


def test_light_object_on_dark_background_is_kept_as_is():
    image = Image.new("L", (50, 50), 0)
    image.paste(200, (10, 5, 40, 45))
    pixels, _ = load_uploaded_image(encode(image))
    top, bottom, left, right = bbox(pixels)
    assert bottom - top + 1 == 28 and pixels[14, 14] == 255


@pytest.mark.parametrize("ink", [0, 255])
def test_transparent_background_becomes_black_whatever_the_ink(ink):
    image = Image.new("RGBA", (60, 60), (128, 128, 128, 0))
    image.paste((ink, ink, ink, 255), (20, 10, 40, 50))
    pixels, _ = load_uploaded_image(encode(image))
    top, bottom, left, right = bbox(pixels)
    assert (bottom - top + 1, right - left + 1) == (28, 14)
    assert pixels[14, 14] == 255


def test_palette_with_transparency():
    image = Image.new("P", (40, 40), 0)
    image.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    image.paste(1, (5, 10, 35, 30))
    pixels, _ = load_uploaded_image(encode(image, transparency=0))
    top, bottom, left, right = bbox(pixels)
    assert right - left + 1 == 28 and pixels[14, 14] == 255 and pixels[0, 0] == 0


def test_16_bit_png_matches_its_8_bit_twin():
    values = np.zeros((40, 40), dtype=np.uint16)
    values[5:35, 10:30] = np.linspace(20000, 65535, 20, dtype=np.uint16)
    sixteen = Image.fromarray(values)
    assert sixteen.mode.startswith("I;16")
    eight = Image.fromarray((values // 257).astype(np.uint8))
    a, _ = load_uploaded_image(encode(sixteen))
    b, _ = load_uploaded_image(encode(eight))
    assert (a.int() - b.int()).abs().max() <= 2
    assert len(a.unique()) > 10, "the gradient survives (not clipped to white)"


def test_animated_png_gives_its_first_frame():
    tall, wide = Image.new("L", (60, 60), 0), Image.new("L", (60, 60), 0)
    tall.paste(255, (25, 5, 35, 55))
    wide.paste(255, (5, 25, 55, 35))
    data = encode(tall, save_all=True, append_images=[wide], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    pixels, _ = load_uploaded_image(data)
    top, bottom, left, right = bbox(pixels)
    assert bottom - top > right - left


def test_huge_images_are_refused_before_decoding(monkeypatch):
    """Refused from the header alone: no pixel is decoded, however many the header claims."""
    def no_decoding(*args):
        raise AssertionError("pixels were decoded")
    monkeypatch.setattr(Image.Image, "load", no_decoding)
    monkeypatch.setattr(images_module.Image.Image, "load", no_decoding)
    for width, height, words in [(6000, 6000, "6000 x 6000 pixels"), (20000, 20000, "too large"),
                                 (100000, 100000, "too large")]:
        with pytest.raises(ValueError, match=words):
            load_uploaded_image(png_header_only(width, height))


def test_too_many_bytes_are_refused():
    with pytest.raises(ValueError, match="limit is 10 MB"):
        load_uploaded_image(b"\x89PNG\r\n\x1a\n" + bytes(MAX_BYTES))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_are_refused(fmt):
    data = encode(Image.effect_noise((200, 200), 64).convert("RGB"), fmt)
    for cut in (len(data) // 2, 30):
        with pytest.raises(ValueError, match="truncated|damaged"):
            load_uploaded_image(data[:cut])


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("picture.png", encode(dark_shape_on_white()))
    return buffer.getvalue()


OTHER_FORMATS = ["GIF", "BMP", "TIFF"] + (["WEBP"] if features.check("webp") else [])


@pytest.mark.parametrize("data", [
    b"a plain text file\n", zip_bytes(), pickle.dumps({"weights": [1, 2, 3]}), b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    *[encode(dark_shape_on_white(), fmt) for fmt in OTHER_FORMATS],
], ids=["text", "zip", "pickle", "svg", *OTHER_FORMATS])
def test_other_files_are_refused(data):
    with pytest.raises(ValueError, match="only those two formats"):
        load_uploaded_image(data)


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    ("picture.png", "bytes"),
    (encode(Image.new("RGB", (30, 30), "white")), "blank"),
    (encode(Image.new("L", (30, 30), 128)), "blank"),
])
def test_empty_wrong_and_blank_inputs_are_refused(data, words):
    with pytest.raises(ValueError, match=words):
        load_uploaded_image(data)


def test_box_size_is_checked():
    with pytest.raises(ValueError, match="box"):
        load_uploaded_image(encode(dark_shape_on_white()), box=40)
