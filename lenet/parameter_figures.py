"""Plotly figures for the Parameters page: where the parameters sit, their values, and what initialisation does."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from .parameters import SCHEME_LABELS, InitRun

SCHEME_COLORS = {"default": "#1f77b4", "normal": "#ff7f0e", "xavier": "#2ca02c", "constant": "#d62728"}


def parameter_treemap(tree: pd.DataFrame, title: str = "Where the parameters sit") -> go.Figure:
    """module_tree's rows as nested boxes sized by their parameters (modules without parameters vanish)."""
    tree = tree[tree["parameters"] > 0]
    labels = [name.rpartition(".")[2] for name in tree["name"]]
    fig = go.Figure(go.Treemap(
        ids=tree["name"], parents=tree["parent"], labels=labels, values=tree["parameters"], branchvalues="total",
        customdata=tree["type"], texttemplate="%{label}<br>%{value:,}<br>%{percentRoot:.1%}",
        hovertemplate="%{id} (%{customdata})<br>%{value:,} parameters, %{percentRoot:.1%} of all<extra></extra>",
    ))
    fig.update_layout(title=title, height=380, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def _histogram(values: torch.Tensor, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres and counts; a constant tensor is one bar."""
    values = values.detach().float().cpu()
    lo, hi = values.min().item(), values.max().item()
    if lo == hi:
        return np.array([lo]), np.array([values.numel()])
    counts = torch.histc(values, bins=bins, min=lo, max=hi)
    edges = torch.linspace(lo, hi, bins + 1)
    return ((edges[:-1] + edges[1:]) / 2).numpy(), counts.numpy()


def histogram_grid(panels: dict[str, torch.Tensor], title: str, columns: int = 5, bins: int = 40,
                   colors: dict[str, str] | None = None) -> go.Figure:
    """One histogram per tensor (panel title -> values), in rows of `columns`, each with its own x range.

    colors maps a panel title's first word (e.g. a scheme) to a bar colour.
    """
    if not panels:
        raise ValueError("No tensors to draw.")
    cols = min(columns, len(panels))
    rows = math.ceil(len(panels) / cols)
    height = 90 + 190 * rows
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(panels), horizontal_spacing=0.04,
                        vertical_spacing=60 / height)
    for i, (name, values) in enumerate(panels.items()):
        centres, counts = _histogram(values, bins)
        width = (centres[1] - centres[0]) if len(centres) > 1 else max(abs(centres[0]) * 0.05, 0.01)
        color = (colors or {}).get(name.split(" ")[0], "#4c78a8")
        fig.add_trace(go.Bar(x=centres, y=counts, width=width, marker_color=color, showlegend=False,
                             hovertemplate=f"{name}<br>value %{{x:.3g}}: %{{y:,}}<extra></extra>"),
                      row=i // cols + 1, col=i % cols + 1)
    fig.update_xaxes(tickformat=".2g", nticks=4)
    fig.update_yaxes(showticklabels=False)
    fig.update_annotations(font_size=11)
    fig.update_layout(title=title, height=height, bargap=0, margin=dict(l=10, r=10, t=70, b=10))
    return fig


def activation_figure(table: pd.DataFrame, title: str = "Each layer's output on a real batch") -> go.Figure:
    """compare_inits' table as two heatmaps, scheme by layer: the mean and the standard deviation, with values
    written in; colours on a log scale of the size, so 0.01 and 100 both read."""
    schemes = list(dict.fromkeys(table["scheme"]))
    layers = list(dict.fromkeys(table["layer"]))
    fig = make_subplots(rows=2, cols=1, subplot_titles=["mean", "standard deviation"], vertical_spacing=0.18)
    for row, stat in enumerate(("mean", "std"), start=1):
        grid = table.pivot(index="scheme", columns="layer", values=stat).loc[schemes, layers]
        size = np.log10(grid.abs().clip(lower=1e-4).to_numpy())
        text = [[f"{v:.3g}" for v in line] for line in grid.to_numpy()]
        fig.add_trace(go.Heatmap(
            z=size, x=layers, y=[SCHEME_LABELS.get(s, s) for s in schemes], text=text, texttemplate="%{text}",
            textfont=dict(size=12), colorscale="Blues", zmin=-3, zmax=2, showscale=False, xgap=1, ygap=1,
            hovertemplate=f"%{{y}}, %{{x}}: {stat} %{{text}}<extra></extra>",
        ), row=row, col=1)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title, height=140 + 2 * 40 * len(schemes) + 80, margin=dict(l=10, r=10, t=70, b=10))
    return fig


def init_training_figure(runs: list[InitRun], title: str = "Training from each initialisation") -> go.Figure:
    """Overlaid curves, one colour per scheme: the running training loss (log scale) and the test accuracy."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["training loss (running mean over the epoch)",
                                                        "test accuracy after each epoch"])
    for run in runs:
        color = SCHEME_COLORS.get(run.scheme)
        label = SCHEME_LABELS.get(run.scheme, run.scheme)
        x = [p.epoch - 1 + p.batch / p.batches_per_epoch for p in run.points]
        fig.add_trace(go.Scatter(x=x, y=[p.train_loss for p in run.points], name=label, legendgroup=run.scheme,
                                 line=dict(color=color), hovertemplate="epoch %{x:.2f}: loss %{y:.3f}<extra></extra>"),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=run.history["epoch"], y=run.history["test_acc"], name=label,
                                 legendgroup=run.scheme, showlegend=False, mode="lines+markers",
                                 line=dict(color=color), hovertemplate="epoch %{x}: %{y:.3f}<extra></extra>"),
                      row=1, col=2)
    epochs = max((len(run.history) for run in runs), default=1)
    fig.add_hline(y=0.1, line=dict(dash="dot", color="gray"), annotation_text="chance (10 classes)", row=1, col=2)
    fig.update_xaxes(title="epoch", range=[0, epochs])
    fig.update_yaxes(type="log", title="loss", row=1, col=1)
    fig.update_yaxes(range=[0, 1], title="accuracy", row=1, col=2)
    fig.update_layout(title=title, height=420, legend=dict(orientation="h", y=-0.2),
                      margin=dict(l=10, r=10, t=70, b=10))
    return fig


def gradient_figure(grads: dict[str, torch.Tensor], title: str) -> go.Figure:
    """Matrices side by side (panel title -> matrix) on one colour scale centred on zero (red -, blue +)."""
    fig = make_subplots(rows=1, cols=len(grads), subplot_titles=list(grads), horizontal_spacing=0.03)
    for i, matrix in enumerate(grads.values(), start=1):
        fig.add_trace(go.Heatmap(z=matrix.detach().cpu().tolist(), coloraxis="coloraxis",
                                 hovertemplate="row %{y}, column %{x}: %{z:.4f}<extra></extra>"), row=1, col=i)
        fig.update_yaxes(scaleanchor=f"x{i if i > 1 else ''}", row=1, col=i)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, autorange="reversed", constrain="domain")
    fig.update_layout(title=title, height=330, coloraxis=dict(colorscale="RdBu", cmid=0, colorbar=dict(thickness=12)),
                      margin=dict(l=10, r=10, t=70, b=10))
    return fig
