"""How to train: the settings of a training run, and the tested recipes (presets)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..core.model import INIT_SCHEMES, LeNetConfig
from ..data import DATASETS

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "onecycle", "cosine")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRESETS = ("classic", "modern", "lenet5")
HISTORY_COLUMNS = ("epoch", "train_loss", "train_acc", "test_acc", "images_per_s", "seconds", "train_seconds", "elapsed_s")


@dataclass
class TrainSettings:
    """How to train: data, optimiser, schedule, device. JSON round trip with to_dict()/from_dict()."""

    dataset: str = "fashion-mnist"
    subset: int | None = None  # training images used (None = all)
    test_subset: int | None = None
    epochs: int = 10
    batch_size: int = 256
    optimizer: str = "sgd"
    lr: float = 0.9
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    label_smoothing: float = 0.0
    init: str = "xavier"
    seed: int = 0
    device: str = "auto"
    progress_every: int = 20  # most batches between progress reports (short epochs report about 10 times)
    augment: bool = False  # random horizontal flips and shifts of up to 2 pixels
    channels_last: bool = True  # NHWC activations: faster convolutions on CPU for the classic model
    amp: bool = False  # CUDA only: autocast to bfloat16 (float16 with loss scaling where bf16 is missing)
    snapshots: bool = True  # keep the first layer's filters and feature maps as training goes (lenet.training.snapshots)

    def __post_init__(self) -> None:
        choices = {"dataset": tuple(DATASETS), "optimizer": OPTIMIZERS, "schedule": SCHEDULES,
                   "init": INIT_SCHEMES, "device": DEVICES}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}.")
        for name in ("subset", "test_subset"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 image, or None for all (got {getattr(self, name)}).")
        for name in ("epochs", "batch_size", "progress_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 (got {getattr(self, name)}).")
        if not self.lr > 0 or not math.isfinite(self.lr):
            raise ValueError(f"lr must be a positive number (got {self.lr}).")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1) (got {self.momentum}).")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ValueError("nesterov needs the sgd optimizer and a momentum above 0.")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay cannot be negative (got {self.weight_decay}).")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1) (got {self.label_smoothing}).")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainSettings":
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Unknown TrainSettings fields: {sorted(unknown)}")
        return cls(**data)

    def replace(self, **changes) -> "TrainSettings":
        return dataclasses.replace(self, **changes)


def preset(name: str) -> tuple[LeNetConfig, TrainSettings]:
    """classic: d2l's LeNet and recipe exactly; modern: the fastest recipe we found to 90% test accuracy;
    lenet5: LeCun et al.'s 1998 network, trained with momentum and a decaying learning rate as the paper's was not."""
    if name == "classic":
        return LeNetConfig.classic(), TrainSettings()
    if name == "modern":
        return LeNetConfig.modern(), TrainSettings(
            epochs=2, batch_size=256, optimizer="sgd", lr=0.4, momentum=0.9, nesterov=True, weight_decay=5e-4,
            schedule="onecycle", init="default", channels_last=False,
        )
    if name == "lenet5":
        return LeNetConfig.lenet5(), TrainSettings(
            epochs=10, batch_size=64, optimizer="sgd", lr=0.05, momentum=0.9, schedule="cosine", init="default",
            channels_last=False,
        )
    raise ValueError(f"preset must be one of {', '.join(PRESETS)}, not {name!r}.")
