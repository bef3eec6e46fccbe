"""One bad run, imported or dropped into the runs folder, never takes a page down for everyone.

Each run here is consistent (its weights fit its config) unless said otherwise, so only the checks of what a run
may be stop it: odd names and dates, a model that does not fit its dataset, numbers that are not numbers.
"""

import io
import json
import os
import threading
import tracemalloc
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from lenet import LeNetConfig, TrainSettings, build_lenet, import_run, list_runs, load_run, open_run
from lenet.training import export_run, new_run_dir, save_run
from lenet.training.run_files import MAX_CONFIG_BYTES, MAX_METRICS_BYTES
from helpers import HISTORY, INSPECT, TRAIN

pytestmark = pytest.mark.usefixtures("runs_dir")  # every test gets its own runs folder


def saved_run(root: Path, name: str, config: LeNetConfig | None = None) -> Path:
    config = config or LeNetConfig.modern()
    torch.manual_seed(0)
    return save_run(new_run_dir(name, root), config, TrainSettings(epochs=2), HISTORY, build_lenet(config),
                    {"status": "finished"})


def edit_config(run_dir: Path, **changes) -> None:
    """Change config.json's top level (name, created) or, for keys of the model's config, its 'config' section."""
    info = json.loads((run_dir / "config.json").read_text())
    model = LeNetConfig().to_dict()
    info = {**info, **{k: v for k, v in changes.items() if k not in model},
            "config": {**info["config"], **{k: v for k, v in changes.items() if k in model}}}
    (run_dir / "config.json").write_text(json.dumps(info))  # json.dumps writes Infinity, NaN and \ud800 as given


FUTURE = "2999-01-01T00:00:00"
# name -> (the model, what to change in config.json afterwards, why it is refused or None when it is a fine run)
CASES = {
    "a lone surrogate in its name": (None, {"name": "bad \ud800 name"}, None),
    "control codes in its name": (None, {"name": "\x1b[31mred\x07\u202e"}, None),
    "a date far in the future": (None, {"created": FUTURE}, None),
    "a date with a time zone": (None, {"created": "2020-01-01T12:00:00+05:00"}, None),
    "a date that is a number": (None, {"created": 20240101}, None),
    "3 input channels, in the future": (LeNetConfig.modern().replace(in_channels=3), {"created": FUTURE},
                                        "3-channel 28x28 images, but fashion-mnist has 1-channel"),
    "32x32 inputs": (LeNetConfig.modern().replace(image_size=32), {}, "32x32 images"),
    "11 classes": (LeNetConfig.modern().replace(num_classes=11), {}, "11 outputs, but fashion-mnist has 10"),
    "Infinity channels": (None, {"conv_channels": [float("inf"), 16]}, "conv_channels must be a list of whole"),
    "1.5 channels": (None, {"conv_channels": [6.5, 16]}, "conv_channels must be a list of whole numbers"),
    "true for a size": (None, {"pool_size": True}, "pool_size must be a whole number"),
    "a NaN std": (None, {"normalize_std": float("nan")}, "normalize_std must be a finite number"),
    "a huge number": (None, {"image_size": 10**30}, "image_size must be a whole number"),
}


def make_cases(root: Path) -> dict[str, Path]:
    runs = {}
    for name, (config, changes, _) in CASES.items():
        runs[name] = saved_run(root, name, config)
        if changes:
            edit_config(runs[name], **changes)
    return runs


def test_bad_runs_are_refused_at_import_with_a_sentence_and_odd_ones_cleaned(tmp_path, runs_dir):
    made = make_cases(tmp_path / "made")
    for name, (_, _, why) in CASES.items():
        data = export_run(made[name]) if why is None else zip_of_folder(made[name])
        if why is None:
            run = load_run(import_run(data, runs_dir))
            assert run.name.isprintable() and run.name.encode("utf-8"), name
            assert run.created <= datetime.now().isoformat(timespec="seconds"), name
        else:
            with pytest.raises(ValueError, match=why) as error:
                import_run(data, runs_dir)
            assert str(error.value).isprintable(), name
    names = set(list_runs(runs_dir)["name"])
    assert {"bad name", "[31mred"} <= names  # the surrogate, escape, bell and right-to-left mark gone


def zip_of_folder(run_dir: Path) -> bytes:
    """The run folder zipped as export_run would (which refuses to export a run that does not load)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(run_dir.iterdir()):
            zf.write(path, path.name)
    return buffer.getvalue()


def test_the_runs_list_survives_every_bad_folder(runs_dir):
    good = saved_run(runs_dir, "good")
    edit_config(good, created="2001-01-01T00:00:00")  # the oldest: only a default that skips bad runs lands here
    runs = make_cases(runs_dir)
    os.mkdir(os.fsencode(runs_dir) + b"/20240101-000000-\xff\xfe not UTF-8")  # made by hand: not LeNet Lab's
    table = list_runs(runs_dir)
    assert len(table) == len(CASES) + 1
    for column in ("name", "folder", "status", "path"):
        assert all(isinstance(v, str) and v.isprintable() and v.encode("utf-8") for v in table[column]), column
    created = dict(zip(table["folder"], table["created"]))  # a broken run has none (NaN): it lists last
    assert all(c <= datetime.now().isoformat(timespec="seconds") for c in created.values() if isinstance(c, str))
    future = runs["a date far in the future"].name
    assert created[future] == datetime.strptime(future[:15], "%Y%m%d-%H%M%S").isoformat()
    assert created[runs["a date with a time zone"].name] < "2020-01-02"
    status = dict(zip(table["folder"], table["status"]))
    for name, (_, _, why) in CASES.items():
        if why is None:
            assert status[runs[name].name] == "finished", name
            open_run(runs[name])
        else:
            assert status[runs[name].name].startswith("broken: ") and why in status[runs[name].name], name


def test_config_and_metrics_on_disk_are_read_only_up_to_their_caps(runs_dir):
    good = saved_run(runs_dir, "good")
    for file, cap in (("config.json", MAX_CONFIG_BYTES), ("metrics.csv", MAX_METRICS_BYTES)):
        run_dir = saved_run(runs_dir, f"huge {file}")
        with open(run_dir / file, "r+b") as f:
            f.truncate(200_000_000)  # 200 MB, sparse: costs no disk
        tracemalloc.start()
        try:
            table = list_runs(runs_dir)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 5 * cap + 5_000_000, file  # the old reader read all 200 MB on every page load
        status = dict(zip(table["folder"], table["status"]))
        assert status[run_dir.name].startswith(f"broken: {run_dir / file} is larger than"), file
        assert status[good.name] == "finished"


def test_a_pipe_or_a_device_for_a_file_is_refused_without_waiting(runs_dir):
    pipe, device = saved_run(runs_dir, "a pipe for config.json"), saved_run(runs_dir, "a device for metrics.csv")
    (pipe / "config.json").unlink()
    os.mkfifo(pipe / "config.json")  # opening it to read would wait for a writer, forever
    (device / "metrics.csv").unlink()
    (device / "metrics.csv").symlink_to("/dev/zero")  # reading it would never end
    tables = []
    lister = threading.Thread(target=lambda: tables.append(list_runs(runs_dir)), daemon=True)
    lister.start()
    lister.join(30)
    if lister.is_alive():  # let the old reader go: give the pipe a writer
        with open(pipe / "config.json", "w"):
            pass
    assert tables, "list_runs waited on the pipe"
    status = dict(zip(tables[0]["folder"], tables[0]["status"]))
    assert status[pipe.name] == f"broken: {pipe / 'config.json'} is not a file."
    assert status[device.name] == f"broken: {device / 'metrics.csv'} is not a file."


def test_train_and_inspect_pages_draw_whatever_the_runs_folder_holds(runs_dir):
    good = saved_run(runs_dir, "good")
    edit_config(good, created="2001-01-01T00:00:00")
    runs = make_cases(runs_dir)
    mismatched = saved_run(runs_dir, "weights of another model, in the future")
    torch.save(build_lenet(LeNetConfig.classic()).state_dict(), mismatched / "model.pt")
    edit_config(mismatched, created=FUTURE)
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    assert len(at.dataframe[-1].value) == len(CASES) + 2
    at = AppTest.from_file(INSPECT, default_timeout=60).run()
    assert not at.exception, at.exception[0].value if at.exception else ""
    offered = list(at.selectbox(key="model").options)
    listed = [Path(p) for p, s in zip(list_runs(runs_dir)["path"], list_runs(runs_dir)["status"])
              if not s.startswith("broken")]
    assert listed[0] == mismatched  # the newest listed: its date was brought back to its folder's
    assert not at.error and at.selectbox(key="model").value == listed[1].name  # the newest that opens
    assert len(offered) == sum(why is None for *_, why in CASES.values()) + 2 + 2  # + good, mismatched, untrained
    for choice in (runs["a lone surrogate in its name"].name, mismatched.name):
        at.selectbox(key="model").set_value(choice).run()
        assert not at.exception, f"{choice}: {at.exception[0].value}"
    assert any("cannot be loaded" in e.value for e in at.error)  # the run that does not open says so
