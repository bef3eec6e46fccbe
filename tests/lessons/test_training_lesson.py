"""What the Train page explains: the softmax-before-the-loss floor, its training loop as code, the device's speed."""

import pytest
import torch
import torch.nn.functional as F

from lenet.lessons.training import measure_speed, softmax_before_loss_warning, softmax_loss_floor, training_code
from lenet.training import preset, train
from helpers import run_snippet


@pytest.mark.parametrize("classes", [2, 10, 100])
def test_softmax_loss_floor_is_what_cross_entropy_gives_a_one_hot_output(classes):
    one_hot = torch.zeros(1, classes)
    one_hot[0, 0] = 1.0
    assert F.cross_entropy(one_hot, torch.tensor([0])).item() == pytest.approx(softmax_loss_floor(classes))
    assert f"≈ {softmax_loss_floor(classes):.2f}" in softmax_before_loss_warning(classes)


@pytest.mark.parametrize("name, changes", [
    ("classic", dict(subset=600, epochs=2, batch_size=128)),
    ("modern", dict(subset=600, epochs=1, batch_size=100)),
    ("classic", dict(subset=300, epochs=1, optimizer="adam", lr=0.01, schedule="cosine", init="normal", seed=3)),
])
def test_training_snippet_trains_like_the_engine(name, changes):
    """The Train page's "Show the code" runs, and gives the engine's numbers for the same settings."""
    config, settings = preset(name)
    settings = settings.replace(device="cpu", channels_last=False, snapshots=False, **changes)
    code = training_code(config, settings)
    history = run_snippet(code.replace('device = "cuda" if torch.cuda.is_available() else "cpu"', 'device = "cpu"'))["history"]
    engine = train(config, settings).history
    assert [h["epoch"] for h in history] == list(engine["epoch"])
    for ours, theirs in zip(history, engine.to_dict("records")):
        assert ours["test_acc"] == pytest.approx(theirs["test_acc"], abs=2e-3)
        assert ours["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-3)


def test_training_snippet_names_the_settings():
    config, settings = preset("modern")
    code = training_code(config.replace(activation="tanh"), settings.replace(subset=5000, epochs=4, seed=7, device="cpu"))
    for text in ("train.images[:5000]", "epochs, batch_size = 4, 256", "torch.manual_seed(7)", "nn.Tanh()",
                 "nesterov=True", "OneCycleLR(optimizer, max_lr=0.4", 'device = "cpu"', '("conv1", nn.Conv2d(1, 6, kernel_size=5'):
        assert text in code, text
    assert "scheduler" not in training_code(*preset("classic"))


def test_speed_is_measured_on_the_device_with_the_date():
    speed = measure_speed("cpu", batches=2, batch_size=32, warmup=1)
    assert speed.device == "cpu" and speed.images_per_s > 0 and speed.batches == 2 and speed.batch_size == 32
    assert speed.measured[:4].isdigit() and "T" in speed.measured and speed.threads == torch.get_num_threads()
