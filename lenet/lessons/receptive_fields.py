"""Receptive fields (d2l 7.1, 7.6): which input pixels one unit of a layer sees, drawn and in code."""

from __future__ import annotations

import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from torch import nn
from plotly.subplots import make_subplots

from ..core.model import LeNetConfig, plan_layers
from ..core.receptive import UnitField
from .checks import TorchCheck
from .grids import (
    HEADER,
    INPUT_COLOR,
    UNSEEN_COLOR,
    finish,
    flat_cells,
    grid_axes,
    outline_boxes,
    outline_cells,
)
from .images import IMAGE_COLORS, IMAGE_CONVENTION


def pad_to(image: torch.Tensor, size: int) -> torch.Tensor:
    """An image centred on a zero border of `size` x `size`, like LeCun's LeNet reading 28 x 28 digits as 32 x 32."""
    h, w = image.shape
    if size < max(h, w):
        raise ValueError(f"cannot pad a {h} x {w} image to {size} x {size}: choose at least {max(h, w)}.")
    top, left = (size - h) // 2, (size - w) // 2
    return F.pad(image, (left, size - w - left, top, size - h - top))


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
    fig.add_trace(go.Heatmap(z=image.tolist(), colorscale=IMAGE_COLORS, showscale=False, hovertemplate=hover), row=1, col=1)
    fig.add_trace(
        go.Heatmap(z=torch.where(field.mask, float("nan"), 1.0).tolist(), colorscale=[[0, UNSEEN_COLOR], [1, UNSEEN_COLOR]],
                   opacity=0.6, showscale=False, hoverinfo="skip"),
        row=1, col=1,
    )
    fig.add_shape(type="rect", x0=-0.5, x1=n - 0.5, y0=-0.5, y1=n - 0.5, line=dict(color="#6b7280", width=1, dash="dot"),
                  row=1, col=1)  # the image's edge, so a field reaching into the padding shows
    outline_boxes(fig, [(left - 0.5, right + 0.5, top - 0.5, bottom + 0.5)], 1, 1)
    units = torch.ones(out_hw, dtype=torch.bool)
    fig.add_trace(flat_cells(units, INPUT_COLOR, "", f"{field.layer} unit (%{{y}}, %{{x}})"), row=1, col=2)
    outline_cells(fig, [field.unit], 1, 2)
    lo, hi = min(-0.5, top - 0.5, left - 0.5), max(n - 0.5, bottom + 0.5, right + 0.5)
    for col, (a, b) in ((1, (lo, hi)), (2, (-0.5, max(out_hw) - 0.5))):
        grid_axes(fig, 1, col, "column (pixel)" if col == 1 else "column (unit)", "row (pixel)" if col == 1 else "row (unit)")
        fig.update_xaxes(dtick=None, range=[a, b], row=1, col=col)
        fig.update_yaxes(dtick=None, range=[b, a], autorange=False, row=1, col=col)
    finish(fig, title, 500)
    fig.update_layout(title=dict(subtitle=dict(text=IMAGE_CONVENTION, font_size=13), yref="container", y=1,
                                 yanchor="top", pad_t=16), margin_t=120)  # at the top: clear of the panel titles
    return fig


def receptive_field_code(config: LeNetConfig, layer: str, unit: tuple[int, int]) -> str:
    """Find the pixels one unit sees with autograd: where its gradient w.r.t. the input is not zero; leaves seen."""
    lines, names = [], []
    for spec in plan_layers(config):
        if spec.name == "flatten":
            break
        if spec.name.startswith("conv"):
            m = spec.make()
            lines.append(f"nn.Conv2d({m.in_channels}, {m.out_channels}, kernel_size={m.kernel_size[0]}, "
                         f"padding={m.padding[0]}, stride={m.stride[0]}),")
        elif spec.name.startswith("pool"):
            lines.append(f"nn.AvgPool2d({config.pool_size}, stride={config.pool_stride}),")
        elif spec.name.startswith("act"):
            lines.append("nn.Sigmoid(),")
        else:  # normalising and batch norm work pixel by pixel: they change no field
            continue
        names.append(spec.name)
    body = "\n    ".join(lines)
    n, (row, col) = config.image_size, unit
    return HEADER + f"""
# average pooling even for a max-pooling model: max pooling passes the gradient to one pixel per window,
# though every pixel in the window can change the output
net = nn.Sequential(
    {body}
).double()
X = torch.rand(1, {config.in_channels}, {n}, {n}, dtype=torch.float64, requires_grad=True)
net[:{names.index(layer) + 1}](X)[0, 0, {row}, {col}].backward()  # up to {layer}, unit ({row}, {col}) of channel 0
seen = X.grad[0].abs().sum(0) != 0
rows, cols = seen.any(1).nonzero().flatten(), seen.any(0).nonzero().flatten()
print(seen.sum().item(), "pixels: rows", rows.min().item(), "to", rows.max().item(),
      "and columns", cols.min().item(), "to", cols.max().item())
"""


def torch_field_check(config: LeNetConfig, field: UnitField) -> TorchCheck:
    """The pixels field's unit sees, found by torch's autograd: where the gradient of the unit (channel 0) with
    respect to the input is not zero; and how many pixels that differs from field.mask in.

    Every weight is positive and the input all ones, so no two paths cancel and no ReLU is off; max pooling is
    read as average pooling, since it passes the gradient to one pixel per window though every pixel can win.
    """
    layers = []
    with torch.random.fork_rng(devices=[]):  # the layers' own random start is overwritten: leave torch's numbers be
        for spec in plan_layers(config, batch_size=None):
            module = spec.make()
            if isinstance(module, nn.MaxPool2d):
                module = nn.AvgPool2d(module.kernel_size, module.stride, module.padding)
            layers.append(module)
            if spec.name == field.layer:
                break
    net = nn.Sequential(*layers).double().eval()
    with torch.no_grad():
        for weight in net.parameters():  # each unit's input a mean of its window: no sigmoid saturates to exactly 1
            weight.fill_(1.0 / (weight[0].numel() if weight.dim() > 1 else 1))
    X = torch.ones(1, config.in_channels, config.image_size, config.image_size, dtype=torch.float64, requires_grad=True)
    net(X)[0, 0, field.unit[0], field.unit[1]].backward()
    seen = X.grad[0].abs().sum(0) != 0
    return TorchCheck(f"torch's autograd finds the gradient of this unit with respect to the input non-zero on "
                      f"exactly these {field.pixels} pixels", int((seen != field.mask).sum()), seen,
                      measure="pixels that differ:")
