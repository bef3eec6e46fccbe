"""What each file of a run may hold, whether it comes from a run folder or a run zip: size caps, bounded reads,
and the checks that turn a bad file into a ValueError with one readable sentence."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from ..core.fields import check_field_types
from ..core.model import DEFAULT_MAX_TRAINING_BYTES, LeNetConfig, plan_layers
from ..core.units import human_bytes
from ..data import CLASS_NAMES
from .settings import TrainSettings

METRIC_COLUMNS = ("epoch", "train_loss", "train_acc", "test_acc", "images_per_s", "seconds")
MAX_NAME_CHARS = 100
# A run's config.json is about 1.2 kB whatever its model (a 100-character name escaped to \uXXXX adds 1.2 kB).
MAX_CONFIG_BYTES = 64_000
# metrics.csv holds one row of about 110 bytes (200 at most) per epoch: 6 kB for the 50 epochs the app allows
# unless told otherwise; this cap leaves room for runs of 2,500 epochs and more from the command line.
MAX_METRICS_BYTES = 500_000
DATASET_IMAGES = (1, 28)  # channels and height (= width) of the images of every dataset in lenet.data.DATASETS


def printable(text: str, limit: int = 300) -> str:
    """text with each character that cannot be shown (control codes, lone surrogates) as '?', cut at limit."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def clean_name(value: object, fallback: str) -> str:
    """A run name fit to show and store: text without control codes or lone surrogates, one space between words."""
    text = value if isinstance(value, str) else ""
    text = " ".join("".join(ch if ch.isprintable() or ch == "\u200d" else " " for ch in text).split())
    return text[:MAX_NAME_CHARS].strip() or fallback


def too_large(where: str, cap: int) -> str:
    return f"{where} is larger than {human_bytes(cap)}, the most it can be for this run."


def read_capped(path: Path, cap: int, where: str | None = None) -> bytes:
    """The file's bytes, reading at most cap + 1 of them: a larger file is a ValueError, never read whole."""
    path, where = Path(path), where or str(path)
    try:
        if not path.exists():
            raise ValueError(f"{path.parent} has no {path.name}.")
        if not path.is_file():  # a folder, a device, or a pipe whose open would wait for a writer forever
            raise ValueError(f"{where} is not a file.")
        with open(path, "rb") as f:
            data = f.read(cap + 1)
    except OSError as e:
        raise ValueError(f"{where} cannot be read ({e.strerror or 'input/output error'}).") from None
    if len(data) > cap:
        raise ValueError(too_large(where, cap))
    return data


def weights_cap(model: nn.Module) -> int:
    """The most bytes model.pt may take for this model: its tensors, plus what torch.save adds around each."""
    state = model.state_dict()
    return sum(t.numel() * t.element_size() for t in state.values()) + 4096 * len(state) + 65_536


def parse_json(data: bytes, where: str) -> dict:
    """config.json's contents: a dict with the 'config' and 'settings' sections of a run."""
    try:
        info = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{where} is not readable JSON: it is not UTF-8 text.") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{where} is not readable JSON (it breaks off at line {e.lineno}, column {e.colno}).") \
            from None
    except (ValueError, RecursionError):  # RecursionError: [[[[... too deep; ValueError: a 5,000-digit number
        raise ValueError(f"{where} is not readable JSON: it is nested too deeply or holds a number too long.") from None
    if not (isinstance(info, dict) and isinstance(info.get("config"), dict) and isinstance(info.get("settings"), dict)):
        raise ValueError(f"{where} lacks the 'config' and 'settings' sections of a run.")
    return info


def _check_dataset(config: LeNetConfig, settings: TrainSettings) -> None:
    """Refuse a model that could not take the images of its run's dataset, or give one score per class."""
    channels, size = DATASET_IMAGES
    if (config.in_channels, config.image_size) != (channels, size):
        raise ValueError(f"the model takes {config.in_channels}-channel {config.image_size}x{config.image_size} "
                         f"images, but {settings.dataset} has {channels}-channel {size}x{size} ones.")
    classes = len(CLASS_NAMES[settings.dataset])
    if config.num_classes != classes:
        raise ValueError(f"the model has {config.num_classes} outputs, but {settings.dataset} has {classes} classes.")


def parse_info(info: dict, where: str,
               max_training_bytes: int = DEFAULT_MAX_TRAINING_BYTES) -> tuple[LeNetConfig, TrainSettings]:
    """The model config and training settings of config.json's contents, checked against the run's dataset and
    against the memory a training of its model could need (at one image a batch) on this server."""
    try:
        config = LeNetConfig.from_dict(info["config"])
        check_field_types(TrainSettings, info["settings"])
        settings = TrainSettings.from_dict(info["settings"])
        plan_layers(config, 1, max_training_bytes)
        _check_dataset(config, settings)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where} does not describe a valid run: {printable(str(e), 240)}") from None
    return config, settings


def parse_metrics(data: bytes, where: str) -> pd.DataFrame:
    """metrics.csv's table: one row of numbers per finished epoch."""
    try:
        text = data.decode("utf-8")
        history = pd.read_csv(io.StringIO(text)) if text.strip() else pd.DataFrame(columns=METRIC_COLUMNS)
    except (ValueError, OverflowError):  # UnicodeDecodeError and pandas' ParserError are ValueErrors
        raise ValueError(f"{where} is not a readable CSV table of UTF-8 text.") from None
    missing = [c for c in METRIC_COLUMNS if c not in history.columns]
    if missing:
        raise ValueError(f"{where} lacks the columns {missing}.")
    words = [c for c in METRIC_COLUMNS if len(history) and not pd.api.types.is_numeric_dtype(history[c])]
    if words:
        raise ValueError(f"{where} has values that are not numbers in {words}.")
    return history


def _mismatch(state: object, expected: dict[str, torch.Tensor]) -> str | None:
    """How a loaded state_dict differs from the one the model needs (names, dtypes, shapes), or None."""
    if not isinstance(state, dict):
        return f"it holds a {type(state).__name__}, not a state_dict"
    if not all(isinstance(k, str) for k in state):
        return "it holds an entry whose name is not text"
    missing, extra = [k for k in expected if k not in state], [k for k in state if k not in expected]
    if missing or extra:
        words = [f"lacks {', '.join(missing[:3])}" if missing else "", f"has {', '.join(extra[:3])}" if extra else ""]
        return printable(f"it {' and '.join(w for w in words if w)}", 200)
    for name, want in expected.items():
        got = state[name]
        if not isinstance(got, torch.Tensor) or got.layout != torch.strided or got.dtype != want.dtype \
                or got.shape != want.shape:
            found = f"{got.dtype} {tuple(got.shape)}" if isinstance(got, torch.Tensor) else type(got).__name__
            return f"{name} is {found} in the file but {want.dtype} {tuple(want.shape)} in the model"
    return None


def load_weights_into(model: nn.Module, data: bytes, where: str) -> nn.Module:
    """model with the weights of a model.pt file, which must hold exactly the tensors the model has."""
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception:  # torch raises many kinds (UnpicklingError, RuntimeError, EOFError) for a bad file
        raise ValueError(f"{where} is not a readable PyTorch state_dict (a file of tensors written by torch.save).") \
            from None
    problem = _mismatch(state, model.state_dict())
    if problem:
        raise ValueError(f"{where} does not match config.json: {problem}.")
    try:  # a plain dict, so the file's _metadata (which torch would trust) is left behind
        model.load_state_dict(dict(state))
    except (RuntimeError, TypeError, ValueError, AttributeError, KeyError):
        raise ValueError(f"{where} is not a LeNet checkpoint that matches config.json.") from None
    return model
