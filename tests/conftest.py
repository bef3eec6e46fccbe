"""Fixtures shared by the test modules (the helpers they import are in helpers.py and browser.py)."""

import pytest
import torch

from browser import app_server, browser_page  # noqa: F401  (registered once here, so one server and one browser)


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Torch on one thread, as the app runs it: two threads on 2 busy cores ran ~10x slower (docs/benchmark.md)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """A fresh runs folder for the app under test ($LENET_RUNS_DIR), and no reference runs, so tests see only their own
    runs (tests/training/test_reference_runs.py shows the reference runs)."""
    monkeypatch.setenv("LENET_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LENET_REFERENCE_RUNS_DIR", "none")
    return tmp_path / "runs"


@pytest.fixture
def registries():
    """make(**kwargs) -> a JobRegistry whose queued and running jobs are stopped and joined after the test."""
    from lenet.training import JobRegistry

    made = []

    def make(**kwargs) -> JobRegistry:
        made.append(JobRegistry(**kwargs))
        return made[-1]
    yield make
    for registry in made:
        registry.stop_all()
        for job in registry.running():
            job.join(30)
