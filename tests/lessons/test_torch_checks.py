"""Each concept page's check against PyTorch: 0 when the page's result is right, and it notices a wrong one."""

import dataclasses

import pytest
import torch

from lenet import LeNetConfig, convolve2d, corr2d, pool2d
from lenet.core.receptive import unit_field
from lenet.lessons.cross_correlation import torch_corr2d_check
from lenet.lessons.mlp_vs_cnn import parameter_comparison, torch_parameter_check
from lenet.lessons.padding import torch_shape_check
from lenet.lessons.pooling import torch_pool_check
from lenet.lessons.receptive_fields import torch_field_check
from helpers import K2, X3, X16


def test_cross_correlation_and_convolution_against_conv2d():
    check = torch_corr2d_check(X3, K2, corr2d(X3, K2))
    Y, difference = check.result, check.difference
    assert difference == 0 and Y.tolist() == [[19, 25], [37, 43]]
    assert torch_corr2d_check(X3, K2, convolve2d(X3, K2), flip=True).difference == 0
    assert torch_corr2d_check(X3, K2, convolve2d(X3, K2)).difference > 0  # convolution is not cross-correlation here


@pytest.mark.parametrize("k, p, s", [((2, 2), (0, 0), (1, 1)), ((3, 3), (1, 1), (2, 2)), ((2, 3), (0, 1), (2, 3))])
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pooling_against_torch(mode, k, p, s):
    Y = pool2d(X16, k, mode, p, s)
    assert torch_pool_check(X16, Y, k, mode, p, s).difference == 0
    assert torch_pool_check(X16, Y + 1, k, mode, p, s).difference == 1


@pytest.mark.parametrize("n, k, p, s, d, total, out", [
    ((8, 8), (3, 3), (1, 1), (2, 2), (1, 1), False, (4, 4)),
    ((8, 8), (3, 5), (0, 1), (3, 4), (1, 1), False, (2, 2)),
    ((8, 8), (3, 3), (0, 0), (1, 1), (2, 2), False, (4, 4)),
    ((8, 8), (4, 4), (3, 3), (1, 1), (1, 1), True, (8, 8)),
])
def test_output_sizes_against_conv2d(n, k, p, s, d, total, out):
    check = torch_shape_check(n, k, p, s, d, out, total)
    assert (check.result, check.difference) == (out, 0)
    assert torch_shape_check(n, k, p, s, d, (out[0], out[1] + 2), total).difference == 2


def test_parameter_counts_against_torch_modules_even_for_quadrillions():
    for size in [(3000, 4000, 3, 100, 6, 5), (28, 28, 1, 100, 6, 5), (10_000, 10_000, 4, 10_000, 64, 11)]:
        table = parameter_comparison(*size)
        check = torch_parameter_check(table, *size)
        counts, difference = check.result, check.difference
        assert difference == 0 and counts[-1] == 61_706
    table = parameter_comparison(28, 28, 1, 100)
    table.loc[2, "parameters"] += 7
    assert torch_parameter_check(table, 28, 28, 1, 100).difference == 7


@pytest.mark.parametrize("config, layer, unit", [
    (LeNetConfig.classic(), "conv2", (0, 0)), (LeNetConfig.modern(), "pool2", (2, 3)),
    (LeNetConfig(image_size=32, kernel_sizes=(3, 3), strides=(2, 1), paddings=(0, 1), pool_after=(False, True)), "pool2", (3, 1)),
    (LeNetConfig(conv_channels=(2, 2), kernel_sizes=(1, 3), paddings=(0, 0), strides=(2, 1), pool="none", activation="relu"),
     "conv2", (1, 2)),
    (LeNetConfig(conv_channels=(64, 64), kernel_sizes=(9, 9), paddings=(4, 4), activation="sigmoid"), "pool2", (3, 3)),
])
def test_receptive_fields_against_autograd(config, layer, unit):
    field = unit_field(config, layer, unit)
    check = torch_field_check(config, field)
    seen, differ = check.result, check.difference
    assert differ == 0 and torch.equal(seen, field.mask)
    wrong = field.mask.clone()
    wrong[0, 0] = not wrong[0, 0]
    assert torch_field_check(config, dataclasses.replace(field, mask=wrong)).difference == 1


def test_the_checks_leave_torchs_random_numbers_alone():
    field = unit_field(LeNetConfig.classic(), "pool2", (1, 1))
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    torch_field_check(LeNetConfig.classic(), field)
    assert torch.equal(torch.rand(3), expected)
