"""The picture the concept pages use: a real test image or the built-in pattern."""



import torch

import lenet.lessons.images
from lenet.data import DatasetNotFoundError
from lenet.lessons.images import pattern_image, sample_image


def test_sample_image_is_a_fashion_mnist_image_or_the_pattern(monkeypatch):
    image, caption = sample_image(3)
    assert image.shape == (28, 28) and 0 <= image.min() and image.max() <= 1
    assert caption.startswith(("Fashion-MNIST test image 3", "Built-in"))

    def missing(*args, **kwargs):
        raise DatasetNotFoundError("not here")

    monkeypatch.setattr(lenet.lessons.images, "load_split", missing)
    image, caption = sample_image(3)
    assert torch.equal(image, pattern_image()) and "Built-in" in caption
