"""Why convolution (d2l 7.1): parameters and memory of dense layers against conv layers and LeNet."""

from __future__ import annotations

import math
import textwrap

import pandas as pd
import plotly.graph_objects as go
import torch
from torch import nn

from ..core.model import LeNetConfig, build_lenet, count_parameters, layer_table
from ..core.shapes import (
    conv_output_shape,
    conv_parameter_count,
    dense_equivalent_parameter_count,
    mlp_parameter_count,
)
from ..core.units import human_bytes, human_count
from .checks import TorchCheck
from .grids import (
    HEADER,
    finish,
)


def lenet_parameter_count() -> int:
    """d2l's LeNet, counted from its layer table (61,706)."""
    return int(layer_table(LeNetConfig.classic())["parameters"].sum())


def parameter_comparison(
    height: int, width: int, channels: int, hidden: int, conv_channels: int = 6, kernel_size: int = 5
) -> pd.DataFrame:
    """Parameters and float32 bytes of a dense layer, a conv layer, a dense layer doing the conv's job, and LeNet.

    The conv layer uses "same" padding, (k - 1) // 2 on each side.
    """
    n_in = channels * height * width
    padding = (kernel_size - 1) // 2
    out_h, out_w = conv_output_shape((height, width), kernel_size, padding)
    counts = {
        f"Dense layer: {n_in:,} inputs → {hidden:,} units": mlp_parameter_count(n_in, [hidden]),
        f"A dense layer making as many outputs as the conv layer ({conv_channels} × {out_h} × {out_w})":
            dense_equivalent_parameter_count(channels, (height, width), conv_channels, kernel_size, padding),
        f"Conv layer: {channels} → {conv_channels} channels, {kernel_size}×{kernel_size} kernel": conv_parameter_count(
            channels, conv_channels, kernel_size
        ),
        "d2l's LeNet, all layers (1×28×28 input)": lenet_parameter_count(),
    }
    rows = [(layer, n, 4 * n, human_bytes(4 * n)) for layer, n in counts.items()]  # Python ints: no int64 overflow
    return pd.DataFrame(rows, columns=["layer", "parameters", "float32 bytes", "float32 memory"])


def parameter_figure(table: pd.DataFrame) -> go.Figure:
    """Horizontal bars of parameter counts on a log axis, labelled with the count and the float32 memory."""
    labels = [f"{human_count(n)} · {memory}" for n, memory in zip(table["parameters"], table["float32 memory"])]
    fig = go.Figure(
        go.Bar(
            x=table["parameters"], y=["<br>".join(textwrap.wrap(layer, 40)) for layer in table["layer"]], orientation="h",
            text=labels, textposition="auto",
            marker_color=["#dc2626", "#f97316", "#2563eb", "#16a34a"][: len(table)],
            hovertemplate="%{y}: %{x:,} parameters<extra></extra>",
        )
    )
    decades = math.log10(max(table["parameters"])) - math.log10(max(1, min(table["parameters"])))
    # powers of ten throughout (plotly's default mixes 1M, 1B, 1T with 10^15), a tick every 1, 2 or 3 decades
    fig.update_xaxes(title_text="parameters (log scale)", type="log", exponentformat="power", showexponent="all",
                     dtick=1 if decades <= 8 else 3 if decades > 16 else 2)
    fig.update_yaxes(title_text="layer", autorange="reversed", automargin=True)
    return finish(fig, "Parameters and float32 memory", 380)


LAYER_COLUMNS_HELP = {
    "parameters": "Weights and biases the layer learns.",
    "MACs": "Multiply-accumulates for one image: one multiplication and one addition each (2 FLOPs), "
            "what the layer computes in a forward pass.",
    "activation bytes": "Memory for the layer's output for one image: its values (channels × height × width) "
                        "times 4 bytes in float32, kept for the backward pass while training.",
}
LAYER_TABLE_TEXT = (
    "**MACs** (multiply-accumulates) count the work for one image: each is one multiplication and one addition. "
    "**Activation bytes** are the memory the layer's output takes for one image in float32 (4 bytes a value); "
    "training keeps them for the backward pass, for every image of a batch."
)


def parameter_count_code(height: int, width: int, channels: int, hidden: int, conv_channels: int, kernel_size: int) -> str:
    """Parameter counts of the dense layer, the conv layer and d2l's LeNet; leaves dense, conv and lenet."""
    return HEADER + f"""
def count(module):
    return sum(p.numel() for p in module.parameters())

# on the "meta" device torch records shapes without allocating memory
dense = count(nn.Linear({channels} * {height} * {width}, {hidden}, device="meta"))
conv = count(nn.Conv2d({channels}, {conv_channels}, kernel_size={kernel_size}))
lenet = count(nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
    nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
    nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10)))
print(f"dense {{dense:,}} ({{4 * dense / 1e9:.3g}} GB in float32), conv {{conv:,}}, LeNet {{lenet:,}}")
"""


def torch_parameter_check(table: pd.DataFrame, height: int, width: int, channels: int, hidden: int,
                          conv_channels: int = 6, kernel_size: int = 5) -> TorchCheck:
    """parameter_comparison's counts recounted from torch's own nn.Linear, nn.Conv2d and d2l's LeNet, and the
    largest difference from the table's."""
    padding = (kernel_size - 1) // 2
    out_h, out_w = conv_output_shape((height, width), kernel_size, padding)
    n_in = channels * height * width
    with torch.device("meta"):  # shapes only: no memory, no draw from torch's random numbers
        modules = [  # bfloat16, 2 bytes a weight: 10^18 of them still fit torch's count of bytes
            nn.Linear(n_in, hidden, dtype=torch.bfloat16),
            nn.Linear(n_in, conv_channels * out_h * out_w, dtype=torch.bfloat16),
            nn.Conv2d(channels, conv_channels, kernel_size, padding=padding),
            build_lenet(LeNetConfig.classic()),
        ]
    counts = [count_parameters(module) for module in modules]
    return TorchCheck("counting the parameters of torch's own `nn.Linear`, `nn.Conv2d` and LeNet gives the same "
                      "numbers", max(abs(int(a) - b) for a, b in zip(table["parameters"], counts)), counts)
