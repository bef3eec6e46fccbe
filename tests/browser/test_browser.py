"""Every page in a real browser: no exception box, and a screenshot under screenshots/ to look at."""

from pathlib import Path

import pytest

from browser import ROOT, page_paths, screenshot

SHOTS = ROOT / "screenshots"


def _png_name(url_path: str) -> str:
    return (url_path.strip("/").split("?")[0] or "Home") + ".png"


@pytest.mark.parametrize("url_path", page_paths())
def test_page_renders_without_exception(browser_page, url_path):
    result = screenshot(browser_page, url_path, SHOTS / _png_name(url_path))
    assert not result["page_not_found"], f"{url_path}: Streamlit says the page does not exist"
    assert not result["exception"], f"{url_path} shows an exception:\n{result['exception_text']}"
    assert Path(result["png"]).stat().st_size > 10_000


def test_shared_url_restores_settings(browser_page):
    result = screenshot(browser_page, "/Padding_and_stride?n_h=8&n_w=8&k_h=3&k_w=5&p_h=0&p_w=1&s_h=3&s_w=4", SHOTS / "Padding_shared_url.png")
    assert not result["exception"], result["exception_text"]
    shape = browser_page.locator('[data-testid="stMetric"]').filter(has_text="Output shape")
    assert "2 × 2" in shape.inner_text()
