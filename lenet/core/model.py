"""LeNetConfig: one description of a LeNet-style model, and the nn.Module built from it."""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from typing import Callable

import pandas as pd
import torch
from torch import nn

from .fields import check_field_types
from .lenet5 import LENET5_TABLE, PartialConv2d, ScaledTanh, Subsample
from .shapes import conv_output_shape, pool_output_shape
from .units import human_bytes

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh, "scaled_tanh": ScaledTanh}
POOLS = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d, "subsample": Subsample, "none": None}
# The memory one training may use unless told otherwise ($LENET_MAX_TRAINING_MB): a hosted app gets 0.7-2.7 GB.
DEFAULT_MAX_TRAINING_BYTES = 2000 * 10**6

FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530
# LeNet-5's input scaling: background (black, 0) -> -0.1 and foreground (1) -> 1.175, so (x - mean) / std with these
LENET5_MEAN, LENET5_STD = 0.1 / 1.275, 1 / 1.275


@dataclass
class LeNetConfig:
    """Everything needed to rebuild a model: what the UI edits and what a run folder stores."""

    in_channels: int = 1
    image_size: int = 28
    conv_channels: tuple[int, ...] = (6, 16)
    kernel_sizes: tuple[int, ...] = (5, 5)
    paddings: tuple[int, ...] = (2, 0)
    strides: tuple[int, ...] = (1, 1)
    activation: str = "sigmoid"
    pool: str = "avg"
    pool_size: int = 2
    pool_stride: int = 2
    pool_after: tuple[bool, ...] | None = None  # pool after which conv layers (None: after every one)
    batch_norm: bool = False
    hidden_sizes: tuple[int, ...] = (120, 84)
    num_classes: int = 10
    normalize_mean: float = 0.0
    normalize_std: float = 1.0
    dense_inputs: int | None = None  # what the first dense layer expects (None: whatever flatten gives)
    softmax_output: bool = False  # a softmax after the last layer: the notes' second mistake
    input_padding: int = 0  # background pixels added around each image inside the model (LeNet-5: 28 -> 32)
    connection_table: bool = False  # conv2 joins 6 maps to 16 as LeNet-5's Table I says, not every map to every map

    def __post_init__(self) -> None:
        for name in ("conv_channels", "kernel_sizes", "paddings", "strides", "hidden_sizes"):
            setattr(self, name, tuple(int(v) for v in getattr(self, name)))
        if self.pool_after is not None:
            self.pool_after = tuple(bool(v) for v in self.pool_after)

    @classmethod
    def classic(cls) -> "LeNetConfig":
        """d2l's LeNet exactly: sigmoid, average pooling, no batch norm, raw pixels (61,706 parameters)."""
        return cls()

    @classmethod
    def modern(cls) -> "LeNetConfig":
        """The same shape with ReLU, max pooling, batch norm and normalised inputs."""
        return cls(
            activation="relu",
            pool="max",
            batch_norm=True,
            normalize_mean=FASHION_MNIST_MEAN,
            normalize_std=FASHION_MNIST_STD,
        )

    @classmethod
    def lenet5(cls) -> "LeNetConfig":
        """LeNet-5 as LeCun et al. (1998) published it, with a linear output layer for the RBF units (60,850
        parameters: C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164, output 850)."""
        return cls(
            conv_channels=(6, 16, 120), kernel_sizes=(5, 5, 5), paddings=(0, 0, 0), strides=(1, 1, 1),
            activation="scaled_tanh", pool="subsample", pool_after=(True, True, False), hidden_sizes=(84,),
            normalize_mean=LENET5_MEAN, normalize_std=LENET5_STD, input_padding=2, connection_table=True,
        )

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "LeNetConfig":
        """The config a dict read from JSON describes; a value of the wrong kind is a ValueError naming its field."""
        check_field_types(cls, data)
        return cls(**data)

    def replace(self, **changes) -> "LeNetConfig":
        return dataclasses.replace(self, **changes)


@dataclass
class LayerSpec:
    """One planned layer: its name, how to build it, its output shape and its cost."""

    name: str
    make: Callable[[], nn.Module]
    out_shape: tuple[int, ...]
    parameters: int = 0
    macs: int = 0

    @property
    def type(self) -> str:
        return self.make.func.__name__ if isinstance(self.make, partial) else self.make.__name__


class Normalize(nn.Module):
    """(x - mean) / std inside the model, so the model always takes raw pixels in [0, 1]."""

    def __init__(self, mean: float, std: float):
        super().__init__()
        self.mean, self.std = mean, std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


def _check_config(config: LeNetConfig) -> None:
    n_conv = len(config.conv_channels)
    if n_conv == 0:
        raise ValueError("A LeNet needs at least one convolution layer.")
    for name in ("kernel_sizes", "paddings", "strides", "pool_after"):
        if getattr(config, name) is not None and len(getattr(config, name)) != n_conv:
            raise ValueError(f"{name} has {len(getattr(config, name))} entries but there are {n_conv} conv layers.")
    if config.activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, not {config.activation!r}.")
    if config.pool not in POOLS:
        raise ValueError(f"pool must be one of {sorted(POOLS)}, not {config.pool!r}.")
    counts = [("in_channels", config.in_channels), ("image_size", config.image_size), ("num_classes", config.num_classes)]
    counts += [("conv_channels", c) for c in config.conv_channels] + [("hidden_sizes", h) for h in config.hidden_sizes]
    for name, value in counts:
        if value < 1:
            raise ValueError(f"{name} must be at least 1 (got {value}).")
    if not (math.isfinite(config.normalize_mean) and math.isfinite(config.normalize_std)):
        raise ValueError(f"normalize_mean and normalize_std must be finite (got {config.normalize_mean}, "
                         f"{config.normalize_std}).")
    if config.normalize_std <= 0:
        raise ValueError(f"normalize_std must be positive (got {config.normalize_std}).")
    if config.input_padding < 0:
        raise ValueError(f"input_padding cannot be negative (got {config.input_padding}).")
    if config.connection_table and n_conv < 2:
        raise ValueError("connection_table sets conv2's connections, but there is only one conv layer.")
    if config.dense_inputs is not None and config.dense_inputs < 1:
        raise ValueError(f"dense_inputs must be at least 1, or None to use what flatten gives (got {config.dense_inputs}).")


def _flatten_mismatch(config: LeNetConfig, shape: tuple[int, int, int]) -> str:
    """Why flatten's size differs from what the first dense layer expects, and what would fix it."""
    n = math.prod(shape)
    dense = "fc1" if config.hidden_sizes else "output"
    message = f"flatten gives {' x '.join(map(str, shape))} = {n} values but {dense} expects {config.dense_inputs}"
    skipped = [i for i, on in enumerate(config.pool_after or (), start=1) if not on]
    if not skipped or config.pool == "none":
        return message + f". Make {dense} take {n} inputs (or let the model compute it)."
    names = ", ".join(f"pool{i}" for i in skipped)
    message += f": {names} {'was' if len(skipped) == 1 else 'were'} skipped"
    try:
        specs = plan_layers(config.replace(pool_after=None, dense_inputs=None))
        pooled = next(s.out_shape for s in specs if s.name == f"pool{len(config.conv_channels)}")
        message += f" (pooling after every conv layer gives {' x '.join(map(str, pooled))} = {math.prod(pooled)})"
    except ValueError:
        pass
    after = ", ".join(f"conv{i}" for i in skipped)
    return message + f". Pool after {after} again, or make {dense} take {n} inputs."


def _conv_spec(config: LeNetConfig, i: int, c: int, c_out: int, k: int, s: int, p: int,
               out_hw: tuple[int, int]) -> LayerSpec:
    """conv{i}: a full nn.Conv2d, or for conv2 with connection_table one whose output maps see only Table I's."""
    shape = (c_out, *out_hw)
    if not (config.connection_table and i == 2):
        conv = partial(nn.Conv2d, c, c_out, k, s, p)
        return LayerSpec(f"conv{i}", conv, shape, c_out * c * k * k + c_out, math.prod(shape) * c * k * k)
    if (c, c_out) != (6, len(LENET5_TABLE)):
        raise ValueError(f"LeNet-5's connection table joins 6 maps to {len(LENET5_TABLE)}, but conv2 takes {c} "
                         f"and gives {c_out}: give conv1 6 channels and conv2 {len(LENET5_TABLE)}.")
    connections = sum(map(len, LENET5_TABLE))
    conv = partial(PartialConv2d, LENET5_TABLE, c, k, s, p)
    return LayerSpec(f"conv{i}", conv, shape, connections * k * k + c_out, math.prod(out_hw) * connections * k * k)


def plan_layers(config: LeNetConfig, batch_size: int | None = 1,
                max_training_bytes: int = DEFAULT_MAX_TRAINING_BYTES) -> list[LayerSpec]:
    """Every layer with its output shape and cost, worked out without building a tensor.

    Raises ValueError naming the layer whose output would be empty, or giving the estimated memory when
    training on batches of batch_size would need more than max_training_bytes (batch_size None: no memory check).
    """
    _check_config(config)
    c, h, w = config.in_channels, config.image_size, config.image_size
    layers = [LayerSpec("normalize", partial(Normalize, config.normalize_mean, config.normalize_std), (c, h, w))]
    if config.input_padding:  # after normalising, so the border gets what a black pixel becomes
        p = config.input_padding
        h, w = h + 2 * p, w + 2 * p
        black = -config.normalize_mean / config.normalize_std
        layers.append(LayerSpec("pad", partial(nn.ConstantPad2d, p, black), (c, h, w)))
    act = ACTIVATIONS[config.activation]
    pool = POOLS[config.pool]
    pool_after = config.pool_after or (True,) * len(config.conv_channels)
    for i, (c_out, k, p, s, pooled) in enumerate(
        zip(config.conv_channels, config.kernel_sizes, config.paddings, config.strides, pool_after), start=1
    ):
        try:
            h, w = conv_output_shape((h, w), k, p, s)
        except ValueError as e:
            raise ValueError(f"conv{i} gets a {c}x{h}x{w} input: {e}") from None
        layers.append(_conv_spec(config, i, c, c_out, k, s, p, (h, w)))
        c = c_out
        if config.batch_norm:
            layers.append(LayerSpec(f"bn{i}", partial(nn.BatchNorm2d, c), (c, h, w), 2 * c))
        layers.append(LayerSpec(f"act{i}", act, (c, h, w)))
        if pool is not None and pooled:
            try:
                h, w = pool_output_shape((h, w), config.pool_size, 0, config.pool_stride)
            except ValueError as e:
                raise ValueError(f"pool{i} gets a {c}x{h}x{w} input: {e}") from None
            if pool is Subsample:  # a coefficient and a bias per channel
                make, parameters = partial(pool, c, config.pool_size, config.pool_stride, act), 2 * c
            else:
                make, parameters = partial(pool, config.pool_size, config.pool_stride), 0
            layers.append(LayerSpec(f"pool{i}", make, (c, h, w), parameters))
    n = c * h * w
    if config.dense_inputs not in (None, n):
        raise ValueError(_flatten_mismatch(config, (c, h, w)))
    layers.append(LayerSpec("flatten", nn.Flatten, (n,)))
    for j, width in enumerate((*config.hidden_sizes, config.num_classes), start=1):
        last = j > len(config.hidden_sizes)
        name = "output" if last else f"fc{j}"
        layers.append(LayerSpec(name, partial(nn.Linear, n, width), (width,), n * width + width, n * width))
        n = width
        if last:
            if config.softmax_output:
                layers.append(LayerSpec("softmax", partial(nn.Softmax, dim=1), (n,)))
            break
        if config.batch_norm:
            layers.append(LayerSpec(f"fc{j}_bn", partial(nn.BatchNorm1d, n), (n,), 2 * n))
        layers.append(LayerSpec(f"fc{j}_act", act, (n,)))
    if batch_size is not None:
        _check_memory(layers, batch_size, max_training_bytes)
    return layers


def _training_bytes(layers: list[LayerSpec], batch_size: int) -> tuple[int, int]:
    """(weights, gradients and two optimiser buffers; every layer's output kept for backward plus two gradients)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 (got {batch_size}).")
    outputs = [math.prod(spec.out_shape) for spec in layers]
    state = 4 * 4 * sum(spec.parameters for spec in layers)
    return state, 4 * batch_size * (sum(outputs) + 2 * max(outputs))


def _check_memory(layers: list[LayerSpec], batch_size: int, limit: int) -> None:
    state, activations = _training_bytes(layers, batch_size)
    if state + activations > limit:
        raise ValueError(
            f"Training this model on batches of {batch_size} would need about {human_bytes(state + activations)} "
            f"({human_bytes(state)} for weights, gradients and optimiser state, {human_bytes(activations)} for "
            f"activations); the limit is {human_bytes(limit)}. Use fewer channels or dense units, more stride or "
            "pooling, or a smaller batch."
        )


def estimate_training_memory(config: LeNetConfig, batch_size: int = 1) -> int:
    """Bytes needed to train config on batches of batch_size (float32), for any config whose shapes work out."""
    return sum(_training_bytes(plan_layers(config, batch_size=None), batch_size))


def build_lenet(config: LeNetConfig) -> nn.Sequential:
    """The nn.Sequential for a config, with readable layer names (conv1, act1, pool1, ..., output)."""
    return nn.Sequential(OrderedDict((spec.name, spec.make()) for spec in plan_layers(config)))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable values (a shared tensor counts once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def layer_table(config: LeNetConfig) -> pd.DataFrame:
    """One row per layer: name, type, output shape, parameters, multiply-accumulates, activation memory."""
    rows = [
        {
            "layer": spec.name,
            "type": spec.type,
            "output shape": " x ".join(map(str, spec.out_shape)),
            "parameters": spec.parameters,
            "MACs": spec.macs,
            "activation bytes": 4 * math.prod(spec.out_shape),
        }
        for spec in plan_layers(config)
    ]
    return pd.DataFrame(rows)


INIT_SCHEMES = ("default", "normal", "xavier", "constant")


def init_weights(model: nn.Module, scheme: str = "xavier", constant: float = 1.0) -> nn.Module:
    """Re-initialise every conv and linear layer: PyTorch's default, normal(0, 0.01) with zero bias,
    Xavier uniform (d2l's choice for LeNet), or a constant. A PartialConv2d's connections count as its kernels."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"scheme must be one of {INIT_SCHEMES}, not {scheme!r}.")
    for m in model.modules():
        if not isinstance(m, (nn.Conv2d, nn.Linear, PartialConv2d)):
            continue
        if scheme == "default":
            m.reset_parameters()
        elif scheme == "normal":
            nn.init.normal_(m.weight, mean=0.0, std=0.01)
            nn.init.zeros_(m.bias)
        elif scheme == "xavier":
            nn.init.xavier_uniform_(m.weight)
        else:
            nn.init.constant_(m.weight, constant)
            nn.init.zeros_(m.bias)
    return model
