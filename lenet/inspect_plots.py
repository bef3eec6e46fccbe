"""Inspect's figures of what decided a prediction (attributions over the image) and a confusion matrix to click."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

# Zero is transparent, so the image shows through where a pixel did not matter.
SIGNED = [[0, "rgba(33,102,172,0.95)"], [0.5, "rgba(255,255,255,0)"], [1, "rgba(214,39,40,0.95)"]]
HEAT = [[0, "rgba(255,60,0,0)"], [0.4, "rgba(255,90,0,0.55)"], [1, "rgba(255,235,0,0.9)"]]
DIM = [[0, "black"], [1, "rgb(150,150,150)"]]  # the image under an attribution, dimmed so the colours stand out
PANEL = 300  # pixels of one square panel
CLIP = 0.99  # gradient x input's colours saturate at this quantile of |values|: a few extreme pixels would pale the rest


def _numpy(values) -> np.ndarray:
    return values.detach().cpu().numpy() if hasattr(values, "detach") else np.asarray(values)


def _image(pixels: np.ndarray, colorscale: list, axes: str) -> dict:
    return dict(type="heatmap", z=pixels, colorscale=colorscale, zmin=0, zmax=1, showscale=False, hoverinfo="skip",
                xaxis=f"x{axes}", yaxis=f"y{axes}")


def _over(values: np.ndarray, size: tuple[int, int], colorscale: list, zmin: float, zmax: float, name: str,
          axes: str) -> dict:
    """A map of any resolution stretched over an image of `size` (h, w) pixels, cell i covering its share."""
    h, w = values.shape
    dy, dx = size[0] / h, size[1] / w
    return dict(type="heatmap", z=values, x0=-0.5 + dx / 2, dx=dx, y0=-0.5 + dy / 2, dy=dy, colorscale=colorscale,
                zmin=zmin, zmax=zmax, showscale=False, hovertemplate=f"{name}: %{{z:.3g}}<extra></extra>",
                xaxis=f"x{axes}", yaxis=f"y{axes}")


def _panels(titles: Sequence[str], size: tuple[int, int], gap: float = 0.04) -> dict:
    """Layout of square image panels side by side, each titled (make_subplots' layout, without its 90 ms)."""
    width = (1 - gap * (len(titles) - 1)) / len(titles)
    layout = {"annotations": []}
    for k, title in enumerate(titles):
        axes, left = "" if k == 0 else str(k + 1), k * (width + gap)
        layout[f"xaxis{axes}"] = dict(domain=[left, left + width], anchor=f"y{axes}", visible=False,
                                      range=[-0.5, size[1] - 0.5], constrain="domain")
        layout[f"yaxis{axes}"] = dict(domain=[0, 1], anchor=f"x{axes}", visible=False, range=[size[0] - 0.5, -0.5],
                                      constrain="domain", scaleanchor=f"x{axes}")
        layout["annotations"].append(dict(text=title, x=left + width / 2, y=1, xref="paper", yref="paper",
                                          xanchor="center", yanchor="bottom", showarrow=False, font_size=16))
    return layout


def attribution_figure(image, gradient_x_input, cam, class_name: str, layer: str) -> go.Figure:
    """The image, then gradient x input (red: for the class, blue: against) and Grad-CAM over it, for one class.

    image: H x W (uint8 or floats in [0, 1]); gradient_x_input: H x W; cam: the last conv layer's h x w map.
    """
    pixels = _numpy(image).astype(np.float64)
    pixels = pixels / 255 if pixels.max() > 1 else pixels
    saliency, heat = _numpy(gradient_x_input), _numpy(cam)
    size = pixels.shape
    bound = float(np.quantile(np.abs(saliency), CLIP)) or float(np.abs(saliency).max()) or 1.0
    data = [
        _image(pixels, [[0, "black"], [1, "white"]], ""),
        _image(pixels, DIM, "2"),
        _over(saliency, size, SIGNED, -bound, bound, "gradient x input", "2"),
        _image(pixels, DIM, "3"),
        _over(heat, size, HEAT, 0, float(heat.max()) or 1.0, "Grad-CAM", "3"),
    ]
    layout = _panels(("the image", "gradient x input", f"Grad-CAM on {layer} ({heat.shape[0]} x {heat.shape[1]})"),
                     size)
    layout.update(title=f"Which pixels decided {class_name!r}", height=PANEL + 90, margin=dict(l=10, r=10, t=80, b=10),
                  plot_bgcolor="white")
    return go.Figure(data=data, layout=layout)


def clickable_cells(fig: go.Figure, cm: pd.DataFrame) -> go.Figure:
    """The confusion-matrix heatmap `fig` (of counts `cm`) with one invisible point per cell, since Streamlit's
    on_select gets no points from a heatmap: a click selects the cell, drawn with a red frame."""
    n_true, n_predicted = cm.shape
    true, predicted = np.divmod(np.arange(n_true * n_predicted), n_predicted)
    fig.add_trace(go.Scatter(
        x=[str(cm.columns[j]) for j in predicted], y=[str(cm.index[i]) for i in true], mode="markers",
        marker=dict(symbol="square-open", size=36, color="#d62728", line_width=3, opacity=0),
        selected=dict(marker_opacity=1), unselected=dict(marker_opacity=0),
        customdata=np.stack([true, predicted, cm.to_numpy().ravel()], axis=1), showlegend=False,
        hovertemplate="true %{y}, predicted %{x}: %{customdata[2]}<br>click to see these images<extra></extra>",
    ))
    fig.update_xaxes(range=[-0.5, n_predicted - 0.5], autorange=False)
    fig.update_yaxes(range=[n_true - 0.5, -0.5], autorange=False)
    fig.update_layout(clickmode="event+select", dragmode=False)
    return fig


def selected_cell(points: list[dict]) -> tuple[int, int] | None:
    """(true, predicted) class numbers of the cell a click on clickable_cells' figure selected, else None."""
    for point in points:
        data = point.get("customdata")
        if isinstance(data, dict):  # Streamlit hands a point's customdata over as {"0": ..., "1": ...}
            data = [data.get(str(i)) for i in range(len(data))]
        if isinstance(data, (list, tuple)) and len(data) >= 2:
            try:
                return int(data[0]), int(data[1])
            except (TypeError, ValueError):
                continue
    return None
