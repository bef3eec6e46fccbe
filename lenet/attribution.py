"""Which pixels decided: gradient x input and Grad-CAM of a LeNet's output for one class (with captum)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from captum.attr import InputXGradient, LayerGradCam
from torch import nn

from .core.model import ACTIVATIONS
from .data import to_batch


def cam_layer(model: nn.Module) -> tuple[str, nn.Module]:
    """Where Grad-CAM looks: the last conv layer's feature maps after its activation (act2 in LeNet), as in
    Grad-CAM's paper; the conv's own output when no activation follows it before the next conv, pooling or flatten.

    On the raw conv2 output the modern LeNet's Grad-CAM was often zero everywhere: batch norm comes next and may
    flip a channel's sign, so the gradient-weighted sum is negative all over.
    """
    layers = list(model.named_modules())[1:]
    convs = [i for i, (_, m) in enumerate(layers) if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("This model has no convolution layer, so Grad-CAM has nothing to look at.")
    for name, m in layers[convs[-1] + 1:]:
        if isinstance(m, tuple(ACTIVATIONS.values())):
            return name, m
        if not isinstance(m, nn.BatchNorm2d):
            break
    return layers[convs[-1]]


@contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode (batch norm uses its running statistics), the model's own mode restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _input(model: nn.Module, image: torch.Tensor, target: int) -> torch.Tensor:
    """One image as a 1 x C x H x W float batch on the model's device, checked against the model."""
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"image must be a torch tensor, not {type(image).__name__}.")
    cam_layer(model)  # a model without convolutions is refused with a sentence
    x = to_batch(image[None]).to(next(model.parameters()).device)
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    if x.shape[1] != first.in_channels:
        raise ValueError(f"The model takes {first.in_channels}-channel images, not {x.shape[1]}-channel ones.")
    classes = [m.out_features for m in model.modules() if isinstance(m, nn.Linear)][-1:]
    if classes and not 0 <= target < classes[0]:
        raise ValueError(f"target must be a class number between 0 and {classes[0] - 1} (got {target}).")
    return x.requires_grad_()


def gradient_x_input(model: nn.Module, image: torch.Tensor, target: int) -> torch.Tensor:
    """d output[target] / d pixel times the pixel, summed over channels: H x W, on the CPU (positive: for the class).

    image: H x W uint8 pixels or C x H x W floats in [0, 1], the input the model sees before its normalize layer.
    """
    with _evaluating(model):
        x = _input(model, image, target)
        return InputXGradient(model).attribute(x, target=target).sum(dim=1)[0].detach().cpu()


def grad_cam(model: nn.Module, image: torch.Tensor, target: int) -> torch.Tensor:
    """Grad-CAM on the last conv layer: ReLU(sum_k alpha_k A^k), A^k its k-th activated feature map (see cam_layer),
    alpha_k the spatial mean of d output[target] / d A^k.

    Returns the map at that layer's resolution (h x w, on the CPU), e.g. 10 x 10 for LeNet on 28 x 28 images.
    """
    with _evaluating(model):
        x = _input(model, image, target)
        cam = LayerGradCam(model, cam_layer(model)[1]).attribute(x, target=target, relu_attributions=True)
        return cam[0, 0].detach().cpu()
