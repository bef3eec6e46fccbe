"""lenet.lessons.parameters and lenet.lessons.initialisation: module trees, parameter tables, init schemes, shared weights,
save and load, with torch as the oracle."""

import math
import threading

import pytest
import torch
from torch import nn

from lenet import INIT_SCHEMES, LeNetConfig, build_lenet, count_parameters
from lenet.data import load_split
from lenet.training import Job, TrainingCapacityError
from lenet.lessons.initialisation import activation_figure, init_training_figure
from lenet.lessons.parameters import gradient_figure, histogram_grid, parameter_treemap
from lenet.lessons.initialisation import activation_stats, compare_inits, init_code, init_summary, initialised, InitTrainings, scheme_weights, train_inits
from lenet.lessons.parameters import module_tree, nested_blocks, parameter_table, parameter_values, round_trip, save_load_code, shared_code, shared_parameter_demo, state_dict_table, tree_code, tree_text
from lenet.training import TrainSettings

CLASSIC, MODERN = LeNetConfig.classic(), LeNetConfig.modern()
TINY = TrainSettings(subset=256, test_subset=256, epochs=1, batch_size=64, progress_every=1)


@pytest.fixture(scope="module")
def batch():
    return load_split("fashion-mnist", train=False).images[:256]


def test_module_tree_follows_named_modules_and_counts_each_subtree():
    net = nested_blocks()
    tree = module_tree(net)
    assert list(tree["name"]) == ["model"] + [name for name, _ in net.named_modules()][1:]
    assert tree.loc[0, "parameters"] == count_parameters(net) == 4 * (4 * 8 + 8 + 8 * 4 + 4) + 4 + 1
    row = tree.set_index("name").loc["0.block2"]
    assert (row["parent"], row["depth"], row["type"]) == ("0", 2, "Sequential")
    assert row["parameters"] == sum(p.numel() for p in net[0].block2.parameters())
    assert tree.set_index("name").loc["0.block2.0", "depth"] == 3


def test_tree_text_indents_by_depth_and_shows_counts():
    lines = tree_text(build_lenet(CLASSIC)).splitlines()
    assert lines[0] == "model: Sequential  · 61,706 parameters"
    assert "    fc1: Linear(in_features=400, out_features=120, bias=True)  · 48,120 parameters" in lines
    assert "    act1: Sigmoid" in lines
    nested = tree_text(nested_blocks()).splitlines()
    assert "            0: Linear(in_features=4, out_features=8, bias=True)  · 40 parameters" in nested


@pytest.mark.parametrize("config", [CLASSIC, MODERN], ids=["classic", "modern"])
def test_parameter_table_matches_named_parameters(config):
    model = initialised(config, "default")
    table = parameter_table(model)
    params = dict(model.named_parameters())
    assert list(table["name"]) == list(params)
    for row in table.itertuples():
        p = params[row.name]
        assert row.count == p.numel() and row.shape == " x ".join(map(str, p.shape))
        assert row.mean == pytest.approx(p.mean().item(), abs=1e-6)
        assert row.std == pytest.approx(p.std().item(), abs=1e-6)
    assert table["share"].sum() == pytest.approx(1.0)
    assert table["count"].sum() == count_parameters(model)


def test_parameter_values_weights_only_keeps_conv_and_linear_weights():
    model = build_lenet(MODERN)
    assert list(parameter_values(model, weights_only=True)) == [
        "conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight", "output.weight"]
    assert sum(v.numel() for v in parameter_values(model).values()) == count_parameters(model)


def _layers(model):
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _fans(m):
    receptive = m.weight[0, 0].numel()
    return m.weight.shape[1] * receptive, m.weight.shape[0] * receptive


def test_init_schemes_give_the_curriculum_statistics():
    default, normal, xavier, constant = (initialised(CLASSIC, s) for s in INIT_SCHEMES)
    for m in _layers(default):
        fan_in, _ = _fans(m)
        assert m.weight.abs().max() <= 1 / math.sqrt(fan_in)  # kaiming uniform with a = sqrt(5)
    for m in _layers(normal):
        assert m.bias.abs().max() == 0
        assert abs(m.weight.mean()) < 0.01 * 4 / math.sqrt(m.weight.numel())
        if m.weight.numel() >= 1000:
            assert m.weight.std().item() == pytest.approx(0.01, rel=0.1)
    for m in _layers(xavier):
        bound = math.sqrt(6 / sum(_fans(m)))
        assert m.weight.abs().max() <= bound
        if m.weight.numel() >= 1000:
            assert m.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.1)
    for m in _layers(constant):
        assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


def test_initialised_is_seeded_and_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a, b = initialised(CLASSIC, "xavier", seed=1), initialised(CLASSIC, "xavier", seed=1)
    assert torch.equal(torch.rand(3), expected)
    assert torch.equal(a.fc1.weight, b.fc1.weight)
    assert not torch.equal(a.fc1.weight, initialised(CLASSIC, "xavier", seed=2).fc1.weight)
    weights = scheme_weights(CLASSIC, ["normal"], seed=1)
    assert torch.equal(weights["normal · fc1.weight"], initialised(CLASSIC, "normal", seed=1).fc1.weight.flatten())


def test_activation_stats_follow_the_layers_one_by_one(batch):
    model = initialised(MODERN, "default")
    table = activation_stats(model, batch[:32])
    x = batch[:32, None].float() / 255
    with torch.no_grad():
        for row, (name, layer) in zip(table.itertuples(), model.named_children()):
            x = layer(x)
            assert row.layer == name
            assert row.mean == pytest.approx(x.mean().item(), abs=1e-5)
            assert row.std == pytest.approx(x.std().item(), rel=1e-4, abs=1e-6)
    assert len(table) == len(list(model.children()))


def test_activation_stats_refuse_what_they_cannot_measure(batch):
    with pytest.raises(ValueError, match="nn.Sequential"):
        activation_stats(shared_parameter_demo().net[0], batch[:4])
    with pytest.raises(ValueError, match="at least 2"):
        activation_stats(build_lenet(CLASSIC), batch[:1])


def test_what_the_page_says_about_each_scheme_holds(batch):
    table = compare_inits(CLASSIC, batch).set_index(["scheme", "layer"])
    sigmoids = ["act1", "act2", "fc1_act", "fc2_act"]
    for layer in sigmoids:
        assert table.loc[("normal", layer), "std"] < table.loc[("xavier", layer), "std"] / 3
        assert table.loc[("normal", layer), "std"] < 0.03
    assert table.loc[("constant", "conv2"), "mean"] > 100
    for layer in ["act2", "pool2", "fc1", "fc1_act", "fc2", "output"]:
        assert table.loc[("constant", layer), "std"] == 0
    for scheme in ("default", "xavier"):
        assert table.loc[(scheme, "output"), "std"] > 0.1
    assert table.loc[("xavier", "fc1_act"), "std"] > table.loc[("default", "fc1_act"), "std"]


def test_shared_layer_is_one_tensor_whose_gradient_sums_both_uses():
    demo = shared_parameter_demo()
    assert demo.net[2].weight is demo.net[4].weight
    assert demo.names == ["0.weight", "0.bias", "2.weight", "2.bias", "6.weight", "6.bias"]
    assert demo.count == (4 * 8 + 8) + (8 * 8 + 8) + (8 + 1) == count_parameters(demo.net)
    assert demo.count_untied == demo.count + 8 * 8 + 8
    assert demo.grad_first.abs().sum() > 0 and demo.grad_second.abs().sum() > 0
    assert not torch.allclose(demo.grad_first, demo.grad_second)
    torch.testing.assert_close(demo.grad, demo.grad_first + demo.grad_second)


def test_state_dict_table_lists_parameters_and_buffers():
    model = build_lenet(MODERN)
    table = state_dict_table(model)
    assert list(table["key"]) == list(model.state_dict())
    kinds = table.set_index("key")["kind"]
    assert kinds["conv1.weight"] == "parameter" and kinds["bn1.running_mean"] == "buffer"
    assert table.set_index("key").loc["bn1.num_batches_tracked", "shape"] == "scalar"
    assert table[table["kind"] == "parameter"]["count"].sum() == count_parameters(model)


def test_round_trip_gives_the_same_predictions(batch):
    model = initialised(MODERN, "default").train()
    trip = round_trip(model, MODERN, batch[:16])
    assert trip.same_predictions and trip.max_difference == 0
    assert trip.keys == len(model.state_dict()) and trip.bytes > 4 * count_parameters(model)
    assert model.training  # the caller's mode is restored


def test_round_trip_refuses_a_config_that_does_not_fit(batch):
    with pytest.raises(ValueError, match="do not fit"):
        round_trip(build_lenet(CLASSIC), CLASSIC.replace(hidden_sizes=(100, 84)), batch[:4])


def test_train_inits_runs_each_scheme_once_and_keeps_finished_runs():
    fractions = []
    results = train_inits(CLASSIC, {}, ["xavier", "constant"], TINY, lambda f, text: fractions.append(f))
    assert list(results) == ["xavier", "constant"]
    for scheme, run in results.items():
        assert run.scheme == scheme and len(run.history) == 1
        assert [p.batch for p in run.points] == [1, 2, 3, 4]
        assert run.points[-1].test_acc == run.history.loc[0, "test_acc"]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    again = train_inits(CLASSIC, results, ["xavier", "constant"], TINY)
    assert again["xavier"] is results["xavier"]  # nothing retrained
    summary = init_summary(list(results.values()))
    assert list(summary["scheme"]) == ["xavier", "constant"]
    assert summary.loc[1, "train loss"] == results["constant"].history.loc[0, "train_loss"]


@pytest.fixture
def registry(registries):
    return registries(max_running=1)


def wait_until(condition, job: Job, seconds: float = 60) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        assert job.running, job.error
        threading.Event().wait(0.01)
    raise AssertionError("timed out")


def test_init_trainings_run_in_one_job_counted_by_the_cap(registry):
    trainings = InitTrainings(CLASSIC, TINY, ["xavier", "constant"])
    job = trainings.start(registry)
    assert trainings.start(registry) is job  # a second visitor's press joins the running job
    assert registry.running() == [job] and trainings.running
    job.join(120)
    assert job.status == "finished", job.error
    assert [run.scheme for run in trainings.runs] == ["xavier", "constant"] and trainings.done
    assert all(len(run.history) == 1 for run in trainings.runs)
    fraction, text = trainings.progress
    assert fraction == pytest.approx(1.0) and text.startswith("constant 1, zero biases: epoch 1/1, training loss")
    assert registry.running() == []


def test_stopping_init_trainings_keeps_the_finished_schemes(registry):
    settings = TINY.replace(subset=2000, progress_every=1)
    trainings = InitTrainings(CLASSIC, settings, ["xavier", "default", "normal", "constant"])
    job = trainings.start(registry)
    wait_until(lambda: trainings.runs, job)  # the first scheme is finished, the second one is training
    trainings.stop()
    job.join(60)
    assert job.status == "stopped" and not trainings.done
    kept = {run.scheme: run for run in trainings.runs}
    assert 1 <= len(kept) < 4 and list(kept) == ["xavier", "default", "normal"][:len(kept)]
    assert all(len(run.history) == settings.epochs for run in kept.values())  # no cut-short run is kept
    trainings.start(registry).join(120)  # trains only the missing schemes
    assert trainings.done and all(trainings.results[scheme] is run for scheme, run in kept.items())


def test_the_cap_refuses_init_trainings_beyond_max_running(registry):
    other = registry.start(Job(lambda stop: stop.wait(30)))
    trainings = InitTrainings(CLASSIC, TINY, ["xavier"])
    with pytest.raises(TrainingCapacityError, match="limit is 1"):
        trainings.start(registry)
    assert trainings.job is None and not trainings.running and registry.running() == [other]
    other.stop()
    other.join(10)
    trainings.start(registry).join(60)
    assert trainings.done


def _run(code: str, tmp_path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(code, scope)
    return scope


def test_tree_code_builds_the_nested_net(tmp_path, monkeypatch):
    scope = _run(tree_code(), tmp_path, monkeypatch)
    assert scope["total"] == count_parameters(nested_blocks())
    assert scope["names"][:2] == [(name, tuple(p.shape)) for name, p in nested_blocks().named_parameters()][:2]


@pytest.mark.parametrize("scheme", INIT_SCHEMES)
def test_init_code_runs_each_scheme(scheme, tmp_path, monkeypatch):
    scope = _run(init_code(scheme), tmp_path, monkeypatch)
    assert count_parameters(scope["net"]) == 61_706 and len(scope["stats"]) == 12
    fc = scope["net"][7]
    if scheme == "constant":
        assert torch.all(fc.weight == 1)
    if scheme == "normal":
        assert fc.weight.std().item() == pytest.approx(0.01, rel=0.1)


def test_shared_and_save_load_code_agree_with_the_page(tmp_path, monkeypatch):
    scope = _run(shared_code(), tmp_path, monkeypatch)
    assert scope["count"] == shared_parameter_demo().count
    scope = _run(save_load_code(MODERN), tmp_path, monkeypatch)
    assert scope["same"] is True and (tmp_path / "lenet.pt").exists()


def test_treemap_sizes_boxes_by_parameters():
    tree = module_tree(build_lenet(CLASSIC))
    treemap = parameter_treemap(tree).data[0]
    sizes = dict(zip(treemap.ids, treemap.values))
    assert sizes["model"] == 61_706 and sizes["fc1"] == 48_120 and "act1" not in sizes
    assert set(treemap.parents) == {"", "model"}


def test_histograms_count_every_value():
    values = {"a": torch.randn(1000), "constant": torch.ones(7), "b": torch.arange(10.0)}
    fig = histogram_grid(values, "t", columns=2)
    assert [sum(trace.y) for trace in fig.data] == [1000, 7, 10]
    assert list(fig.data[1].x) == [1.0]
    with pytest.raises(ValueError):
        histogram_grid({}, "t")


def test_activation_figure_writes_the_table_in(batch):
    table = compare_inits(CLASSIC, batch[:8], ["normal", "constant"])
    fig = activation_figure(table)
    means, stds = fig.data
    assert list(means.x) == list(dict.fromkeys(table["layer"]))
    assert stds.text[1][list(stds.x).index("conv2")] == f"{table.set_index(['scheme', 'layer']).loc[('constant', 'conv2'), 'std']:.3g}"


def test_init_training_figure_draws_two_curves_per_run():
    tiny = TrainSettings(subset=128, test_subset=128, epochs=1, batch_size=64, progress_every=1)
    runs = list(train_inits(CLASSIC, {}, ["default"], tiny).values())
    fig = init_training_figure(runs)
    loss, acc = fig.data
    assert list(loss.y) == [p.train_loss for p in runs[0].points] and list(loss.x) == [0.5, 1.0]
    assert list(acc.y) == list(runs[0].history["test_acc"])


def test_gradient_figure_shares_one_scale_centred_on_zero():
    demo = shared_parameter_demo()
    fig = gradient_figure({"first": demo.grad_first, "shared": demo.grad}, "t")
    assert [trace.coloraxis for trace in fig.data] == ["coloraxis", "coloraxis"]
    assert fig.layout.coloraxis.cmid == 0
    assert torch.equal(torch.tensor(fig.data[1].z, dtype=torch.float32), demo.grad)


def test_tree_text_wraps_long_lines_under_their_module():
    """Wrapped at width, each continuation indented deeper than its module, never inside (5, 5) or a count."""
    plain = tree_text(build_lenet(MODERN)).splitlines()
    lines = tree_text(build_lenet(MODERN), width=50).splitlines()
    assert len(lines) > len(plain) and all(len(line) <= 50 for line in lines)
    assert " ".join("\n".join(lines).split()) == " ".join("\n".join(plain).split()), "the same words"
    modules = {line.strip().split(":")[0] for line in plain}
    depth = 0
    for line in lines:
        indent = len(line) - len(line.lstrip())
        if line.strip().split(":")[0] in modules and ": " in line:
            depth = indent
        else:
            assert indent > depth, f"a continuation line at its module's indent: {line!r}"
    assert any("· 156 parameters" in line for line in lines) and any("(5, 5)" in line for line in lines)
    assert tree_text(build_lenet(CLASSIC), width=500) == tree_text(build_lenet(CLASSIC))


def test_treemap_labels_only_boxes_with_room_and_lists_the_small_ones():
    fig = parameter_treemap(module_tree(build_lenet(MODERN)))
    assert fig.layout.uniformtext.minsize >= 11 and fig.layout.uniformtext.mode == "hide"
    note = fig.layout.annotations[0].text
    assert note.startswith("Small boxes") and "bn1 12" in note and "conv1 156" in note and "conv2 2,416" in note
    assert "fc1 48,120" not in note and "fc2 " not in note  # 77% and 16%: labelled in their boxes
    assert fig.layout.margin.b >= 18 * len(note.split("<br>"))


def test_the_loss_axis_of_the_scheme_trainings_reads_plain_numbers():
    """Plotly's own ticks on a log axis within one decade read '3 2 10 9 8 7 ...': plain numbers instead."""
    tiny = TrainSettings(subset=128, test_subset=128, epochs=1, batch_size=64, progress_every=1)
    fig = init_training_figure(list(train_inits(CLASSIC, {}, ["default"], tiny).values()))
    loss = fig.layout.yaxis
    assert loss.type == "log" and list(loss.ticktext) == [f"{v:g}" for v in loss.tickvals]
    assert {0.5, 1, 2} <= set(loss.tickvals) and all("e" not in t for t in loss.ticktext)
    assert fig.layout.yaxis2.tickformat == ".0%"
