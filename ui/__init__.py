"""Streamlit helpers that every page shares (kept out of pages/, where every .py file is a page).

Settings live in the URL and in the session: the widget helpers below keep each widget's value under
the query parameter named by its key (ui.page_state), so a bookmarked or shared URL restores the view
and a visit to another page does not lose it. A malformed value in a URL gives the default.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import plotly.graph_objects as go
import streamlit as st
import torch
from streamlit.errors import StreamlitPageNotFoundError

from lenet.environment import Environment, read_environment
from lenet.lessons.checks import TorchCheck
from ui import page_state
from ui.figures import figure

# Thousands separators for the count columns of layer_table and parameter_comparison.
COUNT_COLUMNS = {
    name: st.column_config.NumberColumn(format="localized")
    for name in ("parameters", "MACs", "activation bytes")
}


# The sidebar's map: Streamlit would label pages by file name ("streamlit app", "Cross correlation").
PAGES = [
    ("streamlit_app.py", "Home", ":material/home:", "What LeNet Lab is and what this machine has."),
    ("pages/1_Cross_correlation.py", "Cross-correlation", ":material/grid_on:", "Slide a kernel over an image, detect edges, learn a kernel."),
    ("pages/2_Padding_and_stride.py", "Padding and stride", ":material/straighten:", "How kernel, padding, stride and dilation set the output size."),
    ("pages/3_Channels.py", "Channels", ":material/layers:", "Many input and output channels; 1x1 convolution as a matrix multiply."),
    ("pages/4_Pooling.py", "Pooling", ":material/filter_alt:", "Max and average pooling, and why they tolerate small shifts."),
    ("pages/5_MLP_vs_CNN.py", "MLP vs CNN", ":material/balance:", "Parameters and memory of a dense layer against a convolution."),
    ("pages/6_Train.py", "Train", ":material/model_training:", "Design a LeNet and train it on Fashion-MNIST, live."),
    ("pages/7_Inspect.py", "Inspect", ":material/visibility:", "Feature maps, filters, and the mistakes of a trained model."),
    ("pages/8_Parameters.py", "Parameters", ":material/tune:", "Blocks, named parameters, initialisation, shared weights, save and load."),
    ("pages/11_Sweep.py", "Sweep", ":material/scatter_plot:", "Train a grid of LeNets: test accuracy against parameters."),
    ("pages/9_Receptive_fields.py", "Receptive fields", ":material/center_focus_strong:", "Which input pixels one unit of a layer can see, layer by layer."),
    ("pages/10_Exercises.py", "Exercises", ":material/quiz:", "The chapter's exercises, each opening a page with the right settings."),
]


def page_link(page: str, label: str, query_params: dict, url: str) -> None:
    """A link to another page of the app that keeps this session (settings included) and sets query_params."""
    try:
        st.page_link(page, label=label, icon=":material/arrow_forward:", query_params=query_params)
    except StreamlitPageNotFoundError:  # a page run on its own (as AppTest does) knows no other pages
        st.markdown(f"[{label}]({url})")


def environment() -> Environment:
    """This server's settings, from the environment and st.secrets (lenet.environment); a bad value stops the page."""
    try:
        secrets = dict(st.secrets)
    except FileNotFoundError:  # no secrets.toml: Streamlit raises a subclass of it
        secrets = {}
    try:
        return read_environment(secrets)
    except ValueError as e:
        st.error(f"This server's configuration is wrong: {e}")
        st.stop()


# Presentation mode (?present=1 or the sidebar's switch): no Streamlit chrome, larger type, room for the content.
PRESENT_CSS = """<style>
[data-testid="stToolbarActions"], [data-testid="stMainMenu"], [data-testid="stAppDeployButton"],
[data-testid="stDecoration"], [data-testid="stStatusWidget"] { display: none !important; }
[data-testid="stHeader"] { background: transparent; }
html { font-size: 19px; }
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; padding-bottom: 2rem; }
</style>"""
PRESENT_FIGURE_HEIGHT = 600  # px: a figure across the page, title included, fills a 1280 x 720 slide
PLOTLY_HEIGHT = 450  # plotly's own height for a figure that sets none
PRESENT_FONT_SCALE = 1.3  # every font of a figure, 12 px becoming about 16
PRESENT_TOGGLE = "presentation_mode"  # the sidebar switch's key; page_state keeps the mode itself


def presenting() -> bool:
    """Whether this session shows its pages for the front of the room (presentation mode)."""
    return bool(st.session_state.get(page_state.PRESENTING, False))


def setup_page(title: str) -> None:
    """Page config and the sidebar's map of pages; call first on every page (title as in PAGES)."""
    icon = next((icon for _, label, icon, _ in PAGES if label == title), ":material/neurology:")
    page_state.open_page(title)
    present = page_state.presenting()
    st.set_page_config(page_title=f"{title} · LeNet Lab", page_icon=icon, layout="wide",
                       initial_sidebar_state="collapsed" if present else "auto")
    if present:
        st.html(PRESENT_CSS)
    # Every session of the server shares torch's threads. Two threads on 2 busy cores trained ~10x slower
    # than one in our measurements (docs/benchmark.md), so the app uses one unless told otherwise.
    threads = environment().torch_threads
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    with st.sidebar:
        st.markdown("### :material/neurology: LeNet Lab")
        try:
            for path, label, page_icon, _ in PAGES:
                st.page_link(path, label=label, icon=page_icon)
        except StreamlitPageNotFoundError:  # a page run on its own (as AppTest does) knows no other pages
            pass
        st.session_state[PRESENT_TOGGLE] = present
        st.toggle("Presentation mode", key=PRESENT_TOGGLE, on_change=_switch_presenting,
                  help="For a projector or a slide: no Streamlit menu, larger type, the sidebar folded away, figures "
                       "the size of a 16:9 slide. Kept on every page; a link with ?present=1 opens a page this way.")
        st.caption("Follows the convolutional-networks chapter of *Dive into Deep Learning*.")


def _switch_presenting() -> None:
    page_state.set_presenting(st.session_state[PRESENT_TOGGLE])


def bound(draw: Callable[..., Any], key: str, default: Any, coerce: page_state.Coerce, **kwargs) -> Any:
    """draw(key=key, **kwargs), a Streamlit widget whose value the URL and this session keep (ui.page_state)."""
    page_state.restore(key, default, coerce)
    value = draw(key=key, **kwargs)
    page_state.keep(key, value, default)
    return value


def number(label: str, key: str, min_value: int, max_value: int, default: int, help: str, **kwargs) -> int:
    """A whole-number input kept in the URL under `key`."""
    return bound(st.number_input, key, default, page_state.whole_number(min_value, max_value),
                 label=label, min_value=min_value, max_value=max_value, step=1, help=help, **kwargs)


def real(label: str, key: str, min_value: float, max_value: float, default: float, help: str) -> float:
    """A decimal-number input kept in the URL under `key`; its buttons step by 0.001, typed values keep their digits."""
    return bound(st.number_input, key, default, page_state.real_number(min_value, max_value),
                 label=label, min_value=min_value, max_value=max_value, step=0.001, format="%g", help=help)


def choice(label: str, key: str, options: Sequence[str], help: str, **kwargs) -> str:
    """A horizontal radio kept in the URL under `key`; the first option is the default."""
    return bound(st.radio, key, options[0], page_state.one_of(options), label=label, options=options, help=help,
                 horizontal=True, **kwargs)


def select(label: str, key: str, options: Sequence[str], help: str, **kwargs) -> str:
    """A drop-down kept in the URL under `key`; the first option is the default."""
    return bound(st.selectbox, key, options[0], page_state.one_of(options), label=label, options=options, help=help,
                 **kwargs)


def several(label: str, key: str, options: Sequence[str], default: list[str], help: str, **kwargs) -> list[str]:
    """A multiselect kept in the URL under `key`, as a comma-separated list."""
    return bound(st.multiselect, key, default, page_state.some_of(options), label=label, options=options, help=help,
                 **kwargs)


def text(label: str, key: str, default: str, help: str, **kwargs) -> str:
    """A one-line text input kept in the URL under `key`."""
    return bound(st.text_input, key, default, page_state.short_text, label=label, help=help, **kwargs)


def step_slider(label: str, key: str, total: int, help: str) -> int:
    """Which window to show, 1..total; a plain caption when there is only one."""
    if total == 1:
        st.caption("There is only one window position.")
        return 1
    return bound(st.slider, key, 1, page_state.whole_number(1, total), label=label, min_value=1, max_value=total,
                 help=help)


def presets(examples: dict[str, dict[str, Any]], label: str = "Examples") -> None:
    """One button per example; a click sets those widgets (and so the URL) at once."""
    st.caption(label)
    with st.container(horizontal=True):
        for name, values in examples.items():
            st.button(name, on_click=page_state.remember, args=(values,))


def png_config(filename: str) -> dict:
    """Plotly config whose camera button downloads a sharp PNG named `filename`."""
    return {"toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}, "displaylogo": False}


def show_figure(fig: go.Figure, filename: str) -> None:
    """A plotly figure across the page, with a PNG download in its toolbar; slide-sized in presentation mode."""
    if presenting():
        fig = slide_figure(fig)
    st.plotly_chart(fig, width="stretch", config=png_config(filename))


def slide_figure(fig: go.Figure, height: int = PRESENT_FIGURE_HEIGHT, font_scale: float = PRESENT_FONT_SCALE) -> go.Figure:
    """A copy of fig for a slide: every font (its default, titles, labels, ticks) scaled up, and the figure as much
    taller, up to `height` (a figure already taller, built for many panels, keeps its height: never squeezed)."""
    spec = fig.to_dict()

    def scale(node: Any, key: str = "") -> None:
        if isinstance(node, dict):
            if key.endswith("font") and isinstance(node.get("size"), (int, float)):
                node["size"] = round(node["size"] * font_scale, 1)
            for name, child in node.items():
                scale(child, name)
        elif isinstance(node, list):
            for child in node:
                scale(child, key)

    layout = spec.setdefault("layout", {})
    layout.setdefault("font", {}).setdefault("size", 12)  # plotly's default, scaled below with the others
    scale(spec)
    own = layout.get("height") or PLOTLY_HEIGHT
    layout["height"] = max(own, min(round(own * font_scale), height))
    return go.Figure(spec, _validate=False)  # its properties were checked when it was built


def show_code(code: str) -> None:
    """The torch lines that reproduce what the page shows, folded away."""
    with st.expander("Show the code", icon=":material/code:"):
        st.code(code, language="python")


def show_check(check: TorchCheck) -> None:
    """A check of the page's result against PyTorch's own: green when they agree, red when they do not."""
    if check.agrees:
        st.success(f"Checked: {check.text}", icon=":material/check_circle:")
    else:
        st.error(f"Check failed: {check.text}", icon=":material/error:")


def checked(func: Callable, *args, **kwargs):
    """func(*args, **kwargs), or None after showing its ValueError on the page (never a traceback)."""
    try:
        return func(*args, **kwargs)
    except ValueError as e:
        st.error(str(e), icon=":material/warning:")
        return None
