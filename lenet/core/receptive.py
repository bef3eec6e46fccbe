"""Receptive fields: which input pixels can influence one unit of a LeNet's conv or pooling layer.

Layer by layer, with k, s, p the layer's kernel, stride and padding:
    size  = previous size + (k - 1) * previous jump     (input pixels one unit spans)
    jump  = previous jump * s                           (input pixels between neighbouring units)
    start = previous start - p * previous jump          (first input pixel of unit 0; negative: padding)
Activations and batch norm work pixel by pixel, so they keep the field of the layer before them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from .model import LeNetConfig, plan_layers


@dataclass
class LayerField:
    """The receptive field of any unit of one conv or pooling layer (the same in height and width)."""

    layer: str
    kernel: int
    stride: int
    padding: int
    out_hw: tuple[int, int]
    previous_size: int
    previous_jump: int
    size: int
    jump: int
    start: int


@dataclass
class UnitField:
    """The input pixels one unit sees."""

    layer: str
    unit: tuple[int, int]
    mask: torch.Tensor  # image_size x image_size, True where the unit sees the pixel
    box: tuple[int, int, int, int]  # first row, first column, last row, last column; may reach into the padding

    @property
    def pixels(self) -> int:
        return int(self.mask.sum())


def _single(value) -> int:
    return value[0] if isinstance(value, tuple) else value


def receptive_fields(config: LeNetConfig) -> list[LayerField]:
    """Every conv and pooling layer of the config, in order, with its receptive field (d2l's LeNet: 5, 6, 14, 16)."""
    size, jump, start = 1, 1, 0
    fields = []
    for spec in plan_layers(config):
        if not spec.name.startswith(("conv", "pool")):
            continue
        module = spec.make()  # read kernel, stride and padding from the torch layer itself
        k, s, p = (_single(getattr(module, name)) for name in ("kernel_size", "stride", "padding"))
        fields.append(LayerField(spec.name, k, s, p, spec.out_shape[1:], size, jump, size + (k - 1) * jump, jump * s,
                                 start - p * jump))
        size, jump, start = fields[-1].size, fields[-1].jump, fields[-1].start
    return fields


def receptive_field_table(config: LeNetConfig) -> pd.DataFrame:
    """One row per conv or pooling layer: its settings, output size, jump and receptive field, with the arithmetic."""
    return pd.DataFrame(
        {
            "layer": f.layer,
            "kernel": f.kernel,
            "stride": f.stride,
            "padding": f.padding,
            "output": " x ".join(map(str, f.out_hw)),
            "jump (pixels between units)": f.jump,
            "receptive field": f"{f.size} x {f.size}",
            "size = previous + (k − 1) × previous jump": f"{f.previous_size} + ({f.kernel} − 1) × {f.previous_jump} = {f.size}",
        }
        for f in receptive_fields(config)
    )


def _seen_along_axis(fields: list[LayerField], index: int, axis: int, image_size: int) -> list[int]:
    """Input positions along one axis that output position `index` of the last field's layer depends on.

    Walks back one layer at a time, dropping positions that fall in a layer's zero padding.
    """
    positions = {index}
    for i in range(len(fields) - 1, -1, -1):
        f = fields[i]
        length = fields[i - 1].out_hw[axis] if i else image_size
        positions = {q * f.stride - f.padding + t for q in positions for t in range(f.kernel)}
        positions = {q for q in positions if 0 <= q < length}
    return sorted(positions)


def unit_field(config: LeNetConfig, layer: str, unit: tuple[int, int]) -> UnitField:
    """The input pixels that unit (row, column) of a conv or pooling layer sees, in every channel."""
    fields = receptive_fields(config)
    names = [f.layer for f in fields]
    if layer not in names:
        raise ValueError(f"layer must be one of {', '.join(names)}, not {layer!r}.")
    fields = fields[: names.index(layer) + 1]
    out_h, out_w = fields[-1].out_hw
    row, col = unit
    if not (0 <= row < out_h and 0 <= col < out_w):
        raise ValueError(f"{layer} has {out_h} x {out_w} units: row must be 0 to {out_h - 1} and column 0 to {out_w - 1} "
                         f"(got {row}, {col}).")
    rows = torch.zeros(config.image_size, dtype=torch.bool)
    cols = torch.zeros(config.image_size, dtype=torch.bool)
    rows[_seen_along_axis(fields, row, 0, config.image_size)] = True
    cols[_seen_along_axis(fields, col, 1, config.image_size)] = True
    mask = rows[:, None] & cols  # every layer works on rows and columns alike, so the field is rows x columns
    f = fields[-1]
    top, left = f.start + row * f.jump, f.start + col * f.jump
    return UnitField(layer, (row, col), mask, (top, left, top + f.size - 1, left + f.size - 1))
