"""Cross-correlation (d2l 7.2): one window's sum written out, true convolution, learning a kernel,
and the dice that show what a convolution is."""

from __future__ import annotations

import math
from fractions import Fraction

import plotly.graph_objects as go
import torch
import torch.nn.functional as F

from ..core.ops import convolve1d
from ..core.units import format_number
from .checks import TorchCheck
from .grids import (
    HEADER,
    WINDOW_COLOR,
    finish,
    tensor_literal,
)


def _term(value: float) -> str:
    text = format_number(value)
    return f"({text})" if text.startswith("-") else text


def window_arithmetic(X: torch.Tensor, K: torch.Tensor, cell: tuple[int, int]) -> str:
    """One output value of corr2d written out: '0×0 + 1×1 + 3×2 + 4×3 = 19'."""
    i, j = cell
    h, w = K.shape
    window = X[i : i + h, j : j + w]
    products = " + ".join(f"{_term(x)}×{_term(k)}" for x, k in zip(window.flatten().tolist(), K.flatten().tolist()))
    return f"{products} = {format_number((window * K).sum())}"


def convolution_terms(kernel_hw: tuple[int, int], cell: tuple[int, int]) -> str:
    """True convolution's sum for one output cell with the indices written out: 'X[0, 0]·K[1, 1] + X[0, 1]·K[1, 0] + ...'.

    Y[i, j] = sum over a, b of X[i + a, j + b] K[k_h - 1 - a, k_w - 1 - b]: the kernel read backwards.
    """
    (k_h, k_w), (i, j) = kernel_hw, cell
    return " + ".join(
        f"X[{i + a}, {j + b}]·K[{k_h - 1 - a}, {k_w - 1 - b}]" for a in range(k_h) for b in range(k_w)
    )


def diverged(losses: list[float]) -> bool:
    """True when training ended with a higher (or overflowed) loss than it started with."""
    return not math.isfinite(losses[-1]) or losses[-1] > losses[0]


FACES = 6
DIE = torch.full((FACES,), 1 / FACES)  # a fair die: P(1) = ... = P(6) = 1/6


def dice_sum_distribution() -> torch.Tensor:
    """P(sum = 2), ..., P(sum = 12) for two fair dice: the convolution of their distributions."""
    return convolve1d(DIE, DIE)


def dice_arithmetic(total: int) -> str:
    """The convolution sum for two fair dice adding up to `total`, term by term, in 36ths."""
    if not 2 <= total <= 2 * FACES:
        raise ValueError(f"two dice sum to 2 to {2 * FACES}, not {total}.")
    pairs = [(m, total - m) for m in range(1, FACES + 1) if 1 <= total - m <= FACES]
    outcomes = FACES * FACES
    line = f"P(sum = {total}) = " + " + ".join(f"f({m})g({n})" for m, n in pairs)
    if len(pairs) > 1:
        line += " = " + " + ".join(f"1/{outcomes}" for _ in pairs)
    line += f" = {len(pairs)}/{outcomes}"
    reduced = Fraction(len(pairs), outcomes)
    return line + (f" = {reduced}" if reduced.denominator != outcomes else "")


def loss_figure(losses: list[float]) -> go.Figure:
    """Loss per iteration on a log scale."""
    fig = go.Figure(go.Scatter(x=list(range(1, len(losses) + 1)), y=losses, mode="lines+markers", name="loss"))
    fig.update_xaxes(title_text="iteration")
    fig.update_yaxes(title_text="loss (summed squared error)", type="log", dtick=1)
    return finish(fig, "Loss while learning the kernel", 360)


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
    return finish(fig, "Learned kernel against the true one", 360)


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
    return finish(fig, f"Two fair dice: P(sum) = (f * g)(sum), with sum = {total} highlighted", 360)


def corr2d_code(X: torch.Tensor, K: torch.Tensor, flip: bool = False) -> str:
    """Cross-correlation of X with K, or with flip=True true convolution (K flipped first); leaves Y."""
    if flip:
        kernel = "K.flip(0, 1)  # true convolution: cross-correlation with the kernel flipped both ways"
    else:
        kernel = "K  # conv2d computes cross-correlation"
    return HEADER + f"""
X = {tensor_literal(X)}
K = {tensor_literal(K)}
kernel = {kernel}
Y = F.conv2d(X[None, None], kernel[None, None])[0, 0]  # conv2d wants (batch, channels, height, width)
print(Y)
"""


def dice_code(total: int) -> str:
    """The distribution of the sum of two fair dice as a 1-D convolution; leaves p and p_total."""
    return HEADER + f"""
f = g = torch.full((6,), 1 / 6)  # a fair die: faces 1 to 6
# (f * g)(n) = sum over t of f(t) g(n - t): conv1d cross-correlates, so flip g and pad f with zeros
p = F.conv1d(F.pad(f, (5, 5))[None, None], g.flip(0)[None, None])[0, 0]  # P(sum = 2), ..., P(sum = 12)
p_total = p[{total} - 2].item()
print(f"P(sum = {total}) = {{p_total:.4f}} = {{round(36 * p_total)}}/36")
"""


def edge_code() -> str:
    """d2l's edge detection; leaves Y (vertical edges) and Y_t (the transposed image: nothing)."""
    return HEADER + """
X = torch.ones((6, 8))
X[:, 2:6] = 0  # white, black, white
K = torch.tensor([[1.0, -1.0]])
Y = F.conv2d(X[None, None], K[None, None])[0, 0]  # 1: white to black, -1: black to white
Y_t = F.conv2d(X.t()[None, None], K[None, None])[0, 0]  # all zeros: K only sees vertical edges
print(Y, Y_t, sep="\\n")
"""


def learn_kernel_code(lr: float, iterations: int, seed: int = 0) -> str:
    """d2l's loop that learns [1, -1] back from the edge image; leaves conv2d and losses."""
    return HEADER + f"""
X = torch.ones((6, 8))
X[:, 2:6] = 0
Y = F.conv2d(X[None, None], torch.tensor([[[[1.0, -1.0]]]]))
X = X.reshape((1, 1, 6, 8))

torch.manual_seed({seed})
conv2d = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)
lr = {lr!r}
losses = []
for i in range({iterations}):
    loss = ((conv2d(X) - Y) ** 2).sum()
    conv2d.zero_grad()
    loss.backward()
    with torch.no_grad():
        conv2d.weight -= lr * conv2d.weight.grad
    losses.append(loss.item())
    if (i + 1) % 2 == 0:
        print(f"iteration {{i + 1}}, loss {{loss.item():.3f}}")
print(conv2d.weight.reshape((1, 2)))
"""


def torch_corr2d_check(X: torch.Tensor, K: torch.Tensor, Y: torch.Tensor, flip: bool = False) -> TorchCheck:
    """Y recomputed with torch's F.conv2d (K flipped first for true convolution), and its largest difference from Y."""
    kernel = K.flip(0, 1) if flip else K
    Y_torch = F.conv2d(X[None, None], kernel[None, None])[0, 0]
    return TorchCheck(f"torch's `F.conv2d` gives the same Y{' with K flipped' if flip else ''}",
                      float((Y - Y_torch).abs().max()), Y_torch, TorchCheck.scale_of(Y))
