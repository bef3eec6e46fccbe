"""The picture the concept pages run their kernels over: a real test image, or a built-in pattern."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data import DatasetNotFoundError, load_split

# One look for pictures on every page: as Fashion-MNIST stores them and the network reads them, a light garment on
# black, brighter meaning a larger value, so a zero (the background, zero padding) is black (Inspect shows the same).
IMAGE_COLORS = "gray"
IMAGE_CONVENTION = "As Fashion-MNIST stores it: brighter is a larger value, zero (background, padding) is black"


def pattern_image(size: int = 28) -> torch.Tensor:
    """A built-in test pattern (a ring and a bar) for when Fashion-MNIST is not installed."""
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    radius = ((y - size / 2) ** 2 + (x - size / 2) ** 2).sqrt()
    ring = (radius - size / 3).abs() < size / 14
    bar = (x - size / 2).abs() < size / 14
    return (ring | bar).float()


def sample_image(index: int = 0, data_dir: Path | None = None) -> tuple[torch.Tensor, str]:
    """A Fashion-MNIST test image in [0, 1] with its caption, or the built-in pattern when the data is missing."""
    try:
        split = load_split("fashion-mnist", train=False, download=False, data_dir=data_dir)
    except DatasetNotFoundError:
        return pattern_image(), "Built-in test pattern (Fashion-MNIST is not installed here)"
    index = index % len(split)
    label = split.classes[int(split.labels[index])]
    return split.images[index].float() / 255, f"Fashion-MNIST test image {index}: {label}"
