"""Plotly figures for the concept pages, drawn from plain tensors and tables (no data loading here)."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots

from .lessons import (
    ShiftDemo,
    format_number,
    human_count,
    kernel_footprint,
    step_to_cell,
    total_padding_output_shape,
    total_padding_sides,
)
from .receptive import UnitField
from .shapes import IntOrPair, as_pair, conv_output_shape

WINDOW_COLOR = "#f97316"
WINDOW_FILL = "rgba(249, 115, 22, 0.3)"
PADDING_COLOR = "#e5e7eb"
INPUT_COLOR = "#dbeafe"
UNSEEN_COLOR = "#94a3b8"
CELL_HEIGHT = 34  # pixels per matrix row, so small matrices stay readable and large ones fit


def png_config(filename: str) -> dict:
    """Plotly config whose camera button downloads a sharp PNG named `filename`."""
    return {"toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}, "displaylogo": False}


def _cell_text(M: torch.Tensor) -> list[list[str]]:
    return [["" if math.isnan(v) else format_number(v) for v in row] for row in M.tolist()]


def _flat_cells(mask: torch.Tensor, color: str, label: str, hover: str) -> go.Heatmap:
    """The cells where mask is True in one flat colour, each labelled `label`."""
    return go.Heatmap(
        z=torch.where(mask, 0.0, float("nan")).tolist(), text=[[label if m else "" for m in row] for row in mask.tolist()],
        texttemplate="%{text}", colorscale=[[0, color], [1, color]], showscale=False, xgap=1, ygap=1,
        hovertemplate=hover + "<extra></extra>",
    )


def _heatmap(M: torch.Tensor, colorscale: str | None = None) -> go.Heatmap:
    """Annotated cells; with no colorscale given, blue for values >= 0 and red-white-blue around 0 otherwise."""
    M = M.detach().float()
    finite = M[~M.isnan()]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.numel() else (0.0, 1.0)
    if colorscale is None and lo < 0:
        limit = max(-lo, hi)
        colors = dict(colorscale="RdBu", zmin=-limit, zmax=limit)
    else:
        # a constant matrix (all zeros, say) gets pale cells rather than the middle colour
        colors = dict(colorscale=colorscale or "Blues", zmin=min(lo, 0.0), zmax=hi if hi > lo else max(hi, 1.0))
    return go.Heatmap(
        z=M.tolist(), text=_cell_text(M), texttemplate="%{text}", showscale=False, xgap=1, ygap=1,
        hovertemplate="row %{y}, column %{x}: %{z}<extra></extra>", **colors,
    )


def _grid_axes(fig: go.Figure, row: int, col: int, x_title: str = "column", y_title: str = "row") -> None:
    """Square cells, row 0 at the top, a tick on every row and column."""
    anchor = fig.get_subplot(row, col).yaxis.anchor
    fig.update_xaxes(title_text=x_title, dtick=1, showgrid=False, zeroline=False, constrain="domain", row=row, col=col)
    fig.update_yaxes(
        title_text=y_title, dtick=1, autorange="reversed", scaleanchor=anchor, showgrid=False, zeroline=False,
        constrain="domain", row=row, col=col,
    )


def _outline_cells(fig: go.Figure, cells, row: int, col: int) -> None:
    """Outline cells of one panel, all in one update: add_shape copies every shape so far on each call (34 took 1 s)."""
    axes = fig.get_subplot(row, col)
    box = dict(type="rect", xref=axes.yaxis.anchor, yref=axes.xaxis.anchor, line=dict(color=WINDOW_COLOR, width=3),
               fillcolor=WINDOW_FILL)
    outlines = [box | dict(x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5) for r, c in cells]
    if outlines:
        fig.update_layout(shapes=[*fig.layout.shapes, *outlines])


def _finish(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, xanchor="left"), height=height, margin=dict(l=50, r=20, t=80, b=50))
    return fig


def _grid_height(rows: int, extra: int = 150) -> int:
    return max(300, min(760, extra + CELL_HEIGHT * rows))


def matrix_grid_figure(
    grid: list[list[tuple]],
    title: str,
    highlights: dict[tuple[int, int], list[tuple[int, int]]] | None = None,
) -> go.Figure:
    """Matrices as annotated heatmaps on a grid of panels; each panel is (title, matrix) or
    (title, matrix, plotly colorscale). Rows may be shorter than others: the missing panels stay empty.

    highlights maps a panel's (row, col), counted from 0, to the cells to outline in it.
    """
    n_rows, n_cols = len(grid), max(len(r) for r in grid)
    widths = [max(row[c][1].shape[-1] for row in grid if c < len(row)) for c in range(n_cols)]
    tallest = max(panel[1].shape[0] for row in grid for panel in row)
    height = _grid_height(tallest * n_rows, extra=150 + 60 * n_rows)
    fig = make_subplots(
        rows=n_rows, cols=n_cols, subplot_titles=[row[c][0] if c < len(row) else "" for row in grid for c in range(n_cols)],
        column_widths=[w + 2 for w in widths], horizontal_spacing=0.06, vertical_spacing=min(0.3, 90 / height),
    )
    for r in range(n_rows):
        for c in range(n_cols):
            if c >= len(grid[r]):
                fig.update_xaxes(visible=False, row=r + 1, col=c + 1)
                fig.update_yaxes(visible=False, row=r + 1, col=c + 1)
                continue
            fig.add_trace(_heatmap(*grid[r][c][1:]), row=r + 1, col=c + 1)
            _grid_axes(fig, r + 1, c + 1, "column" if r == n_rows - 1 else "", "row" if c == 0 else "")
            _outline_cells(fig, (highlights or {}).get((r, c), []), r + 1, c + 1)
    return _finish(fig, title, height)


def sliding_window_figure(
    X: torch.Tensor,
    Y: torch.Tensor,
    cell: tuple[int, int],
    kernel_size: IntOrPair,
    padding: IntOrPair = 0,
    stride: IntOrPair = 1,
    dilation: IntOrPair = 1,
    K: torch.Tensor | None = None,
    title: str = "Sliding window",
    show_input_values: bool = True,
    padding_label: str = "0",
    show_positions: bool = False,
    sides: tuple[int, int, int, int] | None = None,
    kernel_title: str = "kernel",
) -> go.Figure:
    """The padded input with the window that makes output `cell`, the kernel (when given), and the output.

    Padding cells are grey and labelled `padding_label`; show_positions marks where every window starts.
    sides, in F.pad's order (left, right, top, bottom), replaces `padding` for uneven padding.
    """
    p_h, p_w = as_pair(padding, "padding")
    sides = sides or (p_w, p_w, p_h, p_h)
    n_h, n_w = X.shape
    padded_h, padded_w = n_h + sides[2] + sides[3], n_w + sides[0] + sides[1]
    inside = F.pad(torch.ones(n_h, n_w), sides).bool()
    padded = any(sides)
    panels = [(f"input {n_h}×{n_w}" + (f", padded to {padded_h}×{padded_w}" if padded else ""), padded_w)]
    if K is not None:
        panels.append((f"{kernel_title} {K.shape[0]}×{K.shape[1]}", K.shape[1]))
    panels.append((f"output {Y.shape[0]}×{Y.shape[1]}", Y.shape[1]))
    fig = make_subplots(
        rows=1, cols=len(panels), subplot_titles=[t for t, _ in panels], column_widths=[w + 2 for _, w in panels],
        horizontal_spacing=0.08,
    )
    if show_input_values:
        values = F.pad(X.float(), sides).masked_fill(~inside, float("nan"))
        fig.add_trace(_heatmap(values), row=1, col=1)
    else:
        fig.add_trace(_flat_cells(inside, INPUT_COLOR, "", "input at row %{y}, column %{x}"), row=1, col=1)
    fig.add_trace(_flat_cells(~inside, PADDING_COLOR, padding_label, "padding at row %{y}, column %{x}"), row=1, col=1)
    _outline_cells(fig, kernel_footprint(cell, kernel_size, stride, dilation), 1, 1)
    if show_positions:
        s_h, s_w = as_pair(stride, "stride")
        starts = [(i * s_h, j * s_w) for i in range(Y.shape[0]) for j in range(Y.shape[1])]
        fig.add_trace(
            go.Scatter(
                x=[c for _, c in starts], y=[r for r, _ in starts], mode="markers", name="where a window starts",
                marker=dict(color="#1e3a8a", size=7, symbol="circle"), hoverinfo="skip",
            ),
            row=1, col=1,
        )
    suffix = " (padded)" if padded else ""
    _grid_axes(fig, 1, 1, "column" + suffix, "row" + suffix)
    if K is not None:
        fig.add_trace(_heatmap(K, "Oranges"), row=1, col=2)
        _grid_axes(fig, 1, 2)
    fig.add_trace(_heatmap(Y, "Greens"), row=1, col=len(panels))
    _grid_axes(fig, 1, len(panels))
    _outline_cells(fig, [cell], 1, len(panels))
    fig.update_layout(showlegend=show_positions, legend=dict(orientation="h", y=-0.15))
    return _finish(fig, title, _grid_height(max(padded_h, Y.shape[0]), extra=170))


def image_pair_figure(image: torch.Tensor, output: torch.Tensor, title: str, output_title: str) -> go.Figure:
    """An image and what a layer made of it, drawn at the same pixel size so the change in size shows."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f"input {image.shape[0]}×{image.shape[1]}", output_title], horizontal_spacing=0.1)
    hover = "row %{y}, column %{x}: %{z:.2f}<extra></extra>"
    fig.add_trace(go.Heatmap(z=image.tolist(), colorscale="gray_r", showscale=False, hovertemplate=hover), row=1, col=1)
    if output.min() < 0:
        colors = dict(colorscale="RdBu", zmid=0)
    else:
        colors = dict(colorscale="gray_r")
    fig.add_trace(go.Heatmap(z=output.tolist(), showscale=False, hovertemplate=hover, **colors), row=1, col=2)
    side = max(*image.shape, *output.shape)
    for col in (1, 2):
        _grid_axes(fig, 1, col, "column (pixel)", "row (pixel)")
        fig.update_xaxes(dtick=None, range=[-0.5, side - 0.5], row=1, col=col)
        fig.update_yaxes(dtick=None, range=[side - 0.5, -0.5], autorange=False, row=1, col=col)
    return _finish(fig, title, 440)


def loss_figure(losses: list[float]) -> go.Figure:
    """Loss per iteration on a log scale."""
    fig = go.Figure(go.Scatter(x=list(range(1, len(losses) + 1)), y=losses, mode="lines+markers", name="loss"))
    fig.update_xaxes(title_text="iteration")
    fig.update_yaxes(title_text="loss (summed squared error)", type="log", dtick=1)
    return _finish(fig, "Loss while learning the kernel", 360)


def kernel_comparison_figure(learned: torch.Tensor, target: torch.Tensor) -> go.Figure:
    """The learned kernel's weights next to the kernel that made the data."""
    names = [f"K[{i}, {j}]" for i in range(target.shape[0]) for j in range(target.shape[1])]
    fig = go.Figure(
        [
            go.Bar(x=names, y=learned.flatten().tolist(), name="learned", text=[f"{v:.3f}" for v in learned.flatten().tolist()]),
            go.Bar(x=names, y=target.flatten().tolist(), name="true kernel", text=[format_number(v) for v in target.flatten().tolist()]),
        ]
    )
    fig.update_xaxes(title_text="kernel weight")
    fig.update_yaxes(title_text="value")
    fig.update_layout(barmode="group", legend=dict(orientation="h", y=1.12, x=1, xanchor="right"))
    return _finish(fig, "Learned kernel against the true one", 360)


def parameter_figure(table: pd.DataFrame) -> go.Figure:
    """Horizontal bars of parameter counts on a log axis, labelled with the count and the float32 memory."""
    labels = [f"{human_count(n)} · {memory}" for n, memory in zip(table["parameters"], table["float32 memory"])]
    fig = go.Figure(
        go.Bar(
            x=table["parameters"], y=table["layer"], orientation="h", text=labels, textposition="auto",
            marker_color=["#dc2626", "#f97316", "#2563eb", "#16a34a"][: len(table)],
            hovertemplate="%{y}: %{x:,} parameters<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="parameters (log scale)", type="log")
    fig.update_yaxes(title_text="layer", autorange="reversed", automargin=True)
    return _finish(fig, "Parameters and float32 memory", 380)


def padding_figure(
    input_hw: IntOrPair,
    kernel_size: IntOrPair,
    padding: IntOrPair,
    stride: IntOrPair,
    dilation: IntOrPair,
    step: int,
    total: bool = False,
) -> go.Figure:
    """Where the kernel sits at window `step` on the padded input, every window's start, and the output numbered by step.

    total=True reads padding as the rows (columns) over both sides, split unevenly when odd.
    """
    n_h, n_w = as_pair(input_hw, "input size")
    if total:
        out_h, out_w = total_padding_output_shape((n_h, n_w), kernel_size, padding, stride, dilation)
        sides = total_padding_sides(padding)
    else:
        out_h, out_w = conv_output_shape((n_h, n_w), kernel_size, padding, stride, dilation)
        sides = None
    steps = torch.arange(1, out_h * out_w + 1).reshape(out_h, out_w)
    return sliding_window_figure(
        torch.zeros(n_h, n_w), steps, step_to_cell(step, (out_h, out_w)), kernel_size, padding, stride, dilation,
        title=f"Window {step} of {out_h * out_w} (output cells are numbered by step)", show_input_values=False,
        show_positions=True, sides=sides,
    )


def channels_figure(X: torch.Tensor, K: torch.Tensor, out_channel: int, partials: list[torch.Tensor], total: torch.Tensor) -> go.Figure:
    """One row per input channel (X[c], K[o, c], their correlation) and the sum that makes output channel o."""
    o = out_channel
    grid = [
        [(f"X[{c}]", X[c]), (f"K[{o}, {c}]", K[o, c], "Oranges"), (f"X[{c}] ⋆ K[{o}, {c}]", partials[c])]
        for c in range(X.shape[0])
    ]
    grid[-1].append((f"sum = Y[{o}]", total, "Greens"))
    return matrix_grid_figure(grid, f"Output channel {o}: one correlation per input channel, then the sum")


def one_by_one_figure(X: torch.Tensor, K: torch.Tensor, Y: torch.Tensor) -> go.Figure:
    """A 1x1 convolution drawn as the matrix product (c_o x c_i) @ (c_i x pixels) = (c_o x pixels)."""
    c_o, c_i = K.shape[:2]
    pixels = X.shape[1] * X.shape[2]
    return matrix_grid_figure(
        [[
            (f"K as a {c_o}×{c_i} matrix", K.reshape(c_o, c_i), "Oranges"),
            (f"X as {c_i}×{pixels} (a column per pixel)", X.reshape(c_i, pixels)),
            (f"Y = K X, {c_o}×{pixels}", Y.reshape(c_o, pixels), "Greens"),
        ]],
        "A 1×1 convolution as a matrix multiply: (c_o × c_i) times (c_i × pixels)",
    )


def shift_figure(demo: ShiftDemo, shift: int) -> go.Figure:
    """Conv and pooled outputs before and after the shift, with the cells that changed outlined."""
    grid = [
        [("conv output", demo.conv), (f"conv output, input moved {shift} px", demo.conv_shifted)],
        [("pooled", demo.pooled), (f"pooled, input moved {shift} px", demo.pooled_shifted)],
    ]
    highlights = {(0, 1): demo.conv_changed, (1, 1): demo.pooled_changed}
    return matrix_grid_figure(grid, "Which outputs change when the input moves (outlined)", highlights)


def receptive_field_figure(image: torch.Tensor, field: UnitField, out_hw: tuple[int, int], title: str) -> go.Figure:
    """The image with the pixels one unit cannot see greyed out (its whole field outlined, padding included),
    beside the layer's grid of units with that unit marked."""
    n = image.shape[0]
    top, left, bottom, right = field.box
    fig = make_subplots(
        rows=1, cols=2, horizontal_spacing=0.1,
        subplot_titles=[f"input {n}×{n}: {field.pixels} pixels seen", f"{field.layer}: {out_hw[0]}×{out_hw[1]} units"],
    )
    hover = "row %{y}, column %{x}: %{z:.2f}<extra></extra>"
    fig.add_trace(go.Heatmap(z=image.tolist(), colorscale="gray_r", showscale=False, hovertemplate=hover), row=1, col=1)
    fig.add_trace(
        go.Heatmap(z=torch.where(field.mask, float("nan"), 1.0).tolist(), colorscale=[[0, UNSEEN_COLOR], [1, UNSEEN_COLOR]],
                   opacity=0.6, showscale=False, hoverinfo="skip"),
        row=1, col=1,
    )
    fig.add_shape(type="rect", x0=-0.5, x1=n - 0.5, y0=-0.5, y1=n - 0.5, line=dict(color="#6b7280", width=1, dash="dot"),
                  row=1, col=1)  # the image's edge, so a field reaching into the padding shows
    fig.add_shape(type="rect", x0=left - 0.5, x1=right + 0.5, y0=top - 0.5, y1=bottom + 0.5,
                  line=dict(color=WINDOW_COLOR, width=3), row=1, col=1)
    units = torch.ones(out_hw, dtype=torch.bool)
    fig.add_trace(_flat_cells(units, INPUT_COLOR, "", f"{field.layer} unit (%{{y}}, %{{x}})"), row=1, col=2)
    _outline_cells(fig, [field.unit], 1, 2)
    lo, hi = min(-0.5, top - 0.5, left - 0.5), max(n - 0.5, bottom + 0.5, right + 0.5)
    for col, (a, b) in ((1, (lo, hi)), (2, (-0.5, max(out_hw) - 0.5))):
        _grid_axes(fig, 1, col, "column (pixel)" if col == 1 else "column (unit)", "row (pixel)" if col == 1 else "row (unit)")
        fig.update_xaxes(dtick=None, range=[a, b], row=1, col=col)
        fig.update_yaxes(dtick=None, range=[b, a], autorange=False, row=1, col=col)
    return _finish(fig, title, 480)


def dice_figure(distribution: torch.Tensor, total: int) -> go.Figure:
    """P(sum) of two dice as bars from 2 up, the chosen sum in the highlight colour, each labelled in 36ths."""
    sums = list(range(2, 2 + len(distribution)))
    fig = go.Figure(
        go.Bar(
            x=sums, y=distribution.tolist(), text=[f"{round(36 * v)}/36" for v in distribution.tolist()],
            textposition="outside", marker_color=[WINDOW_COLOR if s == total else "#2563eb" for s in sums],
            hovertemplate="sum %{x}: %{y:.4f}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="sum of the two dice", dtick=1)
    fig.update_yaxes(title_text="probability", range=[0, 1.2 * float(distribution.max())])
    return _finish(fig, f"Two fair dice: P(sum) = (f * g)(sum), with sum = {total} highlighted", 360)
