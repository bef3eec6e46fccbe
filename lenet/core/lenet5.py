"""The layers LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998) has and d2l's LeNet does not.

    ScaledTanh      the paper's squashing function 1.7159 tanh(2x/3)
    Subsample       S2 and S4: each window's average times a learned coefficient plus a learned bias, per channel,
                    then the squashing function
    PartialConv2d   C3: each output map sees only the input maps Table I gives it (LENET5_TABLE)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Table I of the paper: the S2 maps (0-5) each of C3's 16 maps takes its input from. Six take three neighbouring maps,
# six take four neighbours, three take four that are not all neighbours, and the last takes all six.
LENET5_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)
SCALED_TANH_A, SCALED_TANH_S = 1.7159, 2 / 3  # f(x) = A tanh(S x): f(1) = 1 and f(-1) = -1, nearly


class ScaledTanh(nn.Module):
    """f(x) = 1.7159 tanh(2x/3), the paper's equation (6): its gain is largest near the targets -1 and 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return SCALED_TANH_A * torch.tanh(SCALED_TANH_S * x)


class Subsample(nn.Module):
    """Trainable subsampling: activation(coefficient * average of each window + bias), one coefficient and bias
    per channel (2 parameters a channel: S2 has 12, S4 32)."""

    def __init__(self, channels: int, kernel_size: int = 2, stride: int = 2, activation: type[nn.Module] = ScaledTanh):
        super().__init__()
        self.channels, self.kernel_size, self.stride, self.padding = channels, kernel_size, stride, 0
        self.weight = nn.Parameter(torch.empty(channels))
        self.bias = nn.Parameter(torch.empty(channels))
        self.activation = activation()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Coefficient 1 and bias 0: average pooling followed by the activation, until training moves them."""
        nn.init.ones_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        average = F.avg_pool2d(x, self.kernel_size, self.stride)
        return self.activation(average * self.weight[:, None, None] + self.bias[:, None, None])

    def extra_repr(self) -> str:
        return f"{self.channels}, kernel_size={self.kernel_size}, stride={self.stride}"


class PartialConv2d(nn.Module):
    """A convolution whose output map j sees only the input maps table[j]: only those kernels are parameters.

    weight holds one k x k kernel per connection (C3: 60 of them, 1,500 weights, plus 16 biases = 1,516);
    dense_weight() spreads them into the out x in x k x k weight of an nn.Conv2d, zeros where there is no connection.
    """

    def __init__(self, table: tuple[tuple[int, ...], ...], in_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0):
        super().__init__()
        if any(not maps or min(maps) < 0 or max(maps) >= in_channels for maps in table):
            raise ValueError(f"Every output map of the connection table needs input maps between 0 and "
                             f"{in_channels - 1}.")
        self.table = tuple(tuple(maps) for maps in table)
        self.in_channels, self.out_channels = in_channels, len(table)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        pairs = [(j, i) for j, maps in enumerate(self.table) for i in maps]
        self.register_buffer("rows", torch.tensor([j for j, _ in pairs]), persistent=False)
        self.register_buffer("cols", torch.tensor([i for _, i in pairs]), persistent=False)
        self.weight = nn.Parameter(torch.empty(len(pairs), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(self.out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default for a conv over just the maps each output sees: uniform in +-1/sqrt(fan-in)."""
        bounds = (torch.tensor([len(maps) for maps in self.table]) * self.kernel_size ** 2).float().rsqrt()
        with torch.no_grad():
            self.weight.uniform_(-1, 1).mul_(bounds[self.rows][:, None, None])
            self.bias.uniform_(-1, 1).mul_(bounds)

    def dense_weight(self) -> torch.Tensor:
        """The out x in x k x k kernel of the equivalent nn.Conv2d: the connections' kernels, zeros elsewhere."""
        k = self.kernel_size
        dense = self.weight.new_zeros(self.out_channels, self.in_channels, k, k)
        return dense.index_put((self.rows, self.cols), self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.dense_weight(), self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, connections={len(self.weight)}")
