"""What several test modules share: where the app's files are, and small matrices and checks for figures."""

from __future__ import annotations

import contextlib
import io
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pandas as pd
import torch
from PIL import Image

from lenet.lessons.grids import window_boxes

ROOT = Path(__file__).resolve().parent.parent
HOME = str(ROOT / "streamlit_app.py")
TRAIN, INSPECT, PARAMETERS = (str(ROOT / "pages" / name) for name in ("6_Train.py", "7_Inspect.py", "8_Parameters.py"))
APP_PAGES = [ROOT / "streamlit_app.py", *sorted((ROOT / "pages").glob("*.py"))]

X3 = torch.arange(9.0).reshape(3, 3)
K2 = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
X16 = torch.arange(16.0).reshape(4, 4)
# Two epochs of a run, for tests that save one without training.
HISTORY = pd.DataFrame({"epoch": [1, 2], "train_loss": [0.9, 0.5], "train_acc": [0.7, 0.8], "test_acc": [0.72, 0.81],
                        "images_per_s": [9000.0, 9100.0], "seconds": [7.0, 6.9]})


def run_snippet(code: str) -> dict:
    """Execute a snippet quietly and return its variables."""
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "<snippet>", "exec"), namespace)
    return namespace



def heatmaps(fig):
    return [t for t in fig.data if t.type == "heatmap"]


def outlined_cells(fig, xref: str):
    return sorted((round(y0 + 0.5), round(x0 + 0.5)) for x0, _, y0, _ in window_boxes(fig, xref))


def zip_of(files: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def dark_shape_on_white(width: int = 120, height: int = 80, box=(30, 20, 90, 60)) -> Image.Image:
    """A black rectangle (60 wide, 40 high) on a white page, like a drawing or a product photo."""
    image = Image.new("RGB", (width, height), "white")
    image.paste((0, 0, 0), box)
    return image


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels but holds almost no data: a decompression bomb's header."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")


def run_until_evaluated(at, timeout_s: float = 90):
    """Run an Inspect AppTest again until its background test-set evaluation has been drawn (the browser's timer
    does this on the page; AppTest runs no timers)."""
    from lenet.inspection import EVALUATING

    at.run()
    deadline = time.monotonic() + timeout_s
    while any(EVALUATING in info.value for info in at.info):
        assert time.monotonic() < deadline, "the evaluation did not arrive"
        time.sleep(0.2)
        at.run()
    return at


def app_page(path: str, timeout_s: float = 60, **query):
    """An AppTest of the page at `path`, opened with these URL query parameters and run once."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(path, default_timeout=timeout_s)
    for key, value in query.items():
        at.query_params[key] = str(value)
    return at.run()
