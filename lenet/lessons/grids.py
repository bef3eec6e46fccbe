"""A small matrix on a page: parse and print it, write it as a torch literal, draw it as a grid of
numbered cells with a sliding window over it. Shared by the concept pages."""

from __future__ import annotations

import math
import re

import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots

from ..core.shapes import (
    IntOrPair,
    Pair,
    as_pair,
)
from ..core.units import format_number

MAX_MATRIX_SIDE = 10


def parse_matrix(text: str, name: str = "matrix", max_side: int = MAX_MATRIX_SIDE) -> torch.Tensor:
    """'0 1 2; 3 4 5' (rows split by ';' or new lines, numbers by spaces or commas) -> a float tensor."""
    rows = [row for row in re.split(r"[;\n]", text) if row.strip()]
    if not rows:
        raise ValueError(f"{name} is empty: type numbers with rows separated by ';', e.g. 0 1; 2 3.")
    values = []
    for row in rows:
        try:
            values.append([float(v) for v in row.replace(",", " ").split()])
        except ValueError:
            raise ValueError(f"{name}: '{row.strip()}' is not a row of numbers.") from None
    lengths = [len(row) for row in values]
    if len(set(lengths)) > 1:
        raise ValueError(f"{name}: every row needs the same number of values (the rows have {lengths}).")
    if len(values) > max_side or lengths[0] > max_side:
        raise ValueError(f"{name} is {len(values)} x {lengths[0]}: keep it at most {max_side} x {max_side}.")
    X = torch.tensor(values)
    if not torch.isfinite(X).all():
        raise ValueError(f"{name} holds inf or nan: use ordinary numbers.")
    return X


def format_matrix(X: torch.Tensor) -> str:
    """The inverse of parse_matrix: '0 1 2; 3 4 5'."""
    return "; ".join(" ".join(format_number(v) for v in row) for row in X.tolist())


def step_to_cell(step: int, out_hw: Pair) -> tuple[int, int]:
    """Step 1, 2, ... walks the output row by row: step 1 is (0, 0), step out_w + 1 is (1, 0)."""
    total = out_hw[0] * out_hw[1]
    if not 1 <= step <= total:
        raise ValueError(f"step must be between 1 and {total} (got {step}).")
    return divmod(step - 1, out_hw[1])


def kernel_footprint(
    cell: tuple[int, int], kernel_size: IntOrPair, stride: IntOrPair = 1, dilation: IntOrPair = 1
) -> list[tuple[int, int]]:
    """The (row, column) positions in the padded input that the kernel reads for one output cell."""
    (k_h, k_w), (s_h, s_w), (d_h, d_w) = as_pair(kernel_size, "kernel size"), as_pair(stride, "stride"), as_pair(dilation, "dilation")
    i, j = cell
    return [(i * s_h + a * d_h, j * s_w + b * d_w) for a in range(k_h) for b in range(k_w)]


HEADER = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"


def tensor_literal(X: torch.Tensor) -> str:
    """torch.tensor([[0.0, 1.0], [2.0, 3.0]]) for a small float tensor."""
    values = [[round(v, 6) for v in row] for row in X.tolist()]
    return f"torch.tensor({values})"


# The window is a thick near-black line on a white halo, with no fill: it shows on light and dark cells alike, in
# colour, in grey print and on a washed-out projector, and every number under it keeps its cell's colour.
WINDOW_COLOR = "#111827"
WINDOW_HALO = "white"
PADDING_COLOR = "#e5e7eb"
INPUT_COLOR = "#dbeafe"
UNSEEN_COLOR = "#94a3b8"
START_OFFSET = 0.3  # a window's start is marked this far up and left of its first cell's centre
CELL_HEIGHT = 34  # pixels per matrix row, so small matrices stay readable and large ones fit


def cell_text(M: torch.Tensor) -> list[list[str]]:
    return [["" if math.isnan(v) else format_number(v) for v in row] for row in M.tolist()]


def flat_cells(mask: torch.Tensor, color: str, label: str, hover: str) -> go.Heatmap:
    """The cells where mask is True in one flat colour, each labelled `label`."""
    return go.Heatmap(
        z=torch.where(mask, 0.0, float("nan")).tolist(), text=[[label if m else "" for m in row] for row in mask.tolist()],
        texttemplate="%{text}", colorscale=[[0, color], [1, color]], showscale=False, xgap=1, ygap=1,
        hovertemplate=hover + "<extra></extra>",
    )


def heatmap(M: torch.Tensor, colorscale: str | None = None) -> go.Heatmap:
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
        z=M.tolist(), text=cell_text(M), texttemplate="%{text}", showscale=False, xgap=1, ygap=1,
        hovertemplate="row %{y}, column %{x}: %{z}<extra></extra>", **colors,
    )


def grid_axes(fig: go.Figure, row: int, col: int, x_title: str = "column", y_title: str = "row",
              size: tuple[int, int] | None = None) -> None:
    """Square cells, row 0 at the top, a tick on every row and column; size (rows, columns) fixes the range to the
    cells, so that outlines and markers at their edges do not widen the panel."""
    anchor = fig.get_subplot(row, col).yaxis.anchor
    x_range, y_range = ([-0.5, size[1] - 0.5], [size[0] - 0.5, -0.5]) if size else (None, None)
    fig.update_xaxes(title_text=x_title, dtick=1, showgrid=False, zeroline=False, constrain="domain", range=x_range,
                     row=row, col=col)
    fig.update_yaxes(
        title_text=y_title, dtick=1, autorange="reversed" if size is None else False, range=y_range, scaleanchor=anchor,
        showgrid=False, zeroline=False, constrain="domain", row=row, col=col,
    )


def outline_boxes(fig: go.Figure, boxes: list[tuple[float, float, float, float]], row: int, col: int) -> None:
    """Draw boxes (x0, x1, y0, y1) on one panel as the window: a dark line over a white halo, one line trace each.

    Traces, not layout shapes: plotly revalidates every shape of a figure when one is added (80 ms a window)."""
    if not boxes:
        return
    xs, ys = [], []
    for x0, x1, y0, y1 in boxes:
        xs += [x0, x1, x1, x0, x0, None]
        ys += [y0, y0, y1, y1, y0, None]
    for name, color, width in (("window halo", WINDOW_HALO, 7), ("window", WINDOW_COLOR, 3)):
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=color, width=width), name=name,
                                 showlegend=False, hoverinfo="skip"), row=row, col=col)


def window_boxes(fig: go.Figure, xaxis: str = "x") -> list[tuple[float, float, float, float]]:
    """The (x0, x1, y0, y1) boxes outline_boxes drew on the panel of `xaxis`."""
    boxes = []
    for trace in fig.data:
        if trace.name == "window" and (trace.xaxis or "x") == xaxis:
            xs, ys = list(trace.x), list(trace.y)
            boxes += [(xs[i], xs[i + 1], ys[i], ys[i + 2]) for i in range(0, len(xs), 6)]
    return boxes


def outline_cells(fig: go.Figure, cells, row: int, col: int) -> None:
    """Outline (row, column) cells of one panel as the window (34 cells with one add_shape each took 1 s)."""
    outline_boxes(fig, [(c - 0.5, c + 0.5, r - 0.5, r + 0.5) for r, c in cells], row, col)


def finish(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, xanchor="left"), height=height, margin=dict(l=50, r=20, t=80, b=50))
    return fig


def grid_height(rows: int, extra: int = 150) -> int:
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
    height = grid_height(tallest * n_rows, extra=150 + 60 * n_rows)
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
            fig.add_trace(heatmap(*grid[r][c][1:]), row=r + 1, col=c + 1)
            grid_axes(fig, r + 1, c + 1, "column" if r == n_rows - 1 else "", "row" if c == 0 else "",
                      tuple(grid[r][c][1].shape))
    for (r, c), cells in (highlights or {}).items():  # after the heatmaps, which keep their places in fig.data
        outline_cells(fig, cells, r + 1, c + 1)
    return finish(fig, title, height)


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
        fig.add_trace(heatmap(values), row=1, col=1)
    else:
        fig.add_trace(flat_cells(inside, INPUT_COLOR, "", "input at row %{y}, column %{x}"), row=1, col=1)
    fig.add_trace(flat_cells(~inside, PADDING_COLOR, padding_label, "padding at row %{y}, column %{x}"), row=1, col=1)
    suffix = " (padded)" if padded else ""
    grid_axes(fig, 1, 1, "column" + suffix, "row" + suffix, (padded_h, padded_w))
    if K is not None:
        fig.add_trace(heatmap(K, "Oranges"), row=1, col=2)
        grid_axes(fig, 1, 2)
    fig.add_trace(heatmap(Y, "Greens"), row=1, col=len(panels))
    grid_axes(fig, 1, len(panels), size=tuple(Y.shape))
    outline_cells(fig, kernel_footprint(cell, kernel_size, stride, dilation), 1, 1)  # after every heatmap
    outline_cells(fig, [cell], 1, len(panels))
    if show_positions:
        s_h, s_w = as_pair(stride, "stride")
        starts = [(i * s_h, j * s_w) for i in range(Y.shape[0]) for j in range(Y.shape[1])]
        fig.add_trace(
            go.Scatter(  # in the cell's top-left corner, beside its number rather than over it
                x=[c - START_OFFSET for _, c in starts], y=[r - START_OFFSET for r, _ in starts], mode="markers",
                name="where a window starts", marker=dict(color="#1e3a8a", size=6, symbol="circle"), hoverinfo="skip",
            ),
            row=1, col=1,
        )
    fig.update_layout(showlegend=show_positions, legend=dict(orientation="h", y=-0.15))
    return finish(fig, title, grid_height(max(padded_h, Y.shape[0]), extra=170))
