"""The training engine on real Fashion-MNIST: it learns, repeats itself with a seed, stops cleanly, saves, reports."""

import json
import threading

import pytest
import torch

from lenet import LeNetConfig, TrainSettings, available_devices, count_parameters, load_model, load_run, pick_device, preset
from lenet.data import datasets as data
from lenet.training import accuracy, augment_batch, train

TINY = TrainSettings(subset=1280, test_subset=256, epochs=2, batch_size=64, lr=0.1, momentum=0.9, init="default",
                     progress_every=2, device="cpu")



def test_one_epoch_on_10000_images_beats_chance_by_far():
    config, settings = preset("modern")
    result = train(config, settings.replace(subset=10_000, epochs=1, device="cpu"))
    assert result.history["test_acc"].iloc[-1] >= 0.75
    assert not result.stopped and result.device == "cpu" and not result.model.training


def test_same_seed_same_losses_other_seed_other_losses():
    def losses(seed):
        points = []
        train(LeNetConfig.modern(), TINY.replace(seed=seed), points.append)
        return [p.train_loss for p in points]

    first = losses(1)
    assert len(first) == 2 * (9 + 1) and first == losses(1)
    assert first != losses(2)


def test_progress_reports_batches_and_epochs_in_order():
    points = []
    result = train(LeNetConfig.modern(), TINY, points.append)
    assert [(p.kind, p.epoch, p.batch) for p in points[:5]] == [
        ("batch", 1, 2), ("batch", 1, 4), ("batch", 1, 6), ("batch", 1, 8), ("batch", 1, 10)]
    assert [(p.kind, p.epoch, p.batch) for p in points[8:11]] == [("batch", 1, 18), ("epoch", 1, 20), ("batch", 2, 2)]
    fractions = [p.fraction for p in points]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and points[-1].eta_s == 0.0
    assert all((p.test_acc is None) == (p.kind == "batch") for p in points)
    epochs = [p for p in points if p.kind == "epoch"]
    assert [p.test_acc for p in epochs] == result.history["test_acc"].tolist()
    assert [p.train_loss for p in epochs] == pytest.approx(result.history["train_loss"].tolist())
    assert all(p.images_per_s > 0 and p.elapsed_s > 0 for p in points)


def test_short_epochs_still_report_within_the_epoch():
    points = []
    train(LeNetConfig.modern(), TINY.replace(subset=256, epochs=1, progress_every=20), points.append)
    assert [(p.kind, p.batch) for p in points] == [("batch", 1), ("batch", 2), ("batch", 3), ("epoch", 4)]


def test_stop_mid_epoch_keeps_the_finished_epochs(tmp_path):
    stop = threading.Event()

    def stop_in_epoch_two(p):
        if p.epoch == 2 and p.batch == 4:
            stop.set()

    result = train(LeNetConfig.modern(), TINY.replace(epochs=3), stop_in_epoch_two, stop, tmp_path)
    assert result.stopped and result.history["epoch"].tolist() == [1]
    run = load_run(tmp_path)
    assert run.meta["status"] == "stopped" and run.history["epoch"].tolist() == [1]
    saved = load_model(tmp_path)
    for key, value in result.model.state_dict().items():
        assert torch.equal(value, saved.state_dict()[key]), key


def test_saved_run_reloads_and_predicts_what_it_predicted(tmp_path):
    result = train(LeNetConfig.classic(), TINY.replace(epochs=1, lr=0.9, momentum=0.0, init="xavier"), run_dir=tmp_path)
    test = data.load_split("fashion-mnist", train=False)
    x = test.images[:200].unsqueeze(1).float() / 255
    with torch.no_grad():
        before, after = result.model(x), load_model(tmp_path)(x)
    assert torch.equal(before, after)
    expected = (before.argmax(1) == test.labels[:200]).float().mean().item()
    assert accuracy(load_model(tmp_path), test.images[:200], test.labels[:200]) == pytest.approx(expected)
    run = load_run(tmp_path)
    assert run.meta["status"] == "finished" and run.meta["parameters"] == count_parameters(result.model) == 61_706
    assert run.settings == result.settings and run.config == LeNetConfig.classic()


def test_classic_preset_is_d2l_recipe():
    config, settings = preset("classic")
    assert config == LeNetConfig.classic()
    assert (settings.optimizer, settings.lr, settings.batch_size, settings.epochs, settings.init) == ("sgd", 0.9, 256, 10, "xavier")
    assert settings.momentum == 0 and settings.weight_decay == 0 and settings.schedule == "constant"
    with pytest.raises(ValueError, match="classic, modern"):
        preset("vintage")


def test_settings_json_round_trip_and_clear_refusals():
    settings = TrainSettings(subset=100, optimizer="adam", lr=1e-3, schedule="cosine", augment=True)
    assert TrainSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    for bad, message in [({"optimizer": "rmsprop"}, "optimizer must be one of sgd, adam"), ({"lr": 0}, "lr must be"),
                         ({"nesterov": True}, "nesterov needs"), ({"epochs": 0}, "epochs must be at least 1"),
                         ({"subset": 0}, "subset must be"), ({"label_smoothing": 1.0}, "label_smoothing"),
                         ({"device": "tpu"}, "device must be one of"), ({"init": "he"}, "init must be one of")]:
        with pytest.raises(ValueError, match=message):
            TrainSettings(**bad)
    with pytest.raises(ValueError, match="Unknown TrainSettings fields"):
        TrainSettings.from_dict({"learning_rate": 0.1})


def test_a_model_that_does_not_fit_the_images_is_refused():
    with pytest.raises(ValueError, match="expects 3-channel 32x32"):
        train(LeNetConfig(in_channels=3, image_size=32), TINY)


def test_every_optimizer_and_schedule_learns_something():
    for changes in ({"optimizer": "adam", "lr": 3e-3, "momentum": 0.0, "schedule": "cosine"},
                    {"nesterov": True, "schedule": "onecycle", "weight_decay": 5e-4, "label_smoothing": 0.1},
                    {"augment": True, "channels_last": False}):
        result = train(LeNetConfig.modern(), TINY.replace(**changes))
        assert result.history["test_acc"].iloc[-1] > 0.5, changes


def test_augmentation_flips_and_shifts_within_two_pixels():
    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 13, 10] = 1.0  # one bright pixel left of the centre
    out = augment_batch(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.equal(out.sum((1, 2, 3)), x.sum((1, 2, 3)))
    rows, cols = out[:, 0].flatten(1).argmax(1).div(28, rounding_mode="floor"), out[:, 0].flatten(1).argmax(1) % 28
    assert set((rows - 13).tolist()) <= {-2, -1, 0, 1, 2} and len(set(rows.tolist())) > 1
    flipped = (cols - 17).abs() <= 2
    assert flipped.any() and (~flipped).any() and ((cols - 10).abs() <= 2)[~flipped].all()


def test_devices():
    assert available_devices()[-1] == "cpu" and pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type == available_devices()[0]
    with pytest.raises(ValueError, match="device must be one of"):
        pick_device("tpu")
    if "cuda" not in available_devices():
        with pytest.raises(ValueError, match="'cuda' is not available on this machine"):
            pick_device("cuda")


def test_missing_data_says_where_it_looked_and_how_to_fix_it(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "candidate_dirs", lambda name, data_dir=None: [tmp_path / "nowhere"])
    monkeypatch.setattr(data, "PROJECT_DATA_DIR", tmp_path)
    with pytest.raises(data.DatasetNotFoundError) as error:
        data._load_split.__wrapped__("fashion-mnist", True, False, None)
    assert str(tmp_path / "nowhere") in str(error.value) and "apt-get install dataset-fashion-mnist" in str(error.value)
