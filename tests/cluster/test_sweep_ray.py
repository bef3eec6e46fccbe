"""python -m lenet.sweep --executor ray on the real local Ray cluster: the same seeds give the same accuracies as
the local executor, every trial's run folder is written here, and each trial names the Ray node it ran on."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from lenet import build_lenet, count_parameters, load_run
from lenet import sweep as sweep_module
from lenet.training import list_runs
from helpers import ROOT

SHARED = ["--preset", "modern", "--subset", "500", "--test-subset", "500", "--epochs", "1", "--batch-size", "128",
          "--device", "cpu", "--threads", "1", "--no-snapshots", "--seed", "3", "--grid", "kernel_sizes=3,5"]
COLUMNS = ("settings", "parameters", "status", "epochs", "test_acc")


def test_a_sweep_on_ray_matches_the_local_one_and_names_its_nodes(ray_cluster, tmp_path, capsys):
    local = sweep_module.main([*SHARED, "--out", str(tmp_path / "local")])
    capsys.readouterr()
    remote = sweep_module.main([*SHARED, "--executor", "ray", "--address", ray_cluster.address,
                                "--out", str(tmp_path / "ray")])
    out, err = capsys.readouterr()
    assert json.loads(out.strip().splitlines()[-1]) == json.loads(json.dumps(remote)) and remote["executor"] == "ray"
    assert f"Ray: the Ray cluster at {ray_cluster.address}" in err
    same = [{k: t[k] for k in COLUMNS} for t in local["trials"]]
    assert [{k: t[k] for k in COLUMNS} for t in remote["trials"]] == same
    assert remote["trials"][0]["test_acc"] != remote["trials"][1]["test_acc"]  # the kernels do change the outcome
    assert {t["node"] for t in local["trials"]} == {"local"}
    for trial in remote["trials"]:
        assert trial["status"] == "finished" and len(trial["node"]) == 56  # a Ray node id (hex)
        run = load_run(trial["run_dir"])  # written by this process from the epochs the worker handed back
        assert trial["run_dir"].startswith(str(tmp_path / "ray"))
        assert run.history["test_acc"].iloc[-1] == trial["test_acc"]
        assert trial["parameters"] == count_parameters(build_lenet(run.config))


def test_the_sweep_page_runs_its_trials_on_ray(ray_cluster, runs_dir, monkeypatch):
    monkeypatch.setenv("LENET_RAY_ADDRESS", ray_cluster.address)
    at = AppTest.from_file(str(ROOT / "pages" / "11_Sweep.py"), default_timeout=120).run()
    at.selectbox(key="set2").set_value("none")
    at.select_slider(key="images").set_value(1000)
    at.select_slider(key="test_images").set_value(1000)
    at.run()
    assert not at.exception and any(f"on the Ray cluster at {ray_cluster.address}" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Start the sweep").click().run()
    sweep = at.session_state["sweep"]
    try:
        results = sweep.wait(poll_s=0.1)
        at.run()
        assert not at.exception and [r["status"] for r in results] == ["finished", "finished"], results
        table = at.dataframe[0].value
        assert all(len(node) == 56 for node in table["node"]) and list(table["kernel_sizes"]) == ["3x3", "5x5"]
        assert len(list_runs(runs_dir)) == 2 and len(at.get("plotly_chart")) == 2
    finally:
        sweep.stop()
