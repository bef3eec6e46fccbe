"""Turn an uploaded photo or drawing into a 28 x 28 image that looks like Fashion-MNIST."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image, ImageOps

MAX_BYTES = 10_000_000
MAX_PIXELS = 25_000_000  # a 24-megapixel photo fits; decoding one takes up to 100 MB (RGBA)
WORK_SIZE = 1024  # plenty of detail for a 28 x 28 result, and small float arrays
FORMATS = ("PNG", "JPEG")
SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")
SIZE = 28
BOX = {"fashion-mnist": 28, "mnist": 20}  # how much of the 28 x 28 frame each dataset's objects fill
PREVIEW_SCALE = 8


def _open(data: bytes) -> Image.Image:
    """Read the header only, refusing other formats and huge images before any pixel is decoded."""
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError:
        raise ValueError(f"The image is far too large; the limit is {MAX_PIXELS // 1_000_000} megapixels.") from None
    except Image.UnidentifiedImageError:
        if data.startswith(SIGNATURES):
            raise ValueError("This PNG or JPEG file is damaged or truncated.") from None
        raise ValueError("This file is not a PNG or JPEG image; only those two formats are accepted.") from None
    except Exception as e:  # header parsers raise many kinds of errors on hostile or broken files
        raise ValueError(f"This PNG or JPEG file is damaged or truncated ({e}).") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ValueError(
            f"The image is {width} x {height} pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels. "
            "Please resize it."
        )
    return image


def _grayscale(image: Image.Image) -> np.ndarray:
    """Decode the first frame, at most WORK_SIZE pixels a side, to floats in [0, 1]; transparency becomes background."""
    image.seek(0)
    if image.format == "JPEG":
        image.draft("L", (4 * SIZE, 4 * SIZE))  # JPEG can decode at 1/2, 1/4 or 1/8 scale: far less memory
    image.load()
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA")
    image.thumbnail((WORK_SIZE, WORK_SIZE))
    image = ImageOps.exif_transpose(image)  # phone photos store their rotation in EXIF
    if image.mode.startswith("I"):  # 16-bit grayscale PNG
        return np.asarray(image, dtype=np.float32) / 65535
    if "A" not in image.mode:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255
    return _flatten(np.asarray(image.convert("RGBA")))


def _flatten(rgba: np.ndarray) -> np.ndarray:
    """H x W x 4 uint8 -> H x W grayscale floats in [0, 1], transparency composited on a background."""
    rgba = Image.fromarray(rgba, "RGBA")
    gray = np.asarray(rgba.convert("L"), dtype=np.float32) / 255
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255
    # Composite on the opposite of the drawing's own shade, so a white shirt on transparency stays visible.
    ink = (gray * alpha).sum() / max(alpha.sum(), 1e-9)
    background = 0.0 if ink > 0.5 else 1.0
    return gray * alpha + background * (1 - alpha)


def _border(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])


def to_dataset_style(gray: np.ndarray, box: int = 28) -> np.ndarray:
    """A light-on-dark, background-0, object fitted in a box x box square centred in 28 x 28 (floats in [0, 1])."""
    if not 1 <= box <= SIZE:
        raise ValueError(f"box must be between 1 and {SIZE} pixels (got {box}).")
    if np.median(_border(gray)) > 0.5:  # a light background: Fashion-MNIST is light on dark
        gray = 1 - gray
    x = np.clip(gray - np.median(_border(gray)), 0, 1)
    if x.max() < 0.05:
        raise ValueError("The image is blank: nothing stands out from its background.")
    rows, cols = np.nonzero(x > 0.05 * x.max())
    x = x[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = x.shape
    scale = box / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(x.astype(np.float32, copy=False)).resize((new_w, new_h), Image.Resampling.LANCZOS))
    small = np.clip(small / small.max(), 0, 1)  # white point after resizing, which averages away JPEG ringing
    out = np.zeros((SIZE, SIZE))
    top, left = (SIZE - new_h + 1) // 2, (SIZE - new_w + 1) // 2  # the odd pixel on top and left, as in the datasets
    out[top : top + new_h, left : left + new_w] = small
    return out


def load_uploaded_image(data: bytes, box: int = 28) -> tuple[torch.Tensor, Image.Image]:
    """A PNG or JPEG file's bytes -> (28 x 28 uint8 tensor, that image enlarged 8x to show).

    Like the dataset: grayscale, light object on a black background (inverted when the background
    is light), the object fitted in a box x box square centred in 28 x 28: all 28 for Fashion-MNIST,
    20 for MNIST (see BOX). An animated PNG gives its first frame. Raises ValueError with a sentence
    for the user on anything else: too many bytes or pixels, damaged files, other formats, blank images.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"Expected the file's bytes, not {type(data).__name__}.")
    data = bytes(data)
    if not data:
        raise ValueError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise ValueError(f"The file is {len(data) / 1e6:.1f} MB; the limit is {MAX_BYTES / 1e6:.0f} MB.")
    image = _open(data)
    try:
        gray = _grayscale(image)
    except Exception as e:  # decoders raise many kinds of errors on hostile or broken files
        raise ValueError(f"The image could not be decoded (the file may be truncated or damaged): {e}.") from None
    return _as_dataset_image(gray, box)


def _as_dataset_image(gray: np.ndarray, box: int) -> tuple[torch.Tensor, Image.Image]:
    pixels = np.round(to_dataset_style(gray, box) * 255).astype(np.uint8)
    picture = Image.fromarray(pixels).resize((SIZE * PREVIEW_SCALE,) * 2, Image.Resampling.NEAREST)
    return torch.from_numpy(pixels), picture


def load_drawn_image(rgba: np.ndarray, box: int = 28) -> tuple[torch.Tensor, Image.Image]:
    """A drawing pad's H x W x 4 RGBA pixels (uint8) -> (28 x 28 uint8 tensor, that image enlarged 8x to show),
    converted like an upload (load_uploaded_image): light on dark, fitted in box x box, centred.
    Raises ValueError with a sentence for the user on a blank pad."""
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"Expected H x W x 4 RGBA bytes, not an array of shape {rgba.shape} and type {rgba.dtype}.")
    if rgba.shape[0] * rgba.shape[1] > MAX_PIXELS:
        raise ValueError(f"The drawing is larger than {MAX_PIXELS // 1_000_000} megapixels.")
    return _as_dataset_image(_flatten(rgba), box)
