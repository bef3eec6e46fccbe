"""Receptive fields against autograd: a unit's gradient w.r.t. the input is non-zero exactly on its field."""

import pytest
import torch
from hypothesis import assume, given, settings, strategies as st

from lenet import LeNetConfig, build_lenet, plan_layers
from lenet.core.receptive import receptive_field_table, receptive_fields, unit_field

NOTES_LENET = LeNetConfig(image_size=32, activation="relu", pool="max", paddings=(0, 0))


def gradient_support(config: LeNetConfig, layer: str, unit: tuple[int, int], channel: int = 0, seed: int = 0) -> torch.Tensor:
    """Input pixels where d(unit of layer) / d(input) is not zero, for a random model in float64."""
    torch.manual_seed(seed)
    model = build_lenet(config).double().eval()
    x = torch.rand(1, config.in_channels, config.image_size, config.image_size, dtype=torch.float64, requires_grad=True)
    out = x
    for name, module in model.named_children():
        out = module(out)
        if name == layer:
            break
    out[0, channel, unit[0], unit[1]].backward()
    return x.grad[0].abs().sum(0) != 0


def test_d2l_lenet_fields_are_5_6_14_16():
    fields = receptive_fields(LeNetConfig.classic())
    assert [(f.layer, f.size, f.jump) for f in fields] == [("conv1", 5, 1), ("pool1", 6, 2), ("conv2", 14, 2), ("pool2", 16, 4)]
    assert [f.out_hw for f in fields] == [(28, 28), (14, 14), (10, 10), (5, 5)]
    table = receptive_field_table(LeNetConfig.classic())
    assert list(table["receptive field"]) == ["5 x 5", "6 x 6", "14 x 14", "16 x 16"]
    assert table["size = previous + (k − 1) × previous jump"][2] == "6 + (5 − 1) × 2 = 14"


def test_a_middle_unit_sees_a_full_square_and_a_corner_unit_loses_the_padding():
    middle = unit_field(LeNetConfig.classic(), "conv2", (5, 5))
    assert middle.pixels == 14 * 14 and middle.box == (8, 8, 21, 21)
    assert middle.mask[8:22, 8:22].all() and torch.equal(middle.mask, gradient_support(LeNetConfig.classic(), "conv2", (5, 5)))
    corner = unit_field(LeNetConfig.classic(), "conv2", (0, 0))  # conv1's padding of 2 holds no pixels
    assert corner.box == (-2, -2, 11, 11) and corner.pixels == 12 * 12
    assert [f.size for f in receptive_fields(NOTES_LENET)] == [5, 6, 14, 16]
    assert unit_field(NOTES_LENET, "pool2", (4, 4)).pixels == 16 * 16


def test_stride_larger_than_the_kernel_leaves_gaps():
    config = LeNetConfig(conv_channels=(2, 2), kernel_sizes=(1, 3), paddings=(0, 0), strides=(2, 1), pool="none",
                         activation="tanh")
    field = unit_field(config, "conv2", (1, 2))
    rows, cols = field.mask.any(1).nonzero().flatten().tolist(), field.mask.any(0).nonzero().flatten().tolist()
    assert rows == [2, 4, 6] and cols == [4, 6, 8] and field.pixels == 9
    assert torch.equal(field.mask, gradient_support(config, "conv2", (1, 2)))


def test_bad_layer_or_unit_is_explained():
    with pytest.raises(ValueError, match="layer must be one of conv1, pool1, conv2, pool2"):
        unit_field(LeNetConfig.classic(), "fc1", (0, 0))
    with pytest.raises(ValueError, match="pool2 has 5 x 5 units: row must be 0 to 4"):
        unit_field(LeNetConfig.classic(), "pool2", (5, 0))


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(), size=st.integers(6, 30), n_conv=st.integers(1, 3), pool=st.sampled_from(["avg", "max", "none"]),
    pool_size=st.integers(1, 3), pool_stride=st.integers(1, 3), act=st.sampled_from(["sigmoid", "tanh", "relu"]),
    bn=st.booleans(),
)
def test_field_is_where_autograd_finds_a_gradient(data, size, n_conv, pool, pool_size, pool_stride, act, bn):
    layers = st.lists(st.integers(1, 5), min_size=n_conv, max_size=n_conv)
    config = LeNetConfig(
        image_size=size, conv_channels=(2,) * n_conv, kernel_sizes=data.draw(layers),
        paddings=data.draw(st.lists(st.integers(0, 2), min_size=n_conv, max_size=n_conv)),
        strides=data.draw(st.lists(st.integers(1, 3), min_size=n_conv, max_size=n_conv)),
        pool=pool, pool_size=pool_size, pool_stride=pool_stride, activation=act, batch_norm=bn,
        pool_after=data.draw(st.lists(st.booleans(), min_size=n_conv, max_size=n_conv)),
    )
    try:
        plan_layers(config)
    except ValueError:
        assume(False)
    field = data.draw(st.sampled_from(receptive_fields(config)))
    unit = (data.draw(st.integers(0, field.out_hw[0] - 1)), data.draw(st.integers(0, field.out_hw[1] - 1)))
    mask = unit_field(config, field.layer, unit).mask
    support = gradient_support(config, field.layer, unit, channel=data.draw(st.integers(0, 1)))
    if pool == "max" or act == "relu":  # the gradient picks one pixel per max window and skips dead ReLUs
        assert not (support & ~mask).any()
    else:
        assert torch.equal(support, mask)
