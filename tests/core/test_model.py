"""LeNetConfig, build_lenet and layer_table against what torch itself says."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lenet import INIT_SCHEMES, LeNetConfig, build_lenet, count_parameters, init_weights, layer_table, plan_layers

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


# ---- the notes' two classic mistakes ------------------------------------------------------------

NOTES_LENET = LeNetConfig(image_size=32, activation="relu", pool="max", paddings=(0, 0))  # ReLU, max pooling, 32 x 32


def test_skipping_pool2_gives_the_notes_1600_vs_400_mismatch():
    mistake = NOTES_LENET.replace(pool_after=(True, False), dense_inputs=400)  # forward skips pool2; nn.Linear(400, 120)
    with pytest.raises(ValueError) as error:
        plan_layers(mistake)
    message = str(error.value)
    assert "flatten gives 16 x 10 x 10 = 1600 values but fc1 expects 400" in message
    assert "pool2 was skipped" in message and "16 x 5 x 5 = 400" in message
    with pytest.raises(ValueError, match="1600"):
        build_lenet(mistake)
    # torch itself fails on the same hand-written model, only later and less clearly
    hand_written = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.Flatten(), nn.Linear(400, 120)
    )
    with pytest.raises(RuntimeError, match=r"1x1600 and 400x120"):
        hand_written(torch.rand(1, 1, 32, 32))
    # the same network with pool2 back, or with fc1 taking 1600 inputs, builds and runs
    for fixed in (mistake.replace(pool_after=None), mistake.replace(dense_inputs=1600)):
        assert build_lenet(fixed)(torch.rand(2, 1, 32, 32)).shape == (2, 10)


def test_pool_after_and_dense_inputs_follow_torch():
    config = LeNetConfig(pool_after=[False, True], dense_inputs=16 * 12 * 12)
    model = build_lenet(config)
    assert [name for name, _ in model.named_children() if name.startswith("pool")] == ["pool2"]
    up_to_flatten = model[: [name for name, _ in model.named_children()].index("fc1")]
    assert model.fc1.in_features == up_to_flatten(torch.rand(1, 1, 28, 28)).shape[1] == 16 * 12 * 12
    assert LeNetConfig(pool_after=(True, True)).replace(pool_after=None) == LeNetConfig()
    assert layer_table(LeNetConfig(pool_after=(True, True))).equals(layer_table(LeNetConfig()))
    with pytest.raises(ValueError, match="pool_after has 1 entries but there are 2 conv layers"):
        plan_layers(LeNetConfig(pool_after=(True,)))
    with pytest.raises(ValueError, match="expects 300. Make fc1 take 400 inputs"):
        plan_layers(LeNetConfig(dense_inputs=300))
    with pytest.raises(ValueError, match="output expects 7"):
        plan_layers(LeNetConfig(hidden_sizes=(), dense_inputs=7))


def test_new_fields_round_trip_and_old_configs_still_load():
    config = NOTES_LENET.replace(pool_after=(True, False), dense_inputs=1600, softmax_output=True)
    assert LeNetConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    old = {k: v for k, v in LeNetConfig.classic().to_dict().items() if k not in ("pool_after", "dense_inputs", "softmax_output")}
    assert LeNetConfig.from_dict(old) == LeNetConfig.classic()


def test_softmax_output_builds_but_caps_the_loss_and_shrinks_the_gradients():
    torch.manual_seed(0)
    config = LeNetConfig.modern().replace(softmax_output=True)
    model = build_lenet(config).eval()
    assert count_parameters(model) == count_parameters(build_lenet(LeNetConfig.modern()))
    assert isinstance(model[-1], nn.Softmax)
    assert torch.allclose(model(torch.rand(3, 1, 28, 28)).sum(1), torch.ones(3))
    # cross-entropy on probabilities: even a perfectly confident p = one-hot leaves log(1 + 9/e) ≈ 1.46
    logits = torch.tensor([[1000.0] + [-1000.0] * 9])
    floor = F.cross_entropy(logits.softmax(1), torch.tensor([0]))
    assert floor.item() == pytest.approx(math.log(1 + 9 / math.e), rel=1e-6)
    z = torch.randn(256, 10, requires_grad=True)
    y = torch.randint(0, 10, (256,))
    (plain,) = torch.autograd.grad(F.cross_entropy(z, y), z)
    (squashed,) = torch.autograd.grad(F.cross_entropy(z.softmax(1), y), z)
    assert squashed.norm() < 0.5 * plain.norm()
