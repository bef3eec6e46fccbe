"""Run folders: atomic save, reload, listing, renaming, deleting, and zip export/import that refuses bad files."""

import builtins
import json
import pathlib
from collections import Counter
from unittest import mock

import pandas as pd
import pytest
import torch

from lenet import (
    LeNetConfig,
    TrainSettings,
    build_lenet,
    delete_run,
    export_run,
    import_run,
    list_runs,
    load_model,
    load_run,
    new_run_dir,
    open_run,
    rename_run,
    save_run,
)
from lenet.environment import read_environment
from lenet.training import run_zips, runs, untrained_run
from lenet.training.run_files import MAX_METRICS_BYTES, MAX_NAME_CHARS
from lenet.training.run_zips import copy_name
from helpers import HISTORY, zip_of


def make_run(root, name="tiny", config=None, seed=0):
    config = config or LeNetConfig.modern()
    torch.manual_seed(seed)
    model = build_lenet(config)
    return save_run(new_run_dir(name, root), config, TrainSettings(epochs=2), HISTORY, model), model


def run_files(run_dir) -> dict:
    return {name: (run_dir / name).read_bytes() for name in runs.RUN_FILES}


def test_runs_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LENET_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert read_environment().runs_dir == tmp_path / "elsewhere"
    monkeypatch.delenv("LENET_RUNS_DIR")
    assert read_environment().runs_dir == runs.PROJECT_RUNS_DIR


def test_new_run_dirs_are_unique_and_sort_by_age(tmp_path):
    first, second = new_run_dir("My run/../x", tmp_path), new_run_dir("My run/../x", tmp_path)
    assert first != second and first.is_dir() and second.is_dir() and first.parent == tmp_path
    assert first.name.endswith("My run-x") and sorted([second.name, first.name]) == [first.name, second.name]


def test_save_and_load_round_trip(tmp_path):
    run_dir, model = make_run(tmp_path)
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(runs.RUN_FILES)  # no temporary files left
    run = load_run(run_dir)
    assert run.name == "tiny" and run.config == LeNetConfig.modern() and run.settings == TrainSettings(epochs=2)
    pd.testing.assert_frame_equal(run.history, HISTORY)
    again = load_model(run_dir)
    assert not again.training
    model.eval()
    x = torch.rand(8, 1, 28, 28)
    assert torch.equal(again(x), model(x))
    assert torch.load(run_dir / "model.pt", weights_only=True).keys() == model.state_dict().keys()


def test_saving_again_keeps_name_and_creation_time(tmp_path):
    run_dir, model = make_run(tmp_path)
    rename_run(run_dir, "  renamed  ")
    before = load_run(run_dir)
    save_run(run_dir, LeNetConfig.modern(), TrainSettings(epochs=3), HISTORY.iloc[:1], model, {"status": "running"})
    after = load_run(run_dir)
    assert (after.name, after.created) == ("renamed", before.created)
    assert after.meta == {"status": "running"} and len(after.history) == 1


def test_load_model_refuses_corrupt_and_mismatched_files(tmp_path):
    run_dir, _ = make_run(tmp_path)
    (run_dir / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable PyTorch state_dict"):
        load_model(run_dir)
    other, _ = make_run(tmp_path, config=LeNetConfig.classic())
    (run_dir / "model.pt").write_bytes((other / "model.pt").read_bytes())  # classic weights, modern config
    with pytest.raises(ValueError, match="does not match config.json"):
        load_model(run_dir)
    (run_dir / "config.json").write_text("{")
    with pytest.raises(ValueError, match="not readable JSON"):
        load_model(run_dir)
    (run_dir / "config.json").unlink()
    with pytest.raises(ValueError, match="no config.json"):
        load_model(run_dir)


def test_a_model_pt_larger_than_its_model_needs_is_refused_unread(tmp_path):
    run_dir, _ = make_run(tmp_path)
    with open(run_dir / "model.pt", "r+b") as f:
        f.truncate(200_000_000)  # sparse: 200 MB that cost no disk, of which the old reader read every byte
    with pytest.raises(ValueError, match=r"model.pt is larger than \d+ kB, the most it can be for this run"):
        load_model(run_dir)


def test_load_model_refuses_pickled_code(tmp_path):
    run_dir, _ = make_run(tmp_path)
    torch.save({"conv1.weight": torch.zeros(1), "payload": pd.Timestamp("2020-01-01")}, run_dir / "model.pt")
    with pytest.raises(ValueError, match="not a readable PyTorch state_dict"):
        load_model(run_dir)


def test_list_runs_newest_first_with_broken_folders_as_rows(tmp_path):
    old, _ = make_run(tmp_path, "old")
    info = json.loads((old / "config.json").read_text())
    info["created"] = "2000-01-01T00:00:00"
    (old / "config.json").write_text(json.dumps(info))
    new, _ = make_run(tmp_path, "new")
    broken = new_run_dir("broken", tmp_path)
    (broken / "config.json").write_text("[1, 2")
    empty = new_run_dir("empty", tmp_path)
    table = list_runs(tmp_path)
    assert table["name"].tolist()[:2] == ["new", "old"]
    assert table.loc[0, "epochs"] == 2 and table.loc[0, "test_acc"] == pytest.approx(0.81)
    status = dict(zip(table["folder"], table["status"]))
    assert status[broken.name].startswith("broken: ") and "JSON" in status[broken.name]
    assert status[empty.name].startswith("broken: ")
    assert list_runs(tmp_path / "nothing here").empty


def test_rename_and_delete(tmp_path):
    run_dir, _ = make_run(tmp_path)
    rename_run(run_dir, "a better name")
    assert load_run(run_dir).name == "a better name" and run_dir.exists()
    with pytest.raises(ValueError, match="1 to 100 characters"):
        rename_run(run_dir, "   ")
    delete_run(run_dir)
    assert not run_dir.exists()


def test_delete_refuses_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "notes.txt").write_text("precious")
    with pytest.raises(ValueError, match="not part of a run"):
        delete_run(tmp_path)
    assert (tmp_path / "notes.txt").exists()


def test_export_import_round_trip_never_overwrites(tmp_path):
    run_dir, model = make_run(tmp_path / "a", "shared run")
    data = export_run(run_dir)
    first, second = import_run(data, tmp_path / "b"), import_run(data, tmp_path / "b")
    assert first != second and load_run(first).name == "shared run"
    assert run_files(first) == run_files(run_dir)
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(load_model(second)(x), model.eval()(x))


def test_a_second_upload_of_one_run_is_listed_as_a_copy(tmp_path):
    run_dir, _ = make_run(tmp_path / "a", "shared run")
    data = export_run(run_dir)
    imported = [import_run(data, tmp_path / "b") for _ in range(3)]
    assert [load_run(p).name for p in imported] == ["shared run", "shared run (copy)", "shared run (copy 2)"]
    assert len({load_run(p).created for p in imported}) == 1  # one run uploaded three times: its date stays
    assert set(list_runs(tmp_path / "b")["name"]) == {"shared run", "shared run (copy)", "shared run (copy 2)"}
    long = "x" * MAX_NAME_CHARS
    assert copy_name(long, {long}).endswith(" (copy)") and len(copy_name(long, {long})) <= MAX_NAME_CHARS


@pytest.mark.parametrize("change, message", [
    (lambda f: f | {"../escape.txt": b"x"}, "exactly config.json"),
    (lambda f: {k: v for k, v in f.items() if k != "metrics.csv"}, "exactly config.json"),
    (lambda f: f | {"config.json": b"\xff\xfe"}, "not readable JSON"),
    (lambda f: f | {"config.json": json.dumps({"config": {"activation": "gelu"}, "settings": {}}).encode()},
     "does not describe a valid run"),
    (lambda f: f | {"metrics.csv": b"epoch,loss\n1,2\n"}, "lacks the columns"),
    (lambda f: f | {"model.pt": b"garbage"}, "not a readable PyTorch state_dict"),
])
def test_import_refuses_bad_zips(tmp_path, change, message):
    run_dir, _ = make_run(tmp_path / "a")
    with pytest.raises(ValueError, match=message):
        import_run(zip_of(change(run_files(run_dir))), tmp_path / "b")
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


def test_import_refuses_weights_of_another_model(tmp_path):
    run_dir, _ = make_run(tmp_path / "a")
    other, _ = make_run(tmp_path / "a", config=LeNetConfig.classic())
    files = run_files(run_dir) | {"model.pt": (other / "model.pt").read_bytes()}
    with pytest.raises(ValueError, match="does not match config.json"):
        import_run(zip_of(files), tmp_path / "b")


def test_import_refuses_non_zips_and_oversized_files(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="not a zip"):
        import_run(b"hello", tmp_path)
    run_dir, _ = make_run(tmp_path / "a")
    data = zip_of(run_files(run_dir) | {"metrics.csv": b"0" * (MAX_METRICS_BYTES + 1)})
    with pytest.raises(ValueError, match="metrics.csv in the zip is larger than 500 kB"):
        import_run(data, tmp_path / "b")
    monkeypatch.setattr(run_zips, "MAX_ZIP_BYTES", 100)
    with pytest.raises(ValueError, match="at most"):
        import_run(data, tmp_path / "b")


def files_read(work) -> Counter:
    """How often work() opens each file, by name (through open() or a Path method)."""
    seen, real_open, real_path_open = Counter(), builtins.open, pathlib.Path.open

    def counting_open(file, *args, **kwargs):
        seen[pathlib.Path(file).name] += 1
        return real_open(file, *args, **kwargs)

    def counting_path_open(self, *args, **kwargs):
        seen[self.name] += 1
        return real_path_open(self, *args, **kwargs)

    with mock.patch.object(builtins, "open", counting_open), mock.patch.object(pathlib.Path, "open", counting_path_open):
        work()
    return seen


def test_opening_a_run_reads_each_of_its_files_once(tmp_path):
    run_dir, model = make_run(tmp_path)
    (run_dir / runs.SNAPSHOT_FILE).write_bytes(b"not a snapshot file")
    opened = []
    seen = files_read(lambda: opened.append(open_run(run_dir)))
    assert {name: seen[name] for name in (*runs.RUN_FILES, runs.SNAPSHOT_FILE)} == dict.fromkeys(
        (*runs.RUN_FILES, runs.SNAPSHOT_FILE), 1)
    run = opened[0]
    assert run.trained and run.source == str(run_dir) and run.name == "tiny" and run.config == LeNetConfig.modern()
    assert run.history.equals(load_run(run_dir).history) and run.settings == TrainSettings(epochs=2)
    assert all(torch.equal(a, b) for a, b in zip(run.model.state_dict().values(), model.state_dict().values()))
    assert run.timeline is None and runs.SNAPSHOT_FILE in run.timeline_error  # damaged snapshots: the model still opens
    assert files_read(lambda: load_model(run_dir))["model.pt"] == 1



def test_an_untrained_preset_opens_like_a_run():
    run = untrained_run("classic")
    assert not run.trained and run.config == LeNetConfig.classic() and run.history.empty and run.timeline is None
    assert sum(p.numel() for p in run.model.parameters()) == 61_706 and not run.model.training
    with pytest.raises(ValueError, match="preset"):
        untrained_run("tiny")


def test_a_run_still_in_its_first_epoch_lists_as_running(tmp_path):
    """A training claims its folder before its first epoch is saved; the runs table said "broken" until then."""
    from lenet.training.folders import claim_run_dir, release_run_dir

    run_dir = new_run_dir("warming-up", tmp_path)
    claim_run_dir(run_dir)
    try:
        (row,) = list_runs(tmp_path).to_dict("records")
        assert row["status"] == "running: first epoch" and row["epochs"] == 0
    finally:
        release_run_dir(run_dir)
    (row,) = list_runs(tmp_path).to_dict("records")  # released with nothing saved: an empty folder again
    assert row["status"].startswith("broken")
