"""Shared links in real Chromium: a page opened from its URL shows what the sender saw, and keeps it across the sidebar.

Each page's settings are first all changed through AppTest (settings_sweep.py); the URL that leaves is then opened
in the browser, which must keep every value, and again after a visit to Home through the sidebar.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest

import ui
from browser import ROOT, screenshot
from lenet.screenshots import wait_until_drawn
from lenet.lessons.exercises import page_url
from settings_sweep import SETTINGS_PAGES, swept, values

SHOTS = ROOT / "screenshots"
LABELS = {path: label for path, label, *_ in ui.PAGES}


def query_of(page) -> dict[str, str]:
    return {key: v[-1] for key, v in parse_qs(urlsplit(page.url).query, keep_blank_values=True).items()}


def settle(page) -> None:
    page.wait_for_timeout(600)  # the script's last query-parameter update reaches the address bar
    wait_until_drawn(page)


def test_a_typed_value_off_the_step_grid_survives_a_new_tab(browser_page):
    page = browser_page
    screenshot(page, "/Cross_correlation", SHOTS / "Cross_correlation_before_lr.png")
    field = page.get_by_role("spinbutton", name="Learning rate")
    field.fill("0.015")
    field.press("Enter")
    settle(page)
    assert query_of(page).get("lr") == "0.015", page.url
    tab = page.context.new_page()  # a new tab: a new Streamlit session that knows only the URL
    try:
        tab.goto(page.url)
        settle(tab)
        assert tab.get_by_role("spinbutton", name="Learning rate").input_value() == "0.015"
    finally:
        tab.close()


@pytest.mark.parametrize("page_file", SETTINGS_PAGES, ids=lambda p: p.split("/")[-1][:-3])
def test_a_shared_link_brings_back_every_setting_and_the_sidebar_keeps_them(browser_page, runs_dir, page_file):
    at, changed = swept(page_file)
    url, seen = dict(at.query_params), values(at)
    path = page_url(page_file)
    result = screenshot(browser_page, f"{path}?{urlencode(url, quote_via=quote)}", SHOTS / f"{path[1:]}_all_settings.png")
    assert not result["exception"], result["exception_text"]
    assert query_of(browser_page) == url  # nothing dropped, nothing added

    browser_page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Home", exact=True).click()
    settle(browser_page)
    assert urlsplit(browser_page.url).path == "/" and not urlsplit(browser_page.url).query
    browser_page.locator('[data-testid="stSidebar"]').get_by_role("link", name=LABELS[page_file], exact=True).click()
    settle(browser_page)
    assert browser_page.locator('[data-testid="stException"]').count() == 0
    shown = {key: value for key, value in query_of(browser_page).items() if key in seen}
    assert shown == {key: value for key, value in url.items() if key in seen}
