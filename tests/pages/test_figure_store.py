"""ui.figures: a figure is built once per server for the same inputs, and again whenever any input changes."""

import dataclasses
import json

import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

from lenet.lessons.grids import sliding_window_figure
from lenet.plots import filter_grid
from ui import figures


def same(a: go.Figure, b: go.Figure) -> bool:
    return json.loads(a.to_json()) == json.loads(b.to_json())


def counting(build):
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return build(*args, **kwargs)

    counted.__qualname__ = f"counted_{id(calls)}"  # a store key of its own per test
    return counted, calls


def test_the_same_inputs_build_once_and_give_the_same_figure():
    build, calls = counting(sliding_window_figure)
    X, Y = torch.arange(9.0).reshape(3, 3), torch.arange(4.0).reshape(2, 2)
    first = figures.figure(build, X, Y, (1, 0), 2, title="t")
    again = figures.figure(build, X.clone(), Y.clone(), (1, 0), 2, title="t")
    assert len(calls) == 1 and same(again, first)
    assert isinstance(again, go.Figure) and again is not first


@pytest.mark.parametrize("change", ["tensor value", "tensor dtype", "tensor shape", "keyword", "position"])
def test_any_changed_input_builds_again(change):
    build, calls = counting(sliding_window_figure)
    X, Y = torch.arange(9.0).reshape(3, 3), torch.arange(4.0).reshape(2, 2)
    figures.figure(build, X, Y, (1, 0), 2, title="t")
    other = {"tensor value": lambda: (X.index_put((torch.tensor(0), torch.tensor(0)), torch.tensor(5.0)), Y, (1, 0), "t"),
             "tensor dtype": lambda: (X.double(), Y, (1, 0), "t"),
             "tensor shape": lambda: (torch.arange(12.0).reshape(3, 4), torch.arange(6.0).reshape(2, 3), (1, 0), "t"),
             "keyword": lambda: (X, Y, (1, 0), "u"),
             "position": lambda: (X, Y, (0, 1), "t")}[change]()
    fig = figures.figure(build, *other[:3], 2, title=other[3])
    assert len(calls) == 2
    assert same(fig, sliding_window_figure(*other[:3], 2, title=other[3]))


def test_frames_and_dataclasses_are_keyed_by_value():
    @dataclasses.dataclass
    class Box:
        weights: torch.Tensor
        name: str

    def build(box, table):
        return filter_grid(box.weights, f"{box.name} {len(table)}")

    build, calls = counting(build)
    w = torch.randn(2, 1, 3, 3)
    figures.figure(build, Box(w, "a"), pd.DataFrame({"x": [1, 2]}))
    figures.figure(build, Box(w.clone(), "a"), pd.DataFrame({"x": [1, 2]}))
    figures.figure(build, Box(w, "a"), pd.DataFrame({"x": [1, 3]}))
    figures.figure(build, Box(w * 2, "a"), pd.DataFrame({"x": [1, 2]}))
    assert len(calls) == 3


def test_an_input_it_cannot_fingerprint_is_built_every_time():
    build, calls = counting(lambda model: go.Figure(go.Bar(y=[p.numel() for p in model.parameters()])))
    model = torch.nn.Linear(2, 2)
    figures.figure(build, model)
    figures.figure(build, model)
    assert len(calls) == 2


def test_the_store_keeps_at_most_max_figures(monkeypatch):
    monkeypatch.setattr(figures, "MAX_FIGURES", 3)
    build, calls = counting(lambda n: go.Figure(go.Bar(y=[n])))
    for n in range(5):
        figures.figure(build, n)
    assert len(figures._store) <= 3
    figures.figure(build, 0)  # the oldest was dropped: built again
    assert len(calls) == 6
