"""Every setting of every page survives a round trip through the URL and a visit to another page (ui.page_state).

The sweep (settings_sweep.py) changes each setting's widget on a page, one after another (widgets that appear on
the way, such as a second conv layer's, included); then the view must come back from the URL alone (a shared link,
a new session) and after going to another page through the sidebar (which clears the URL) and back.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from helpers import HOME, ROOT
from settings_sweep import SETTINGS_PAGES, drawn, swept, values

pytestmark = pytest.mark.usefixtures("runs_dir")


@pytest.mark.parametrize("page", SETTINGS_PAGES, ids=lambda p: p.split("/")[-1][:-3])
def test_every_setting_survives_the_url_and_a_visit_to_another_page(page):
    at, changed = swept(page)
    assert changed, "the page has no settings"
    seen, url = values(at), dict(at.query_params)
    assert {key for key in changed if key in seen} <= set(url), url

    shared = AppTest.from_file(str(ROOT / page), default_timeout=90)  # the link opened in a new session
    for key, value in url.items():
        shared.query_params[key] = value
    shared.run()
    assert not shared.exception and values(shared) == seen and drawn(shared.query_params, seen) == drawn(url, seen)

    other = "pages/1_Cross_correlation.py" if page != "pages/1_Cross_correlation.py" else "pages/3_Channels.py"
    at.switch_page(other).run()
    at.query_params.clear()  # what the sidebar's link does
    at.switch_page(page).run()
    assert not at.exception and values(at) == seen and drawn(at.query_params, seen) == drawn(url, seen)


def test_a_url_with_settings_is_the_whole_view():
    """An exercise link sets some settings: the others take their defaults, not what the session had before."""
    at = AppTest.from_file(HOME, default_timeout=60).run()
    at.switch_page("pages/1_Cross_correlation.py").run()
    at.text_input(key="X").set_value("1 2; 3 4").run()
    at.switch_page("pages/3_Channels.py").run()
    at.query_params.clear()
    at.query_params["lr"] = "0.05"
    at.switch_page("pages/1_Cross_correlation.py").run()
    assert at.number_input(key="lr").value == 0.05 and at.text_input(key="X").value == "0 1 2; 3 4 5; 6 7 8"


def test_a_value_off_the_step_grid_is_kept():
    at = AppTest.from_file(str(ROOT / "pages/1_Cross_correlation.py"), default_timeout=60)
    at.query_params["lr"] = "0.015"
    at.run()
    assert at.number_input(key="lr").value == 0.015 and at.query_params["lr"] == "0.015"


@pytest.mark.parametrize("bad", ["inf", "nan", "abc", "0.5", "1e999", "-3"])
def test_a_bad_url_value_gives_the_default(bad):
    at = AppTest.from_file(str(ROOT / "pages/1_Cross_correlation.py"), default_timeout=60)
    at.query_params["iterations"] = bad
    at.run()
    assert not at.exception and at.number_input(key="iterations").value == 10 and "iterations" not in at.query_params
