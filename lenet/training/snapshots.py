"""The training timeline: the first conv layer's filters, and its feature maps of a few fixed test images,
kept before training, a few times inside the first epoch (where most change happens) and after every epoch.

A run folder keeps them in one small file, snapshots.pt (float16), read back with torch.load(weights_only=True)
and checked against the run's config.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..core.model import LeNetConfig, plan_layers
from ..data import Split, to_batch

SNAPSHOT_FILE = "snapshots.pt"
LAYER = "conv1"  # build_lenet's name for the first conv layer
FIRST_EPOCH_FRACTIONS = (1 / 8, 1 / 4, 1 / 2)
IMAGES = 4  # fixed test images whose feature maps are kept
MAX_MAP_CHANNELS = 16  # feature maps kept per image: a wide first layer would make big files
MAX_EPOCH_SNAPSHOTS = 100  # longer runs keep every k-th epoch
MAX_SNAPSHOTS = 1 + len(FIRST_EPOCH_FRACTIONS) + MAX_EPOCH_SNAPSHOTS + 1
MAX_SNAPSHOT_BYTES = 50_000_000  # a 10-epoch classic run keeps about 0.5 MB
KEYS = ("image_indices", "labels", "images", "epochs", "train_loss", "train_acc", "filters", "maps")


def first_epoch_batches(batches: int) -> list[int]:
    """After how many batches of epoch 1 to take a snapshot: 1/8, 1/4 and 1/2 of it, each once, never its end."""
    return sorted({max(1, round(batches * f)) for f in FIRST_EPOCH_FRACTIONS} - {batches})


def snapshot_epochs(epochs: int) -> set[int]:
    """The epochs after which to take a snapshot: every one, or every k-th (and the last) in runs of over 100."""
    step = math.ceil(epochs / MAX_EPOCH_SNAPSHOTS)
    return set(range(step, epochs + 1, step)) | {epochs}


def fixed_images(labels: torch.Tensor, n: int = IMAGES) -> torch.Tensor:
    """Indices of the first image of each of the first n classes met in a split: a varied set that never changes."""
    firsts: dict[int, int] = {}
    for i, label in enumerate(labels.tolist()):
        firsts.setdefault(label, i)
        if len(firsts) == n:
            break
    return torch.tensor(list(firsts.values()), dtype=torch.long)


@dataclass
class Timeline:
    """Snapshots of the first conv layer, oldest first; the i-th entry of each list belongs to snapshot i."""

    image_indices: torch.Tensor  # n indices into the test split
    labels: torch.Tensor  # n classes
    images: torch.Tensor  # n x H x W uint8: the images the feature maps are of
    epochs: list[float] = field(default_factory=list)  # 0 before training, 0.125 an eighth into epoch 1, 1 after it
    train_loss: list[float] = field(default_factory=list)  # running means over the epoch so far (NaN at 0)
    train_acc: list[float] = field(default_factory=list)
    filters: list[torch.Tensor] = field(default_factory=list)  # c_out x c_in x k x k each, float16
    maps: list[torch.Tensor] = field(default_factory=list)  # n x channels x H' x W' each, float16

    @classmethod
    def of_split(cls, test: Split, n: int = IMAGES) -> "Timeline":
        """An empty timeline over the split's fixed images."""
        indices = fixed_images(test.labels, n)
        return cls(indices, test.labels[indices].clone(), test.images[indices].clone())

    def __len__(self) -> int:
        return len(self.epochs)

    @torch.no_grad()
    def take(self, model: nn.Module, epoch: float, train_loss: float = math.nan, train_acc: float = math.nan) -> None:
        """Keep the model's first-layer filters and feature maps now (model: as built by build_lenet)."""
        conv = getattr(model, LAYER)
        x = to_batch(self.images).to(conv.weight.device)
        upto = list(dict(model.named_children())).index(LAYER) + 1  # normalize, and LeNet-5's pad, come first
        maps = model[:upto](x)[:, :MAX_MAP_CHANNELS]
        self.filters.append(conv.weight.detach().to("cpu", torch.float16).contiguous())
        self.maps.append(maps.to("cpu", torch.float16).contiguous())
        self.epochs.append(float(epoch))
        self.train_loss.append(float(train_loss))
        self.train_acc.append(float(train_acc))

    def to_bytes(self) -> bytes:
        """The snapshots.pt file: plain tensors only, so torch.load(weights_only=True) reads it."""
        buffer = io.BytesIO()
        torch.save({
            "image_indices": self.image_indices, "labels": self.labels, "images": self.images,
            "epochs": torch.tensor(self.epochs, dtype=torch.float64),
            "train_loss": torch.tensor(self.train_loss, dtype=torch.float32),
            "train_acc": torch.tensor(self.train_acc, dtype=torch.float32),
            "filters": torch.stack(self.filters), "maps": torch.stack(self.maps),
        }, buffer)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, config: LeNetConfig, where: str = SNAPSHOT_FILE) -> "Timeline":
        """Read a snapshots.pt file back, refusing anything that is not what this config's training would write."""
        if len(data) > MAX_SNAPSHOT_BYTES:
            raise ValueError(f"{where} is {len(data) / 1e6:.0f} MB; a snapshot file may be at most "
                             f"{MAX_SNAPSHOT_BYTES / 1e6:.0f} MB.")
        try:
            saved = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception:  # torch raises many kinds (UnpicklingError, RuntimeError, EOFError) for a bad file
            raise ValueError(f"{where} is not a readable snapshot file (a file of tensors written by torch.save).") \
                from None
        if not isinstance(saved, dict) or sorted(saved) != sorted(KEYS):
            raise ValueError(f"{where} must hold exactly {', '.join(KEYS)}.")
        _check_shapes(saved, config, where)
        return cls(saved["image_indices"], saved["labels"], saved["images"], saved["epochs"].tolist(),
                   saved["train_loss"].tolist(), saved["train_acc"].tolist(), list(saved["filters"]),
                   list(saved["maps"]))


def _expected(saved: dict, config: LeNetConfig) -> dict[str, tuple[torch.dtype, tuple[int, ...]]]:
    """What each tensor of a snapshot file must be: dtype and shape."""
    s, n = len(saved["epochs"]), len(saved["labels"])
    c_out, h, w = next(spec for spec in plan_layers(config, batch_size=None) if spec.name == LAYER).out_shape
    k, size = config.kernel_sizes[0], config.image_size
    return {
        "image_indices": (torch.int64, (n,)), "labels": (torch.int64, (n,)), "images": (torch.uint8, (n, size, size)),
        "epochs": (torch.float64, (s,)), "train_loss": (torch.float32, (s,)), "train_acc": (torch.float32, (s,)),
        "filters": (torch.float16, (s, c_out, config.in_channels, k, k)),
        "maps": (torch.float16, (s, n, min(c_out, MAX_MAP_CHANNELS), h, w)),
    }


def _check_shapes(saved: dict, config: LeNetConfig, where: str) -> None:
    for key in ("epochs", "labels"):
        if not isinstance(saved[key], torch.Tensor) or saved[key].dim() != 1:
            raise ValueError(f"{where}: {key} must be a 1-D tensor.")
    if not 1 <= len(saved["epochs"]) <= MAX_SNAPSHOTS or not 1 <= len(saved["labels"]) <= IMAGES:
        raise ValueError(f"{where} must hold 1 to {MAX_SNAPSHOTS} snapshots of 1 to {IMAGES} images.")
    for key, (dtype, shape) in _expected(saved, config).items():
        value = saved[key]
        if not isinstance(value, torch.Tensor) or value.dtype != dtype or tuple(value.shape) != shape:
            found = f"{value.dtype} {tuple(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"{where}: {key} should be {dtype} {shape} for this run's model, not {found}.")
    epochs = saved["epochs"]
    if not torch.isfinite(epochs).all() or (epochs < 0).any() or (epochs.diff() <= 0).any():
        raise ValueError(f"{where}: the snapshot epochs must be increasing numbers from 0 up.")
    if (saved["labels"] < 0).any() or (saved["labels"] >= config.num_classes).any() or (saved["image_indices"] < 0).any():
        raise ValueError(f"{where}: image labels must be classes of the model, and indices not negative.")
