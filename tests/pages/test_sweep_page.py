"""The Sweep page through AppTest: it draws, a tiny real sweep runs to the end with its table and figures, every
trial is a run that Inspect opens, Stop stops it, bad values and the server's caps are one sentence."""

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lenet import count_parameters, load_model
from lenet.training import list_runs
from helpers import INSPECT, ROOT

SWEEP = str(ROOT / "pages" / "11_Sweep.py")

pytestmark = pytest.mark.usefixtures("runs_dir")  # every test gets its own runs folder


def open_sweep(values1="3, 5", set2="none", epochs=1):
    at = AppTest.from_file(SWEEP, default_timeout=90).run()
    at.text_input(key="values1").set_value(values1)
    at.selectbox(key="set2").set_value(set2)
    at.select_slider(key="images").set_value(1000)
    at.select_slider(key="test_images").set_value(1000)
    at.number_input(key="epochs").set_value(epochs)
    return at.run()


def start(at):
    next(b for b in at.button if b.label == "Start the sweep").click().run()
    return at.session_state["sweep"]


def test_the_page_draws_its_default_grid():
    at = AppTest.from_file(SWEEP, default_timeout=90).run()
    assert not at.exception and not at.error
    assert any(c.value.startswith("4 trial(s) of 1 epoch(s) on 2,000 images") for c in at.caption)
    assert at.selectbox(key="set1").value == "kernel_sizes" and at.text_input(key="values3").disabled
    assert not at.get("plotly_chart") and any("Start the sweep" in i.value for i in at.info)


def test_a_tiny_sweep_runs_to_the_end_with_its_table_and_figures(runs_dir):
    at = open_sweep()
    assert not at.exception and not at.error
    sweep = start(at)
    try:
        results = sweep.wait(poll_s=0.1)
        at.run()
        assert not at.exception and [r["status"] for r in results] == ["finished", "finished"]
        assert any("The sweep has ended" in s.value for s in at.success)
        table = at.dataframe[0].value
        assert list(table["status"]) == ["finished", "finished"] and list(table["kernel_sizes"]) == ["3x3", "5x5"]
        runs = list_runs(runs_dir)
        assert len(runs) == 2 and set(runs["epochs"]) == {1}
        for (_, row), result in zip(table.iterrows(), results):
            assert row["parameters"] == count_parameters(load_model(result["run_dir"]))
            assert row["test accuracy"] == result["test_acc"] > 0.1
            assert Path(result["run_dir"]).parent == runs_dir and "sweep-kernel_sizes-" in result["run_dir"]
        scatter, parallel = (json.loads(chart.proto.spec) for chart in at.get("plotly_chart"))
        assert [point for trace in scatter["data"] for point in trace["x"]] == list(table["parameters"])
        assert parallel["data"][0]["type"] == "parcoords"
        assert not next(b for b in at.button if b.label == "Start the sweep").disabled  # one at a time: it ended

        inspect = AppTest.from_file(INSPECT, default_timeout=90)
        inspect.query_params["model"] = Path(results[1]["run_dir"]).name
        inspect.run()
        assert not inspect.exception and not inspect.error
        assert inspect.selectbox(key="model").value == Path(results[1]["run_dir"]).name
    finally:
        sweep.stop()


def test_stop_ends_the_sweep_and_keeps_finished_epochs():
    at = open_sweep(values1="3, 5, 7", epochs=30)
    sweep = start(at)
    try:
        assert next(b for b in at.button if b.label == "Start the sweep").disabled  # one sweep per session
        while sweep.result(0)["epochs"] < 1:
            assert sweep.running, sweep.results()
            time.sleep(0.05)
        at.run()
        next(b for b in at.button if b.label == "Stop").click().run()
        results = sweep.wait(poll_s=0.1)
        at.run()
        assert not at.exception and [r["status"] for r in results] == ["stopped", "stopped", "cancelled"]
        assert 1 <= results[0]["epochs"] < 30 and list(at.dataframe[0].value["status"])[2] == "cancelled"
        assert not at.get("plotly_chart") or results[0]["test_acc"] is not None
    finally:
        sweep.stop()


@pytest.mark.parametrize("values, message", [
    ("3, five", "kernel_sizes takes whole numbers, not 'five'"),
    ("3, 50", "kernel_sizes=50x50 cannot run"),
    ("3, 3", "lists 3 twice"),
    ("", "empty value"),
])
def test_bad_values_are_one_sentence_and_start_is_off(values, message):
    at = open_sweep(values1=values)
    assert not at.exception and any(message in e.value for e in at.error), [e.value for e in at.error]
    assert next(b for b in at.button if b.label == "Start the sweep").disabled


def test_the_same_setting_twice_is_one_sentence():
    at = open_sweep(set2="kernel_sizes")
    assert any("kernel_sizes is swept twice" in e.value for e in at.error)


def test_the_servers_caps_hold_for_swept_values(monkeypatch):
    monkeypatch.setenv("LENET_MAX_EPOCHS", "3")
    at = AppTest.from_file(SWEEP, default_timeout=90).run()
    at.selectbox(key="set2").set_value("epochs").run()
    at.text_input(key="values2").set_value("1, 5").run()
    assert any("trains 5 epochs; this server allows 3" in e.value for e in at.error)
    assert at.number_input(key="epochs").max == 3
