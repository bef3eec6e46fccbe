"""The training timeline: snapshots taken while training, their small file, its checks, and Inspect's epoch slider."""

import base64
import io
import threading
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from lenet import LeNetConfig, TrainSettings, delete_run, export_run, import_run, load_model, load_run
from lenet import snapshot_bench
from lenet.data import load_split
from lenet.training import runs
from lenet.plots import training_curves
from lenet.training import load_timeline
from lenet.training import Timeline
from lenet.training.snapshots import first_epoch_batches, fixed_images, snapshot_epochs, SNAPSHOT_FILE
from lenet.training import train
from helpers import INSPECT, TRAIN

# 20 batches an epoch: snapshots after 2, 5 and 10 batches of epoch 1 (round(2.5) is 2)
TINY = TrainSettings(subset=1280, test_subset=256, epochs=2, batch_size=64, lr=0.1, momentum=0.9, init="default",
                     progress_every=5, device="cpu")



@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One tiny classic run (channels_last, as the classic preset trains) saved with its snapshots."""
    run_dir = tmp_path_factory.mktemp("runs") / "classic"
    return train(LeNetConfig.classic(), TINY, run_dir=run_dir)


def test_when_snapshots_are_taken():
    assert first_epoch_batches(235) == [29, 59, 118]  # the full training set at batch size 256
    assert first_epoch_batches(8) == [1, 2, 4] and first_epoch_batches(2) == [1] and first_epoch_batches(1) == []
    assert snapshot_epochs(10) == set(range(1, 11))
    long = snapshot_epochs(250)
    assert len(long) <= 101 and 250 in long and 3 in long and 2 not in long


def test_fixed_images_are_the_first_of_each_class_met():
    labels = load_split("fashion-mnist", train=False).labels
    indices = fixed_images(labels, 4)
    assert len(set(labels[indices].tolist())) == 4
    for i in indices.tolist():
        assert labels[i].item() not in labels[:i].tolist()  # nothing earlier has this class
    assert all(labels[j].item() in labels[indices].tolist() for j in range(indices.max().item()))


def test_a_run_keeps_snapshots_before_during_and_after_each_epoch(run):
    timeline = run.timeline
    assert timeline.epochs == [0.0, 2 / 20, 5 / 20, 10 / 20, 1.0, 2.0]
    assert torch.isnan(torch.tensor(timeline.train_acc[0])) and 0 < timeline.train_acc[-1] <= 1
    assert timeline.train_acc[-1] == pytest.approx(run.history["train_acc"].iloc[-1])
    final = run.model
    assert torch.equal(timeline.filters[-1], final.conv1.weight.detach().half())
    assert not torch.equal(timeline.filters[0], timeline.filters[-1])  # the filters moved
    x = timeline.images[:, None].float() / 255  # the oracle: torch's own convolution of the raw pixels
    expected = F.conv2d(x, final.conv1.weight, final.conv1.bias, padding=2)
    torch.testing.assert_close(timeline.maps[-1].float(), expected.detach(), atol=2e-3, rtol=2e-3)
    assert timeline.maps[-1].shape == (4, 6, 28, 28) and timeline.maps[0].dtype == torch.float16


def test_the_snapshot_file_reads_back_the_same_and_stays_small(run):
    path = run.run_dir / SNAPSHOT_FILE
    again = load_timeline(run.run_dir)
    assert again.epochs == run.timeline.epochs and torch.equal(again.images, run.timeline.images)
    assert all(torch.equal(a, b) for a, b in zip(again.maps, run.timeline.maps))
    assert all(torch.equal(a, b) for a, b in zip(again.filters, run.timeline.filters))
    per_snapshot = path.stat().st_size / len(again)
    assert per_snapshot < 40_000  # 4 images x 6 maps x 28 x 28 float16 = 37,632 bytes, plus the filters
    assert sorted(p.name for p in run.run_dir.iterdir()) == sorted(runs.RUN_FILES + (SNAPSHOT_FILE,))


def test_without_snapshots_no_file_and_inspection_as_before(tmp_path):
    result = train(LeNetConfig.modern(), TINY.replace(epochs=1, snapshots=False), run_dir=tmp_path)
    assert result.timeline is None and not (tmp_path / SNAPSHOT_FILE).exists()
    assert load_timeline(tmp_path) is None and load_run(tmp_path).settings.snapshots is False
    info = json.loads((tmp_path / "config.json").read_text())
    del info["settings"]["snapshots"]  # a run folder from before snapshots existed
    (tmp_path / "config.json").write_text(json.dumps(info))
    assert load_run(tmp_path).history["epoch"].tolist() == [1] and load_timeline(tmp_path) is None
    load_model(tmp_path)


def test_a_stopped_run_keeps_snapshots_up_to_its_last_finished_epoch(tmp_path):
    stop = threading.Event()
    result = train(LeNetConfig.modern(), TINY.replace(epochs=3),
                   lambda p: stop.set() if (p.epoch, p.batch) == (2, 4) else None, stop, tmp_path)
    saved = load_timeline(tmp_path)
    assert result.stopped and saved.epochs[-1] == 1.0
    assert torch.equal(saved.filters[-1], load_model(tmp_path).conv1.weight.detach().half())


def test_export_import_carries_the_snapshots(run, tmp_path):
    imported = import_run(export_run(run.run_dir), tmp_path)
    assert (imported / SNAPSHOT_FILE).read_bytes() == (run.run_dir / SNAPSHOT_FILE).read_bytes()
    assert load_timeline(imported).epochs == run.timeline.epochs
    delete_run(imported)  # snapshots.pt belongs to a run: deleting is allowed
    assert not imported.exists()


def zip_with(run_dir: Path, snapshots: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in runs.RUN_FILES:
            zf.write(run_dir / name, name)
        zf.writestr(SNAPSHOT_FILE, snapshots)
    return buffer.getvalue()


def saved_dict(run) -> dict:
    return torch.load(run.run_dir / SNAPSHOT_FILE, weights_only=True)


def resaved(saved: dict, **changes) -> bytes:
    buffer = io.BytesIO()
    torch.save(saved | changes, buffer)
    return buffer.getvalue()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("make_bad, message", [
    (lambda s: b"garbage", "not a readable snapshot file"),
    (lambda s: pickle.dumps(print), "not a readable snapshot file"),  # code, not tensors: weights_only refuses it
    (lambda s: resaved(s, extra=torch.zeros(1)), "must hold exactly"),
    (lambda s: resaved(s, maps=s["maps"].float()), "maps should be torch.float16"),
    (lambda s: resaved(s, filters=s["filters"][:, :3]), "filters should be"),  # 3 filters for a 6-channel conv1
    (lambda s: resaved(s, epochs=s["epochs"].flip(0)), "increasing"),
    (lambda s: resaved(s, labels=s["labels"] + 10), "labels must be classes"),
    (lambda s: resaved(s, epochs=torch.arange(2000.0, dtype=torch.float64)), "1 to"),
])
def test_bad_snapshot_files_are_refused_on_import_and_on_load(run, tmp_path, make_bad, message):
    bad = make_bad(saved_dict(run))
    with pytest.raises(ValueError, match=message):
        import_run(zip_with(run.run_dir, bad), tmp_path / "imported")
    assert not (tmp_path / "imported").exists() or not any((tmp_path / "imported").iterdir())
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in runs.RUN_FILES:
        (copy / name).write_bytes((run.run_dir / name).read_bytes())
    (copy / SNAPSHOT_FILE).write_bytes(bad)
    with pytest.raises(ValueError, match=message):
        load_timeline(copy)
    load_model(copy)  # the run itself stays usable


def test_snapshots_of_another_model_and_oversized_files_are_refused(run, monkeypatch):
    data_ = (run.run_dir / SNAPSHOT_FILE).read_bytes()
    with pytest.raises(ValueError, match="filters should be"):
        Timeline.from_bytes(data_, LeNetConfig.classic().replace(conv_channels=(8, 16)))
    monkeypatch.setattr("lenet.training.snapshots.MAX_SNAPSHOT_BYTES", 1000)
    with pytest.raises(ValueError, match="at most"):
        Timeline.from_bytes(data_, LeNetConfig.classic())


def test_training_curves_mark_an_epoch():
    history = [{"epoch": 1, "train_acc": 0.5}, {"epoch": 2, "train_acc": 0.7}]
    fig = training_curves(history, marker=0.25)
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert [(s.x0, s.x1) for s in lines] == [(0.25, 0.25)] and "epoch 0.25" in fig.layout.annotations[0].text
    assert not training_curves(history).layout.shapes


def chart(at, title: str) -> dict:
    return next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if title in c.proto.spec)


def array(value) -> np.ndarray:
    """A plotly JSON array: a plain list, or numpy's bytes in base64 ("bdata") as plotly 6+ writes them."""
    if not isinstance(value, dict):
        return np.array(value, dtype=float)
    shape = [int(n) for n in str(value.get("shape", "-1")).split(",")]
    return np.frombuffer(base64.b64decode(value["bdata"]), value["dtype"]).reshape(shape)


def test_inspect_epoch_slider_and_play(run, runs_dir):
    runs_dir.mkdir()
    import_run(export_run(run.run_dir), runs_dir)
    at = AppTest.from_file(INSPECT, default_timeout=90).run()
    assert not at.exception
    slider = at.select_slider(key="timeline_step")
    assert slider.options == ["0", "0.1", "0.25", "0.5", "1", "2"] and slider.value == 5  # the trained model first
    slider.set_value(3).run()
    filters = chart(at, "conv1 filters at epoch 0.5")
    curves = chart(at, "with the snapshot marked")
    assert curves["layout"]["shapes"][0]["x0"] == 0.5
    mosaic = array(filters["data"][0]["z"])  # filters side by side, a column of gaps between them
    torch.testing.assert_close(torch.tensor(mosaic[:5, :5]), run.timeline.filters[3][0, 0].double())
    maps = chart(at, "conv1 feature maps at epoch 0.5")
    z = array(maps["data"][0]["z"])  # one heatmap: each image's 6 maps in a row, NaN gaps between the maps
    assert len(maps["data"]) == 1 and (~np.isnan(z)).sum() == 4 * 6 * 28 * 28
    first = z[~np.isnan(z).all(axis=1)][:28, :28]
    torch.testing.assert_close(torch.tensor(first), run.timeline.maps[3][0, 0].float())
    play = lambda: next(b for b in at.button if b.label in ("Play", "Pause"))
    shown = lambda: at.select_slider[0]
    play().click().run()  # starts where the slider is, and shows that snapshot first
    assert at.session_state["timeline_playing"] and shown().value == 3 and shown().disabled
    for step in (4, 5):  # each run with no user action is a timer tick
        at.run()
        assert shown().value == step
    assert not at.session_state["timeline_playing"] and play().label == "Play" and not at.exception
    assert at.select_slider(key="timeline_step").value == 5 and not shown().disabled  # the end: the slider is back
    play().click().run()  # from the end, Play starts again at the beginning
    assert shown().value == 0 and play().label == "Pause"
    play().click().run()
    assert at.select_slider(key="timeline_step").value == 0 and not at.exception  # paused where it was


def test_inspect_without_snapshots_says_so(runs_dir):
    train(LeNetConfig.modern(), TINY.replace(epochs=1, snapshots=False), run_dir=runs_dir / "plain")
    at = AppTest.from_file(INSPECT, default_timeout=90).run()
    assert not at.exception and any("has no snapshots" in i.value for i in at.info)
    assert not at.get("select_slider") and any("conv1: 6 x 28 x 28" in c.proto.spec for c in at.get("plotly_chart"))


def test_train_page_keeps_snapshots_unless_unticked():
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    box = at.checkbox(key="snapshots")
    assert box.value is True
    box.uncheck().run()
    assert at.session_state["snapshots"] is False and not at.exception


def test_snapshot_bench_compares_runs_without_and_with(capsys):
    result = snapshot_bench.main(["--subset", "1024", "--epochs", "1", "--repeats", "1", "--threads", "1"])
    assert [run["snapshots"] for run in result["runs"]] == [False, True]
    assert result["snapshots_kept"] == 4 and result["runs"][0]["snapshot_bytes"] == 0  # 0, 1/4, 1/2 (of 4 batches), 1
    assert result["bytes_per_snapshot"] == pytest.approx(result["snapshot_file_bytes"] / 4)
    assert result["images_per_s_ratio"] > 0 and result["seconds_with"] > 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["snapshots_kept"] == 4
