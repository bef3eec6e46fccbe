"""The Train and Inspect pages through Streamlit's AppTest: a tiny real training, Stop, the queue, inspection, bad
uploads."""

import io
import pickle
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from lenet.training import list_runs, load_run
from ui import jobs
from helpers import INSPECT, TRAIN, run_until_evaluated
from lenet.inspection import EVALUATING



pytestmark = pytest.mark.usefixtures("runs_dir")  # every test gets its own runs folder


def open_train(preset="modern", subset=2000, epochs=1):
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    at.selectbox(key="preset").set_value(preset).run()
    at.select_slider(key="images").set_value(subset)
    at.number_input(key="epochs").set_value(epochs)
    return at.run()


def start(at):
    next(b for b in at.button if b.label == "Train").click().run()
    return at.session_state["train_job"]


def test_tiny_training_runs_to_the_end_and_is_saved(runs_dir):
    at = open_train()
    assert not at.exception
    job = start(at)
    try:
        job.join(120)
        at.run()
        assert not at.exception and job.status == "finished", job.error
        assert any("Finished after 1 epoch" in s.value for s in at.success)
        curves = at.get("plotly_chart")[0].proto.spec
        assert '"test accuracy"' in curves.lower() or "test" in curves
        runs = list_runs(runs_dir)
        assert len(runs) == 1 and runs.loc[0, "epochs"] == 1
        assert load_run(runs.loc[0, "path"]).history.loc[0, "test_acc"] > 0.2  # above chance (0.1); 0.34-0.6 seen
    finally:
        job.stop()


def test_stop_ends_training_and_keeps_finished_epochs(runs_dir):
    at = open_train(subset=2000, epochs=30)
    job = start(at)
    try:
        while not any(p.kind == "epoch" for p in list(job.points)):
            assert job.running, job.error
            job.join(0.05)
        at.run()
        next(b for b in at.button if b.label == "Stop").click().run()
        job.join(60)
        at.run()
        assert job.status == "stopped" and not at.exception
        assert any("Stopped after" in s.value for s in at.success)
        saved = load_run(list_runs(runs_dir).loc[0, "path"]).history
        assert 1 <= len(saved) < 30 and len(saved) == len(job.result.history)
    finally:
        job.stop()


@pytest.fixture
def one_slot(monkeypatch):
    """The server's registry with LENET_MAX_TRAININGS=1 (one per setting: later tests get the default cap's); every
    job stopped afterwards, so no thread outlives the test."""
    monkeypatch.setenv("LENET_MAX_TRAININGS", "1")
    registry = jobs.registry()
    assert registry.max_running == 1 and not registry.running() and not registry.queued()
    yield registry
    registry.stop_all()
    for job in registry.running():
        job.join(60)


def infos(at):
    return [i.value for i in at.info]


def train_button(at):
    return next(b for b in at.button if b.label == "Train")


def test_a_full_server_queues_the_next_sessions_which_wait_cancel_and_then_train(runs_dir, one_slot):
    first = start(open_train(epochs=30))
    while not first.points:  # training, not just loading data
        assert first.running, first.error
        first.join(0.05)
    second_at, third_at = open_train(subset=1000), open_train(subset=1000)
    second, third = start(second_at), start(third_at)
    assert not second_at.exception and not second_at.warning and second.status == "queued"
    assert any(i.startswith("You are next") for i in infos(second_at))
    assert "Waiting for a free slot: 1 ahead of you." in infos(third_at) and third.ahead == 1
    assert train_button(third_at).disabled  # one training per session, queued ones included
    assert not [b for b in third_at.button if b.label == "Stop"] and not third_at.get("plotly_chart")

    next(b for b in second_at.button if b.label == "Cancel").click().run()
    assert second.status == "cancelled" and not second.run_dir.exists()
    assert "Cancelled before it started: nothing was saved." in infos(second_at)
    assert not train_button(second_at).disabled
    third_at.run()  # what the live view's timer does every half second
    assert third.status == "queued" and any(i.startswith("You are next") for i in infos(third_at))

    first.stop()
    third.join(120)
    third_at.run()
    assert not third_at.exception and third.status == "finished", third.error
    assert any("Finished after 1 epoch" in s.value for s in third_at.success)
    assert not train_button(third_at).disabled
    first.join(60)
    kept = [first.run_dir.name] if len(first.result.history) else []  # stopped before its first epoch: nothing kept
    assert sorted(list_runs(runs_dir)["folder"]) == sorted(kept + [third.run_dir.name])


def test_impossible_network_explains_itself_and_disables_training():
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    at.number_input(key="k0").set_value(11)
    at.number_input(key="p0").set_value(0)
    at.number_input(key="k1").set_value(11).run()
    assert not at.exception
    assert any("cannot be built" in e.value and "conv2" in e.value for e in at.error)
    assert next(b for b in at.button if b.label == "Train").disabled


def trained_run(runs_dir):
    at = open_train(subset=2000, epochs=1)
    job = start(at)
    job.join(120)
    assert job.status == "finished", job.error
    return job.run_dir


def test_inspect_shows_feature_maps_filters_and_mistakes(runs_dir):
    run = trained_run(runs_dir)
    at = AppTest.from_file(INSPECT, default_timeout=60).run()
    assert any(EVALUATING in info.value for info in at.info), "the page is drawn before the test set is evaluated"
    assert not any("Confusion matrix" in c.proto.spec for c in at.get("plotly_chart"))
    run_until_evaluated(at)
    assert not at.exception and at.selectbox[0].value == run.name
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("conv1: 6 x 28 x 28" in t for t in titles) and any("pool2: 16 x 5 x 5" in t for t in titles)
    assert any("conv2: 16 x 6 x 5 x 5" in t for t in titles)  # the learned filters
    assert any("Confusion matrix" in t for t in titles) and any("Most confident mistakes" in t for t in titles)
    at.selectbox(key="how").set_value("mistake").run()
    assert not at.exception and "test image" in at.get("image")[0].proto.imgs[0].caption


def png_bytes(mode="L", size=(60, 60)):
    """A dark shirt-like block on a light background."""
    image = Image.new(mode, size, "white")
    image.paste("black" if mode == "RGB" else 0, (size[0] // 4, size[1] // 4, 3 * size[0] // 4, 3 * size[1] // 4))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("name, data, mime", [
    ("notes.png", b"just some text, not a picture", "image/png"),
    ("evil.png", pickle.dumps({"a": 1}), "image/png"),
    ("cut.png", png_bytes()[:40], "image/png"),
])
def test_inspect_refuses_bad_uploads_with_a_message(name, data, mime):
    at = AppTest.from_file(INSPECT, default_timeout=60).run()
    at.selectbox(key="how").set_value("upload").run()
    at.file_uploader[0].set_value((name, data, mime)).run()
    assert not at.exception
    assert any("refused" in e.value for e in at.error)


def test_inspect_accepts_a_real_picture():
    at = AppTest.from_file(INSPECT, default_timeout=60).run()
    at.selectbox(key="how").set_value("upload").run()
    at.file_uploader[0].set_value(("shirt.png", png_bytes("RGB", (300, 200)), "image/png")).run()
    assert not at.exception and not at.error
    assert any("converted to 28x28" in i.caption for i in at.get("image")[0].proto.imgs)


def test_train_page_refuses_a_malicious_run_upload(runs_dir):
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    at.file_uploader(key="run_upload").set_value(("run.zip", pickle.dumps(print), "application/zip")).run()
    assert not at.exception and any("refused" in e.value for e in at.error)
    assert list_runs(runs_dir).empty


def test_an_uploaded_run_is_listed_and_the_page_says_so(runs_dir, tmp_path):
    """The rerun that lists the imported run used to wipe the "Imported as" message (issue 15)."""
    from lenet.training import export_run, save_run
    from lenet import LeNetConfig, TrainSettings, build_lenet
    from helpers import HISTORY

    source = tmp_path / "elsewhere" / "shared-run"
    save_run(source, LeNetConfig.classic(), TrainSettings(), HISTORY, build_lenet(LeNetConfig.classic()))
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    at.file_uploader(key="run_upload").set_value(("shared-run.zip", export_run(source), "application/zip")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    (imported,) = list_runs(runs_dir)["path"]
    assert [s.value for s in at.success] == [f"Imported as {Path(imported).name}."]
    assert at.dataframe[-1].value["name"].tolist() == ["shared-run"]
    at.run()  # any later rerun, the file still in the uploader: said again, not imported twice
    assert [s.value for s in at.success] == [f"Imported as {Path(imported).name}."] and len(list_runs(runs_dir)) == 1
