"""The Train page's "stuck at 10%" lesson: a stuck (or diverged) run and the run with the fix, curve beside curve."""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..training.diagnosis import metrics_frame

RUN_COLORS = ("#d62728", "#2ca02c")  # the stuck run red, the fixed run green
CHANCE_LINE = dict(color="#6b7280", width=1.5, dash="dot")


def before_after_figure(before, after, num_classes: int = 10, names: tuple[str, str] = ("before", "after"),
                        title: str = "Before and after the fix") -> go.Figure:
    """Training loss above and accuracy below for two runs (their progress points or histories), chance marked."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1)
    last, top = 1.0, math.log(num_classes) * 1.2
    for points, name, color in zip((before, after), names, RUN_COLORS):
        frame = metrics_frame(points)
        if frame.empty:
            continue
        last = max(last, float(frame["epoch"].max()))
        loss = frame[["epoch", "train_loss"]].replace([math.inf, -math.inf], math.nan).dropna()
        if len(loss):  # a diverged run's huge losses would flatten the rest: the axis stops at 4 x ln C
            top = max(top, min(float(loss["train_loss"].max()), 4 * math.log(num_classes)))
        fig.add_trace(go.Scatter(x=loss["epoch"], y=loss["train_loss"], name=f"{name} · train loss", mode="lines",
                                 line=dict(color=color, width=2), legendgroup=name,
                                 hovertemplate=f"{name}<br>epoch %{{x:.2f}}: loss %{{y:.3f}}<extra></extra>"), row=1, col=1)
        for column, label, dash in (("train_acc", "train acc", "dash"), ("test_acc", "test acc", "solid")):
            acc = frame[["epoch", column]].dropna()
            fig.add_trace(go.Scatter(x=acc["epoch"], y=acc[column], name=f"{name} · {label}", legendgroup=name,
                                     mode="lines+markers" if column == "test_acc" else "lines",
                                     line=dict(color=color, width=2, dash=dash),
                                     hovertemplate=f"{name}<br>epoch %{{x:.2f}}: {label} %{{y:.3f}}<extra></extra>"),
                          row=2, col=1)
    chance = [(1, math.log(num_classes), f"chance: ln {num_classes} = {math.log(num_classes):.2f}"),
              (2, 1 / num_classes, f"chance: 1/{num_classes}")]
    for row, y, text in chance:
        fig.add_hline(y=y, line=CHANCE_LINE, row=row, col=1, annotation_text=text, annotation_position="top left",
                      annotation_font_size=12)
    fig.update_xaxes(range=[0, last]).update_xaxes(title="epoch", row=2, col=1)
    fig.update_yaxes(title="loss", range=[0, top * 1.05], row=1, col=1)
    fig.update_yaxes(title="accuracy", range=[0, 1.02], tickformat=".0%", dtick=0.25, row=2, col=1)
    fig.update_layout(title=title, height=560, margin=dict(l=10, r=10, t=110, b=10),
                      legend=dict(orientation="h", y=1.04, x=1, xanchor="right", yanchor="bottom"))
    return fig
