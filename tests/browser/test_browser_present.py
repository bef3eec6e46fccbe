"""Every page in presentation mode (?present=1), photographed at 1280 px as a slide, and checked for what a
machine can check: no Streamlit chrome, the sidebar folded away, nothing wider than the page, no figure text
under 11 px. The PNGs land in screenshots/present/ to look at."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from browser import ROOT, page_paths, screenshot
from lenet.screenshots import wait_until_drawn

SHOTS = ROOT / "screenshots" / "present"
SMALLEST_FIGURE_TEXT_PX = 11
CHROME = ("stToolbarActions", "stMainMenu", "stAppDeployButton", "stDecoration", "stStatusWidget")
# What the page shows, measured in the browser. Elements that show nothing (hidden, or clipped to one pixel as
# react-aria does with a slider's <input>) are left out: only Streamlit's own elements, those with a test id, count.
MEASURE = """() => {
  const width = window.innerWidth;
  const shown = e => e.checkVisibility({opacityProperty: true, visibilityProperty: true})
    && e.getBoundingClientRect().width > 0;
  const name = e => e.dataset.testid + ': ' + (e.innerText || '').trim().slice(0, 40);
  const elements = [...document.querySelectorAll('[data-testid=stMain] [data-testid]')].filter(shown);
  const texts = [...document.querySelectorAll('[data-testid=stPlotlyChart] svg text')]
    .filter(t => t.textContent.trim() && shown(t));
  const sidebar = document.querySelector('[data-testid=stSidebar]');
  return {
    width,
    page_width: document.documentElement.scrollWidth,
    main_width: document.querySelector('[data-testid=stMain]').scrollWidth,
    too_wide: elements.filter(e => e.getBoundingClientRect().right > width + 1).map(name),
    small_text: texts.map(t => [parseFloat(getComputedStyle(t).fontSize), t.textContent.trim().slice(0, 30)])
      .filter(([size]) => size < %d),
    figure_texts: texts.length,
    chrome: %s.filter(id => [...document.querySelectorAll(`[data-testid=${id}]`)].some(shown)),
    sidebar_shown: sidebar !== null && sidebar.getBoundingClientRect().right > 0
      && sidebar.getAttribute('aria-expanded') !== 'false',
    font_px: parseFloat(getComputedStyle(document.documentElement).fontSize),
  };
}""" % (SMALLEST_FIGURE_TEXT_PX, list(CHROME))


def _png_name(url_path: str) -> str:
    return (url_path.strip("/").split("?")[0] or "Home") + ".png"


@pytest.mark.parametrize("url_path", page_paths())
def test_every_page_reads_as_a_slide_in_presentation_mode(browser_page, url_path):
    result = screenshot(browser_page, f"{url_path}?present=1", SHOTS / _png_name(url_path))
    assert not result["page_not_found"] and not result["exception"], result["exception_text"]
    seen = browser_page.evaluate(MEASURE)
    assert not seen["chrome"], f"{url_path}: Streamlit's own chrome shows: {seen['chrome']}"
    assert not seen["sidebar_shown"], f"{url_path}: the sidebar is open"
    assert seen["font_px"] > 16, "presentation mode sets larger type"
    assert seen["page_width"] <= seen["width"] and seen["main_width"] <= seen["width"], seen
    assert not seen["too_wide"], f"{url_path}: wider than the page: {seen['too_wide']}"
    assert not seen["small_text"], f"{url_path}: figure text under {SMALLEST_FIGURE_TEXT_PX} px: {seen['small_text'][:10]}"


def test_without_presentation_mode_the_chrome_and_sidebar_are_there(browser_page):
    """The measure can fail: on an ordinary page it sees the menu and the sidebar."""
    screenshot(browser_page, "/Pooling", SHOTS / "Pooling_not_presenting.png")
    seen = browser_page.evaluate(MEASURE)
    assert "stMainMenu" in seen["chrome"] and seen["sidebar_shown"] and seen["font_px"] == 16


def test_the_switch_turns_it_on_and_the_sidebar_keeps_it_on_every_page(browser_page):
    page = browser_page
    screenshot(page, "/Pooling?mode=avg", SHOTS / "Pooling_before_the_switch.png")
    page.locator('[data-testid="stSidebar"]').get_by_text("Presentation mode").click()
    page.wait_for_timeout(600)  # the script's query-parameter update reaches the address bar
    wait_until_drawn(page)
    assert parse_qs(urlsplit(page.url).query) == {"mode": ["avg"], "present": ["1"]}
    assert not page.evaluate(MEASURE)["chrome"]
    page.locator('[data-testid="stExpandSidebarButton"]').click()  # folded away by the mode: open it
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Channels", exact=True).click()
    page.wait_for_timeout(600)
    wait_until_drawn(page)
    assert urlsplit(page.url).path == "/Channels" and parse_qs(urlsplit(page.url).query) == {"present": ["1"]}
    assert not page.evaluate(MEASURE)["chrome"]
