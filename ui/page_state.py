"""A page's settings survive a shared link and a visit to another page.

Each setting's widget gets its value, before it is drawn, from:
1. the URL, when the page has just been opened with settings in its URL (a shared link, a bookmark, an
   exercise): the URL is then the whole view, and a setting it leaves out takes its default;
2. else what this session last had on the page (the sidebar's links clear the URL);
3. else its default.
After it is drawn, its value goes to the session's memory and, when it differs from the default, to the URL.
Streamlit's own bind="query-params" dropped values off a widget's step grid (?lr=0.015 came back as 0.03),
and Streamlit forgets a widget's value once a run does not draw it (a visit to another page), hence this.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import streamlit as st

MEMORY = "_page_settings"  # {page: {key: value}}, this session's last values of each page's settings
PAGE = "_page"  # the page of the session's previous run
FROM_URL = "_page_from_url"  # whether this visit started from a URL with settings
PRESENT = "present"  # the URL parameter of presentation mode (?present=1), one switch for every page
PRESENTING = "_presenting"  # this session's presentation mode, kept when a sidebar link clears the URL
MAX_TEXT_CHARS = 1000

Coerce = Callable[[Any], Any]  # a URL's text or a remembered value -> a valid value, or None


def open_page(page: str) -> None:
    """Call first on every run of a page: notes whether this run starts a visit."""
    fresh = st.session_state.get(PAGE) != page
    st.session_state[PAGE] = page
    st.session_state[f"{PAGE}_fresh"] = fresh
    if fresh:  # ?present=1 alone is how to show the page, not a setting of it
        st.session_state[FROM_URL] = any(key != PRESENT for key in st.query_params)


def presenting() -> bool:
    """Presentation mode: the URL's ?present=1 (or 0) when it says, else this session's last choice (off at first).

    While on, it stays in the URL of every page, so a copied link or a views file opens the page the same way.
    """
    said = None
    if PRESENT in st.query_params:
        said = {"1": True, "true": True, "0": False, "false": False}.get(st.query_params[PRESENT].lower())
    on = bool(st.session_state.get(PRESENTING, False)) if said is None else said
    set_presenting(on)
    return on


def set_presenting(on: bool) -> None:
    """Switch presentation mode for this session (the sidebar's toggle), from the next run on."""
    st.session_state[PRESENTING] = on
    if on:
        st.query_params[PRESENT] = "1"
    elif PRESENT in st.query_params:
        del st.query_params[PRESENT]


def _memory() -> dict:
    page = st.session_state.get(PAGE, "")
    return st.session_state.setdefault(MEMORY, {}).setdefault(page, {})


def restore(key: str, default: Any, coerce: Coerce) -> None:
    """Give st.session_state[key] the setting's value before its widget is drawn."""
    if st.session_state.get(f"{PAGE}_fresh", True):
        if st.session_state.get(FROM_URL):
            value = coerce(st.query_params[key]) if key in st.query_params else None
        else:
            value = coerce(_memory()[key]) if key in _memory() else None
    else:  # a rerun: the widget's own state, or the session's memory when the last run did not draw it
        value = coerce(st.session_state[key]) if key in st.session_state else None
        if value is None and key in _memory():
            value = coerce(_memory()[key])
    st.session_state[key] = default if value is None else value


def keep(key: str, value: Any, default: Any) -> None:
    """Remember the drawn widget's value, and show it in the URL unless it is the default."""
    _memory()[key] = value
    if value == default:
        if key in st.query_params:
            del st.query_params[key]
    else:
        st.query_params[key] = encode(value)


def remember(values: dict[str, Any]) -> None:
    """Set several settings at once (an example button, a preset), for widgets drawn or not drawn this run."""
    st.session_state.update(values)
    _memory().update(values)


def encode(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, (list, tuple)):
        return ",".join(map(encode, value))
    return str(value)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def whole_number(min_value: int, max_value: int) -> Coerce:
    """A whole number in [min_value, max_value]; anything else is refused (the widget then takes its default)."""
    def coerce(value: Any) -> int | None:
        number = _number(value)
        ok = number is not None and number == int(number) and min_value <= number <= max_value
        return int(number) if ok else None
    return coerce


def real_number(min_value: float, max_value: float) -> Coerce:
    """A finite decimal number in [min_value, max_value], at any precision (not only the widget's steps)."""
    def coerce(value: Any) -> float | None:
        number = _number(value)
        return number if number is not None and min_value <= number <= max_value else None
    return coerce


def one_of(options: Sequence) -> Coerce:
    """One of the options, matched by its text (a URL holds '64' for the option 64)."""
    by_text = {encode(option): option for option in options}
    return lambda value: by_text.get(encode(value))


def some_of(options: Sequence) -> Coerce:
    """A list of options, from a list or a comma-separated URL value; unknown ones are left out."""
    pick = one_of(options)

    def coerce(value: Any) -> list | None:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            return None
        return [option for option in (pick(item) for item in items if item != "") if option is not None]
    return coerce


def flag(value: Any) -> bool | None:
    """True or False, from a bool or the URL's 'true'/'false'."""
    return value if isinstance(value, bool) else {"true": True, "false": False}.get(str(value).lower())


def short_text(value: Any) -> str | None:
    return value if isinstance(value, str) and len(value) <= MAX_TEXT_CHARS else None
