"""Run folders that sessions and processes share: a new folder per run, an imported run put in place whole, a
training's claim on its folder, and whether a run that says "running" still is."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import uuid
from datetime import datetime
from pathlib import Path

from ..data.atomic import disk_errors

PROJECT_RUNS_DIR = Path(__file__).resolve().parents[2] / "runs"  # the app passes $LENET_RUNS_DIR instead, when set
# Trained runs that ship with the app (python -m lenet.reference), listed after a user's own and never deleted.
REFERENCE_RUNS_DIR = Path(__file__).resolve().parents[2] / "reference_runs"
QUEUED_FILE = ".queued"  # there while the folder's training waits in a JobRegistry's queue
OWNER_FILE = ".owner.json"  # the training writing a run folder: its pid and host, there while it trains
INCOMING_PREFIX = ".incoming-"  # a run being imported: hidden, so never listed, until it is complete


class RunDirInUseError(FileExistsError):
    """Raised when a training is given a run folder that another training writes, or that holds a run already."""


def _folder_safe(name: str) -> str:
    """name with path separators and other odd characters replaced, so it can end a folder name."""
    return re.sub(r"[^\w -]+", "-", " ".join(name.split())).strip(" -")[:60] or "run"


def new_run_dir(name: str | None = None, root: Path | None = None) -> Path:
    """Create an empty, unique folder named <date>-<time>-<name>, so folders sort by age.

    Each name is taken by one mkdir, which fails for all but one of the sessions that try it at once.
    """
    root = Path(root) if root is not None else PROJECT_RUNS_DIR
    base = f"{datetime.now():%Y%m%d-%H%M%S}-{_folder_safe(name or 'run')}"
    with disk_errors(f"The runs folder {root}"):
        root.mkdir(parents=True, exist_ok=True)
        for i in range(1000):
            path = root / (base if i == 0 else f"{base}-{i}")
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
    raise ValueError(f"Could not find a free folder name for {base!r} in {root}.")


def write_run_folder(files: dict[str, bytes], name: str, root: Path | None = None) -> Path:
    """Write files into a hidden folder beside the runs, then move it into a new run folder whole; returns that.

    A refused write (a full disk) removes the hidden folder, so no half-written run is ever listed.
    """
    root = Path(root) if root is not None else PROJECT_RUNS_DIR
    bad = [n for n in files if Path(n).name != n or n.startswith(".")]
    if bad:
        raise ValueError(f"A run folder holds plain file names, not {bad[0]!r}.")
    incoming = root / f"{INCOMING_PREFIX}{uuid.uuid4().hex}"
    run_dir = None
    with disk_errors(f"The runs folder {root}"):
        try:
            root.mkdir(parents=True, exist_ok=True)
            incoming.mkdir()
            for file_name, data in files.items():
                with open(incoming / file_name, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
            run_dir = new_run_dir(name, root)
            os.replace(incoming, run_dir)  # onto the empty folder just made ours: one step, seen whole or not at all
            return run_dir
        except BaseException:
            shutil.rmtree(incoming, ignore_errors=True)
            with contextlib.suppress(OSError):
                if run_dir is not None:
                    run_dir.rmdir()
            raise


def claim_run_dir(run_dir: Path) -> None:
    """Make run_dir (new or empty) this training's own, or raise RunDirInUseError.

    The owner file is created with O_EXCL, so of two trainings started together into one folder exactly one wins.
    """
    run_dir = Path(run_dir)
    owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": (_proc_stat(os.getpid()) or ("", None))[1]}
    with disk_errors(f"The run folder {run_dir}"):
        run_dir.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(run_dir / OWNER_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            fd = None
        if fd is not None:
            with os.fdopen(fd, "w") as f:
                json.dump(owner, f)
    if fd is None:
        raise RunDirInUseError(f"{run_dir} is being written by another training ({_who(run_dir)}); "
                               "choose a new folder.")
    others = sorted(p.name for p in run_dir.iterdir() if p.name != OWNER_FILE)
    if others:
        release_run_dir(run_dir)
        raise RunDirInUseError(f"{run_dir} already holds {', '.join(others[:5])}; a training needs a new or empty "
                               "folder.")


def release_run_dir(run_dir: Path) -> None:
    """Remove this training's owner file: the run is no longer being written."""
    with contextlib.suppress(OSError):  # a read-only folder keeps it, and the run then reads "interrupted"
        (Path(run_dir) / OWNER_FILE).unlink()


def run_status(run_dir: Path, saved: str) -> str:
    """The status saved in config.json, except that "running" with no live training behind it is "interrupted"."""
    if saved != "running":
        return saved
    return "running" if _owner_alive(_owner(Path(run_dir))) else "interrupted"


def mark_queued(run_dir: Path | None) -> None:
    """Say in the folder that its training waits in a queue, so the runs table lists it as queued, not broken."""
    with contextlib.suppress(OSError):
        if run_dir is not None:
            (Path(run_dir) / QUEUED_FILE).touch()


def unmark_queued(run_dir: Path | None) -> None:
    with contextlib.suppress(OSError):
        if run_dir is not None:
            (Path(run_dir) / QUEUED_FILE).unlink(missing_ok=True)


def in_training(run_dir: Path) -> bool:
    """Whether a live training has claimed this run folder (it may not have saved an epoch yet)."""
    return _owner_alive(_owner(Path(run_dir)))


def _owner(run_dir: Path) -> dict | None:
    try:
        owner = json.loads((run_dir / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) else None


def _who(run_dir: Path) -> str:
    owner = _owner(run_dir) or {}
    state = "alive" if _owner_alive(owner) else "no longer running"
    return f"process {owner.get('pid', '?')} on {owner.get('host', '?')}, {state}"


def _owner_alive(owner: dict | None) -> bool:
    """Whether the process that claimed a run folder still runs (one on another host is taken to)."""
    if not owner or not isinstance(owner.get("pid"), int) or owner["pid"] <= 0:
        return False
    if owner.get("host") != socket.gethostname():
        return True  # a shared runs folder: that host's processes cannot be asked from here
    try:
        os.kill(owner["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    stat = _proc_stat(owner["pid"])
    if stat is None:  # no /proc here: os.kill's answer is all there is
        return True
    state, started = stat
    return state != "Z" and owner.get("started") in (None, started)  # a reused pid started at another time


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """A process's state ("Z" for a zombie) and start time (clock ticks since boot), from Linux's /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0], fields[19]
    except (OSError, IndexError):
        return None
