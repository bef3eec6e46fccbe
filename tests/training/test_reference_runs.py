"""The reference runs committed in reference_runs/ (python -m lenet.reference): they open like any run, score now what
they stored, are listed after the user's own runs, and the pages show them (read-only) before anyone has trained."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from lenet import build_lenet, count_parameters
from lenet.data import load_split
from lenet.environment import read_environment
from lenet.inspection import evaluate
from lenet.training import list_runs, load_run, open_run, preset, save_run
from lenet.training.folders import REFERENCE_RUNS_DIR, new_run_dir
from lenet.training.run_files import weights_cap
import lenet.reference as reference
from helpers import HISTORY, INSPECT, PARAMETERS, run_until_evaluated

NAMES = sorted(reference.REFERENCES)


@pytest.mark.parametrize("name", NAMES)
def test_a_reference_run_opens_and_scores_what_it_stored(name):
    run = open_run(REFERENCE_RUNS_DIR / name)  # read like any run: capped files, torch.load(weights_only=True)
    config, settings = preset(name)
    assert run.config == config and run.settings.replace(device="auto") == settings
    assert len(run.history) == settings.epochs and run.timeline is not None and run.timeline_error is None
    assert load_run(run.source).meta["parameters"] == count_parameters(build_lenet(config))
    test = load_split(settings.dataset, train=False)
    scored = evaluate(run.model, test).accuracy
    # The run was scored with the engine's accuracy (channels-last for classic), now with the library's evaluate: a
    # kernel that sums in another order could flip an image whose two best scores tie within rounding, so one image
    # may differ (measured: none does).
    assert abs(scored - run.history["test_acc"].iloc[-1]) <= 1 / len(test)
    assert scored > {"classic": 0.75, "modern": 0.88}[name]  # d2l reports 0.79 for classic; modern is the 90% recipe


def test_reference_runs_stay_small():
    for name in NAMES:
        files = {f.name: f.stat().st_size for f in (REFERENCE_RUNS_DIR / name).iterdir()}
        assert set(files) == {"config.json", "metrics.csv", "model.pt", "snapshots.pt"}
        assert files["model.pt"] <= weights_cap(build_lenet(preset(name)[0])) and sum(files.values()) < 1_000_000


def test_reference_runs_come_after_the_users_own(tmp_path):
    config, settings = preset("classic")
    save_run(new_run_dir("mine", tmp_path), config, settings, HISTORY, build_lenet(config))
    runs = list_runs(tmp_path, REFERENCE_RUNS_DIR)
    assert runs["name"].tolist()[0] == "mine" and runs["reference"].tolist() == [False] + [True] * len(NAMES)
    assert sorted(runs["folder"][1:]) == NAMES and set(runs["status"][1:]) == {"finished"}
    assert list_runs(tmp_path)["reference"].tolist() == [False]  # none unless asked for
    assert read_environment({}, {}).reference_runs_dir == REFERENCE_RUNS_DIR
    assert read_environment({}, {"LENET_REFERENCE_RUNS_DIR": "none"}).reference_runs_dir is None


def test_the_command_trains_a_run_and_replaces_the_old_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(reference, "REFERENCES", {"modern": ("tiny", {"subset": 1000, "test_subset": 500,
                                                                      "epochs": 1})})
    (tmp_path / "modern").mkdir()
    (tmp_path / "modern" / "old.txt").write_text("replaced")
    reference.main(["--out", str(tmp_path)])
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    run = load_run(tmp_path / "modern")
    assert run.name == "tiny" and line["test_acc"] == round(run.history["test_acc"].iloc[-1], 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["modern"]  # no staging folder left, the old files gone
    assert not (tmp_path / "modern" / "old.txt").exists() and line["bytes"] > 0


@pytest.fixture
def cold_start(runs_dir, monkeypatch):
    """A hosted app that nobody has trained on yet: an empty runs folder, the committed reference runs."""
    monkeypatch.setenv("LENET_REFERENCE_RUNS_DIR", str(REFERENCE_RUNS_DIR))
    return runs_dir


def test_inspect_and_parameters_open_a_reference_run_on_a_cold_start(cold_start):
    for page in (INSPECT, PARAMETERS):
        at = AppTest.from_file(page, default_timeout=90).run()
        assert not at.exception and not at.error, page
        picker = at.selectbox(key="model")
        assert picker.value == "reference:modern" and picker.format_func(picker.value).startswith("Reference: ")
        assert [label.split(" · ")[0] for label in picker.options] == [
            "Reference: modern LeNet, the modern preset", "Reference: classic LeNet, d2l's recipe",
            "Untrained classic LeNet (random weights)", "Untrained modern LeNet (random weights)"]
    inspect = run_until_evaluated(AppTest.from_file(INSPECT, default_timeout=90))
    assert any("Test accuracy: **90.3%**" in m.value for m in inspect.markdown)  # the whole test set, scored now


def runs_table_with_the_first_row_picked():
    """The Train page's runs manager after a click on the table's first row (AppTest cannot click table rows)."""
    from unittest import mock

    import streamlit as st

    from ui import runs

    def dataframe(data, *args, **kwargs):
        st.session_state["shown"] = data
        return mock.Mock(selection=mock.Mock(rows=[0]))

    with mock.patch.object(st, "dataframe", dataframe):
        runs.runs_manager()


def test_the_runs_table_marks_reference_runs_and_offers_no_rename_or_delete(cold_start):
    at = AppTest.from_function(runs_table_with_the_first_row_picked, default_timeout=60).run()
    assert not at.exception and not at.error
    table = at.session_state["shown"]
    assert table["folder"].tolist() == ["modern", "classic"] and set(table["status"]) == {"reference"}
    assert any("came with the app" in i.value for i in at.info)  # and none of the user's own yet
    labels = [b.label for b in at.button]
    assert "Delete" not in labels and "Rename" not in labels and not at.text_input
    assert [d.label for d in at.get("download_button")] == ["Download"]
    assert any("cannot be renamed or deleted" in c.value for c in at.caption)


def test_a_users_run_comes_first_and_can_still_be_deleted(cold_start):
    config, settings = preset("classic")
    save_run(new_run_dir("mine", cold_start), config, settings, HISTORY, build_lenet(config))
    at = AppTest.from_function(runs_table_with_the_first_row_picked, default_timeout=60).run()
    table = at.session_state["shown"]
    assert table["status"].tolist() == ["saved", "reference", "reference"] and not at.info
    assert {"Rename", "Delete"} <= {b.label for b in at.button}
