"""Plotly figures for inspecting and training a model: they draw what they are given, nothing more."""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch

CURVES = {  # column -> (legend, line style), like d2l's Animator
    "train_loss": ("train loss", "solid"),
    "train_acc": ("train acc", "dash"),
    "test_acc": ("test acc", "dashdot"),
}
COLORS = {"train_loss": "#1f77b4", "train_acc": "#c03cc0", "test_acc": "#2ca02c"}
WIDE = 950  # the plotting width we design for: a wide Streamlit page on a 1280-pixel screen
MAX_TILE = 200  # the widest a map is drawn, in screen pixels
TICK_LABEL_WIDTH, TICK_LABEL_HEIGHT = 24, 14  # screen pixels a channel number needs along each axis
TITLE_LINE = 16  # the height of a line of a map's name above it, in screen pixels
CELL_TEXT = 14  # numbers written in cells and on bars: readable on a projected slide


def _numpy(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().float().numpy()
    return np.asarray(values, dtype=float)


def probability_bar(
    probs, class_names: Sequence[str], true_label: int | None = None, title: str = "What the model says"
) -> go.Figure:
    """One horizontal bar per class; the predicted class stands out, and the true one when it differs."""
    p = _numpy(probs).reshape(-1)
    if len(p) != len(class_names):
        raise ValueError(f"{len(p)} probabilities for {len(class_names)} class names.")
    predicted = int(p.argmax())
    colors = ["#9aa5b1"] * len(p)
    if true_label is not None and true_label != predicted:
        colors[true_label] = "#2ca02c"
    colors[predicted] = "#1f77b4" if true_label in (None, predicted) else "#d62728"
    fig = go.Figure(go.Bar(
        x=p, y=list(class_names), orientation="h", marker_color=colors,
        text=[f"{v:.1%}" for v in p], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.2%}<extra></extra>",
    ))
    subtitle = f"predicted: {class_names[predicted]} ({p[predicted]:.1%})"
    if true_label is not None:
        subtitle += f" · true: {class_names[true_label]}"
    fig.update_layout(title=dict(text=title, subtitle=dict(text=subtitle, font_size=13)), height=380,
                      margin=dict(l=10, r=50, t=80, b=40))
    fig.update_xaxes(title="probability", range=[0, 1.08], tickformat=".0%")
    fig.update_yaxes(autorange="reversed")
    return fig


def _per_map_scale(maps: np.ndarray) -> np.ndarray:
    """Each map stretched to 0..1 between its own minimum and maximum (a constant map is all 0)."""
    lo = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - lo
    return (maps - lo) / np.where(span > 0, span, 1)


def _grid(
    maps: np.ndarray,
    title: str,
    names: Sequence[str],
    columns: int,
    colorscale: str,
    shared_scale: bool,
    zrange: tuple[float, float] | None = None,
    showscale: bool = True,
    font_size: int = 12,
) -> go.Figure:
    """Small multiples as one heatmap: the maps tiled in rows of `columns` with NaN gaps, row 0 on top, square
    pixels, each map's name above it (a subplot per map took 5-11x longer to build)."""
    n, h, w = maps.shape
    cols = max(1, min(columns, n))
    rows = math.ceil(n / cols)
    gap_x = max(1, round(w / 12))
    width = cols * (w + gap_x) - gap_x
    pixel = min(MAX_TILE / w, (WIDE - (90 if showscale else 20)) / width)  # screen pixels per map pixel
    lines = max(name.count("<br>") + 1 for name in names)
    gap_y = math.ceil((lines * TITLE_LINE + 4) / pixel)  # room above each row of maps for their names
    # Each row of maps is one row of NaNs, gap_y tall (y holds the row edges), then the maps' h rows.
    y = np.concatenate([[0.0], *[k * (gap_y + h) + gap_y + np.arange(h + 1) for k in range(rows)]])
    z = np.full((rows * (h + 1), width), np.nan, dtype=np.float32)
    where = np.zeros(z.shape + (2 if shared_scale else 3,),  # each cell's row, column (and value) in its map
                     dtype=np.min_scalar_type(max(h, w)) if shared_scale else np.float32)
    shown = maps if shared_scale else _per_map_scale(maps)
    pixel_rows, pixel_cols = np.indices((h, w))
    annotations = []
    for i in range(n):
        top, left = (i // cols) * (h + 1) + 1, (i % cols) * (w + gap_x)
        tile = (slice(top, top + h), slice(left, left + w))
        z[tile] = shown[i]
        where[tile] = np.stack([pixel_rows, pixel_cols] + ([] if shared_scale else [maps[i]]), axis=-1)
        annotations.append(dict(text=names[i], x=left + (w - 1) / 2, y=y[top], xref="x", yref="y",
                                yanchor="bottom", showarrow=False, font_size=font_size))
    if shared_scale:
        lo, hi = zrange if zrange is not None else (float(maps.min()), float(maps.max()))
        scale = dict(zmin=lo, zmax=hi, colorbar=dict(thickness=12))
        hover = "row %{customdata[0]}, column %{customdata[1]}: %{z:.3~g}<extra></extra>"
    else:
        scale = dict(zmin=0, zmax=1, colorbar=dict(thickness=12, title="each map:<br>its own range",
                                                   tickvals=[0, 1], ticktext=["min", "max"]))
        hover = ("row %{customdata[0]}, column %{customdata[1]}: %{customdata[2]:.3~g}"
                 "<br>colour: this map's own min to max<extra></extra>")
    # The names stay in the annotations: a name in every cell's hover made the figure up to 4x larger to send.
    fig = go.Figure(go.Heatmap(z=z, y=y, customdata=where, colorscale=colorscale, showscale=showscale,
                               hoverongaps=False, hovertemplate=hover, **scale))
    plain = dict(showticklabels=False, ticks="", showgrid=False, zeroline=False, constrain="domain")
    fig.update_xaxes(**plain)
    fig.update_yaxes(autorange="reversed", scaleanchor="x", **plain)
    fig.update_layout(title=title, annotations=annotations, plot_bgcolor="white",
                      height=int(y[-1] * pixel + 60), margin=dict(l=10, r=10, t=50, b=10))
    return fig


def image_grid(
    maps,
    title: str,
    names: Sequence[str] | None = None,
    shared_scale: bool = True,
    columns: int = 8,
    colorscale: str = "Viridis",
) -> go.Figure:
    """Feature maps (C x H x W, or one H x W image) as small heatmaps, on one colour scale or one each."""
    z = _numpy(maps)
    if z.ndim == 2:
        z = z[None]
    if z.ndim != 3 or z.shape[0] == 0:
        raise ValueError(f"Expected C x H x W maps, not shape {z.shape}.")
    names = list(names) if names is not None else [f"channel {i}" for i in range(len(z))]
    if len(names) != len(z):
        raise ValueError(f"{len(names)} names for {len(z)} maps.")
    return _grid(z, title, names, columns, colorscale, shared_scale)


def filter_grid(weights, title: str = "Filters") -> go.Figure:
    """Every kernel of a conv layer (c_o x c_i x k x k) as one mosaic: a column per filter (output channel),
    a row per input channel, on one colour scale centred on zero (red positive, blue negative)."""
    w = _numpy(weights)
    if w.ndim != 4:
        raise ValueError(f"Expected c_o x c_i x k_h x k_w weights, not shape {w.shape}.")
    c_out, c_in, kh, kw = w.shape
    gap = 1
    mosaic = np.full((c_in * (kh + gap) - gap, c_out * (kw + gap) - gap), np.nan)
    label = np.full(mosaic.shape, "", dtype=object)
    for o in range(c_out):
        for i in range(c_in):
            top, left = i * (kh + gap), o * (kw + gap)
            mosaic[top : top + kh, left : left + kw] = w[o, i]
            label[top : top + kh, left : left + kw] = f"filter {o}, input channel {i}"
    bound = float(np.abs(w).max()) or 1.0
    fig = go.Figure(go.Heatmap(
        z=mosaic, customdata=label, colorscale="RdBu_r", zmin=-bound, zmax=bound, hoverongaps=False,
        colorbar=dict(title="weight", thickness=12),
        hovertemplate="%{customdata}<br>weight %{z:.3f}<extra></extra>",
    ))
    pixel = min(40, WIDE / mosaic.shape[1])  # screen pixels per weight
    # Label every channel while the labels fit (LeNet-5's conv3, 120 x 16 filters, gets every 4th and 2nd)
    shown_out = range(0, c_out, math.ceil(TICK_LABEL_WIDTH / ((kw + gap) * pixel)))
    shown_in = range(0, c_in, math.ceil(TICK_LABEL_HEIGHT / ((kh + gap) * pixel)))
    fig.update_xaxes(title="filter (output channel)", tickvals=[o * (kw + gap) + (kw - 1) / 2 for o in shown_out],
                     ticktext=[str(o) for o in shown_out], ticks="", showgrid=False, zeroline=False,
                     constrain="domain")
    fig.update_yaxes(title="input channel", tickvals=[i * (kh + gap) + (kh - 1) / 2 for i in shown_in],
                     ticktext=[str(i) for i in shown_in], ticks="", showgrid=False, zeroline=False,
                     autorange="reversed", scaleanchor="x", constrain="domain")
    height = int(np.clip(mosaic.shape[0] * pixel + 150, 240, 760))
    fig.update_layout(title=title, height=height, plot_bgcolor="white", margin=dict(l=10, r=10, t=60, b=10))
    return fig


def confusion_matrix_figure(cm: pd.DataFrame, title: str = "Confusion matrix") -> go.Figure:
    """Counts with true classes down and predicted classes across (as from Evaluation.confusion_matrix()):
    square cells, counts large enough for a slide, class names at 45 degrees."""
    n = len(cm.columns)
    fig = go.Figure(go.Heatmap(
        z=cm.to_numpy(), x=[str(c) for c in cm.columns], y=[str(c) for c in cm.index], colorscale="Blues",
        texttemplate="%{z}", textfont=dict(size=CELL_TEXT), xgap=1, ygap=1,
        hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
        colorbar=dict(title="images", thickness=14),
    ))
    fig.update_xaxes(title="predicted", side="bottom", tickangle=-45, tickfont_size=13, constrain="domain",
                     showgrid=False)
    fig.update_yaxes(title="true", autorange="reversed", tickfont_size=13, scaleanchor="x", constrain="domain",
                     showgrid=False)
    fig.update_layout(title=title, height=max(420, min(760, 150 + 60 * n)), plot_bgcolor="white",
                      margin=dict(l=10, r=10, t=60, b=10))
    return fig


def per_class_accuracy_figure(
    accuracy: pd.Series, overall: float | None = None, title: str = "Accuracy per class"
) -> go.Figure:
    """One bar per class (as from Evaluation.per_class_accuracy()), with the overall accuracy as a dashed line."""
    fig = go.Figure(go.Bar(
        x=[str(c) for c in accuracy.index], y=accuracy.to_numpy(), marker_color="#1f77b4",
        text=[f"{v:.0%}" for v in accuracy], textposition="inside", insidetextanchor="end",
        textfont_size=CELL_TEXT, hovertemplate="%{x}: %{y:.1%}<extra></extra>",
    ))
    subtitle = None
    if overall is not None:
        fig.add_hline(y=overall, line_dash="dash", line_color="#d62728")
        subtitle = f"dashed line: overall accuracy {overall:.1%}"
    fig.update_yaxes(title="accuracy", range=[0, 1], tickformat=".0%")
    fig.update_xaxes(title="true class")
    fig.update_layout(title=dict(text=title, subtitle=dict(text=subtitle, font_size=13)), height=400,
                      uniformtext=dict(minsize=12, mode="show"), margin=dict(l=10, r=10, t=80, b=10))
    return fig


def mistakes_gallery(
    images,
    true: Sequence[int],
    pred: Sequence[int],
    confidences: Sequence[float],
    class_names: Sequence[str],
    columns: int = 8,
    title: str = "Most confident mistakes",
) -> go.Figure:
    """The images (N x H x W pixels) with what they are and what the model said, and how sure it was."""
    z = _numpy(images)
    if z.ndim != 3 or not len(z) == len(true) == len(pred) == len(confidences):
        raise ValueError("Expected N x H x W images with one true label, prediction and confidence each.")
    if len(z) == 0:
        raise ValueError("There are no mistakes to show.")
    names = [f"{class_names[int(t)]}<br>said {class_names[int(p)]} {float(c):.0%}"
             for t, p, c in zip(true, pred, confidences)]
    top = 255.0 if z.max() > 1 else 1.0
    return _grid(z, title, names, columns, "gray", shared_scale=True, zrange=(0.0, top), showscale=False,
                 font_size=11)


def _history_frame(history) -> pd.DataFrame:
    """A DataFrame with a (fractional) `epoch` column from a DataFrame, or a list of dicts or dataclasses.

    Progress reports (1-based epoch, batch, batches_per_epoch) sit at epoch - 1 + batch / batches_per_epoch.
    """
    if isinstance(history, pd.DataFrame):
        frame = history
    else:
        frame = pd.DataFrame([dataclasses.asdict(p) if dataclasses.is_dataclass(p) else dict(p) for p in history])
    if len(frame) and "epoch" not in frame:
        raise ValueError(f"A training history needs an 'epoch' column; it has {list(frame.columns)}.")
    if {"batch", "batches_per_epoch"} <= set(frame.columns):
        frame = frame.assign(epoch=frame["epoch"] - 1 + frame["batch"] / frame["batches_per_epoch"])
    return frame


def _not_kept(frame: pd.DataFrame) -> pd.Series:
    """The progress reports after the last finished epoch, which a stopped training throws away with their weights."""
    if "kind" not in frame:
        return pd.Series(False, index=frame.index)
    finished = frame.loc[frame["kind"] == "epoch", "epoch"]
    return frame["epoch"] > (finished.max() if len(finished) else -1)


ACCURACY_AXIS = dict(title="accuracy", range=[0, 1.02], tickformat=".0%", dtick=0.25)
LOSS_PANEL, ACCURACY_PANEL = dict(xaxis="x", yaxis="y"), dict(xaxis="x2", yaxis="y2")  # training_curves' two panels


def training_curves(history, epochs: int | None = None, title: str = "Training",
                    marker: float | None = None, stopped: bool = False) -> go.Figure:
    """Train loss above, train and test accuracy below, against (possibly fractional) epochs, like d2l's Animator.

    history: a run's history DataFrame, or a list of dicts or dataclasses (e.g. lenet.training's Progress
    reports) with `epoch` and any of train_loss, train_acc, test_acc; missing values (no test accuracy
    within an epoch) are skipped. marker: an epoch to mark with a vertical line (e.g. a snapshot's).
    stopped: the training was stopped, so reports after its last finished epoch were not kept: they are
    drawn grey, apart from the curves, which end at the last epoch kept.
    """
    frame = _history_frame(history)
    dropped = _not_kept(frame) if stopped and len(frame) else pd.Series(False, index=frame.index)
    kept, tail = frame[~dropped], frame[dropped | dropped.shift(-1, fill_value=False)]
    traces, top = [], 1.0
    for column, (name, dash) in CURVES.items():
        points = kept[["epoch", column]].dropna() if column in frame else pd.DataFrame()
        if points.empty:
            continue
        top = max(top, float(points[column].max()))
        traces.append(go.Scatter(
            x=points["epoch"].tolist(), y=points[column].tolist(), name=name, mode="lines+markers" if column == "test_acc"
            else "lines", line=dict(dash=dash, color=COLORS[column], width=2),
            **(LOSS_PANEL if column == "train_loss" else ACCURACY_PANEL),
            hovertemplate=f"epoch %{{x:.2f}}<br>{name} %{{y:.3f}}<extra></extra>"))
    for column in ("train_loss", "train_acc") if dropped.any() else ():
        points = tail[["epoch", column]].dropna()
        traces.append(go.Scatter(
            x=points["epoch"].tolist(), y=points[column].tolist(), name="after Stop: not kept", legendgroup="not kept",
            showlegend=column == "train_loss", mode="lines", line=dict(color="#9ca3af", width=2, dash="dot"),
            hovertemplate="epoch %{x:.2f}: %{y:.3f}, not kept (the run keeps its finished epochs)<extra></extra>",
            **(LOSS_PANEL if column == "train_loss" else ACCURACY_PANEL)))
    last = epochs if epochs is not None else (float(frame["epoch"].max()) if len(frame) else 1.0)
    fig = go.Figure(traces, layout=dict(  # two panels on one epoch axis (make_subplots took half of the time)
        xaxis=dict(anchor="y", matches="x2", showticklabels=False, range=[0, last or 1]),
        xaxis2=dict(anchor="y2", title="epoch", range=[0, last or 1]),
        yaxis=dict(anchor="x", domain=[0.55, 1], title="loss", range=[0, top * 1.05]),
        yaxis2=dict(anchor="x2", domain=[0, 0.45], **ACCURACY_AXIS),
        title=title, height=520, margin=dict(l=10, r=10, t=90, b=10),
        legend=dict(orientation="h", y=1.06, x=1, xanchor="right", yanchor="bottom")))
    if marker is not None:
        _epoch_line(fig, marker, f"epoch {marker:.3g}", marker < 0.8 * (last or 1))
    if dropped.any():
        kept_epochs = int(kept["epoch"].max()) if len(kept) else 0
        _epoch_line(fig, kept_epochs, f"stopped: {kept_epochs} epoch{'' if kept_epochs == 1 else 's'} kept",
                    kept_epochs < 0.6 * (last or 1))
    return fig


def _epoch_line(fig: go.Figure, epoch: float, text: str, label_right: bool) -> None:
    """A dotted vertical line through both panels at one epoch, labelled inside the top of the loss panel."""
    fig.add_shape(type="line", x0=epoch, x1=epoch, y0=0, y1=1, xref="x", yref="paper",
                  line=dict(color="#444", width=1.5, dash="dot"))
    fig.add_annotation(x=epoch, y=1, xref="x", yref="paper", yanchor="top", text=text, showarrow=False,
                       xanchor="left" if label_right else "right", xshift=4 if label_right else -4, font_size=12,
                       bgcolor="rgba(255, 255, 255, 0.8)")


def overlay_runs(runs: Sequence[tuple[str, object]], metric: str = "test_acc", title: str | None = None) -> go.Figure:
    """One curve per saved run (name, history) for one metric, to compare runs (an accuracy on 0 to 100%)."""
    if metric not in CURVES:
        raise ValueError(f"metric must be one of {list(CURVES)}, not {metric!r}.")
    name = CURVES[metric][0]
    fig = go.Figure()
    top, last = 1.0, 1.0
    for run_name, history in runs:
        points = _history_frame(history)
        if metric not in points:
            continue
        points = points[["epoch", metric]].dropna()
        if points.empty:
            continue
        top, last = max(top, float(points[metric].max())), max(last, float(points["epoch"].max()))
        fig.add_trace(go.Scatter(x=points["epoch"], y=points[metric], name=str(run_name), mode="lines+markers",
                                 hovertemplate=f"{run_name}<br>epoch %{{x:.2f}}: %{{y:.3f}}<extra></extra>"))
    fig.update_xaxes(title="epoch", range=[0, last])
    if metric.endswith("_acc"):
        fig.update_yaxes(**ACCURACY_AXIS | dict(title=name))
    else:
        fig.update_yaxes(title=name, range=[0, top * 1.05])
    fig.update_layout(title=title or f"{name.capitalize()} of the selected runs", height=420,
                      margin=dict(l=10, r=10, t=60, b=10))
    return fig
