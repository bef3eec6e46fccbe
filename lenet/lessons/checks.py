"""A page's result checked against PyTorch's own operator: what was compared, and how far apart the two are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class TorchCheck:
    claim: str  # what torch was asked, e.g. "torch's `F.conv2d` gives the same Y"
    difference: float  # 0 when the page and torch agree
    result: Any = None  # what torch computed
    scale: float = 1.0  # the size of the values compared: float rounding grows with it
    measure: str = "largest difference"

    @staticmethod
    def scale_of(values: torch.Tensor) -> float:
        return float(values.abs().max()) if values.numel() else 0.0

    @property
    def agrees(self) -> bool:
        """Equal up to float rounding of values as large as scale."""
        return self.difference <= 1e-5 * max(1.0, abs(self.scale))

    @property
    def text(self) -> str:
        return f"{self.claim} ({self.measure} {self.difference:g})."
