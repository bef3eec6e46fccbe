"""The Home and Train pages with LENET_RAY_ADDRESS set: a tiny training on the Ray cluster, and a fallback to this
process with one sentence when the cluster does not answer or Ray is not installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from streamlit.testing.v1 import AppTest

from lenet.training import list_runs, load_run
from helpers import HOME, ROOT, TRAIN
from cluster_helpers import free_port

pytestmark = pytest.mark.usefixtures("runs_dir")


def open_train(subset: int = 1000, epochs: int = 1) -> AppTest:
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    at.selectbox(key="preset").set_value("modern").run()
    at.select_slider(key="images").set_value(subset)
    at.number_input(key="epochs").set_value(epochs)
    return at.run()


def press_train(at: AppTest):
    next(b for b in at.button if b.label == "Train").click().run()
    return at.session_state["train_job"]


def test_the_train_page_trains_on_the_ray_cluster(ray_cluster, runs_dir, monkeypatch):
    monkeypatch.setenv("LENET_RAY_ADDRESS", ray_cluster.address)
    at = open_train()
    assert not at.exception and not at.warning
    assert f"Trainings run on the Ray cluster at {ray_cluster.address} (2 at a time)." in [c.value for c in at.caption]
    job = press_train(at)
    try:
        job.join(180)
        at.run()
        assert not at.exception and job.status == "finished", job.error
        assert any("Finished after 1 epoch" in s.value for s in at.success)
        assert job.result.node not in ("", "local")  # a Ray node id
        runs = list_runs(runs_dir)
        assert len(runs) == 1 and load_run(runs.loc[0, "path"]).history.loc[0, "test_acc"] > 0.3
    finally:
        job.stop()
    home = AppTest.from_file(HOME, default_timeout=60).run()
    assert f"Trainings run on the Ray cluster at {ray_cluster.address} (2 at a time)." in [c.value for c in home.caption]


@pytest.mark.parametrize("address, sentence", [
    (f"127.0.0.1:{free_port()}", "No Ray cluster answers at 127.0.0.1:"),
    ("head-node", "A Ray address must be auto, host:port or ray://host:port, not 'head-node'"),
])
def test_a_cluster_that_does_not_answer_falls_back_to_this_process_with_one_sentence(address, sentence, monkeypatch):
    monkeypatch.setenv("LENET_RAY_ADDRESS", address)
    for page in (HOME, TRAIN):
        at = AppTest.from_file(page, default_timeout=60).run()
        assert not at.exception
        [warning] = at.warning
        assert warning.value.startswith(sentence) and warning.value.endswith("so trainings run in this process.")
    job = press_train(open_train(epochs=1))
    job.join(120)
    assert job.status == "finished" and job.result.node == "local", job.error


SCRIPT = """
import json, sys
sys.modules["ray"] = None  # as if Ray were not installed: `import ray` raises ImportError
from streamlit.testing.v1 import AppTest
seen = {}
for page in sys.argv[1:]:
    at = AppTest.from_file(page, default_timeout=120).run()
    seen[page] = {"exception": [str(e.value) for e in at.exception], "warning": [w.value for w in at.warning]}
print(json.dumps(seen))
"""


def test_ray_missing_with_the_variable_set_falls_back_with_the_message(runs_dir):
    env = {**os.environ, "LENET_RAY_ADDRESS": "127.0.0.1:6379", "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SCRIPT, HOME, TRAIN], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    for page in (HOME, TRAIN):
        assert seen[page]["exception"] == []
        assert seen[page]["warning"] == ["Ray is not installed here (pip install -r requirements-cluster.txt), so "
                                         "trainings run in this process."]
