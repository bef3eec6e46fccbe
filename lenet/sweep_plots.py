"""A sweep's figures: test accuracy against parameter count, and parallel coordinates over the swept settings.

Both draw the trial results they are given (lenet.training.sweeps.Sweep.results(): dicts with settings, parameters,
test_acc ...); trials without a test accuracy yet (waiting, failed before their first epoch) are left out.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import plotly.graph_objects as go

from .training.sweeps import format_value

ACCURACY_SCALE = "Viridis"
MARKERS = ("circle", "square", "diamond", "triangle-up", "x", "star", "hexagon", "cross")


def _scored(results: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [r for r in results if r.get("test_acc") is not None]


def _hover(result: Mapping[str, Any]) -> str:
    lines = [f"{name} = {format_value(value)}" for name, value in result["settings"].items()]
    lines.append(f"parameters: {result['parameters']:,}")
    lines.append(f"test accuracy: {result['test_acc']:.1%} after {result.get('epochs') or '?'} epoch(s)")
    if result.get("seconds") is not None:
        lines.append(f"{result['seconds']:.1f} s on {result.get('node') or 'local'}")
    return "<br>".join(lines)


def _round_ticks(low: float, high: float) -> list[int]:
    """1, 2, 5, 10, 20, 50 ... between low and high: a log axis labelled in round counts, not 3 4 5 6 7 8 9."""
    ticks = [m * 10**e for e in range(int(math.floor(math.log10(low))), int(math.log10(high)) + 1) for m in (1, 2, 5)]
    return [t for t in ticks if low <= t <= high]


def _count(n: int) -> str:
    return f"{n // 10**6:g}M" if n >= 10**6 else f"{n // 1000:g}k" if n >= 1000 else str(n)


def accuracy_parameters_figure(results: Sequence[Mapping[str, Any]],
                               title: str = "Test accuracy against parameters") -> go.Figure:
    """One point per trial at (parameters, test accuracy), log x, labelled by its swept values; one colour per value
    of the first swept setting, so that the question "does a convolution need fewer parameters?" reads off the plot."""
    scored = _scored(results)
    names = list(scored[0]["settings"]) if scored else []
    fig = go.Figure()
    groups: dict[str, list] = {}
    for r in scored:
        groups.setdefault(format_value(r["settings"][names[0]]), []).append(r)
    for i, (value, group) in enumerate(groups.items()):
        fig.add_trace(go.Scatter(
            x=[r["parameters"] for r in group], y=[r["test_acc"] for r in group], mode="markers+text",
            name=value, text=[" · ".join(format_value(v) for v in r["settings"].values()) for r in group],
            textposition="top center", textfont=dict(size=11),
            marker=dict(size=12, symbol=MARKERS[i % len(MARKERS)], line=dict(width=1, color="white")),
            hovertext=[_hover(r) for r in group], hoverinfo="text",
        ))
    subtitle = f"one point a trial, labelled {' · '.join(names)}" if names else "no trial has finished an epoch yet"
    fig.update_layout(title=dict(text=title, subtitle=dict(text=subtitle)), height=480,
                      legend=dict(title=dict(text=names[0] if names else "")), margin=dict(l=10, r=10, t=80, b=10))
    if scored:
        counts = [r["parameters"] for r in scored]
        low, high = math.log10(min(counts)), math.log10(max(counts))
        pad = max(0.15, 0.08 * (high - low))
        ticks = _round_ticks(10 ** (low - pad), 10 ** (high + pad))
        fig.update_xaxes(range=[low - pad, high + pad], tickvals=ticks, ticktext=[_count(t) for t in ticks])
        accuracies = [r["test_acc"] for r in scored]
        fig.update_yaxes(range=[max(0.0, min(accuracies) - 0.05), min(1.0, max(accuracies) + 0.05)])
    fig.update_xaxes(type="log", title="parameters (log scale)")
    fig.update_yaxes(title="test accuracy", tickformat=".0%")
    return fig


def _dimension(name: str, values: list) -> dict:
    """A numeric axis for numbers, otherwise one tick per distinct value in the order met (3x3, 5x5; relu, tanh)."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return dict(label=name, values=values)
    labels = list(dict.fromkeys(format_value(v) for v in values))
    codes = [labels.index(format_value(v)) for v in values]
    return dict(label=name, values=codes, tickvals=list(range(len(labels))), ticktext=labels,
                range=[-0.3, len(labels) - 0.7] if len(labels) > 1 else [-1, 1])


def settings_parallel_figure(results: Sequence[Mapping[str, Any]],
                             title: str = "Swept settings, parameters and test accuracy") -> go.Figure:
    """One line per trial across an axis per swept setting, its parameter count and its test accuracy, coloured by
    test accuracy: which settings the best trials share."""
    scored = _scored(results)
    names = list(scored[0]["settings"]) if scored else []
    accuracies = [r["test_acc"] for r in scored]
    dimensions = [_dimension(name, [r["settings"][name] for r in scored]) for name in names]
    dimensions.append(dict(label="parameters", values=[r["parameters"] for r in scored]))
    dimensions.append(dict(label="test accuracy", values=accuracies, tickformat=".0%"))
    fig = go.Figure(go.Parcoords(
        dimensions=dimensions,
        line=dict(color=accuracies, colorscale=ACCURACY_SCALE, showscale=True,
                  colorbar=dict(title=dict(text="test acc"), tickformat=".0%")),
        labelfont=dict(size=13), tickfont=dict(size=11),
    ))
    fig.update_layout(title=dict(text=title, subtitle=dict(text="one line a trial, coloured by its test accuracy")),
                      height=480, margin=dict(l=60, r=40, t=170, b=30))
    return fig
