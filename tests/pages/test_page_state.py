"""Every setting of every page survives a round trip through the URL and a visit to another page (ui.page_state).

The sweep changes each setting's widget on a page, one after another (widgets that appear on the way, such as a
second conv layer's, included), then checks that the view comes back from the URL alone (a shared link, a new
session) and after going to another page through the sidebar (which clears the URL) and back.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from helpers import APP_PAGES, HOME, ROOT

pytestmark = pytest.mark.usefixtures("runs_dir")

NOT_SETTINGS = ("run_upload", "timeline_step", "stop_init_trainings", "runs_table")  # actions and playback
TEXTS = {"hidden": "100, 50", "name": "my-run"}
KINDS_BY_CLASS = {"NumberInput": "number_input", "Radio": "radio", "Selectbox": "selectbox", "Slider": "slider",
                  "SelectSlider": "select_slider", "TextInput": "text_input", "Checkbox": "checkbox", "Multiselect": "multiselect"}
PAGES = [str(p.relative_to(ROOT)) for p in APP_PAGES if p.name not in ("streamlit_app.py", "10_Exercises.py")]


def settings(at: AppTest) -> dict:
    """The page's settings widgets by key, in page order, enabled ones only (a browser user cannot change a disabled one)."""
    found = {}

    def walk(node) -> None:
        for child in getattr(node, "children", {}).values():
            walk(child)
        if type(node).__name__ in KINDS_BY_CLASS and node.key and not node.key.startswith(NOT_SETTINGS) \
                and not node.proto.disabled:
            found[node.key] = node
    walk(at._tree)
    return found


def another_value(widget, kind: str):
    """A valid value next to the widget's own, off the step grid for decimals (0.03 -> 0.035)."""
    value = widget.value
    if kind == "checkbox":
        return not value
    if kind in ("radio", "selectbox", "select_slider"):
        options = raw_options(widget)
        return options[(options.index(value) + 1) % len(options)]
    if kind == "multiselect":
        extra = [o for o in raw_options(widget) if o not in value][:1]
        return value + extra if extra else value[:-1]
    if kind == "text_input":
        return TEXTS.get(widget.key) or (value.replace("0", "9", 1) if "0" in value else value + "0")
    step = widget.proto.step if kind == "number_input" else 1
    if kind == "number_input" and widget.proto.data_type == widget.proto.FLOAT:
        step = step / 2
    high = widget.proto.max if kind == "number_input" and widget.proto.has_max else widget.max if kind == "slider" else None
    return value + step if high is None or value + step <= high else value - step


def raw_options(widget) -> list:
    """The values behind a widget's labels: a dict's keys when its labels come from the dict's get."""
    labels = getattr(getattr(widget, "format_func", None), "__self__", None)
    if isinstance(labels, dict):
        return list(labels)
    kind = type(widget.value[0] if isinstance(widget.value, list) and widget.value else widget.value)
    return [kind(option) for option in widget.options]


def kind_of(widget) -> str:
    return KINDS_BY_CLASS[type(widget).__name__]


def values(at: AppTest) -> dict:
    return {key: widget.value for key, widget in settings(at).items()}


def drawn(url, seen: dict) -> dict:
    """The URL's settings of the widgets on show (one hidden by another setting may linger there: it changes nothing)."""
    return {key: url[key] for key in seen if key in url}


def sweep(at: AppTest) -> set[str]:
    """Change every setting once, in page order, including widgets that show up on the way; returns their keys."""
    changed: list[str] = []
    unchanged: set[str] = set()
    while True:
        todo = [key for key in settings(at) if key not in changed]
        if not todo:
            return set(changed) - unchanged
        widget = settings(at)[todo[0]]
        before = widget.value
        widget.set_value(another_value(widget, kind_of(widget))).run()
        assert not at.exception, (todo[0], at.exception[0].value)
        changed.append(todo[0])
        if todo[0] in settings(at) and settings(at)[todo[0]].value == before:  # one option only (a single device)
            unchanged.add(todo[0])


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.split("/")[-1][:-3])
def test_every_setting_survives_the_url_and_a_visit_to_another_page(page):
    at = AppTest.from_file(HOME, default_timeout=90).run()
    at.switch_page(page).run()
    changed = sweep(at)
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
