"""A run folder as one .zip file: exported for download, checked to the last byte before it is imported."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from ..core.model import build_lenet
from ..data.atomic import write_atomic
from .runs import (
    MAX_NAME_CHARS,
    OPTIONAL_FILES,
    RUN_FILES,
    load_run,
    load_weights_into,
    new_run_dir,
    parse_info,
    parse_metrics,
)
from .folders import write_run_folder
from .snapshots import SNAPSHOT_FILE, Timeline

MAX_ZIP_BYTES = 50_000_000  # a classic LeNet run zips to about 250 kB
MAX_ENTRY_BYTES = 200_000_000  # the most one file of a run zip may unpack to


def export_run(run_dir: Path) -> bytes:
    """The run folder's files as a .zip, for download."""
    run_dir = Path(run_dir)
    load_run(run_dir)  # refuse to export a broken run
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in RUN_FILES + OPTIONAL_FILES:
            if name in RUN_FILES or (run_dir / name).is_file():
                zf.write(run_dir / name, name)
    return buffer.getvalue()


def _read_zip(data: bytes) -> dict[str, bytes]:
    """The run files from a zip (snapshots.pt optional), refusing anything else, oversized entries included."""
    if len(data) > MAX_ZIP_BYTES:
        raise ValueError(f"The file is {len(data) / 1e6:.0f} MB; a run zip may be at most {MAX_ZIP_BYTES / 1e6:.0f} MB.")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ValueError("The file is not a zip archive.") from None
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if sorted(set(names) - set(OPTIONAL_FILES)) != sorted(RUN_FILES) or len(set(names)) != len(names):
            raise ValueError(f"A run zip holds exactly {', '.join(RUN_FILES)} (and maybe {', '.join(OPTIONAL_FILES)}) "
                             f"at its top level; this one holds {', '.join(names[:10]) or 'nothing'}.")
        files = {}
        for info in infos:
            if info.file_size > MAX_ENTRY_BYTES:
                raise ValueError(f"{info.filename} is too large ({info.file_size / 1e6:.0f} MB).")
            try:
                with zf.open(info) as f:
                    content = f.read(MAX_ENTRY_BYTES + 1)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:
                raise ValueError(f"{info.filename} in the zip cannot be read ({e}).") from None
            if len(content) > MAX_ENTRY_BYTES:
                raise ValueError(f"{info.filename} unpacks to more than {MAX_ENTRY_BYTES / 1e6:.0f} MB.")
            files[info.filename] = content
    return files


def import_run(data: bytes, root: Path | None = None) -> Path:
    """Check a zip made by export_run and unpack it into a new run folder; returns that folder."""
    files = _read_zip(data)
    try:
        info = json.loads(files["config.json"])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"config.json in the zip is not readable JSON ({e}).") from None
    if not isinstance(info, dict) or not isinstance(info.get("config"), dict) or not isinstance(info.get("settings"), dict):
        raise ValueError("config.json in the zip lacks the 'config' and 'settings' sections of a run.")
    config, _ = parse_info(info, "config.json in the zip")
    parse_metrics(files["metrics.csv"], "metrics.csv in the zip")
    load_weights_into(build_lenet(config), files["model.pt"], "model.pt in the zip")
    if SNAPSHOT_FILE in files:
        Timeline.from_bytes(files[SNAPSHOT_FILE], config, f"{SNAPSHOT_FILE} in the zip")
    name = str(info.get("name") or "imported")[:MAX_NAME_CHARS]
    return write_run_folder(files, name, root)  # whole, or not at all
