"""LeNetConfig, build_lenet and layer_table against what torch itself says."""

import json

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.utils.flop_counter import FlopCounterMode

from lenet import INIT_SCHEMES, LeNetConfig, build_lenet, count_parameters, init_weights, layer_table

CLASSIC_SHAPES = [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (400,), (120,), (84,), (10,)]


def test_classic_is_d2l_lenet():
    model = build_lenet(LeNetConfig.classic())
    assert count_parameters(model) == 61_706
    x = torch.rand(1, 1, 28, 28)
    shapes = []
    for name, layer in model.named_children():
        x = layer(x)
        if name.startswith(("conv", "pool", "flatten", "fc")) and not name.endswith(("act", "bn")) or name == "output":
            shapes.append(tuple(x.shape[1:]))
    assert shapes == CLASSIC_SHAPES
    kinds = [type(m).__name__ for m in model]
    assert kinds.count("Sigmoid") == 4 and kinds.count("AvgPool2d") == 2 and "BatchNorm2d" not in kinds


def test_modern_uses_relu_max_pooling_and_batch_norm():
    model = build_lenet(LeNetConfig.modern())
    kinds = {type(m).__name__ for m in model}
    assert {"ReLU", "MaxPool2d", "BatchNorm2d", "BatchNorm1d"} <= kinds and "Sigmoid" not in kinds
    model.eval()
    assert model(torch.rand(4, 1, 28, 28)).shape == (4, 10)


def test_config_json_round_trip():
    for config in (LeNetConfig.classic(), LeNetConfig.modern(), LeNetConfig(conv_channels=[8, 8, 8], kernel_sizes=[3, 3, 3],
                                                                             paddings=[1, 1, 1], strides=[1, 1, 1])):
        again = LeNetConfig.from_dict(json.loads(json.dumps(config.to_dict())))
        assert again == config
    with pytest.raises(ValueError, match="Unknown"):
        LeNetConfig.from_dict({"colour": "red"})


def test_collapsing_shapes_name_the_layer():
    with pytest.raises(ValueError, match=r"conv2 gets a 6x4x4 input"):
        build_lenet(LeNetConfig(image_size=8))
    with pytest.raises(ValueError, match="activation"):
        build_lenet(LeNetConfig(activation="softplus"))


def test_layer_table_matches_torch():
    config = LeNetConfig.classic()
    table = layer_table(config)
    model = build_lenet(config)
    assert table["parameters"].sum() == 61_706
    assert list(table["layer"]) == [name for name, _ in model.named_children()]
    x = torch.rand(1, 1, 28, 28)
    for (_, layer), shape, nbytes in zip(model.named_children(), table["output shape"], table["activation bytes"]):
        x = layer(x)
        assert shape == " x ".join(map(str, x.shape[1:])) and nbytes == 4 * x[0].numel()
    with FlopCounterMode(display=False) as counter:
        model(torch.rand(1, 1, 28, 28))
    assert 2 * table["MACs"].sum() == counter.get_total_flops()


@settings(max_examples=25, deadline=None)
@given(
    size=st.integers(8, 40), c1=st.integers(1, 8), c2=st.integers(1, 8), k=st.integers(1, 7), p=st.integers(0, 3),
    s=st.integers(1, 2), act=st.sampled_from(["sigmoid", "relu", "tanh"]), pool=st.sampled_from(["avg", "max", "none"]),
    bn=st.booleans(), hidden=st.lists(st.integers(1, 40), max_size=2),
)
def test_random_configs_build_and_agree_with_their_table(size, c1, c2, k, p, s, act, pool, bn, hidden):
    config = LeNetConfig(image_size=size, conv_channels=(c1, c2), kernel_sizes=(k, k), paddings=(p, p), strides=(s, s),
                         activation=act, pool=pool, batch_norm=bn, hidden_sizes=hidden)
    try:
        table = layer_table(config)
    except ValueError as e:
        assert "gets a" in str(e)
        with pytest.raises(ValueError):
            build_lenet(config)
        return
    model = build_lenet(config).eval()
    assert count_parameters(model) == table["parameters"].sum()
    assert model(torch.rand(2, 1, size, size)).shape == (2, 10)


def test_init_schemes_change_weight_statistics():
    torch.manual_seed(0)
    model = build_lenet(LeNetConfig.classic())
    init_weights(model, "normal")
    assert abs(model.fc1.weight.std().item() - 0.01) < 0.001 and model.fc1.bias.abs().sum() == 0
    init_weights(model, "xavier")
    bound = (6 / (400 + 120)) ** 0.5
    assert model.fc1.weight.abs().max() <= bound and model.fc1.weight.std() > 0.8 * bound / 3**0.5
    init_weights(model, "constant", 0.5)
    assert model.conv1.weight.eq(0.5).all()
    init_weights(model, "default")
    assert model.conv1.weight.std() > 0
    assert set(INIT_SCHEMES) == {"default", "normal", "xavier", "constant"}
    with pytest.raises(ValueError):
        init_weights(model, "magic")
