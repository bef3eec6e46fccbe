"""Run folders on disk: config.json, metrics.csv, model.pt and maybe snapshots.pt, written atomically, listed,
moved around as zips."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from ..core.model import LeNetConfig, build_lenet, init_weights
from ..data.atomic import disk_errors, write_atomic, write_files_atomic
from .folders import OWNER_FILE, PROJECT_RUNS_DIR, QUEUED_FILE, in_training, run_status
from .run_files import (
    MAX_CONFIG_BYTES,
    MAX_METRICS_BYTES,
    MAX_NAME_CHARS,
    METRIC_COLUMNS,
    clean_name,
    load_weights_into,
    parse_info,
    parse_json,
    parse_metrics,
    printable,
    read_capped,
    weights_cap,
)
from .settings import TrainSettings, preset
from .snapshots import MAX_SNAPSHOT_BYTES, SNAPSHOT_FILE, Timeline

RUN_FILES = ("config.json", "metrics.csv", "model.pt")
OPTIONAL_FILES = (SNAPSHOT_FILE,)  # runs trained without snapshots (or before them) lack it
LIST_COLUMNS = ("name", "folder", "created", "status", "epochs", "train_loss", "train_acc", "test_acc", "dataset", "path",
                "reference")


@dataclass
class Run:
    """A run folder, read back: what was trained, how, and how it went."""

    path: Path
    name: str
    config: LeNetConfig
    settings: TrainSettings
    history: pd.DataFrame
    created: str
    meta: dict = field(default_factory=dict)


def _default_name(path: Path) -> str:
    """The folder name without its date-time prefix."""
    return re.sub(r"^\d{8}-\d{6}-", "", path.name) or path.name


def _read_json(path: Path) -> dict:
    if not path.exists():
        raise ValueError(f"{path.parent} is not a run folder: it has no config.json.")
    return parse_json(read_capped(path, MAX_CONFIG_BYTES), str(path))


def _model_bytes(model: nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    return buffer.getvalue()


def save_run(run_dir: Path, config: LeNetConfig, settings: TrainSettings, history: pd.DataFrame, model: nn.Module,
             extra: dict | None = None, name: str | None = None, snapshots: Timeline | None = None) -> Path:
    """Write (or rewrite) the files of a run folder atomically, all or none of them; returns the folder.

    The display name and creation time already in config.json are kept unless name is given. A disk that refuses
    the write is a DiskError (an OSError) that says so, and leaves the folder as it was.
    """
    run_dir = Path(run_dir)
    try:
        old = _read_json(run_dir / "config.json")
    except ValueError:
        old = {}
    info = {
        "name": name or old.get("name") or _default_name(run_dir),
        "created": old.get("created") or datetime.now().isoformat(timespec="seconds"),
        "config": config.to_dict(),
        "settings": settings.to_dict(),
        "meta": dict(extra or {}),
    }
    files = {run_dir / "model.pt": _model_bytes(model)}
    if snapshots is not None:
        files[run_dir / SNAPSHOT_FILE] = snapshots.to_bytes()
    files[run_dir / "metrics.csv"] = history.to_csv(index=False).encode()
    files[run_dir / "config.json"] = json.dumps(info, indent=2).encode()  # last: it makes the folder a run
    with disk_errors(f"The run folder {run_dir}"):
        run_dir.mkdir(parents=True, exist_ok=True)
        write_files_atomic(files)
    return run_dir


def _read_config(run_dir: Path) -> tuple[dict, LeNetConfig, TrainSettings]:
    """config.json's raw contents, and the model config and training settings parsed from it."""
    info = _read_json(run_dir / "config.json")
    return (info, *parse_info(info, str(run_dir / "config.json")))


def _created(value: object, run_dir: Path) -> str:
    """When the run was created, as ISO text no later than now (else its folder's time), so it sorts fairly."""
    folder = re.match(r"\d{8}-\d{6}", run_dir.name)
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
        when = when.astimezone().replace(tzinfo=None) if when and when.tzinfo else when
    except (ValueError, OverflowError):  # OverflowError: a date near year 1 moved to local time
        when = None
    if when is None or when > datetime.now():
        when = datetime.strptime(folder.group(), "%Y%m%d-%H%M%S") if folder else None
    return when.isoformat(timespec="seconds") if when else ""


def load_run(run_dir: Path) -> Run:
    """Read a run folder back; a missing or malformed file is a ValueError that names it."""
    run_dir = Path(run_dir)
    info, config, settings = _read_config(run_dir)
    metrics = run_dir / "metrics.csv"
    history = parse_metrics(read_capped(metrics, MAX_METRICS_BYTES), str(metrics))
    name = clean_name(info.get("name"), _default_name(run_dir))
    meta = info.get("meta") if isinstance(info.get("meta"), dict) else {}
    return Run(run_dir, name, config, settings, history, _created(info.get("created"), run_dir), meta)


def _model_of(run_dir: Path, config: LeNetConfig) -> nn.Module:
    weights = run_dir / "model.pt"
    model = build_lenet(config)
    return load_weights_into(model, read_capped(weights, weights_cap(model)), str(weights)).eval()


def _timeline_of(run_dir: Path, config: LeNetConfig) -> Timeline | None:
    path = run_dir / SNAPSHOT_FILE
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_SNAPSHOT_BYTES + 1)
    except OSError as e:
        raise ValueError(f"{path} cannot be read ({e}).") from None
    return Timeline.from_bytes(data, config, str(path))


def load_model(run_dir: Path) -> nn.Module:
    """The run's model rebuilt from config.json, with its weights, in eval mode."""
    run_dir = Path(run_dir)
    _, config, _ = _read_config(run_dir)
    return _model_of(run_dir, config)


def load_timeline(run_dir: Path) -> Timeline | None:
    """The run's training snapshots, or None when it kept none; a damaged file is a ValueError that says why."""
    run_dir = Path(run_dir)
    if not (run_dir / SNAPSHOT_FILE).is_file():
        return None
    _, config, _ = _read_config(run_dir)
    return _timeline_of(run_dir, config)


UNTRAINED_PREFIX = "untrained:"  # an OpenedRun's source for a fresh preset model: "untrained:classic"


@dataclass
class OpenedRun:
    """Everything the pages show of one model: what it is, how it was trained and went, its weights, its timeline.

    source is the run folder, or "untrained:<preset>" for a fresh model; timeline_error says why snapshots that
    exist could not be read (the model itself is fine then).
    """

    source: str
    name: str
    config: LeNetConfig
    settings: TrainSettings
    history: pd.DataFrame
    model: nn.Module
    timeline: Timeline | None = None
    timeline_error: str | None = None

    @property
    def trained(self) -> bool:
        return not self.source.startswith(UNTRAINED_PREFIX)



def open_run(run_dir: Path) -> OpenedRun:
    """A run folder with its model and timeline, each of its files read once; a broken run is a ValueError."""
    run = load_run(run_dir)
    model = _model_of(run.path, run.config)
    try:
        timeline, error = _timeline_of(run.path, run.config), None
    except ValueError as e:
        timeline, error = None, str(e)
    return OpenedRun(str(run.path), run.name, run.config, run.settings, run.history, model, timeline, error)


def untrained_run(preset_name: str) -> OpenedRun:
    """A preset's model with its random starting weights, as an OpenedRun with no history."""
    config, settings = preset(preset_name)
    model = init_weights(build_lenet(config), settings.init).eval()
    return OpenedRun(UNTRAINED_PREFIX + preset_name, f"untrained {preset_name}", config, settings,
                     pd.DataFrame(columns=METRIC_COLUMNS), model)


def _summary(path: Path) -> dict:
    row = {"name": clean_name(_default_name(path), "run"), "folder": path.name, "path": str(path)}
    try:
        if not (path / "config.json").exists() and in_training(path):
            return row | {"status": "running: first epoch", "epochs": 0}
        if not (path / "config.json").exists() and (path / QUEUED_FILE).exists():
            return row | {"status": "queued", "epochs": 0}
        if not any(path.iterdir()):
            return row | {"status": "broken: empty folder"}
        run = load_run(path)
    except OSError as e:
        return row | {"status": f"broken: the folder cannot be read ({e.strerror or 'input/output error'})"}
    except ValueError as e:
        return row | {"status": printable(f"broken: {e}")}
    weights = path / "model.pt"
    if not weights.is_file() or not zipfile.is_zipfile(weights):  # torch.save writes a zip: checked without loading
        return row | {"status": "broken: model.pt is missing or damaged"}
    last = run.history.iloc[-1] if len(run.history) else dict.fromkeys(METRIC_COLUMNS, float("nan"))
    return row | {
        "name": run.name,
        "created": run.created,
        "status": printable(run_status(path, str(run.meta.get("status", "saved"))), 40),
        "epochs": len(run.history),
        "train_loss": last.get("train_loss"),
        "train_acc": last.get("train_acc"),
        "test_acc": last.get("test_acc"),
        "dataset": run.settings.dataset,
    }


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _listed(root: Path, reference: bool) -> pd.DataFrame:
    # A folder whose name is not UTF-8 (a lone surrogate in Python) was not made by LeNet Lab and cannot be shown.
    folders = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and _utf8(p.name)),
                     reverse=True) if root.is_dir() else []
    table = pd.DataFrame([_summary(p) | {"reference": reference} for p in folders], columns=LIST_COLUMNS)
    return table.sort_values("created", ascending=False, kind="stable", na_position="last").reset_index(drop=True)


def list_runs(root: Path | None = None, reference: Path | None = None) -> pd.DataFrame:
    """One row per run folder, newest first, then those of the reference folder (column reference: True), read the
    same way; a broken folder is a row whose status says why."""
    root = Path(root) if root is not None else PROJECT_RUNS_DIR
    tables = [_listed(root, False)]
    if reference is not None and Path(reference).resolve() != root.resolve():
        tables.append(_listed(Path(reference), True))
    return pd.concat([t for t in tables if len(t)] or tables[:1], ignore_index=True)


def rename_run(run_dir: Path, new_name: str) -> None:
    """Change the display name kept in config.json; the folder stays where it is."""
    new_name = new_name.strip()
    if not new_name or len(new_name) > MAX_NAME_CHARS:
        raise ValueError(f"A run name needs 1 to {MAX_NAME_CHARS} characters (got {len(new_name)}).")
    path = Path(run_dir) / "config.json"
    info = _read_json(path)
    info["name"] = new_name
    with disk_errors(f"The run folder {path.parent}"):
        write_atomic(path, json.dumps(info, indent=2).encode())


def delete_run(run_dir: Path) -> None:
    """Remove a run folder; refuses a folder holding anything but a run's files."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir} is not a folder.")
    if run_status(run_dir, "running") == "running":
        raise ValueError(f"{run_dir} is still being trained; stop the training before deleting it.")
    strangers = [p.name for p in run_dir.iterdir()
                 if p.name not in RUN_FILES + OPTIONAL_FILES + (OWNER_FILE,) and not p.name.endswith(".tmp")]
    if strangers:
        raise ValueError(f"{run_dir} holds files that are not part of a run ({', '.join(sorted(strangers)[:5])}); "
                         "not deleting it.")
    with disk_errors(f"The runs folder {run_dir.parent}"):
        shutil.rmtree(run_dir)
