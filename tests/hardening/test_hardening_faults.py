"""Faults: the process killed in the middle of a save, and run folders damaged by hand.

The runs folder must stay readable, earlier runs intact and loadable, and a damaged run must show up as a
"broken" row in the runs table (library and Train page), never as a traceback.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

from lenet import LeNetConfig, TrainSettings, build_lenet, delete_run, list_runs, load_model, load_run
from lenet.training import new_run_dir, save_run
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
                    build_lenet(LeNetConfig.modern()), {"status": "running"})


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
    assert files_of(bystander) == before and status[bystander.name] == "running"
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
    assert status[good.name] == "running"
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
    assert str(good) in offered and len(offered) < len(cases) + 1
    print("Inspect offers", [Path(choice).name for choice in offered])
    for choice in set(offered) - {str(good), str(cases["metrics.csv header only"])}:  # the latter: test below
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
