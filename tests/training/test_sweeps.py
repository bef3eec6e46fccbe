"""Sweeps: NAME=V1,V2 grids typed by their fields, their product as checked trials, and a real sweep on a registry."""

import threading

import pytest

from lenet import build_lenet, count_parameters, load_run
from lenet.training import JobRegistry, preset
from lenet.training.sweeps import (MAX_TRIALS, GridError, Sweep, check_limits, format_value, parse_grid, parse_value,
                                    trials)


def tiny(epochs=1):
    config, settings = preset("modern")
    return config, settings.replace(epochs=epochs, subset=512, test_subset=256, batch_size=128, device="cpu",
                                    progress_every=2, snapshots=False)


def test_values_are_typed_by_their_field():
    grid = parse_grid(["lr=0.05, 0.1", "epochs=1,2", "activation=relu,tanh", "batch_norm=true,no",
                       "subset=1000,none", "batch-size=64"])
    assert grid == {"lr": [0.05, 0.1], "epochs": [1, 2], "activation": ["relu", "tanh"], "batch_norm": [True, False],
                    "subset": [1000, None], "batch_size": [64]}
    assert type(grid["epochs"][0]) is int and type(grid["lr"][0]) is float


def test_per_layer_values_are_joined_by_x_and_one_number_applies_to_every_layer():
    grid = parse_grid(["kernel_sizes=3x3, 5x3", "paddings=1", "hidden_sizes=64,120x84"])
    assert grid == {"kernel_sizes": [(3, 3), (5, 3)], "paddings": [1], "hidden_sizes": [(64,), (120, 84)]}
    found = trials(*tiny(), grid)
    assert [t.config.kernel_sizes for t in found] == [(3, 3), (3, 3), (5, 3), (5, 3)]
    assert {t.config.paddings for t in found} == {(1, 1)}  # one number: both conv layers
    assert [t.config.hidden_sizes for t in found] == [(64,), (120, 84)] * 2
    three = trials(*tiny(), parse_grid(["conv_channels=4x8x8", "kernel_sizes=3", "paddings=1", "strides=1"]))[0]
    assert three.config.kernel_sizes == (3, 3, 3) and three.values["kernel_sizes"] == (3, 3, 3)


def test_the_trials_are_the_product_in_grid_order_each_differing_only_in_its_values():
    config, settings = tiny()
    found = trials(config, settings, parse_grid(["kernel_sizes=3,5", "lr=0.05,0.1,0.2"]))
    assert [(t.values["kernel_sizes"], t.values["lr"]) for t in found] == [
        ((3, 3), 0.05), ((3, 3), 0.1), ((3, 3), 0.2), ((5, 5), 0.05), ((5, 5), 0.1), ((5, 5), 0.2)]
    for t in found:
        assert t.config == config.replace(kernel_sizes=t.values["kernel_sizes"])
        assert t.settings == settings.replace(lr=t.values["lr"])
        assert t.parameters == count_parameters(build_lenet(t.config))
    assert found[1].label == "kernel_sizes=3x3, lr=0.1" and found[1].slug == "kernel_sizes-3x3_lr-0.1"
    assert found[0].parameters != found[3].parameters  # a 3x3 kernel leaves larger maps for the dense layer


@pytest.mark.parametrize("specs, message", [
    (["lr"], "written NAME=V1,V2"),
    (["=1,2"], "written NAME=V1,V2"),
    (["kernel=3,5"], "'kernel' is not a setting"),
    (["lrr=0.1"], "did you mean lr?"),
    (["lr=fast"], "lr takes numbers, not 'fast'"),
    (["lr=inf"], "finite"),
    (["epochs=1.5"], "epochs takes whole numbers, not '1.5'"),
    (["batch_norm=maybe"], "true or false"),
    (["kernel_sizes=3x"], "whole numbers"),
    (["lr=0.1,"], "empty value"),
    (["lr=0.1,0.10"], "lists 0.1 twice"),
    (["lr=0.1", "lr=0.2"], "swept twice"),
    ([], "at least one setting"),
    ([f"seed={','.join(map(str, range(9)))}", f"lr={','.join(str(0.1 * i) for i in range(1, 9))}"],
     f"72 trials; a sweep runs at most {MAX_TRIALS}"),
])
def test_a_bad_grid_is_one_sentence(specs, message):
    with pytest.raises(GridError, match=message):
        parse_grid(specs)


@pytest.mark.parametrize("spec, message", [
    ("activation=relu,gelu", "activation=gelu cannot run: activation must be one of"),
    ("kernel_sizes=3x3x3", "kernel_sizes has 3 entries but there are 2 conv layers"),
    ("kernel_sizes=29", "kernel_sizes=29x29 cannot run: conv2"),
    ("epochs=0", "epochs must be at least 1"),
    ("optimizer=rmsprop", "optimizer must be one of"),
    ("conv_channels=0", "conv_channels must be at least 1"),
    ("hidden_sizes=100000x100000", "would need about"),
])
def test_a_trial_that_cannot_run_is_refused_before_anything_trains(spec, message):
    with pytest.raises(GridError, match=message):
        trials(*tiny(), parse_grid([spec]))


def test_the_servers_caps_hold_for_swept_values_too():
    found = trials(*tiny(), parse_grid(["epochs=1,8", "subset=1000,none"]))
    check_limits(found, max_epochs=8, max_train_images=60_000)
    with pytest.raises(GridError, match="trains 8 epochs; this server allows 5"):
        check_limits(found, max_epochs=5, max_train_images=60_000)
    with pytest.raises(GridError, match="60,000 images; this server allows 10,000"):
        check_limits(found, max_epochs=8, max_train_images=10_000)


def test_format_value_writes_what_the_grid_reads():
    for name, value in [("kernel_sizes", (3, 5)), ("batch_norm", True), ("augment", False), ("subset", None),
                        ("lr", 0.05), ("lr", 1e-4), ("epochs", 7), ("activation", "relu")]:
        assert parse_value(name, format_value(value)) == value, (name, value)
    assert [format_value(v) for v in [(3, 5), True, None, 0.05, 1e-4]] == ["3x5", "true", "none", "0.05", "0.0001"]


@pytest.fixture
def registry(registries):
    return registries(max_running=1)


def test_a_sweep_trains_every_trial_into_its_own_run_folder(registry, tmp_path):
    found = trials(*tiny(), parse_grid(["kernel_sizes=3,5"]))
    sweep = Sweep(registry, found, lambda trial: tmp_path / trial.slug, poll_s=0.05).start()
    seen = []
    results = sweep.wait(lambda s: seen.append(s.counts()), poll_s=0.05)
    assert any(counts.get("waiting") for counts in seen)  # one at a time: the second waited for the first
    assert [r["status"] for r in results] == ["finished", "finished"], results
    for trial, result in zip(found, results):
        run = load_run(tmp_path / trial.slug)
        assert result["run_dir"] == str(tmp_path / trial.slug) and run.config == trial.config
        assert result["settings"] == {"kernel_sizes": list(trial.config.kernel_sizes)}
        assert result["test_acc"] == run.history["test_acc"].iloc[-1] and 0.1 < result["test_acc"] <= 1
        assert result["parameters"] == count_parameters(build_lenet(run.config)) == trial.parameters
        assert result["epochs"] == 1 and result["seconds"] > 0 and result["node"] == "local"
    assert results[0]["parameters"] != results[1]["parameters"]
    assert not sweep.running and registry.running() == []


def test_stop_cancels_what_waits_and_keeps_what_finished(registry, tmp_path):
    found = trials(*tiny(epochs=20), parse_grid(["seed=1,2,3"]))
    sweep = Sweep(registry, found, lambda trial: tmp_path / trial.slug, poll_s=0.05).start()
    while sweep.result(0)["epochs"] < 1:
        assert sweep.running, sweep.results()
        threading.Event().wait(0.05)
    sweep.stop()
    results = sweep.wait(poll_s=0.05)
    assert [r["status"] for r in results] == ["stopped", "cancelled", "cancelled"], results
    assert 1 <= results[0]["epochs"] < 20 and len(load_run(tmp_path / "seed-1").history) == results[0]["epochs"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed-1"]  # nothing left for the trials never started


def test_a_trial_that_fails_is_reported_and_the_others_still_run(registry, tmp_path):
    config, settings = tiny()
    found = trials(config, settings, parse_grid(["image_size=32,28"]))  # Fashion-MNIST is 28x28: the first fails
    results = Sweep(registry, found, lambda trial: tmp_path / trial.slug, poll_s=0.05).start().wait(poll_s=0.05)
    assert [r["status"] for r in results] == ["failed", "finished"]
    assert "28" in results[0]["error"] and results[0]["test_acc"] is None


def test_a_sweep_waits_for_room_on_a_full_server(tmp_path):
    """Another visitor's training holds the only slot: the sweep's trial queues behind it, then runs."""
    registry = JobRegistry(max_running=1)
    other = registry.submit(*tiny(epochs=20))
    sweep = Sweep(registry, trials(*tiny(), parse_grid(["seed=5"])), lambda trial: tmp_path / trial.slug,
                  poll_s=0.05).start()
    while sweep.status(0) == "waiting":
        threading.Event().wait(0.05)
    assert sweep.status(0) == "queued" and other.running
    other.stop()
    assert sweep.wait(poll_s=0.05)[0]["status"] == "finished"
    other.join(30)
