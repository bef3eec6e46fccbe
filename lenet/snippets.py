"""'Show the code': the few lines of plain torch that reproduce what a page shows with its current settings.

Every snippet runs on its own (tests execute them) and leaves its result in a named variable.
"""

from __future__ import annotations

import torch

from .lessons import total_padding_sides
from .model import LeNetConfig, plan_layers
from .shapes import IntOrPair, as_pair

HEADER = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"


def tensor_literal(X: torch.Tensor) -> str:
    """torch.tensor([[0.0, 1.0], [2.0, 3.0]]) for a small float tensor."""
    values = [[round(v, 6) for v in row] for row in X.tolist()]
    return f"torch.tensor({values})"


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


def channels_code(in_channels: int, out_channels: int, size: int, kernel_size: int) -> str:
    """The page's multi-channel example with torch's conv2d; leaves X, K, Y and n_parameters."""
    c_i, c_o, n, k = in_channels, out_channels, size, kernel_size
    return HEADER + f"""
X = torch.arange({n * n}.0).reshape(1, {n}, {n}) + torch.arange({c_i}).reshape(-1, 1, 1)  # X[c] = 0, 1, ... + c
K = (torch.arange({k * k}.0).reshape(1, 1, {k}, {k})
     + torch.arange({c_i}).reshape(1, -1, 1, 1) + torch.arange({c_o}).reshape(-1, 1, 1, 1))  # K[o, c] = 0, 1, ... + c + o
print(K.shape)  # (output channels, input channels, kernel height, kernel width)
Y = F.conv2d(X[None], K)[0]  # every output channel sums over all input channels
print(Y)
n_parameters = sum(p.numel() for p in nn.Conv2d({c_i}, {c_o}, kernel_size={k}).parameters())
print(n_parameters)
"""


def one_by_one_code(in_channels: int, out_channels: int, size: int) -> str:
    """A 1x1 convolution as a matrix multiply, checked against conv2d; leaves X, K and Y."""
    c_i, c_o, n = in_channels, out_channels, size
    return HEADER + f"""
X = torch.arange({n * n}.0).reshape(1, {n}, {n}) + torch.arange({c_i}).reshape(-1, 1, 1)
K = torch.arange(1.0, {c_o * c_i + 1}).reshape({c_o}, {c_i}, 1, 1)
Y = (K.reshape({c_o}, {c_i}) @ X.reshape({c_i}, {n * n})).reshape({c_o}, {n}, {n})  # mixes channels, pixel by pixel
assert torch.allclose(Y, F.conv2d(X[None], K)[0])
print(Y)
"""


def pooling_code(X: torch.Tensor, pool_size: IntOrPair, mode: str, padding: IntOrPair, stride: IntOrPair) -> str:
    """Max or average pooling with torch's layer; leaves Y."""
    layer = "MaxPool2d" if mode == "max" else "AvgPool2d"
    k, p, s = as_pair(pool_size, "pool size"), as_pair(padding, "padding"), as_pair(stride, "stride")
    return HEADER + f"""
X = {tensor_literal(X)}
# careful: without stride=..., nn.{layer} moves by the window size
pool = nn.{layer}({k}, stride={s}, padding={p})
Y = pool(X[None, None])[0, 0]
print(Y)
"""


def shift_code(pool_size: IntOrPair, mode: str, stride: IntOrPair, shift: int) -> str:
    """The shift demo; leaves conv, conv_shifted, pooled and pooled_shifted."""
    layer = "MaxPool2d" if mode == "max" else "AvgPool2d"
    k, s = as_pair(pool_size, "pool size"), as_pair(stride, "stride")
    return HEADER + f"""
X = torch.ones((6, 8))
X[:, 2:6] = 0
K = torch.tensor([[[[1.0, -1.0]]]])
pool = nn.{layer}({k}, stride={s})
X_shifted = torch.roll(X, shifts={shift}, dims=1)  # {shift} pixel(s) to the right, wrapping round
conv, conv_shifted = F.conv2d(X[None, None], K), F.conv2d(X_shifted[None, None], K)
pooled, pooled_shifted = pool(conv), pool(conv_shifted)
print("conv outputs changed:", (conv != conv_shifted).sum().item(), "of", conv.numel())
print("pooled outputs changed:", (pooled != pooled_shifted).sum().item(), "of", pooled.numel())
"""


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
