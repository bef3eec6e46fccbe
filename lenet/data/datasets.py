"""Finds Fashion-MNIST (or MNIST) and keeps each split in memory once, as uint8 tensors.

torchvision reads the IDX files once; the tensors are then kept in data/tensors/ so that later processes
load them in a blink without importing torchvision (which pulls in torch._dynamo: ~160 MB and seconds).
"""

from __future__ import annotations

import functools
import gzip
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from .atomic import write_atomic

PROJECT_DATA_DIR = Path(__file__).resolve().parents[2] / "data"
DEBIAN_DIRS = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist"), "mnist": Path("/usr/share/datasets/mnist")}
DATASETS = {"fashion-mnist": "FashionMNIST", "mnist": "MNIST"}  # torchvision's class, and its folder name
IDX_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
CLASS_NAMES = {
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "mnist": tuple(str(d) for d in range(10)),
}
FIX_COMMAND = {
    "fashion-mnist": "sudo apt-get install dataset-fashion-mnist",
    "mnist": "put the MNIST idx files in data/MNIST/raw/, or download them once with "
             "python -m lenet.train --dataset mnist --download (needs the internet)",
}


class DatasetNotFoundError(FileNotFoundError):
    """Raised when a dataset is in none of the places we look (and was not, or could not be, downloaded)."""


@dataclass(frozen=True)
class Split:
    """One split of a dataset, held in memory: images N x H x W (uint8) and labels N (int64)."""

    name: str
    train: bool
    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.labels)


def candidate_dirs(name: str = "fashion-mnist", data_dir: Path | None = None) -> list[Path]:
    """Where we look, in order: data_dir (the app passes $LENET_DATA_DIR), the project's data/ folder, Debian's."""
    dirs = [Path(data_dir)] if data_dir else []
    return dirs + [PROJECT_DATA_DIR, DEBIAN_DIRS[name]]


def _dataset_class(name: str):
    """torchvision's dataset class for name, imported only when the IDX files must be read."""
    from torchvision import datasets

    return getattr(datasets, DATASETS[name])


def _raw_files_in(folder: Path, name: str) -> list[Path] | None:
    """The four idx files (plain or .gz) directly in folder, or in torchvision's <Class>/raw layout."""
    for where in (folder, folder / DATASETS[name] / "raw"):
        found = []
        for file in IDX_FILES[True] + IDX_FILES[False]:
            plain = where / file
            found.append(plain if plain.exists() else plain.with_name(plain.name + ".gz"))
        if all(f.exists() for f in found):
            return found
    return None


def _torchvision_root(name: str, cache: Path, data_dir: Path | None = None) -> tuple[Path, str] | None:
    """A root that torchvision's dataset class can read, unpacking .gz files into cache when needed."""
    for folder in candidate_dirs(name, data_dir):
        files = _raw_files_in(folder, name)
        if files is None:
            continue
        raw = cache / DATASETS[name] / "raw"
        if all(f.parent == raw and f.suffix != ".gz" for f in files):
            return cache, str(folder)
        raw.mkdir(parents=True, exist_ok=True)
        for f in files:
            target = raw / f.name.removesuffix(".gz")
            if not target.exists():
                tmp = raw / (target.name + ".tmp")
                opener = gzip.open if f.suffix == ".gz" else open
                with opener(f, "rb") as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                tmp.replace(target)
        return cache, str(folder)
    return None


def load_split(name: str = "fashion-mnist", train: bool = True, download: bool = False,
               data_dir: Path | None = None) -> Split:
    """One split of Fashion-MNIST or MNIST as uint8 tensors, read once per process.

    data_dir is looked in first. Only with download=True does torchvision fetch a missing dataset from the
    internet (the app never asks). Raises DatasetNotFoundError listing where it looked and how to fix it.
    """
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {sorted(DATASETS)}, not {name!r}.")
    return _load_split(name, bool(train), bool(download), Path(data_dir) if data_dir else None)


@functools.cache  # keyed by plain positional values, so every way of asking shares one copy of the tensors
def _load_split(name: str, train: bool, download: bool, data_dir: Path | None) -> Split:
    cache = PROJECT_DATA_DIR
    found = _torchvision_root(name, cache, data_dir)
    if found is None and download:
        try:
            _dataset_class(name)(str(cache), train=train, download=True)
            found = (cache, "downloaded by torchvision")
        except Exception:  # no network, a proxy, a half-written file: all mean "not here"
            found = None
    if found is None:
        looked = "\n".join(f"  - {d}" for d in candidate_dirs(name, data_dir))
        tried = "torchvision could not download it" if download else "no download was tried"
        raise DatasetNotFoundError(f"{name} was not found. Looked in:\n{looked}\nand {tried}.\nFix: {FIX_COMMAND[name]}")
    root, source = found
    images, labels = _read_tensors(name, train, root)
    return Split(name, train, images, labels, CLASS_NAMES[name], source)


def _read_tensors(name: str, train: bool, root: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The split's images and labels: from data/tensors/ when that copy is of these very files, else via torchvision."""
    files = [root / DATASETS[name] / "raw" / f for f in IDX_FILES[train]]
    stats = [f.stat() for f in files]
    stamp = [[f.name, st.st_size, st.st_mtime_ns] for f, st in zip(files, stats)]
    cached = PROJECT_DATA_DIR / "tensors" / f"{name}-{'train' if train else 'test'}.pt"
    try:
        saved = torch.load(cached, weights_only=True)
        if saved["stamp"] == stamp and _looks_like_split(saved["images"], saved["labels"], name, stamp):
            return saved["images"], saved["labels"]
    except Exception:  # missing, damaged or from other files: read the IDX files again
        pass
    ds = _dataset_class(name)(str(root), train=train, download=False)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        torch.save({"images": ds.data, "labels": ds.targets, "stamp": stamp}, buffer)
        write_atomic(cached, buffer.getvalue())
    except OSError:  # a read-only folder only costs the next process a slower load
        pass
    return ds.data, ds.targets


def _looks_like_split(images, labels, name: str, stamp: list) -> bool:
    """Whether a tensor copy could be what its IDX files hold: as many 28x28 uint8 images and int64 labels as the
    files' sizes say (16- and 8-byte headers), every label one of the dataset's classes."""
    if not (isinstance(images, torch.Tensor) and isinstance(labels, torch.Tensor) and images.dtype == torch.uint8
            and labels.dtype == torch.int64 and images.ndim == 3 and tuple(images.shape[1:]) == (28, 28)):
        return False
    (_, images_bytes, _), (_, labels_bytes, _) = stamp
    n = labels_bytes - 8
    return (labels.shape == (n,) and images.shape[0] == n and images_bytes == 16 + n * 28 * 28
            and (n == 0 or 0 <= int(labels.min()) <= int(labels.max()) < len(CLASS_NAMES[name])))


def to_batch(images: torch.Tensor) -> torch.Tensor:
    """N x H x W uint8 (or one H x W image), or N x C x H x W floats in [0, 1] -> N x C x H x W floats."""
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"images must be a torch tensor, not {type(images).__name__}.")
    if images.dtype == torch.uint8:
        if images.dim() == 2:
            images = images[None]
        if images.dim() == 3:
            images = images[:, None]
        images = images.float() / 255
    elif not images.is_floating_point():
        raise ValueError(f"images must be uint8 pixels or floats in [0, 1], not {images.dtype}.")
    if images.dim() != 4:
        raise ValueError(
            f"images have shape {tuple(images.shape)}: use N x H x W uint8 or N x C x H x W floats."
        )
    if not ((images >= 0) & (images <= 1)).all():  # written so that NaN fails too
        raise ValueError("float images must lie in [0, 1]; divide uint8 pixels by 255.")
    return images


def data_source(name: str = "fashion-mnist", data_dir: Path | None = None) -> str | None:
    """The first folder that holds the dataset's files, or None when it would need a download."""
    return next((str(d) for d in candidate_dirs(name, data_dir) if _raw_files_in(d, name)), None)


def available_datasets(data_dir: Path | None = None) -> list[str]:
    """The datasets that can be loaded right now without a download."""
    return [name for name in DATASETS if data_source(name, data_dir)]


def torchvision_dataset(name: str = "fashion-mnist", train: bool = True, transform=None, data_dir: Path | None = None):
    """torchvision's own dataset object over the same files as load_split (the textbook loop in lenet.bench)."""
    load_split(name, train, data_dir=data_dir)  # finds the files (no download), or raises DatasetNotFoundError
    root, _ = _torchvision_root(name, PROJECT_DATA_DIR, data_dir) or (PROJECT_DATA_DIR, "downloaded")
    return _dataset_class(name)(str(root), train=train, transform=transform, download=False)
