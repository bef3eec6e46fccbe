"""Memory of one app process with several sessions open (AppTest), against a hosted app's ~1 GB.

Each session opens the home page, Train and Inspect (the pages that hold data and models) and stays
open; the first one also trains a tiny model. The measurement runs in a fresh process, so that the
test process's own imports do not count. To see the numbers:

    .venv/bin/python tests/hardening/test_memory.py --sessions 6
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # also run as a script, without the tests' sys.path

TRAIN = "pages/6_Train.py"
PAGES = ["streamlit_app.py", TRAIN, "pages/7_Inspect.py"]
# Peaks measured here with 3 sessions (README, "Deploy"): 675 MB with torch's CPU build (as on Streamlit
# Community Cloud), 1,058 MB with its CUDA build, which maps ~450 MB more at import. Bounds: ~25% margin.
BOUND_MB = {"cpu": 850, "cuda": 1350}
# What visitors, data, caches and a training add to the freshly imported app: ~300-350 MB, plus ~150 MB of
# torch._dynamo, which torch.optim imports at the first training (measured 484 MB with the CUDA build).
GROWTH_BOUND_MB = 600


def memory_mb() -> dict[str, float]:
    """This process's resident memory now and at its peak, in MB (Linux)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {"rss_mb": int(fields["VmRSS"].split()[0]) / 1024, "peak_mb": int(fields["VmHWM"].split()[0]) / 1024}


def open_sessions(sessions: int) -> dict:
    """Open `sessions` sessions on PAGES in this process, train once in the first; memory before and after."""
    from streamlit.testing.v1 import AppTest

    import lenet  # noqa: F401  (imports torch: the baseline is an app process before any visitor)
    import torch

    baseline = memory_mb()["rss_mb"]
    start = time.monotonic()
    open_pages = []
    for i in range(sessions):
        session = {page: AppTest.from_file(str(ROOT / page), default_timeout=120).run() for page in PAGES}
        for page, at in session.items():
            assert not at.exception, f"{page}: {at.exception}"
        open_pages += session.values()
        if i == 0:
            train = session[TRAIN]
            train.selectbox(key="preset").set_value("modern").run()
            train.select_slider(key="images").set_value(1000)
            train.number_input(key="epochs").set_value(1)
            next(b for b in train.run().button if b.label == "Train").click().run()
            job = train.session_state["train_job"]
            job.join(300)
            assert job.status == "finished", job.error
    return {"sessions": sessions, "pages_open": len(open_pages), "torch": "cuda" if torch.version.cuda else "cpu",
            "baseline_mb": round(baseline),
            **{k: round(v) for k, v in memory_mb().items()}, "seconds": round(time.monotonic() - start, 1)}


def measure(sessions: int, timeout_s: float = 300) -> dict:
    """open_sessions in a fresh Python process, with a temporary runs folder."""
    with tempfile.TemporaryDirectory() as runs:
        done = subprocess.run(
            [sys.executable, __file__, "--sessions", str(sessions)], cwd=ROOT, capture_output=True, text=True,
            timeout=timeout_s, env=dict(os.environ, LENET_RUNS_DIR=runs),
        )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory from Linux's /proc")
def test_three_sessions_stay_under_the_bound():
    m = measure(3)
    print(m)
    assert m["pages_open"] == 3 * len(PAGES)
    assert m["peak_mb"] < BOUND_MB[m["torch"]], f"{m} (bound {BOUND_MB[m['torch']]} MB)"
    assert m["peak_mb"] - m["baseline_mb"] < GROWTH_BOUND_MB, f"{m} (growth bound {GROWTH_BOUND_MB} MB)"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Memory of one process with several AppTest sessions open.")
    parser.add_argument("--sessions", type=int, default=3)
    sys.path.insert(0, str(ROOT))
    print(json.dumps(open_sessions(parser.parse_args().sessions)))
