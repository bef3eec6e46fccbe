"""The figures of convolution as a matrix (lenet.lessons.as_matrix): im2col's product, and the weight matrix W with
every entry coloured as the kernel weight it holds. A matrix larger than MAX_SHOWN is drawn in part, and says so."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import torch
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from ..core.units import format_number
from .as_matrix import ConvolutionMatrices, kernel_matrix
from .grids import CELL_HEIGHT, finish, grid_axes, grid_height, matrix_grid_figure

MAX_SHOWN = 30  # rows and columns of W drawn at most: numbers of 11 px and more on a slide, a light figure
MAX_ENTRIES, MAX_WINDOWS = 16, 8  # rows and columns of im2col(X) drawn at most: its four panels share one line
PLOT_WIDTH = 880  # pixels across a figure's panels on a wide page at 1280 pixels: W's cells are sized to fit it
# Light colours, one per kernel weight (29, then they repeat), on which black numbers stay legible.
PALETTE = qualitative.Set3 + qualitative.Pastel1 + qualitative.Pastel2
ROW_LINE, CHANNEL_LINE = "#cbd5e1", "#334155"  # W's blocks: one image row (thin) and one channel (thick)


def _in_part(name: str, shape: tuple[int, int], rows: int, columns: int) -> str:
    """'' when all of the matrix is drawn, else a second title line that says which part of it is."""
    cut = [f"{n} of {total} {what}" for n, total, what in ((rows, shape[0], "rows"), (columns, shape[1], "columns"))
           if n < total]
    if not cut:
        return ""
    return (f'<br><span style="font-size: 13px">{name} is {shape[0]}×{shape[1]}: the first {" and ".join(cut)} '
            "are drawn; the checks use all of it.</span>")


def _with_note(fig: go.Figure, note: str) -> go.Figure:
    """Room above the panels for the title's second line, when it has one."""
    if not note:
        return fig
    return fig.update_layout(title=dict(text=fig.layout.title.text + note, yref="container", y=1, yanchor="top",
                                        pad_t=14), margin_t=110)


def im2col_figure(m: ConvolutionMatrices) -> go.Figure:
    """K as a matrix times im2col(X) gives Y, a row per output channel (with one channel, Y reshaped beside it)."""
    c_o = m.K.shape[0]
    (n, L), K = m.columns.shape, kernel_matrix(m.K)
    rows, columns = min(n, MAX_ENTRIES), min(L, MAX_WINDOWS)
    panels = [
        (f"K as rows ({c_o}×{n})", K[:, :rows], "Oranges"),
        (f"im2col(X) ({n}×{L})", m.columns[:rows, :columns]),
        (f"product ({c_o}×{L})", m.product[:, :columns], "Greens"),
    ]
    if c_o == 1:
        panels.append((f"reshaped: Y ({m.out_hw[0]}×{m.out_hw[1]})", m.product.reshape(m.out_hw), "Greens"))
    title = "im2col: a column per window, so the convolution is one matrix product, K @ im2col(X)"
    fig = matrix_grid_figure([panels], title)
    return _with_note(fig, _in_part("im2col(X)", (n, L), rows, columns))


def _entry_names(shape: tuple[int, int, int, int]) -> list[str]:
    """K[a, b] for a single-channel kernel, K[o, c, a, b] otherwise, in K.flatten()'s order."""
    c_o, c_i, k_h, k_w = shape
    if c_o * c_i == 1:
        return [f"K[{a}, {b}]" for a in range(k_h) for b in range(k_w)]
    return [f"K[{o}, {c}, {a}, {b}]" for o in range(c_o) for c in range(c_i) for a in range(k_h) for b in range(k_w)]


def _entry_colors(n: int) -> list[list]:
    """A colorscale in n equal bands, band e in the colour of kernel weight e (for zmin -0.5, zmax n - 0.5)."""
    scale = []
    for e in range(n):
        color = PALETTE[e % len(PALETTE)]
        scale += [[e / n, color], [(e + 1) / n, color]]
    return scale


def _weight_cells(values: torch.Tensor, index: torch.Tensor, names: list[str], zero: str) -> go.Heatmap:
    """Cells coloured by the kernel weight they hold (index into names), numbered with its value; -1 left blank."""
    z = [[e if e >= 0 else math.nan for e in row] for row in index.tolist()]
    pairs = [list(zip(v, e)) for v, e in zip(values.tolist(), index.tolist())]
    text = [[format_number(v) if e >= 0 else "" for v, e in row] for row in pairs]
    hover = [[f"{names[e]} = {format_number(v)}" if e >= 0 else zero for v, e in row] for row in pairs]
    return go.Heatmap(
        z=z, text=text, texttemplate="%{text}", hovertext=hover, colorscale=_entry_colors(len(names)), zmin=-0.5,
        zmax=len(names) - 0.5, showscale=False, xgap=1, ygap=1,
        hovertemplate="row %{y}, column %{x}: %{hovertext}<extra></extra>",
    )


def _block_lines(fig: go.Figure, every: int, channel: int, shown: int, across: int, vertical: bool) -> None:
    """Lines on W between its blocks: every `every` columns (or rows) thin, every `channel` thick."""
    thin = [e - 0.5 for e in range(every, shown, every) if e % channel]
    thick = [e - 0.5 for e in range(channel, shown, channel)]
    for edges, color, width in ((thin, ROW_LINE, 1), (thick, CHANNEL_LINE, 2)):
        xs, ys = [], []
        for edge in edges:
            along, span = [edge, edge, None], [-0.5, across - 0.5, None]
            xs, ys = (xs + along, ys + span) if vertical else (xs + span, ys + along)
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=color, width=width), hoverinfo="skip",
                                     showlegend=False), row=1, col=2)


def weight_matrix_figure(m: ConvolutionMatrices) -> go.Figure:
    """The kernel and the weight matrix W, each entry of W in the colour of the kernel weight it holds; 0s blank."""
    c_o, c_i = m.K.shape[:2]
    (h, w), (out_h, out_w) = m.X.shape[-2:], m.out_hw
    names = _entry_names(tuple(m.K.shape))
    kernel = m.K[0, 0] if c_o * c_i == 1 else kernel_matrix(m.K)
    rows, columns = min(m.W.shape[0], MAX_SHOWN), min(m.W.shape[1], MAX_SHOWN)
    fig = make_subplots(
        rows=1, cols=2, column_widths=[kernel.shape[1] + 2, columns + 2], horizontal_spacing=0.1,
        subplot_titles=["kernel" if c_o * c_i == 1 else "kernel, a row per output channel",
                        f"W ({m.W.shape[0]}×{m.W.shape[1]})"],
    )
    fig.add_trace(_weight_cells(kernel, torch.arange(len(names)).reshape(kernel.shape), names, ""), row=1, col=1)
    fig.add_trace(_weight_cells(m.W[:rows, :columns], m.index[:rows, :columns], names,
                                "0: no kernel weight reaches this pixel"), row=1, col=2)
    grid_axes(fig, 1, 1, size=tuple(kernel.shape))
    grid_axes(fig, 1, 2, "input pixel (column of W)", "output value (row of W)", (rows, columns))
    _block_lines(fig, w, h * w, columns, rows, vertical=True)
    _block_lines(fig, out_w, out_h * out_w, rows, columns, vertical=False)
    fig.update_xaxes(showline=True, mirror=True, linecolor=CHANNEL_LINE)
    fig.update_yaxes(showline=True, mirror=True, linecolor=CHANNEL_LINE)
    fig.update_layout(plot_bgcolor="white")
    fig.update_annotations(yshift=8)  # the subplot titles clear the panels' frames
    title = "The convolution as a dense layer, y = W x: one colour per kernel weight, blank where W is 0"
    cell = min(CELL_HEIGHT, PLOT_WIDTH / (kernel.shape[1] + columns + 6))  # square cells, as wide as the page allows
    finish(fig, title, grid_height(round(max(rows, kernel.shape[0]) * cell / CELL_HEIGHT), extra=170))
    return _with_note(fig, _in_part("W", tuple(m.W.shape), rows, columns))
