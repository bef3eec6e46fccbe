"""Change every setting of a page once, through AppTest: what the URL and browser tests of ui.page_state share."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from helpers import APP_PAGES, HOME, ROOT

NOT_SETTINGS = ("run_upload", "timeline_step", "stop_init_trainings", "runs_table")  # actions and playback
TEXTS = {"hidden": "100, 50", "name": "my-run"}

KINDS_BY_CLASS = {"NumberInput": "number_input", "Radio": "radio", "Selectbox": "selectbox", "Slider": "slider",
                  "SelectSlider": "select_slider", "TextInput": "text_input", "Checkbox": "checkbox", "Multiselect": "multiselect"}
SETTINGS_PAGES = [str(p.relative_to(ROOT)) for p in APP_PAGES if p.name not in ("streamlit_app.py", "10_Exercises.py")]


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


def swept(page: str) -> tuple[AppTest, set[str]]:
    """The page opened from Home with every setting changed; returns the session and the keys changed."""
    at = AppTest.from_file(HOME, default_timeout=90).run()
    at.switch_page(page).run()
    return at, sweep(at)
