"""Open LeNet Lab's pages in a real browser: `streamlit run` on a free port, headless Chromium, screenshots.

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
Both fixtures skip the test when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 800}


def page_paths() -> list[str]:
    """URL paths of the home page and every page in pages/, in the sidebar's order."""
    files = sorted((ROOT / "pages").glob("*.py"), key=lambda f: (int(m.group(1)) if (m := re.match(r"(\d+)", f.name)) else 10**6, f.name))
    return ["/"] + ["/" + re.sub(r"^\d+_", "", f.stem) for f in files if f.name != "__init__.py"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer on {url} within {timeout} s")


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """Start `streamlit run streamlit_app.py` on a free localhost port, saving runs in a temporary folder;
    yield its base URL."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); browser tests need it")
    port = _free_port()
    command = [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
        "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
    ]
    env = dict(os.environ, LENET_RUNS_DIR=str(tmp_path_factory.mktemp("runs")))
    log = tmp_path_factory.mktemp("server") / "streamlit.log"  # a file, not a pipe nobody reads, which could fill up
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="session")
def browser_page(app_server):
    """A headless Chromium page, 1280x800, whose relative URLs go to the app."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=app_server, viewport=VIEWPORT)
        yield context.new_page()
        browser.close()


def full_length_screenshot(page, out_png: str | Path) -> None:
    """Streamlit scrolls inside its main section, so grow the window to the content's height for one shot."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stAppViewContainer]')]"
        ".map(e => e.scrollHeight), window.innerHeight)"
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": min(int(height), 12_000)})
    page.wait_for_timeout(200)
    page.screenshot(path=str(out_png))
    page.set_viewport_size(VIEWPORT)


def screenshot(page, url_path: str, out_png: str | Path, timeout_s: float = 30) -> dict:
    """Open url_path, wait for Streamlit to finish the script and draw, save a PNG of the whole page (1280 wide).

    Returns {"url", "png", "seconds", "exception" (bool), "exception_text", "page_not_found" (bool)}.
    """
    start = time.monotonic()
    page.goto(url_path)
    app = page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')
    app.wait_for(timeout=timeout_s * 1000)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=timeout_s * 1000)
    charts = page.locator('[data-testid="stPlotlyChart"]')
    for i in range(charts.count()):
        charts.nth(i).locator(".main-svg").first.wait_for(timeout=timeout_s * 1000)
    page.wait_for_timeout(300)  # let the last chart finish its layout
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    full_length_screenshot(page, out_png)
    exceptions = page.locator('[data-testid="stException"]')
    return {
        "url": page.url,
        "png": str(out_png),
        "seconds": round(time.monotonic() - start, 2),
        "exception": exceptions.count() > 0,
        "exception_text": "\n".join(exceptions.all_inner_texts()),
        "page_not_found": page.get_by_text("Page not found").count() > 0,
    }
