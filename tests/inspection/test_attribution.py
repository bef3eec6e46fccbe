"""Gradient x input and Grad-CAM (captum) against the same quantities computed directly with torch.autograd."""

import pytest
import torch
from torch import nn

from lenet import LeNetConfig, build_lenet
from lenet.attribution import grad_cam, gradient_x_input, cam_layer
from lenet.data import to_batch

PRESETS = {"classic": LeNetConfig.classic, "modern": LeNetConfig.modern}


@pytest.fixture(params=list(PRESETS))
def model(request):
    torch.manual_seed(0)
    model = build_lenet(PRESETS[request.param]())
    with torch.no_grad():  # batch norm with statistics of its own, so eval mode differs from training mode
        model(torch.rand(64, 1, 28, 28))
    return model


@pytest.fixture
def image():
    return torch.randint(0, 256, (28, 28), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)


def direct_gradient_x_input(model, image, target):
    x = to_batch(image[None]).requires_grad_()
    (grad,) = torch.autograd.grad(model(x)[0, target], x)
    return (grad * x).sum(dim=1)[0]


def direct_grad_cam(model, image, target):
    """ReLU(sum_k alpha_k A^k), alpha_k the spatial mean of d score / d A^k, A the layer's output (hooks)."""
    seen = {}

    def keep(module, inputs, output):
        seen["A"] = output
        output.register_hook(lambda grad: seen.__setitem__("dA", grad))

    handle = cam_layer(model)[1].register_forward_hook(keep)
    try:
        model(to_batch(image[None]))[0, target].backward()
    finally:
        handle.remove()
    alpha = seen["dA"].mean(dim=(2, 3), keepdim=True)
    return torch.relu((alpha * seen["A"]).sum(dim=1))[0].detach()


def test_gradient_x_input_is_the_autograd_gradient_times_the_pixels(model, image):
    model.eval()
    for target in range(10):
        expected = direct_gradient_x_input(model, image, target)
        got = gradient_x_input(model, image, target)
        assert got.shape == (28, 28) and expected.abs().max() > 0
        torch.testing.assert_close(got, expected)


def test_grad_cam_is_relu_of_the_gradient_weighted_channels_of_the_last_conv(model, image):
    model.eval()
    maps = []
    for target in range(10):
        got = grad_cam(model, image, target)
        torch.testing.assert_close(got, direct_grad_cam(model, image, target))
        maps.append(got)
    assert maps[0].shape == (10, 10)  # act2's output for a 28 x 28 image
    assert any(m.max() > 0 for m in maps) and all(m.min() >= 0 for m in maps)


def test_attributions_use_eval_mode_and_restore_the_models_mode(model, image):
    model.train()
    got = gradient_x_input(model, image, 2)
    assert model.training
    model.eval()
    torch.testing.assert_close(got, direct_gradient_x_input(model, image, 2))


def test_grad_cam_looks_at_the_last_conv_layers_activations(model):
    name, layer = cam_layer(model)
    assert name == "act2" and layer is model.act2  # after conv2 (and bn2 in the modern preset)
    assert isinstance(layer, nn.ReLU if isinstance(model.act1, nn.ReLU) else nn.Sigmoid)
    bare = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 4, 3), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten())
    assert cam_layer(bare) == ("1", bare[1]), "no activation right after the last conv: the conv itself"


def test_bad_requests_are_sentences(model, image):
    with pytest.raises(ValueError, match="between 0 and 9"):
        grad_cam(model, image, 10)
    with pytest.raises(ValueError, match="1-channel"):
        gradient_x_input(model, torch.rand(3, 28, 28), 0)
    with pytest.raises(ValueError, match="no convolution"):
        grad_cam(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)), image, 0)
