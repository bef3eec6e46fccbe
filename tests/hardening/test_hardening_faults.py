"""Faults: the process killed in the middle of a save or a training, run folders damaged by hand, a runs folder
that is full or read-only, a dataset that is not installed.

The runs folder must stay readable, earlier runs intact and loadable, and a damaged run must show up as a
"broken" row in the runs table (library and Train page), never as a traceback. A disk that refuses a write is
said in a sentence, and leaves nothing half-written.
"""

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

from lenet import LeNetConfig, TrainSettings, build_lenet, delete_run, list_runs, load_model, load_run
from lenet.data import datasets
from lenet.training import JobRegistry, TrainingJob, export_run, import_run, new_run_dir, preset, rename_run, save_run
from lenet.training.runs import RUN_FILES
from helpers import HISTORY, INSPECT, ROOT, TRAIN


# In a fresh process (one torch import), fork one child per (run folder, n): the child saves a run there and
# dies (os._exit: no cleanup, no finally) at its n-th rename, after writing a temporary file, before moving it.
DIE_DURING_SAVES = """
import json, os, sys
import pandas as pd, torch
from lenet import LeNetConfig, TrainSettings, build_lenet
from lenet.training import save_run
history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.9, 0.5, 0.4], "train_acc": [0.7, 0.8, 0.85],
                        "test_acc": [0.72, 0.81, 0.83], "images_per_s": [1.0] * 3, "seconds": [1.0] * 3})
torch.manual_seed(1)
model = build_lenet(LeNetConfig.modern())
codes = []
for run_dir, die_at in json.loads(sys.argv[1]):
    pid = os.fork()
    if pid == 0:
        renames, real_replace = [], os.replace
        def replace_or_die(src, dst):
            renames.append(dst)
            if len(renames) == die_at:
                os._exit(9)
            real_replace(src, dst)
        os.replace = replace_or_die
        save_run(run_dir, LeNetConfig.modern(), TrainSettings(epochs=3), history, model, {"status": "finished"})
        os._exit(0)
    codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
print(json.dumps(codes))
"""


pytestmark = pytest.mark.usefixtures("runs_dir")  # every test gets its own runs folder


def saved_run(root: Path, name: str) -> Path:
    torch.manual_seed(0)
    return save_run(new_run_dir(name, root), LeNetConfig.modern(), TrainSettings(epochs=2), HISTORY,
                    build_lenet(LeNetConfig.modern()), {"status": "finished"})


def files_of(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / name).read_bytes() for name in RUN_FILES}


def die_while_saving(cases: list[tuple[Path, int]]) -> None:
    result = subprocess.run([sys.executable, "-c", DIE_DURING_SAVES, json.dumps([(str(p), n) for p, n in cases])],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == [9] * len(cases), "every child died in the middle of its save"


def test_killed_during_saves_the_runs_folder_stays_readable_and_earlier_runs_intact(runs_dir):
    bystander = saved_run(runs_dir, "bystander")
    before = files_of(bystander)
    earlier = {n: saved_run(runs_dir, f"earlier, killed at rename {n}") for n in (1, 2, 3)}
    new = {n: runs_dir / f"new, killed at rename {n}" for n in (1, 2, 3)}
    die_while_saving([(p, n) for n, p in earlier.items()] + [(p, n) for n, p in new.items()])
    for run_dir in [*earlier.values(), *new.values()]:
        assert any(p.name.endswith(".tmp") for p in run_dir.iterdir()), f"{run_dir.name}: no temporary file left"
    table = list_runs(runs_dir)
    status = dict(zip(table["folder"], table["status"]))
    assert files_of(bystander) == before and status[bystander.name] == "finished"
    x = torch.rand(2, 1, 28, 28)
    assert load_model(bystander)(x).shape == (2, 10)
    for run_dir in earlier.values():  # each file is either the old one or the new one, never half of one
        assert not status[run_dir.name].startswith("broken"), status[run_dir.name]
        assert len(load_run(run_dir).history) in (2, 3) and load_model(run_dir)(x).shape == (2, 10)
    for run_dir in new.values():  # a run that never got its config.json is a broken row, and can be deleted
        assert status[run_dir.name].startswith("broken")
        delete_run(run_dir)
    assert len(list_runs(runs_dir)) == 1 + len(earlier)


def test_a_failing_disk_leaves_the_earlier_epoch_and_no_temporary_files(runs_dir, monkeypatch):
    run_dir = saved_run(runs_dir, "run")
    before = files_of(run_dir)

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError):
        save_run(run_dir, LeNetConfig.modern(), TrainSettings(epochs=3), HISTORY, build_lenet(LeNetConfig.modern()))
    monkeypatch.undo()
    assert files_of(run_dir) == before and sorted(p.name for p in run_dir.iterdir()) == sorted(RUN_FILES)


def damage(runs_dir: Path) -> dict[str, Path]:
    """One run folder per way of breaking it by hand; name -> folder."""
    def json_of(path: Path) -> dict:
        return json.loads((path / "config.json").read_text())

    cases = {}
    for name in ("no config.json", "no metrics.csv", "no model.pt", "empty config.json", "garbage config.json",
                 "config.json a list", "config sections of the wrong type", "odd name, date and status",
                 "deeply nested config.json", "a model too big", "metrics.csv garbage", "metrics.csv words for numbers",
                 "metrics.csv header only", "model.pt truncated", "model.pt empty", "config.json is a folder",
                 "metrics.csv is a folder", "everything deleted"):
        cases[name] = saved_run(runs_dir, name)
    (cases["no config.json"] / "config.json").unlink()
    (cases["no metrics.csv"] / "metrics.csv").unlink()
    (cases["no model.pt"] / "model.pt").unlink()
    (cases["empty config.json"] / "config.json").write_text("")
    (cases["garbage config.json"] / "config.json").write_bytes(b"\xff\xfe{{{")
    (cases["config.json a list"] / "config.json").write_text("[1, 2, 3]")
    info = json_of(cases["config sections of the wrong type"])
    (cases["config sections of the wrong type"] / "config.json").write_text(
        json.dumps(info | {"config": {**info["config"], "conv_channels": "six", "image_size": None}}))
    info = json_of(cases["odd name, date and status"])
    (cases["odd name, date and status"] / "config.json").write_text(
        json.dumps(info | {"name": None, "created": 20240101, "meta": {"status": 7}}))
    (cases["deeply nested config.json"] / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    info = json_of(cases["a model too big"])
    (cases["a model too big"] / "config.json").write_text(
        json.dumps(info | {"config": {**info["config"], "conv_channels": [50_000, 50_000], "image_size": 1000}}))
    (cases["metrics.csv garbage"] / "metrics.csv").write_bytes(b"\x00\x01\x02,\n\"unclosed")
    (cases["metrics.csv words for numbers"] / "metrics.csv").write_text(
        HISTORY.astype(object).assign(test_acc=["good", "better"]).to_csv(index=False))
    (cases["metrics.csv header only"] / "metrics.csv").write_text(",".join(HISTORY.columns) + "\n")
    weights = cases["model.pt truncated"] / "model.pt"
    weights.write_bytes(weights.read_bytes()[:1000])
    (cases["model.pt empty"] / "model.pt").write_bytes(b"")
    for name, file in (("config.json is a folder", "config.json"), ("metrics.csv is a folder", "metrics.csv")):
        (cases[name] / file).unlink()
        (cases[name] / file).mkdir()
    for file in RUN_FILES:
        (cases["everything deleted"] / file).unlink()
    (runs_dir / "notes.txt").write_text("a stray file beside the run folders")
    return cases


def test_damaged_run_folders_are_broken_rows_in_the_table(runs_dir):
    good = saved_run(runs_dir, "good")
    cases = damage(runs_dir)
    table = list_runs(runs_dir)
    assert len(table) == len(cases) + 1
    status = dict(zip(table["folder"], table["status"]))
    assert status[good.name] == "finished"
    for name, run_dir in cases.items():
        if status[run_dir.name].startswith("broken"):
            continue
        # the folder lists as a run: then every listed value must be usable, and the model must load or refuse clearly
        row = table[table["folder"] == run_dir.name].iloc[0]
        assert isinstance(row["status"], str) and isinstance(row["name"], str), name
        assert pd.isna(row["test_acc"]) or isinstance(row["test_acc"], float), name
    for name in ("no config.json", "no metrics.csv", "no model.pt", "everything deleted", "model.pt empty",
                 "deeply nested config.json", "a model too big", "metrics.csv words for numbers"):
        assert status[cases[name].name].startswith("broken: "), name


def test_train_and_inspect_pages_show_damaged_runs_without_breaking(runs_dir):
    good = saved_run(runs_dir, "good")
    cases = damage(runs_dir)
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    shown = at.dataframe[-1].value
    assert len(shown) == len(cases) + 1 and shown["status"].str.startswith("broken").sum() >= 8
    at = AppTest.from_file(INSPECT, default_timeout=60).run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    offered = [choice for choice in raw_choices(at.selectbox[0]) if not choice.startswith("untrained")]
    assert good.name in offered and len(offered) < len(cases) + 1
    print("Inspect offers", offered)
    for choice in set(offered) - {good.name, cases["metrics.csv header only"].name}:  # the latter: test below
        at.selectbox[0].set_value(choice).run()
        assert not at.exception, f"{choice}: {at.exception[0].value}"


def raw_choices(selectbox) -> list[str]:
    """The values behind the model picker's labels (its format_func is the options dict's get)."""
    return list(selectbox.format_func.__self__)


def test_a_run_without_epochs_alone_in_the_folder(runs_dir):
    run_dir = saved_run(runs_dir, "no epochs yet")
    (run_dir / "metrics.csv").write_text(",".join(HISTORY.columns) + "\n")
    row = list_runs(runs_dir).iloc[0]
    assert row["epochs"] == 0 and pd.isna(row["test_acc"]) and not row["status"].startswith("broken")
    for page in (TRAIN, INSPECT):
        at = AppTest.from_file(page, default_timeout=60).run()
        assert not at.exception, f"{Path(page).name}: {at.exception[0].value}"


# A disk that fills up or turns read-only: a real tmpfs, which only root can mount (CI runs as root). A non-root
# user still gets the read-only cases, from a folder without write permission (which root would ignore).
@contextlib.contextmanager
def tiny_filesystem(path: Path, kilobytes: int = 4096):
    """A tmpfs of that size mounted at path for the duration; skips the test where none can be mounted."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a full disk needs a tiny tmpfs, and mounting one needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(path)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill_up(root: Path) -> None:
    """Write a filler file until the file system under root has no byte left."""
    with open(root / "filler", "wb", buffering=0) as f:
        with pytest.raises(OSError) as full:
            while True:
                f.write(b"\0" * 65536)
    assert full.value.errno == errno.ENOSPC


@contextlib.contextmanager
def read_only(root: Path):
    """root, and the run folders in it, made read-only: a tmpfs remounted read-only (root) or chmod (anyone else)."""
    if os.geteuid() == 0:
        with tiny_filesystem(root.parent / "ro-mount") as mount:
            for p in root.iterdir():
                subprocess.run(["cp", "-a", str(p), str(mount)], check=True)
            subprocess.run(["mount", "--bind", str(mount), str(root)], check=True)
            subprocess.run(["mount", "-o", "remount,ro,bind", str(root)], check=True)
            try:
                yield root
            finally:
                subprocess.run(["umount", "-l", str(root)], check=True)
        return
    folders = [root, *(p for p in root.iterdir() if p.is_dir())]
    for p in folders:
        p.chmod(0o555)
    try:
        yield root
    finally:
        for p in folders:
            p.chmod(0o755)


def listing(root: Path) -> list[str]:
    """Every name under root, hidden ones included."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_full_runs_folder_refuses_an_import_and_leaves_nothing_half_written(runs_dir):
    with tiny_filesystem(runs_dir, 2048):
        data = export_run(saved_run(runs_dir, "precious"))
        fill_up(runs_dir)
        before = listing(runs_dir)
        with pytest.raises(OSError, match="runs folder .* is full"):
            import_run(data, runs_dir)
        assert listing(runs_dir) == before  # no half-written run, no temporary folder


def runs_manager_with_the_first_run_picked():
    """The Train page's runs manager after a click on the table's first row (AppTest cannot click table rows)."""
    from unittest import mock

    import streamlit as st

    from ui import runs

    def dataframe(*args, key=None, **kwargs):
        return mock.Mock(selection=mock.Mock(rows=[0]))

    with mock.patch.object(st, "dataframe", dataframe):
        runs.runs_manager()


def test_a_full_runs_folder_is_said_on_the_train_page(runs_dir):
    with tiny_filesystem(runs_dir, 2048):
        data = export_run(saved_run(runs_dir, "precious"))
        fill_up(runs_dir)
        before = listing(runs_dir)
        at = AppTest.from_function(runs_manager_with_the_first_run_picked, default_timeout=60).run()
        at.text_input[0].set_value("a new name").run()
        next(b for b in at.button if b.label == "Rename").click().run()
        assert not at.exception, at.exception[0].value
        assert any("is full" in e.value for e in at.error), [e.value for e in at.error]
        at.file_uploader(key="run_upload").set_value(("run.zip", data, "application/zip")).run()
        assert not at.exception, at.exception[0].value
        assert any("is full" in e.value for e in at.error), [e.value for e in at.error]
        assert listing(runs_dir) == before


def test_a_read_only_runs_folder_is_said_on_the_train_page(runs_dir):
    run_dir = saved_run(runs_dir, "precious")
    before = files_of(run_dir)
    with read_only(runs_dir):
        at = AppTest.from_file(TRAIN, default_timeout=60).run()
        next(b for b in at.button if b.label == "Train").click().run()
        assert not at.exception, at.exception[0].value
        assert any("read-only" in e.value for e in at.error), [e.value for e in at.error]
        assert "train_job" not in at.session_state
        at = AppTest.from_function(runs_manager_with_the_first_run_picked, default_timeout=60).run()
        at.text_input[0].set_value("a new name").run()
        next(b for b in at.button if b.label == "Rename").click().run()
        assert not at.exception, at.exception[0].value
        assert any("read-only" in e.value for e in at.error), [e.value for e in at.error]
        next(b for b in at.button if b.label == "Delete").click().run()
        assert not at.exception, at.exception[0].value
        assert any("read-only" in e.value for e in at.error), [e.value for e in at.error]
        with pytest.raises(OSError, match="read-only"):
            rename_run(run_dir, "another name")
        assert files_of(run_dir) == before


def tiny_training(epochs: int) -> tuple[LeNetConfig, TrainSettings]:
    config, settings = preset("modern")
    return config, settings.replace(epochs=epochs, subset=512, test_subset=200, snapshots=False)


def test_a_training_whose_save_fails_stops_with_a_message_and_keeps_its_saved_epochs(runs_dir):
    with tiny_filesystem(runs_dir, 4096):
        run_dir = new_run_dir("fills the disk", runs_dir)

        def fill_after_the_first_epoch(p):
            if p.kind == "epoch" and p.epoch == 1:
                fill_up(runs_dir)

        job = TrainingJob(*tiny_training(epochs=5), run_dir)
        job.points = _Calling(fill_after_the_first_epoch, job.points)
        JobRegistry().start(job).join(120)
        assert job.status == "stopped" and job.error is None, job.error
        assert "is full" in job.result.save_error and "Epoch 2 could not be saved" in job.result.save_error
        assert len(job.result.history) == 2  # what was trained is kept in memory, though epoch 2 was not saved
        saved = load_run(run_dir)
        assert len(saved.history) == 1 and load_model(run_dir)(torch.rand(2, 1, 28, 28)).shape == (2, 10)
        assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]
        assert list_runs(runs_dir).loc[0, "status"] == "interrupted"


class _Calling(list):
    """A progress list that also calls fn with each point appended (how a test reacts to a training's events)."""

    def __init__(self, fn, items):
        super().__init__(items)
        self.fn = fn

    def append(self, item) -> None:
        super().append(item)
        self.fn(item)


def test_a_killed_training_reads_as_interrupted_with_its_finished_epochs(runs_dir):
    out = runs_dir / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "lenet.train", "--preset", "modern", "--subset", "256",
                             "--test-subset", "100", "--epochs", "500", "--threads", "1", "--no-snapshots",
                             "--out", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not ((out / "metrics.csv").is_file() and len(load_run(out).history) >= 1):
            assert proc.poll() is None and time.monotonic() < deadline, "the training never saved an epoch"
            time.sleep(0.1)
        assert list_runs(runs_dir).loc[0, "status"] == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    row = list_runs(runs_dir).loc[0]
    assert row["status"] == "interrupted" and row["epochs"] >= 1
    delete_run(out)  # what the killed training left in its folder is still a run's
    assert list_runs(runs_dir).empty


def test_a_run_of_a_dataset_not_installed_is_said_missing_and_nothing_is_downloaded(runs_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "PROJECT_DATA_DIR", tmp_path / "data")  # where a download would land
    if datasets.data_source("mnist"):
        pytest.skip("MNIST is installed here")
    config, _ = preset("modern")
    save_run(new_run_dir("mnist run", runs_dir), config, TrainSettings(dataset="mnist"), HISTORY, build_lenet(config))
    at = AppTest.from_file(INSPECT, default_timeout=60).run()
    assert not at.exception, at.exception[0].value
    assert any("mnist was not found" in e.value for e in at.error), [e.value for e in at.error]
    assert not (tmp_path / "data").exists(), "the page tried to download the dataset"
