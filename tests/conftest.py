"""Fixtures shared by the test modules: the real app in headless Chromium (see browser.py)."""

from browser import app_server, browser_page  # noqa: F401  (registered once here, so one server and one browser)
