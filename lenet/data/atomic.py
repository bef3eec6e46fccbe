"""Atomic file writes: a reader sees the old file or the new one, never half of one; a refused write is a sentence."""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from pathlib import Path
from typing import Iterator

REASONS = {errno.ENOSPC: "is full", errno.EDQUOT: "is over its disk quota", errno.EROFS: "is read-only",
           errno.EACCES: "is read-only for this server (no permission to write)", errno.EPERM: "is read-only for "
           "this server (no permission to write)"}


class DiskError(OSError):
    """A write the file system refused (full, read-only, no permission), said as one sentence."""


@contextlib.contextmanager
def disk_errors(what: str) -> Iterator[None]:
    """Turn an OSError raised inside into a DiskError that says what was refused: "<what> is full: ..."."""
    try:
        yield
    except DiskError:
        raise
    except OSError as e:
        reason = REASONS.get(e.errno, "could not be written")
        error = DiskError(f"{what} {reason}: {e.strerror or e}" + (f" ({e.filename})." if e.filename else "."))
        error.errno = e.errno  # so callers can still tell a full disk from a read-only one
        raise error from None


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside path, then rename it over path."""
    write_files_atomic({path: data})


def write_files_atomic(files: dict[Path, bytes]) -> None:
    """Write every file to a temporary beside it, then rename them over the files in order.

    All the bytes are written before the first rename, so a disk that fills up changes none of the files.
    The temporary names are unique to this process and thread, so two writers never share one.
    """
    tmps = {path: path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp") for path in files}
    try:
        for path, data in files.items():
            with open(tmps[path], "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for path, tmp in tmps.items():
            os.replace(tmp, path)
    finally:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)
