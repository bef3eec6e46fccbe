"""The "stuck at 10%" diagnosis on real short trainings: the detector on points, histories and metrics.csv, the
fix it proposes un-sticking the run, and the probe's statistics and gradient norms against plain autograd."""

import math
import time

import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from lenet import LeNetConfig
from lenet.data import load_split, to_batch
from lenet.lessons.stuck import before_after_figure
from lenet.training import TrainSettings, train
from lenet.training.diagnosis import detect, diagnose, metrics_frame, probe, probe_run
from lenet.training.engine import make_model

# d2l's classic LeNet with PyTorch's default initialisation and a small learning rate: 4 steps, still at chance.
STUCK = TrainSettings(subset=1000, test_subset=1000, epochs=1, lr=0.01, init="default", snapshots=False, device="cpu")
CLASSIC = LeNetConfig.classic()


@pytest.fixture(scope="module")
def stuck_run():
    points = []
    result = train(CLASSIC, STUCK, points.append)
    return points, result


@pytest.fixture(scope="module")
def first_images():
    split = load_split("fashion-mnist", True)
    return split.images[:128], split.labels[:128]


def chance_loss() -> float:
    """The cross-entropy of equal scores for every class, from torch itself."""
    return F.cross_entropy(torch.zeros(4, 10), torch.tensor([0, 3, 5, 9])).item()


def point(epoch, loss, train_acc, test_acc=None):
    return {"epoch": epoch, "train_loss": loss, "train_acc": train_acc, "test_acc": test_acc}


def test_the_classic_lenet_with_default_init_and_lr_001_is_stuck_after_one_epoch(stuck_run, tmp_path):
    points, result = stuck_run
    verdict = detect(points)
    assert verdict.state == "stuck" and verdict.epoch == 1
    assert verdict.chance_loss == pytest.approx(chance_loss())
    assert abs(verdict.loss - chance_loss()) < 0.1 and abs(verdict.accuracy - 0.1) < 0.05
    assert detect(result.history).state == "stuck"  # a run folder's history says the same
    train(CLASSIC, STUCK, run_dir=tmp_path / "run")
    assert detect(pd.read_csv(tmp_path / "run" / "metrics.csv")).state == "stuck"


def test_during_the_first_epoch_it_judges_from_half_an_epoch_on(stuck_run):
    points, _ = stuck_run
    batches = [p for p in points if p.kind == "batch"]
    assert [p.batch for p in batches] == [1, 2, 3]  # of 4
    assert detect(batches[:1]).state == "too early"  # a quarter epoch: every run starts at chance
    assert detect(batches[:2]).state == "stuck" and detect(batches[:2]).epoch == 0.5
    assert detect([]).state == "too early" and not detect([]).fired


def test_the_fix_un_sticks_the_same_run(stuck_run):
    points, _ = stuck_run
    diagnosis = diagnose(CLASSIC, STUCK, points, probe_run(CLASSIC, STUCK))
    changed = {c.field: (c.before, c.after) for c in diagnosis.changes}
    assert changed == {"activation": ("sigmoid", "relu"), "init": ("default", "xavier"), "lr": (0.01, 0.1),
                       "batch_size": (256, 64)}
    assert diagnosis.config == CLASSIC.replace(activation="relu")
    assert diagnosis.settings == STUCK.replace(init="xavier", lr=0.1, batch_size=64)
    text = " ".join(diagnosis.reasons)
    assert "learning rate 0.01" in text and "4 weight updates of 256 images" in text and "conv1" in text
    fixed = train(diagnosis.config, diagnosis.settings)
    assert detect(fixed.history).state == "ok" and fixed.history["test_acc"].iloc[-1] > 0.2


def test_a_learning_rate_of_10_diverges_and_the_fix_is_a_tenth():
    settings = STUCK.replace(lr=10.0, init="xavier")
    result = train(CLASSIC, settings)
    loss = result.history["train_loss"].iloc[-1]
    assert detect(result.history).state == "diverged" and (not math.isfinite(loss) or loss > 1.5 * chance_loss())
    diagnosis = diagnose(CLASSIC, settings, result.history, probe_run(CLASSIC, settings))
    assert [(c.field, c.after) for c in diagnosis.changes] == [("lr", 1.0)]
    assert "learning rate 10" in diagnosis.reasons[0]


def test_the_thresholds_around_chance():
    ln10 = chance_loss()
    assert detect([point(1, ln10 + 0.05, 0.11, 0.12)]).state == "stuck"
    assert detect([point(1, ln10 + 0.4, 0.09, 0.10)]).state == "stuck"  # confidently wrong: still chance
    assert detect([point(1, ln10 - 0.3, 0.20, 0.21)]).state == "ok"
    assert detect([point(1, ln10, 0.10, 0.40)]).state == "ok"  # the test accuracy already left chance
    assert detect([point(0.1, math.nan, 0.1)]).state == "diverged"  # not a number diverged whenever it shows
    assert detect([point(2, 1.6 * ln10, 0.1, 0.1)]).state == "diverged"
    assert detect([point(3, 2.3, 0.5, 0.5)], num_classes=100).state == "ok"
    assert detect([point(3, math.log(100), 0.01, 0.012)], num_classes=100).state == "stuck"
    assert diagnose(CLASSIC, STUCK, [point(1, 0.5, 0.8, 0.8)]) is None


def test_metrics_frame_puts_progress_reports_at_fractional_epochs(stuck_run):
    points, _ = stuck_run
    assert list(metrics_frame(points)["epoch"]) == [0.25, 0.5, 0.75, 1.0]


def test_probe_gradient_norms_are_the_parameters_own_gradients(first_images):
    images, labels = first_images
    model = make_model(CLASSIC, STUCK)
    stats = probe(model, images, labels, batches=2, batch_size=64).set_index("layer")
    assert all(p.grad is None for p in model.parameters())  # the probe leaves no gradient behind
    expected = {}
    for i in range(2):  # the probe's number: the mean over batches of each layer's gradient norm
        model.zero_grad()
        x, y = to_batch(images[64 * i:64 * (i + 1)]), labels[64 * i:64 * (i + 1)]
        F.cross_entropy(model(x), y).backward()
        for name, layer in model.named_children():
            grads = [p.grad for p in layer.parameters()]
            if grads:
                norm = torch.cat([g.flatten() for g in grads]).norm().item()
                expected[name] = expected.get(name, 0) + norm / 2
    assert expected.keys() == set(stats["grad_norm"].dropna().index)
    for name, norm in expected.items():
        assert stats.loc[name, "grad_norm"] == pytest.approx(norm, rel=1e-5)
        weights = torch.cat([p.detach().flatten() for p in getattr(model, name).parameters()]).norm().item()
        assert stats.loc[name, "weight_norm"] == pytest.approx(weights, rel=1e-6)


def test_probe_activation_statistics_match_a_layer_by_layer_forward(first_images):
    images, labels = first_images
    model = make_model(CLASSIC, STUCK.replace(init="constant"))  # constant weights saturate the sigmoids
    stats = probe(model, images, labels, batches=1, batch_size=128).set_index("layer")
    x = to_batch(images)
    with torch.no_grad():
        for name, layer in model.named_children():
            x = layer(x)
            assert stats.loc[name, "mean"] == pytest.approx(x.mean().item(), rel=1e-5, abs=1e-7)
            assert stats.loc[name, "std"] == pytest.approx(x.std().item(), rel=1e-5, abs=1e-7)
            if isinstance(layer, torch.nn.Sigmoid):
                assert stats.loc[name, "saturated"] == pytest.approx(((x < 0.05) | (x > 0.95)).float().mean().item())
            else:
                assert math.isnan(stats.loc[name, "saturated"])
    assert stats.loc["act1", "saturated"] > 0.5


def test_the_probe_shows_vanishing_gradients_for_sigmoid_and_not_for_relu_with_xavier():
    start = time.perf_counter()
    sigmoid = probe_run(CLASSIC, STUCK).set_index("layer")["grad_norm"]
    seconds = time.perf_counter() - start
    relu = probe_run(CLASSIC.replace(activation="relu"), STUCK.replace(init="xavier")).set_index("layer")["grad_norm"]
    assert sigmoid["output"] / sigmoid["conv1"] > 100 > 10 > relu["output"] / relu["conv1"]
    assert seconds < 1.0


def test_before_after_figure_draws_both_runs_and_chance(stuck_run):
    points, result = stuck_run
    fig = before_after_figure(points, result.history.assign(train_loss=[1.2]), names=("stuck", "fixed"))
    names = [t.name for t in fig.data]
    assert names == ["stuck · train loss", "stuck · train acc", "stuck · test acc",
                     "fixed · train loss", "fixed · train acc", "fixed · test acc"]
    assert list(fig.data[0].x) == [0.25, 0.5, 0.75, 1.0]
    chance = sorted(shape.y0 for shape in fig.layout.shapes)
    assert chance == pytest.approx([0.1, chance_loss()])
