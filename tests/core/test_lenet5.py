"""LeNet-5 as LeCun et al. published it (1998): its layers against torch's own operators, its parameter counts against
the paper's, and the preset trained, saved, reopened and inspected like any other."""

import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from lenet import LeNetConfig, build_lenet, count_parameters, init_weights, layer_table
from lenet.training import open_run, preset, train
from lenet.core.lenet5 import LENET5_TABLE, PartialConv2d, ScaledTanh, Subsample
from lenet.inspection import conv_filters, feature_maps
from lenet.lessons.lenet5 import differences, fixed_parts, parameter_counts
from lenet.lessons.training import training_code
from helpers import run_snippet

# Section II.B of the paper: each layer's trainable parameters, and its output maps (or units).
PAPER = {"conv1": (156, (6, 28, 28)), "pool1": (12, (6, 14, 14)), "conv2": (1_516, (16, 10, 10)),
         "pool2": (32, (16, 5, 5)), "conv3": (48_120, (120, 1, 1)), "fc1": (10_164, (84,))}


def module_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def connected_sum_of_convs(x: torch.Tensor, conv: PartialConv2d) -> torch.Tensor:
    """C3 the slow way: output map j is the sum of one F.conv2d per input map Table I gives it, plus its bias."""
    kernels = iter(conv.weight)  # one kernel per connection, in the table's order
    outputs = []
    for j, maps in enumerate(LENET5_TABLE):
        total = sum(F.conv2d(x[:, [i]], next(kernels)[None, None]) for i in maps)
        outputs.append(total + conv.bias[j])
    return torch.cat(outputs, dim=1)


def test_every_layer_has_the_papers_parameters_and_shape():
    config = LeNetConfig.lenet5()
    model = build_lenet(config)
    for name, (parameters, _) in PAPER.items():
        assert module_parameters(getattr(model, name)) == parameters, name
    x, shapes = torch.rand(1, 1, 28, 28), {}
    for name, layer in model.named_children():
        x = layer(x)
        shapes[name] = tuple(x.shape[1:])
    assert shapes["pad"] == (1, 32, 32)
    assert {name: shapes[name] for name in PAPER} == {name: shape for name, (_, shape) in PAPER.items()}
    table = layer_table(config)
    assert list(table["layer"]) == list(shapes)
    assert list(table["output shape"]) == [" x ".join(map(str, s)) for s in shapes.values()]
    assert list(table["parameters"]) == [module_parameters(m) for _, m in model.named_children()]
    assert count_parameters(model) == table["parameters"].sum() == sum(p for p, _ in PAPER.values()) + 84 * 10 + 10


def test_c3_is_a_sum_of_convolutions_over_only_its_connected_maps():
    torch.manual_seed(0)
    conv = build_lenet(LeNetConfig.lenet5()).conv2
    x = torch.randn(3, 6, 14, 14)
    assert torch.allclose(conv(x), connected_sum_of_convs(x, conv), atol=1e-5)
    for j, maps in enumerate(LENET5_TABLE):  # a map Table I does not connect cannot change the output
        other = x.clone()
        other[:, [i for i in range(6) if i not in maps]] = torch.randn(3, 6 - len(maps), 14, 14)
        assert torch.equal(conv(other)[:, j], conv(x)[:, j]), j
    assert sum(map(len, LENET5_TABLE)) == 60 and len(LENET5_TABLE) == 16
    assert all(len(set(maps)) == len(maps) for maps in LENET5_TABLE)
    with FlopCounterMode(display=False) as counter:  # the layer table counts the connected multiply-adds only
        connected_sum_of_convs(x[:1], conv)
    assert 2 * layer_table(LeNetConfig.lenet5()).set_index("layer").loc["conv2", "MACs"] == counter.get_total_flops()


def test_the_connection_table_gets_gradients_only_for_its_kernels():
    conv = build_lenet(LeNetConfig.lenet5()).conv2
    conv(torch.randn(2, 6, 14, 14)).square().sum().backward()
    assert conv.weight.grad.shape == (60, 5, 5) and (conv.weight.grad != 0).all()
    dense = conv.dense_weight().detach()
    for j in range(16):
        for i in range(6):
            assert dense[j, i].any() == (i in LENET5_TABLE[j]), (j, i)


def test_subsampling_and_the_squashing_function_match_torch():
    x = torch.randn(2, 6, 28, 28)
    pool = Subsample(6)
    with torch.no_grad():
        pool.weight.uniform_(-2, 2)
        pool.bias.uniform_(-1, 1)
    windows = x.unfold(2, 2, 2).unfold(3, 2, 2).sum((-1, -2)) / 4  # each 2 x 2 window's average, by hand
    expected = 1.7159 * torch.tanh(2 / 3 * (windows * pool.weight[:, None, None] + pool.bias[:, None, None]))
    assert torch.allclose(pool(x), expected, atol=1e-6)
    assert ScaledTanh()(torch.tensor([1.0, -1.0])).tolist() == pytest.approx([1.0, -1.0], abs=2e-4)  # f(+-1) = +-1


def test_inputs_are_scaled_and_padded_as_the_paper_says():
    model = build_lenet(LeNetConfig.lenet5())
    white = model.pad(model.normalize(torch.ones(1, 1, 28, 28)))
    assert white[0, 0, 2:30, 2:30].allclose(torch.tensor(1.175)) and white[0, 0, 0].allclose(torch.tensor(-0.1))
    black = model.pad(model.normalize(torch.zeros(1, 1, 28, 28)))
    assert black.allclose(torch.tensor(-0.1))


def test_a_table_that_does_not_fit_is_a_sentence():
    with pytest.raises(ValueError, match="connection table joins 6 maps to 16.*conv2 takes 8"):
        build_lenet(LeNetConfig.lenet5().replace(conv_channels=(8, 16, 120)))
    with pytest.raises(ValueError, match="only one conv layer"):
        build_lenet(LeNetConfig(conv_channels=(6,), kernel_sizes=(5,), paddings=(0,), strides=(1,),
                                connection_table=True))
    with pytest.raises(ValueError, match="input_padding"):
        build_lenet(LeNetConfig(input_padding=-1))


def test_config_round_trip_and_old_configs_without_the_new_fields():
    config = LeNetConfig.lenet5()
    assert LeNetConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    old = LeNetConfig.classic().to_dict()
    del old["input_padding"], old["connection_table"]  # a config.json written before LeNet-5 came
    assert LeNetConfig.from_dict(old) == LeNetConfig.classic()


@pytest.mark.parametrize("scheme", ["default", "normal", "xavier", "constant"])
def test_every_init_scheme_reaches_the_connection_table(scheme):
    torch.manual_seed(0)
    model = build_lenet(LeNetConfig.lenet5())
    built = model.conv2.weight.detach().clone()
    conv = init_weights(model, scheme, constant=0.5).conv2
    assert not torch.equal(conv.weight, built)
    if scheme == "constant":
        assert (conv.weight == 0.5).all() and (conv.bias == 0).all()
    elif scheme == "normal":
        assert conv.weight.std().item() == pytest.approx(0.01, rel=0.2) and (conv.bias == 0).all()
    elif scheme == "default":  # uniform in +-1/sqrt(fan-in), the fan-in of each output map's own connections
        bounds = torch.tensor([1 / math.sqrt(25 * len(LENET5_TABLE[j])) for j in conv.rows.tolist()])
        assert (conv.weight.abs().amax((1, 2)) <= bounds).all() and conv.weight.abs().max() > 0.5 * bounds.max()


def test_old_run_folder_without_the_new_fields_still_opens(tmp_path):
    config, settings = preset("classic")
    run_dir = tmp_path / "old"
    train(config, settings.replace(subset=64, test_subset=64, epochs=1, device="cpu", snapshots=False),
          run_dir=run_dir)
    info = json.loads((run_dir / "config.json").read_text())
    del info["config"]["input_padding"], info["config"]["connection_table"]
    (run_dir / "config.json").write_text(json.dumps(info))
    assert open_run(run_dir).config == config


def test_the_preset_trains_saves_reopens_and_can_be_inspected(tmp_path):
    torch.set_num_threads(1)
    config, settings = preset("lenet5")
    settings = settings.replace(subset=256, test_subset=256, epochs=1, device="cpu")
    result = train(config, settings, run_dir=tmp_path / "lenet5")
    assert len(result.history) == 1 and 0 <= result.history["test_acc"].iloc[0] <= 1
    run = open_run(tmp_path / "lenet5")
    assert run.config == config and run.timeline is not None and run.timeline_error is None
    assert run.timeline.maps[0].shape[-2:] == (28, 28)  # conv1's maps of the padded 32 x 32 input
    maps = feature_maps(run.model, torch.zeros(28, 28, dtype=torch.uint8))
    assert {name: tuple(m.shape) for name, m in maps.items() if name in PAPER} == \
        {name: shape for name, (_, shape) in PAPER.items() if len(shape) == 3}
    assert {"act1", "act2", "act3"} <= set(maps)
    filters = conv_filters(run.model)
    assert {name: tuple(f.shape) for name, f in filters.items()} == \
        {"conv1": (6, 1, 5, 5), "conv2": (16, 6, 5, 5), "conv3": (120, 16, 5, 5)}
    x = torch.randn(1, 6, 14, 14)
    assert torch.allclose(F.conv2d(x, filters["conv2"]), connected_sum_of_convs(x, run.model.conv2) -
                          run.model.conv2.bias.detach()[None, :, None, None], atol=1e-5)


def test_training_snippet_trains_like_the_engine():
    config, settings = preset("lenet5")
    settings = settings.replace(subset=300, test_subset=200, epochs=1, device="cpu", snapshots=False)
    code = training_code(config, settings).replace("test.images.to(device), test.labels.to(device)",
                                                  "test.images[:200].to(device), test.labels[:200].to(device)")
    assert "from lenet.core.lenet5 import LENET5_TABLE, PartialConv2d, ScaledTanh, Subsample" in code
    history = run_snippet(code.replace('device = "cuda" if torch.cuda.is_available() else "cpu"', 'device = "cpu"'))
    engine = train(config, settings).history.iloc[0]
    assert history["history"][0]["train_loss"] == pytest.approx(engine["train_loss"], rel=1e-3)
    assert history["history"][0]["test_acc"] == pytest.approx(engine["test_acc"], abs=1e-2)


def test_the_lesson_counts_come_from_the_models():
    counts = parameter_counts().set_index("layer")
    paper = {part: PAPER[counts.loc[part, "layer here"]][0] for part in ("C1", "S2", "C3", "S4", "C5", "F6")}
    assert counts["LeNet-5 (1998)"].drop(["output", "total"]).to_dict() == paper
    assert counts.loc["total", "this preset"] == count_parameters(build_lenet(LeNetConfig.lenet5()))
    assert counts.loc["total", "d2l's LeNet"] == count_parameters(build_lenet(LeNetConfig.classic()))
    table = differences()
    assert {"C3", "output", "training"} <= set(table.index) and "RBF" in table.loc["output", "LeNet-5 (1998)"]
    assert "Table I" in fixed_parts(LeNetConfig.lenet5()) and fixed_parts(LeNetConfig.classic()) is None
