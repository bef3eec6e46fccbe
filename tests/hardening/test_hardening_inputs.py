"""Bad input everywhere: every widget of every page at its bounds and through its options, hostile text and
URLs, and random shapes and LeNet configurations that either agree with torch or raise a ValueError."""

import json
import time
from pathlib import Path
from unittest import mock

import pandas as pd
import plotly.graph_objects as go
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from hypothesis import given, settings, strategies as st
from streamlit.testing.v1 import AppTest

from lenet import (
    LeNetConfig,
    build_lenet,
    conv1d,
    corr2d,
    corr2d_fast,
    corr2d_multi_in_out,
    count_parameters,
    estimate_training_memory,
    layer_table,
    plan_layers,
    pool2d,
)
import lenet.training
import lenet.training.runs
from lenet.lessons.grids import matrix_grid_figure
from lenet.core.units import human_bytes
from lenet.core.model import DEFAULT_MAX_TRAINING_BYTES
from lenet.environment import read_environment
from lenet.training import list_runs
from lenet.training import preset
from helpers import outlined_cells, APP_PAGES, ROOT

WIDGET_TYPES = ("number_input", "slider", "select_slider", "selectbox", "radio", "checkbox", "toggle",
                "multiselect", "text_input")
HOSTILE_TEXT = ["", "1e400 abc; nan", "-5, 0, " + "9" * 40]
PAGE_SECONDS = 60  # the slowest page (Inspect) takes about 15 s alone and 40 s on a busy machine


pytestmark = pytest.mark.usefixtures("runs_dir")  # every test gets its own runs folder


def open_page(path: Path) -> AppTest:
    return AppTest.from_file(str(path), default_timeout=60).run()


def widgets(at: AppTest) -> list:
    return [w for kind in WIDGET_TYPES for w in at.get(kind) if not w.proto.disabled]


def raw_options(widget) -> list:
    """The values behind a select box's or radio's labels (AppTest sees only the labels)."""
    fmt = widget.format_func
    candidates = [*getattr(getattr(fmt, "__self__", None), "keys", lambda: [])(), *range(len(widget.options)),
                  *widget.options]
    found = []
    for label in widget.options:
        found.append(next(c for c in candidates if _label(fmt, c) == label))
    return found


def _label(fmt, value):
    try:
        return str(fmt(value))
    except Exception:  # format functions are only defined on the real options
        return None


def values_to_try(widget) -> list:
    """Bounds for numbers and sliders, every option for choices, the other state for check boxes."""
    kind = widget.type
    if kind == "number_input":
        return [v for v in (widget.min, widget.max) if v is not None]
    if kind == "slider":
        return [widget.min, widget.max]
    if kind == "select_slider":
        options = raw_options(widget)  # its labels may be formatted ("60,000" for 60000)
        return [options[0], options[-1]]
    if kind in ("selectbox", "radio"):
        return raw_options(widget)
    if kind in ("checkbox", "toggle"):
        return [not widget.value]
    if kind == "multiselect":
        return [[], raw_options(widget)]
    if kind == "text_input":
        return HOSTILE_TEXT
    raise AssertionError(kind)


def find(at: AppTest, widget_id: str):
    return next((w for kind in WIDGET_TYPES for w in at.get(kind) if w.id == widget_id), None)


def sweep(path: Path) -> int:
    """Drive each widget, one at a time from the page's default state; returns the script runs made."""
    at = open_page(path)
    runs = 1
    for widget_id in [w.id for w in widgets(at)]:
        widget = find(at, widget_id)
        if widget is None:  # hidden in the default state restored after the previous widget
            continue
        default = widget.value
        for value in values_to_try(widget):
            current = find(at, widget_id)
            if current is None:  # an earlier value hid it
                break
            current.set_value(value).run()
            runs += 1
            assert not at.exception, f"{path.name}: {current.label!r} = {value!r}: {at.exception[0].value}"
        if (current := find(at, widget_id)) is not None:
            current.set_value(default)  # restored with the next widget's run
    return runs


@pytest.mark.time_limit
@pytest.mark.parametrize("path", APP_PAGES, ids=lambda p: p.stem)
def test_every_widget_at_its_bounds_and_through_its_options(path):
    start = time.perf_counter()
    runs = sweep(path)
    seconds = time.perf_counter() - start
    print(f"{path.name}: {runs} script runs in {seconds:.1f} s")
    assert seconds < PAGE_SECONDS


@pytest.mark.parametrize("path", APP_PAGES, ids=lambda p: p.stem)
def test_garbage_in_the_url_is_ignored(path):
    keys = [w.key for w in widgets(open_page(path)) if w.key] + ["preset", "step", "unknown"]
    at = AppTest.from_file(str(path), default_timeout=60)
    for i, key in enumerate(keys):  # an infinite number, text, and a control character, spread over the keys
        at.query_params[key] = ("-1e309", "abc", "\x00")[i % 3]
    at.run()
    assert not at.exception, f"{path.name} with garbage in the URL: {at.exception[0].value}"


# ---- the library: random values either agree with torch or raise a ValueError with a message ----

def refuses(call) -> str:
    """The message of the ValueError that call() raises; any other exception fails the test."""
    with pytest.raises(ValueError) as error:
        call()
    assert len(str(error.value)) > 20
    return str(error.value)


@settings(max_examples=60, deadline=None)
@given(c_i=st.integers(1, 3), k_c=st.integers(1, 3), c_o=st.integers(1, 3), h=st.integers(1, 6), w=st.integers(1, 6),
       kh=st.integers(1, 7), kw=st.integers(1, 7))
def test_correlations_agree_with_conv2d_or_refuse(c_i, k_c, c_o, h, w, kh, kw):
    X, K = torch.randn(c_i, h, w), torch.randn(c_o, k_c, kh, kw)
    try:
        expected = F.conv2d(X[None], K)[0]
    except RuntimeError:
        refuses(lambda: corr2d_multi_in_out(X, K))
        if kh > h or kw > w:
            refuses(lambda: corr2d(X[0], K[0, 0]))
            refuses(lambda: corr2d_fast(X[0], K[0, 0]))
        return
    torch.testing.assert_close(corr2d_multi_in_out(X, K), expected)
    torch.testing.assert_close(corr2d(X[0], K[0, 0]), F.conv2d(X[None, :1], K[:1, :1])[0, 0])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 8), k=st.integers(1, 10))
def test_conv1d_agrees_with_torch_or_refuses(n, k):
    x, kernel = torch.randn(n), torch.randn(k)
    if k > n:
        refuses(lambda: conv1d(x, kernel))
    else:
        torch.testing.assert_close(conv1d(x, kernel), F.conv1d(x[None, None], kernel[None, None])[0, 0])


pair = st.tuples(st.integers(0, 4), st.integers(0, 4))


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 7), w=st.integers(1, 7), k=pair, p=pair, s=st.one_of(st.none(), pair),
       mode=st.sampled_from(["max", "avg"]))
def test_rectangular_pooling_agrees_with_torch_or_refuses(h, w, k, p, s, mode):
    X = torch.randn(h, w)
    op = F.max_pool2d if mode == "max" else F.avg_pool2d
    try:
        expected = op(X[None, None], k, 1 if s is None else s, p)[0, 0]
        assert expected.numel()
    except (RuntimeError, AssertionError):
        refuses(lambda: pool2d(X, k, mode, p, s))
        return
    torch.testing.assert_close(pool2d(X, k, mode, p, s), expected)


layer = st.tuples(st.integers(0, 8), st.integers(0, 6), st.integers(-1, 3), st.integers(0, 3))  # channels, k, p, s


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 36), in_channels=st.integers(1, 3), layers=st.lists(layer, min_size=0, max_size=3),
       pool=st.sampled_from(["avg", "max", "none"]), pool_size=st.integers(1, 4), pool_stride=st.integers(1, 4),
       act=st.sampled_from(["sigmoid", "relu", "tanh"]), bn=st.booleans(),
       hidden=st.lists(st.integers(0, 50), max_size=2), classes=st.integers(0, 12))
def test_random_lenets_agree_with_torch_layer_by_layer_or_refuse(size, in_channels, layers, pool, pool_size,
                                                                pool_stride, act, bn, hidden, classes):
    config = LeNetConfig(in_channels=in_channels, image_size=size, conv_channels=[c for c, _, _, _ in layers],
                         kernel_sizes=[k for _, k, _, _ in layers], paddings=[p for _, _, p, _ in layers],
                         strides=[s for _, _, _, s in layers], pool=pool, pool_size=pool_size, pool_stride=pool_stride,
                         activation=act, batch_norm=bn, hidden_sizes=hidden, num_classes=classes)
    try:
        table = layer_table(config)
    except ValueError as e:
        assert len(str(e)) > 20
        refuses(lambda: build_lenet(config))
        return
    model = build_lenet(config).eval()
    assert count_parameters(model) == table["parameters"].sum()
    x = torch.rand(2, in_channels, size, size)
    for (name, module), shape in zip(model.named_children(), table["output shape"]):
        x = module(x)
        assert " x ".join(map(str, x.shape[1:])) == shape, name
    assert x.shape == (2, classes)


# ---- resource limits: a model too big to train is refused before anything is built ----

def saved_activation_bytes(config: LeNetConfig, batch: int) -> int:
    """What autograd keeps for the backward pass of one training step, measured with torch's saved-tensor hooks."""
    model = build_lenet(config).train()
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(torch.rand(batch, config.in_channels, config.image_size, config.image_size))
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    return sum(n for ptr, n in storages.items() if ptr not in weights)


@pytest.mark.parametrize("config", [
    LeNetConfig.classic(), LeNetConfig.modern(),
    LeNetConfig(conv_channels=(32, 32, 32), kernel_sizes=(3, 3, 3), paddings=(1, 1, 1), strides=(1, 1, 1),
                pool="none", activation="relu", batch_norm=True),
], ids=["classic", "modern", "wide"])
def test_memory_estimate_covers_what_torch_keeps(config):
    model = build_lenet(config)
    fixed = estimate_training_memory(config, 1) - (estimate_training_memory(config, 2) - estimate_training_memory(config, 1))
    assert fixed == 16 * count_parameters(model)  # weights, gradients, two optimiser buffers, float32
    batch = 16
    activations = estimate_training_memory(config, batch) - fixed
    saved = saved_activation_bytes(config, batch)
    assert saved <= activations <= 3 * saved


def modules_built(work) -> int:
    """How many torch modules work() creates: planning a model must create none (and so allocate no weights)."""
    built, real_init = [], nn.Module.__init__

    def counting_init(self, *args, **kwargs):
        built.append(type(self).__name__)
        real_init(self, *args, **kwargs)

    with mock.patch.object(nn.Module, "__init__", counting_init):
        work()
    return len(built)


def test_counting_modules_sees_a_model_being_built():
    assert modules_built(lambda: build_lenet(LeNetConfig.classic())) > 10


def test_thousands_of_channels_on_large_images_are_refused_before_anything_is_built():
    huge = LeNetConfig(image_size=1024, conv_channels=(4096, 4096), paddings=(2, 2))
    for call in (plan_layers, build_lenet, layer_table):
        messages = []
        assert modules_built(lambda: messages.append(refuses(lambda: call(huge)))) == 0
        assert f"about {human_bytes(estimate_training_memory(huge, 1))}" in messages[0]
        assert "limit is 2 GB" in messages[0]
    assert estimate_training_memory(huge, 64) > estimate_training_memory(huge, 1) > DEFAULT_MAX_TRAINING_BYTES
    refuses(lambda: estimate_training_memory(LeNetConfig.classic(), 0))


def test_the_limit_follows_the_environment(monkeypatch):
    classic = LeNetConfig.classic()
    monkeypatch.setenv("LENET_MAX_TRAINING_MB", "2")
    limit = read_environment().max_training_bytes  # read once, then passed down
    message = refuses(lambda: plan_layers(classic, 64, limit))
    assert f"about {human_bytes(estimate_training_memory(classic, 64))}" in message and "batches of 64" in message
    assert "the limit is 2 MB" in message
    assert len(plan_layers(classic, 1, limit)) == len(plan_layers(classic, None, limit))
    monkeypatch.delenv("LENET_MAX_TRAINING_MB")
    assert read_environment().max_training_bytes == 2 * 10**9 and len(plan_layers(classic, batch_size=1024)) > 0


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 2048), channels=st.lists(st.integers(1, 8192), min_size=1, max_size=3),
       kernel=st.integers(1, 9), hidden=st.lists(st.integers(1, 100_000), max_size=2), batch=st.integers(1, 4096))
def test_any_size_is_planned_or_refused_in_milliseconds(size, channels, kernel, hidden, batch):
    n = len(channels)
    config = LeNetConfig(image_size=size, conv_channels=channels, kernel_sizes=[kernel] * n, paddings=[kernel // 2] * n,
                         strides=[1] * n, hidden_sizes=hidden)
    def plan() -> None:
        try:
            plan_layers(config, batch)
            assert estimate_training_memory(config, batch) <= DEFAULT_MAX_TRAINING_BYTES
        except ValueError as e:
            assert "gets a" in str(e) or "GB" in str(e)

    assert modules_built(plan) == 0  # shape arithmetic only: milliseconds whatever the size


def test_training_refuses_batches_that_would_not_fit_before_loading_any_data(monkeypatch):
    def no_data(*args, **kwargs):
        raise AssertionError("the data was loaded before the model was checked")

    monkeypatch.setattr(lenet.training.engine, "load_split", no_data)
    config, settings = preset("classic")
    message = refuses(lambda: lenet.training.train(config, settings.replace(batch_size=100_000)))
    assert "batches of 100000" in message and "limit is 2 GB" in message


def test_train_page_refuses_networks_too_big_for_memory_with_the_estimate(runs_dir):
    at = open_page(ROOT / "pages/6_Train.py")
    at.checkbox(key="conv2").check().run()  # a third conv layer
    for i in range(3):
        at.number_input(key=f"c{i}").set_value(256)
        at.number_input(key=f"k{i}").set_value(1)
        at.number_input(key=f"p{i}").set_value(5)
    at.selectbox(key="pool").set_value("none")
    at.text_input(key="hidden").set_value("4096").run()
    assert not at.exception
    assert any("cannot be built" in e.value and "GB" in e.value for e in at.error)
    assert next(b for b in at.button if b.label == "Train").disabled
    at.text_input(key="hidden").set_value("16")  # builds, but batches of 1024 images would need about 26 GB
    at.selectbox(key="batch").set_value(1024).run()
    next(b for b in at.button if b.label == "Train").click().run()
    job = at.session_state["train_job"]
    job.join(30)
    at.run()
    assert not at.exception and job.status == "failed" and "batches of 1024" in job.error
    assert any("Training failed" in e.value and "GB" in e.value for e in at.error)
    assert list_runs(runs_dir).empty  # no empty, broken run folder left behind


def runs_manager_with_the_first_run_picked():
    """The Train page's runs manager after a click on the table's first row (AppTest cannot click table rows).

    Like Streamlit, the selection belongs to the table's key: the same key keeps row 0 selected whatever the rows
    are now; a new key is a new table, with nothing selected."""
    from unittest import mock

    import streamlit as st

    from ui import runs

    def dataframe(*args, key=None, **kwargs):
        clicked_in = st.session_state.setdefault("clicked_in", key)
        return mock.Mock(selection=mock.Mock(rows=[0] if key == clicked_in else []))

    with mock.patch.object(st, "dataframe", dataframe):
        runs.runs_manager()


def save_tiny_run(name: str, root: Path) -> Path:
    config, settings = preset("modern")
    return lenet.training.save_run(lenet.training.new_run_dir(name, root), config, settings,
                                   pd.DataFrame(columns=lenet.training.runs.METRIC_COLUMNS),
                                   lenet.build_lenet(config))


def test_renaming_to_nothing_explains_itself(runs_dir):
    save_tiny_run("mine", runs_dir)
    at = AppTest.from_function(runs_manager_with_the_first_run_picked, default_timeout=60).run()
    assert not at.exception
    at.text_input[0].set_value("   ").run()
    next(b for b in at.button if b.label == "Rename").click().run()
    assert not at.exception, at.exception[0].value
    assert any("1 to 100 characters" in e.value for e in at.error)


def test_delete_never_hits_a_run_another_session_saved_meanwhile(runs_dir):
    mine = save_tiny_run("mine", runs_dir)
    at = AppTest.from_function(runs_manager_with_the_first_run_picked, default_timeout=60).run()
    assert at.text_input[0].value == "mine"  # row 0 is my run
    info = json.loads((mine / "config.json").read_text())
    theirs = save_tiny_run("theirs", runs_dir)  # another student's newer run now heads the table
    (theirs / "config.json").write_text(json.dumps(
        json.loads((theirs / "config.json").read_text()) | {"created": "2999-01-01T00:00:00"}))
    next(b for b in at.button if b.label == "Delete").click().run()
    assert not at.exception, at.exception[0].value
    assert theirs.is_dir(), "Delete removed another session's run"
    assert json.loads((mine / "config.json").read_text()) == info


def test_outlining_many_cells_stays_fast():
    """The Pooling page outlines every changed cell; plotly's add_shape made that quadratic (34 cells: 1.3 s)."""
    cells = [(r, c) for r in range(12) for c in range(12)]
    grid = [[("a", torch.zeros(12, 12)), ("b", torch.ones(12, 12))]]
    with mock.patch.object(go.Figure, "add_shape", side_effect=AssertionError("one add_shape per cell")):
        fig = matrix_grid_figure(grid, "outlines", {(0, 1): cells})  # add_shape per cell: quadratic, about 3 s here
    windows = [t for t in fig.data if t.name in ("window", "window halo")]
    assert {(t.xaxis, t.yaxis) for t in windows} == {("x2", "y2")} and len(windows) == 2  # one line each, panel 2
    assert outlined_cells(fig, "x2") == cells and not fig.layout.shapes
