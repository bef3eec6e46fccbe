"""python -m lenet.latency on two pages: a smoke test that it drives Chromium and reports, no timing asserted."""

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from lenet.environment import read_environment
from lenet.latency import main


def test_latency_reports_two_pages_against_the_trivial_page(tmp_path, capsys):
    if not os.path.exists(read_environment().chromium):
        pytest.skip("Chromium is missing (apt-get install chromium)")
    out = tmp_path / "latency.json"
    args = ["--only", "Pooling", "Padding_and_stride", "--repeats", "2", "--out", str(out)]
    with ThreadPoolExecutor(1) as pool:  # its own thread: the browser tests' Playwright runs an event loop in this one
        result = pool.submit(main, args).result(timeout=600)
    assert json.loads(capsys.readouterr().out) == result == json.loads(out.read_text())
    assert set(result["interactions"]) == {"Pooling: window height", "Padding_and_stride: kernel height"}
    for measured in result["interactions"].values():
        assert len(measured["times_ms"]) == 2 and all(t > 0 for t in measured["times_ms"])
        assert measured["ratio"] == pytest.approx(measured["median_ms"] / result["trivial_ms"]["number"], abs=0.02)
    assert set(result["trivial_ms"]) == {"number", "slider", "select", "multiselect"}
    assert set(result["page_loads"]["warm_s"]) == {"/", "/Padding_and_stride", "/Pooling"}
