"""Fixtures shared by the test modules."""

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
