"""Edge detection and learning a kernel back from its output (d2l 7.2.3-7.2.4)."""

from __future__ import annotations

import torch
from torch import nn


def edge_image(height: int = 6, width: int = 8, black_from: int = 2, black_to: int = 6) -> torch.Tensor:
    """White-black-white stripes: ones with columns black_from..black_to-1 set to 0."""
    X = torch.ones((height, width))
    X[:, black_from:black_to] = 0
    return X


EDGE_KERNEL = torch.tensor([[1.0, -1.0]])


def learn_kernel(
    X: torch.Tensor,
    Y: torch.Tensor,
    kernel_size: tuple[int, int] = (1, 2),
    lr: float = 3e-2,
    iterations: int = 10,
    seed: int = 0,
) -> tuple[torch.Tensor, list[float]]:
    """Learn a kernel that maps X to Y with plain gradient steps on the summed squared error.

    Returns the learned kernel and the loss of every iteration.
    """
    torch.manual_seed(seed)
    conv = nn.Conv2d(1, 1, kernel_size=kernel_size, bias=False)
    X, Y = X.reshape(1, 1, *X.shape), Y.reshape(1, 1, *Y.shape)
    losses = []
    for _ in range(iterations):
        loss = ((conv(X) - Y) ** 2).sum()
        conv.zero_grad()
        loss.backward()
        with torch.no_grad():
            conv.weight -= lr * conv.weight.grad
        losses.append(loss.item())
    return conv.weight.detach().reshape(kernel_size), losses
