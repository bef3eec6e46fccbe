"""python -m lenet.train --executor ray: the same training on a cluster worker, its run folder written here."""

from __future__ import annotations

import json
import subprocess
import sys

from lenet.training import load_run
from helpers import ROOT
from cluster_helpers import free_port

TINY = ["--preset", "modern", "--subset", "1000", "--test-subset", "500", "--epochs", "1", "--seed", "3"]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lenet.train", *TINY, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_the_training_cli_trains_on_ray_and_says_where(ray_cluster, tmp_path):
    local = cli("--threads", "1")
    done = cli("--executor", "ray", "--address", ray_cluster.address, "--out", str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr[-2000:]
    summary, here = json.loads(done.stdout.splitlines()[-1]), json.loads(local.stdout.splitlines()[-1])
    assert summary["node"] not in ("local", "") and here["node"] == "local"
    assert summary["test_acc"] == here["test_acc"] and summary["train_loss"] == here["train_loss"]
    assert "Ray: the Ray cluster at" in done.stderr
    assert load_run(tmp_path / "run").history.loc[0, "test_acc"] == summary["test_acc"]


def test_the_training_cli_refuses_a_cluster_that_does_not_answer_with_one_sentence():
    port = free_port()
    done = cli("--executor", "ray", "--address", f"127.0.0.1:{port}")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().endswith(f"error: No Ray cluster answers at 127.0.0.1:{port} (within 5 s).")
