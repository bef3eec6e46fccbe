"""Padding and stride (d2l 7.3): the output-size formulas, padding told per side or in total, and a
real image through a kernel."""

from __future__ import annotations

import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.subplots import make_subplots

from ..core.shapes import (
    IntOrPair,
    as_pair,
    conv_output_shape,
    total_padding_output_shape,
    total_padding_sides,
)
from .checks import TorchCheck
from .grids import (
    HEADER,
    finish,
    grid_axes,
    sliding_window_figure,
    step_to_cell,
)
from .images import IMAGE_COLORS, IMAGE_CONVENTION


def output_size_formulas(
    input_hw: IntOrPair,
    kernel_size: IntOrPair,
    padding: IntOrPair = 0,
    stride: IntOrPair = 1,
    dilation: IntOrPair = 1,
    total: bool = False,
) -> list[str]:
    """The output-size formula in LaTeX for height and width, with the numbers put in.

    total=False: p rows on each side (PyTorch's padding=p); total=True: p rows over both sides (the book's p_h).
    Raises a ValueError when the output would be empty.
    """
    if total:
        return _total_padding_formulas(input_hw, kernel_size, padding, stride, dilation)
    out = conv_output_shape(input_hw, kernel_size, padding, stride, dilation)
    n, k, p = as_pair(input_hw, "input size"), as_pair(kernel_size, "kernel size"), as_pair(padding, "padding")
    s, d = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    lines = []
    for axis, a, ni, ki, pi, si, di, oi in zip(("height", "width"), "hw", n, k, p, s, d, out):
        if di == 1:
            symbols = rf"\frac{{n_{a} - k_{a} + 2p_{a}}}{{s_{a}}}"
            numbers = rf"\frac{{{ni} - {ki} + 2 \cdot {pi}}}{{{si}}}"
        else:
            symbols = rf"\frac{{n_{a} + 2p_{a} - d_{a}(k_{a} - 1) - 1}}{{s_{a}}}"
            numbers = rf"\frac{{{ni} + 2 \cdot {pi} - {di} \cdot ({ki} - 1) - 1}}{{{si}}}"
        lines.append(
            rf"\text{{{axis}: }} \left\lfloor {symbols} \right\rfloor + 1"
            rf" = \left\lfloor {numbers} \right\rfloor + 1 = {oi}"
        )
    return lines


def _total_padding_formulas(
    input_hw: IntOrPair, kernel_size: IntOrPair, total: IntOrPair, stride: IntOrPair, dilation: IntOrPair
) -> list[str]:
    out = total_padding_output_shape(input_hw, kernel_size, total, stride, dilation)
    n, k, p = as_pair(input_hw, "input size"), as_pair(kernel_size, "kernel size"), as_pair(total, "padding")
    s, d = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    lines = []
    for axis, a, ni, ki, pi, si, di, oi in zip(("height", "width"), "hw", n, k, p, s, d, out):
        if di == 1:
            symbols = rf"\frac{{n_{a} - k_{a} + p_{a} + s_{a}}}{{s_{a}}}"
            numbers = rf"\frac{{{ni} - {ki} + {pi} + {si}}}{{{si}}}"
        else:
            symbols = rf"\frac{{n_{a} - d_{a}(k_{a} - 1) - 1 + p_{a} + s_{a}}}{{s_{a}}}"
            numbers = rf"\frac{{{ni} - {di} \cdot ({ki} - 1) - 1 + {pi} + {si}}}{{{si}}}"
        lines.append(
            rf"\text{{{axis}: }} \left\lfloor {symbols} \right\rfloor"
            rf" = \left\lfloor {numbers} \right\rfloor = {oi}"
        )
    return lines


def other_padding_convention(
    input_hw: IntOrPair, kernel_size: IntOrPair, padding: IntOrPair, stride: IntOrPair, dilation: IntOrPair, total: bool
) -> str:
    """The same padding told in the other convention (markdown), with F.pad's sides when a total is odd."""
    p_h, p_w = as_pair(padding, "padding")
    if not total:
        both = (2 * p_h, 2 * p_w)
        out = total_padding_output_shape(input_hw, kernel_size, both, stride, dilation)
        return (f"Counted over both sides, as the book does, this is $p = {both}$: "
                f"$\\lfloor (n - k + p + s) / s \\rfloor$ gives the same {out[0]} × {out[1]}.")
    if p_h % 2 == 0 and p_w % 2 == 0:
        half = (p_h // 2, p_w // 2)
        out = conv_output_shape(input_hw, kernel_size, half, stride, dilation)
        return f"Per side this is PyTorch's `padding={half}`, which gives the same {out[0]} × {out[1]}."
    sides = total_padding_sides((p_h, p_w))
    return (f"An odd total cannot be split evenly, and PyTorch's `padding=` pads both sides alike: pad first with "
            f"`F.pad(X, {sides})` (left, right, top, bottom), the extra row on top and the extra column on the left "
            "as d2l suggests. PyTorch's `padding=\"same\"` puts the extra one at the bottom and right instead.")


EXAMPLE_KERNELS = ("blur", "vertical edges", "horizontal edges")


def example_kernel(name: str, kernel_size: IntOrPair) -> torch.Tensor:
    """A kernel of any size that does something visible: an average, or a left-minus-right (top-minus-bottom) edge detector."""
    k_h, k_w = as_pair(kernel_size, "kernel size")
    if name == "blur":
        return torch.full((k_h, k_w), 1.0 / (k_h * k_w))
    if name == "vertical edges":
        return torch.linspace(1, -1, k_w).repeat(k_h, 1) / k_h
    if name == "horizontal edges":
        return torch.linspace(1, -1, k_h)[:, None].repeat(1, k_w) / k_w
    raise ValueError(f"kernel must be one of {EXAMPLE_KERNELS}, not {name!r}.")


def apply_conv(
    image: torch.Tensor,
    kernel: torch.Tensor,
    padding: IntOrPair = 0,
    stride: IntOrPair = 1,
    dilation: IntOrPair = 1,
    total: bool = False,
) -> torch.Tensor:
    """One (h, w) image through one conv kernel with torch's conv2d, after checking the output size.

    total=True reads padding as rows (columns) over both sides and pads with F.pad, unevenly when odd.
    """
    s, d = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    if total:
        total_padding_output_shape(tuple(image.shape), tuple(kernel.shape), padding, stride, dilation)
        padded = F.pad(image, total_padding_sides(padding))
        return F.conv2d(padded[None, None], kernel[None, None], stride=s, dilation=d)[0, 0]
    conv_output_shape(tuple(image.shape), tuple(kernel.shape), padding, stride, dilation)
    return F.conv2d(image[None, None], kernel[None, None], padding=as_pair(padding, "padding"), stride=s, dilation=d)[0, 0]


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


def image_pair_figure(image: torch.Tensor, output: torch.Tensor, title: str, output_title: str) -> go.Figure:
    """An image and what a layer made of it, each on its own axes, drawn at one pixel size so the change in size
    shows (a much smaller side is drawn at least a third as wide, to stay readable)."""
    widths = [image.shape[1], output.shape[1]]
    widths = [max(w, max(widths) / 3) for w in widths]
    fig = make_subplots(rows=1, cols=2, subplot_titles=[f"input {image.shape[0]}×{image.shape[1]}", output_title],
                        column_widths=widths, horizontal_spacing=0.1)
    hover = "row %{y}, column %{x}: %{z:.2f}<extra></extra>"
    fig.add_trace(go.Heatmap(z=image.tolist(), colorscale=IMAGE_COLORS, showscale=False, hovertemplate=hover), row=1, col=1)
    if output.min() < 0:
        colors = dict(colorscale="RdBu", zmid=0, colorbar=dict(title="output", thickness=12))
    else:
        colors = dict(colorscale=IMAGE_COLORS, showscale=False)
    fig.add_trace(go.Heatmap(z=output.tolist(), hovertemplate=hover, **colors), row=1, col=2)
    for col, (h, w) in ((1, image.shape), (2, output.shape)):
        grid_axes(fig, 1, col, "column (pixel)", "row (pixel)")
        fig.update_xaxes(dtick=None, range=[-0.5, w - 0.5], row=1, col=col)
        fig.update_yaxes(dtick=None, range=[h - 0.5, -0.5], autorange=False, row=1, col=col)
    finish(fig, title, 480)
    fig.update_layout(title=dict(subtitle=dict(text=IMAGE_CONVENTION, font_size=13), yref="container", y=1,
                                 yanchor="top", pad_t=16), margin_t=120)  # at the top: clear of the panel titles
    return fig


def conv_shape_code(
    input_hw: IntOrPair,
    kernel_size: IntOrPair,
    padding: IntOrPair = 0,
    stride: IntOrPair = 1,
    dilation: IntOrPair = 1,
    total: bool = False,
) -> str:
    """One conv layer with these settings on a random input; leaves Y.

    total=True: padding is over both sides, done with F.pad (unevenly when odd, the extra row on top).
    """
    n, k = as_pair(input_hw, "input size"), as_pair(kernel_size, "kernel size")
    p, s, d = as_pair(padding, "padding"), as_pair(stride, "stride"), as_pair(dilation, "dilation")
    if total:
        left, right, top, bottom = total_padding_sides(p)
        return HEADER + f"""
conv = nn.Conv2d(1, 1, kernel_size={k}, stride={s}, dilation={d})  # no padding here: F.pad does it
X = torch.rand(1, 1, {n[0]}, {n[1]})  # (batch, channels, height, width)
# {p[0]} rows and {p[1]} columns of zeros in all: F.pad takes (left, right, top, bottom)
X_padded = F.pad(X, ({left}, {right}, {top}, {bottom}))
Y = conv(X_padded)
print(X_padded.shape, Y.shape)
"""
    return HEADER + f"""
conv = nn.Conv2d(1, 1, kernel_size={k}, padding={p}, stride={s}, dilation={d})
X = torch.rand(1, 1, {n[0]}, {n[1]})  # (batch, channels, height, width)
Y = conv(X)
print(Y.shape)
"""


def torch_shape_check(
    input_hw: IntOrPair,
    kernel_size: IntOrPair,
    padding: IntOrPair,
    stride: IntOrPair,
    dilation: IntOrPair,
    output_hw: tuple[int, int],
    total: bool = False,
) -> TorchCheck:
    """The output size that torch's F.conv2d gives (after F.pad when padding is a total), and how many rows or
    columns it differs from output_hw by (0 when the formula and torch agree)."""
    n, k = as_pair(input_hw, "input size"), as_pair(kernel_size, "kernel size")
    s, d = as_pair(stride, "stride"), as_pair(dilation, "dilation")
    X, K = torch.zeros(1, 1, *n), torch.zeros(1, 1, *k)
    if total:
        shape = F.conv2d(F.pad(X, total_padding_sides(padding)), K, stride=s, dilation=d).shape[2:]
    else:
        shape = F.conv2d(X, K, padding=as_pair(padding, "padding"), stride=s, dilation=d).shape[2:]
    return TorchCheck(f"torch's `F.conv2d`{' after `F.pad`' if total else ''} makes a {shape[0]} × {shape[1]} output "
                      "from these settings", max(abs(shape[0] - output_hw[0]), abs(shape[1] - output_hw[1])),
                      (shape[0], shape[1]))
