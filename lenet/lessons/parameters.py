"""Layers, blocks and parameters (d2l's "deep learning computation" chapter) on LeNet: the module tree,
parameter tables, shared weights, save and load, their figures and code."""

from __future__ import annotations

import copy
import io
import math
import re
import textwrap
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from ..core.model import LeNetConfig, build_lenet, count_parameters
from ..data import to_batch


def nested_blocks() -> nn.Sequential:
    """d2l's block of blocks (rgnet): four small Sequentials inside a Sequential, inside a Sequential."""
    def block() -> nn.Sequential:
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())

    blocks = nn.Sequential(OrderedDict((f"block{i}", block()) for i in range(4)))
    return nn.Sequential(blocks, nn.Linear(4, 1))


def module_tree(model: nn.Module) -> pd.DataFrame:
    """One row per module, depth first: its dotted name, parent, depth, type, and the parameters inside it."""
    rows = []
    for name, module in model.named_modules():
        rows.append({
            "name": name or "model",
            "parent": "" if not name else (name.rpartition(".")[0] or "model"),
            "depth": 0 if not name else name.count(".") + 1,
            "type": type(module).__name__,
            "parameters": count_parameters(module),
            "details": module.extra_repr(),
        })
    return pd.DataFrame(rows)


def tree_text(model: nn.Module, width: int | None = None) -> str:
    """The module tree as indented lines, each with its parameter count (like print(model), with counts).

    width: wrap longer lines there, each continuation indented under its module (a code block would wrap them
    at its edge, back at the margin, where they read as modules of their own).
    """
    lines = []
    for row in module_tree(model).itertuples():
        label = row.name.rpartition(".")[2]
        details = f"({row.details})" if row.details else ""
        count = f"  · {row.parameters:,} parameters" if row.parameters else ""
        indent = "    " * row.depth
        line = f"{indent}{label}: {row.type}{details}{count}"
        if width is None or len(line) <= width:
            lines.append(line)
            continue
        glued = re.sub(r"\((\d+), (\d+)\)", "(\\1,\xa0\\2)", line).replace(count.strip(), count.strip().replace(" ", "\xa0"))
        wrapped = textwrap.wrap(glued, width, subsequent_indent=indent + "      ", break_long_words=False,
                                break_on_hyphens=False)  # no break inside (5, 5) or "· 156 parameters"
        lines.extend(part.replace("\xa0", " ") for part in wrapped)
    return "\n".join(lines)


def parameter_table(model: nn.Module) -> pd.DataFrame:
    """One row per named_parameters entry: name, shape, count, share of the total, mean and standard deviation."""
    params = list(model.named_parameters())
    total = sum(p.numel() for _, p in params)
    rows = [
        {
            "name": name,
            "shape": " x ".join(map(str, p.shape)),
            "count": p.numel(),
            "share": p.numel() / total,
            "mean": p.detach().float().mean().item(),
            "std": p.detach().float().std().item() if p.numel() > 1 else 0.0,
        }
        for name, p in params
    ]
    return pd.DataFrame(rows, columns=["name", "shape", "count", "share", "mean", "std"])


def parameter_values(model: nn.Module, weights_only: bool = False) -> dict[str, torch.Tensor]:
    """name -> the parameter's values, flattened, detached, on the CPU (weights_only skips biases and norms)."""
    return {
        name: p.detach().cpu().flatten()
        for name, p in model.named_parameters()
        if not weights_only or name.endswith("weight") and p.dim() > 1
    }


@dataclass
class SharedDemo:
    """d2l's shared layer: one nn.Linear used twice, its one tensor, and where its gradient comes from."""

    net: nn.Sequential
    names: list[str]  # named_parameters: the shared weight appears once
    count: int  # parameters, the shared tensor counted once
    count_untied: int  # what two separate layers would need
    grad: torch.Tensor  # the shared weight's gradient after one backward pass
    grad_first: torch.Tensor  # the part that comes from its first use
    grad_second: torch.Tensor  # ... and from its second use

    @property
    def largest_difference(self) -> float:
        """How far .grad is from the sum of both uses' gradients (0 up to rounding)."""
        return (self.grad - (self.grad_first + self.grad_second)).abs().max().item()


def _shared_net() -> nn.Sequential:
    shared = nn.Linear(8, 8)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1))


def shared_parameter_demo(seed: int = 0) -> SharedDemo:
    """Build d2l's net with a shared layer, backpropagate once, and split the shared gradient by use.

    The split comes from an untied copy (the second use gets its own copy of the same values): its two
    gradients are what each use contributes, and they add up to the shared one.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = _shared_net()
        X = torch.rand(2, 4)
    untied = copy.deepcopy(net)
    untied[4] = copy.deepcopy(untied[2])
    for model in (net, untied):
        model(X).sum().backward()
    return SharedDemo(
        net=net,
        names=[name for name, _ in net.named_parameters()],
        count=count_parameters(net),
        count_untied=count_parameters(untied),
        grad=net[2].weight.grad.clone(),
        grad_first=untied[2].weight.grad.clone(),
        grad_second=untied[4].weight.grad.clone(),
    )


def state_dict_table(model: nn.Module) -> pd.DataFrame:
    """One row per state_dict entry: key, shape, count, dtype, and whether it is a parameter or a buffer."""
    parameters = {name for name, _ in model.named_parameters()}
    rows = [
        {"key": key, "shape": " x ".join(map(str, value.shape)) or "scalar", "count": value.numel(),
         "dtype": str(value.dtype).removeprefix("torch."), "kind": "parameter" if key in parameters else "buffer"}
        for key, value in model.state_dict().items()
    ]
    return pd.DataFrame(rows, columns=["key", "shape", "count", "dtype", "kind"])


@dataclass
class RoundTrip:
    """Save, rebuild from the config, load: what was written and whether the copy predicts the same."""

    bytes: int
    keys: int
    max_difference: float  # largest difference between the two models' outputs
    same_predictions: bool


@torch.no_grad()
def round_trip(model: nn.Module, config: LeNetConfig, images: torch.Tensor) -> RoundTrip:
    """torch.save the state_dict, build_lenet(config) anew, load_state_dict, and compare outputs on images."""
    buffer = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(state, buffer)
    clone = build_lenet(config)
    try:
        clone.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    except RuntimeError as e:
        raise ValueError(f"The weights do not fit a model built from this config: {e}") from None
    x = to_batch(images)
    was_training = model.training
    model.eval()
    try:
        before = model(x.to(next(model.parameters()).device)).cpu()
    finally:
        model.train(was_training)
    after = clone.eval()(x)
    return RoundTrip(len(buffer.getvalue()), len(state), (before - after).abs().max().item(),
                     bool((before.argmax(1) == after.argmax(1)).all()))


def tree_code() -> str:
    return """from torch import nn

def block():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())

blocks = nn.Sequential()
for i in range(4):
    blocks.add_module(f"block{i}", block())
net = nn.Sequential(blocks, nn.Linear(4, 1))   # Sequentials inside a Sequential inside a Sequential
print(net)                                     # the tree
names = [(name, tuple(p.shape)) for name, p in net.named_parameters()]
print(names[:2])                               # [('0.block0.0.weight', (8, 4)), ('0.block0.0.bias', (8,))]
total = sum(p.numel() for p in net.parameters())
"""


def shared_code() -> str:
    return """import torch
from torch import nn

shared = nn.Linear(8, 8)
net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1))
print([name for name, _ in net.named_parameters()])   # '2.weight' once, no '4.weight'
print(net[2].weight is net[4].weight)                  # True: one tensor
net(torch.rand(2, 4)).sum().backward()
grad = net[2].weight.grad                              # the sum of what both uses contribute
count = sum(p.numel() for p in net.parameters())       # 121: the shared 72 counted once (193 untied)
"""


def save_load_code(config: LeNetConfig) -> str:
    """Save a LeNet's state_dict, rebuild it from its config, load, and check the predictions."""
    return f"""import torch
from lenet import LeNetConfig, build_lenet

config = LeNetConfig.from_dict({config.to_dict()!r})
net = build_lenet(config).eval()
torch.save(net.state_dict(), "lenet.pt")               # only tensors: names -> values

clone = build_lenet(config)                            # the architecture comes from code (and the config)
clone.load_state_dict(torch.load("lenet.pt", weights_only=True))
clone.eval()
X = torch.rand(8, 1, {config.image_size}, {config.image_size})
same = torch.equal(net(X), clone(X))                   # True
"""


SMALL_TILE = 0.1  # a box with less than this share of all parameters may be too small for its label beside the tree


def parameter_treemap(tree: pd.DataFrame, title: str = "Where the parameters sit") -> go.Figure:
    """module_tree's rows as nested boxes sized by their parameters (modules without parameters vanish); labels
    too small to read are hidden, and the small boxes are listed under the map."""
    tree = tree[tree["parameters"] > 0]
    labels = [name.rpartition(".")[2] for name in tree["name"]]
    fig = go.Figure(go.Treemap(
        ids=tree["name"], parents=tree["parent"], labels=labels, values=tree["parameters"], branchvalues="total",
        customdata=tree["type"], texttemplate="%{label}<br>%{value:,}<br>%{percentRoot:.1%}",
        hovertemplate="%{id} (%{customdata})<br>%{value:,} parameters, %{percentRoot:.1%} of all<extra></extra>",
    ))
    total = int(tree["parameters"].max()) if len(tree) else 0
    small = tree[(tree["depth"] > 0) & (tree["parameters"] < SMALL_TILE * total)].sort_values("parameters", ascending=False)
    items = [f"{name.rpartition('.')[2]} {count:,}" for name, count in zip(small["name"], small["parameters"])]
    lines = ["Small boxes (hover for details):"] + [" · ".join(items[i:i + 2]) for i in range(0, len(items), 2)]
    if items:
        fig.add_annotation(text="<br>".join(lines), x=0, y=0, xref="paper",
                           yref="paper", xanchor="left", yanchor="top", yshift=-6, align="left", showarrow=False,
                           font_size=12)
    rows = len(lines) if items else 0
    fig.update_layout(title=title, height=380 + 18 * rows, uniformtext=dict(minsize=11, mode="hide"),
                      margin=dict(l=10, r=10, t=50, b=20 + 18 * rows))
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


BLOCKS_TEXT = (
    "A model is a tree of **blocks**: `nn.Sequential` chains layers, and a block can hold other blocks. "
    "Every learnable tensor has a name, its path through the tree (`conv1.weight`), which is what "
    "`named_parameters()` and `state_dict()` list."
)
SHARED_TEXT = (
    "One layer object used twice is **one** tensor: `named_parameters()` lists it once, the parameter count "
    "counts it once, and on the backward pass the gradients of both uses **add up** in its `.grad`. d2l's "
    "example uses one `nn.Linear(8, 8)` at positions 2 and 4:"
)
SAVE_LOAD_TEXT = (
    "Saving a model means saving its `state_dict`: every parameter and buffer (batch norm's running "
    "statistics) by name. To load it, rebuild the architecture in code, here from the run's config, and "
    "copy the tensors in by name."
)
