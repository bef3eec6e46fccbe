"""A run folder as one .zip file: exported for download, checked to the last byte before it is imported."""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from pathlib import Path

from ..core.model import DEFAULT_MAX_TRAINING_BYTES, build_lenet
from .folders import write_run_folder
from .run_files import (
    MAX_CONFIG_BYTES,
    MAX_METRICS_BYTES,
    MAX_NAME_CHARS,
    clean_name,
    load_weights_into,
    parse_info,
    parse_json,
    parse_metrics,
    printable,
    too_large,
    weights_cap,
)
from .runs import OPTIONAL_FILES, RUN_FILES, list_runs, load_run
from .snapshots import MAX_SNAPSHOT_BYTES, SNAPSHOT_FILE, Timeline

MAX_ZIP_BYTES = 50_000_000  # a classic LeNet run zips to about 250 kB
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what export_run writes (and zip tools write by default)
CHUNK_BYTES = 1 << 20  # unpacked at a time: what an entry costs beyond its cap, whatever its header says
# The list of files at the end of a zip, which zipfile reads whole into ~600 bytes of objects per file: a run zip's
# lists its 3 or 4 files in about 250 bytes; a 50 MB zip of empty files would list 500,000 of them.
MAX_DIRECTORY_BYTES = 4096
# What goes wrong inside zipfile and zlib when a zip is damaged: a bad CRC, a broken deflate stream, a header that
# points past the end or holds a name that is not UTF-8.
DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, struct.error, NotImplementedError)


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


def _check_directory(data: bytes) -> None:
    """Refuse a zip whose list of files is longer than a run zip's, reading only its end record, as zipfile finds it."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - (1 << 16) - 22))
    if end < 0 or end + 22 > len(data):
        raise ValueError("The file is not a zip archive, or it is damaged.")
    zip64 = data[max(0, end - 20):end].startswith(b"PK\x06\x07")  # sizes beyond 4 GB, which zipfile would then use
    if zip64 or struct.unpack_from("<I", data, end + 12)[0] > MAX_DIRECTORY_BYTES:
        raise ValueError("The zip lists more files than a run zip holds (config.json, metrics.csv, model.pt and maybe "
                         "snapshots.pt).")


def _open_zip(data: bytes) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    """The zip and its entries by name, refusing anything but a run's files stored or deflated, unencrypted."""
    if len(data) > MAX_ZIP_BYTES:
        raise ValueError(f"The file is {len(data) / 1e6:.0f} MB; a run zip may be at most {MAX_ZIP_BYTES / 1e6:.0f} MB.")
    _check_directory(data)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except DAMAGED:
        raise ValueError("The file is not a zip archive, or it is damaged.") from None
    names = [i.filename for i in zf.infolist()]
    if sorted(set(names) - set(OPTIONAL_FILES)) != sorted(RUN_FILES) or len(set(names)) != len(names):
        shown = printable(", ".join(names[:10]), 200) or "nothing"
        raise ValueError(f"A run zip holds exactly {', '.join(RUN_FILES)} (and maybe {', '.join(OPTIONAL_FILES)}) "
                         f"at its top level; this one holds {shown}.")
    for info in zf.infolist():
        if info.flag_bits & 0x1:
            raise ValueError(f"{info.filename} in the zip is encrypted; run zips from LeNet Lab never are.")
        if info.compress_type not in METHODS:
            method = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "LZMA"}.get(info.compress_type, "an unknown method")
            raise ValueError(f"{info.filename} in the zip is compressed with {method}; LeNet Lab reads only stored or "
                             "deflated files, as in the run zips it writes.")
    return zf, {i.filename: i for i in zf.infolist()}


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    """An entry's bytes, unpacked a chunk at a time and refused as soon as there are more than cap of them."""
    where = f"{info.filename} in the zip"
    if info.file_size > cap:
        raise ValueError(too_large(where, cap))
    chunks, size = [], 0
    try:
        with zf.open(info) as f:
            while size <= cap and (chunk := f.read(CHUNK_BYTES)):
                size += len(chunk)
                chunks.append(chunk)
    except DAMAGED:
        raise ValueError(f"{where} is damaged: it cannot be unpacked.") from None
    if size > cap:
        raise ValueError(too_large(where, cap))
    return b"".join(chunks)


def import_run(data: bytes, root: Path | None = None, max_training_bytes: int = DEFAULT_MAX_TRAINING_BYTES) -> Path:
    """Check a zip made by export_run and unpack it into a new run folder; returns that folder.

    Each file is unpacked only up to its cap (config.json and metrics.csv small, model.pt the size of the model that
    config.json describes, which must fit in max_training_bytes to train); a bad file is a ValueError that says why.
    """
    zf, entries = _open_zip(data)
    with zf:
        files = {"config.json": _read_entry(zf, entries["config.json"], MAX_CONFIG_BYTES)}
        info = parse_json(files["config.json"], "config.json in the zip")
        config, _ = parse_info(info, "config.json in the zip", max_training_bytes)
        files["metrics.csv"] = _read_entry(zf, entries["metrics.csv"], MAX_METRICS_BYTES)
        parse_metrics(files["metrics.csv"], "metrics.csv in the zip")
        model = build_lenet(config)
        files["model.pt"] = _read_entry(zf, entries["model.pt"], weights_cap(model))
        load_weights_into(model, files["model.pt"], "model.pt in the zip")
        if SNAPSHOT_FILE in entries:
            files[SNAPSHOT_FILE] = _read_entry(zf, entries[SNAPSHOT_FILE], MAX_SNAPSHOT_BYTES)
            Timeline.from_bytes(files[SNAPSHOT_FILE], config, f"{SNAPSHOT_FILE} in the zip")
    name = clean_name(info.get("name"), "imported")
    if name in set(list_runs(root)["name"]):  # a second upload of one run: the list shows "... (copy)"
        name = copy_name(name, set(list_runs(root)["name"]))
        files["config.json"] = json.dumps(info | {"name": name}, indent=2).encode()
    return write_run_folder(files, name, root)  # whole, or not at all


def copy_name(name: str, taken: set[str]) -> str:
    """name, else "name (copy)", "name (copy 2)", ...: the first that no run in the folder is listed under."""
    candidates = (name, *(f"{name[:MAX_NAME_CHARS - 12]} (copy{'' if n == 1 else f' {n}'})" for n in range(1, 10_000)))
    return next(c for c in candidates if c not in taken)
