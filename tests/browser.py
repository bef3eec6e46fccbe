"""Open LeNet Lab's pages in a real browser, with the same code as `python -m lenet.screenshots`.

The fixtures are registered once, in conftest.py; a test module imports only the helpers:

    from browser import page_paths, screenshot

    def test_train_page(browser_page):
        result = screenshot(browser_page, "/Train?epochs=1", "screenshots/train.png")
        assert not result["exception"], result["exception_text"]

- app_server (session fixture): the base URL of a running `streamlit run streamlit_app.py`.
- browser_page (session fixture): a Playwright page on it, 1280x800, so page.goto("/Pooling") works.
- screenshot(page, url_path, out_png) -> dict: opens the path, waits until Streamlit has finished running
  the script and the charts are drawn, saves a PNG of the whole page, 1280 wide, and reports what it saw.
- page_paths(): "/" and one URL path per pages/*.py file ("pages/2_Padding_and_stride.py" -> "/Padding_and_stride").
Both fixtures skip the test when Chromium is missing.
"""

from __future__ import annotations

import os

import pytest

from lenet.environment import read_environment
from lenet.screenshots import ROOT, chromium_page, full_length_screenshot, page_paths, screenshot, streamlit_server

__all__ = ["ROOT", "app_server", "browser_page", "full_length_screenshot", "page_paths", "screenshot"]


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The app on a free localhost port, saving runs in a temporary folder; yields its base URL."""
    chromium = read_environment().chromium
    if not os.path.exists(chromium):
        pytest.skip(f"{chromium} is missing (apt-get install chromium); browser tests need it")
    with streamlit_server(tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="session")
def browser_page(app_server):
    """A headless Chromium page, 1280x800, whose relative URLs go to the app."""
    with chromium_page(app_server, chromium=read_environment().chromium) as page:
        yield page
