"""Every setting LeNet Lab takes from its surroundings, read here and nowhere else, then passed down.

The three caps for a shared or hosted app are environment variables or, on Streamlit, root-level keys of
the same name in `.streamlit/secrets.toml` (or the Secrets box of Streamlit Community Cloud); the environment
wins. Unset, the app allows everything it offers:

    LENET_MAX_TRAIN_IMAGES = 10000   # at most this many training images (default 60000: all)
    LENET_MAX_EPOCHS = 5             # at most this many epochs a training (default 50)
    LENET_MAX_TRAININGS = 1          # trainings running at once on the server (default 2)

Trainings run in the app's own process unless LENET_RAY_ADDRESS names a Ray cluster (`auto`, `host:6379` or
`ray://host:10001`); LENET_RAY_CPUS (default 1) and LENET_RAY_GPUS (default 0) are what one training takes there,
and LENET_MAX_QUEUE (default 30) is how many trainings may wait for a free slot. These four, like the caps, may
also be set in the secrets.

The others are environment variables only: LENET_MAX_TRAINING_MB (memory one training may need, default
2000), LENET_TORCH_THREADS (torch's threads in the app, default 1), LENET_RUNS_DIR (default runs/),
LENET_REFERENCE_RUNS_DIR (trained runs listed after the user's, read-only; default reference_runs/, none: none),
LENET_DATA_DIR (looked in first for the datasets) and LENET_CHROMIUM (default /usr/bin/chromium).
"""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .core.model import DEFAULT_MAX_TRAINING_BYTES
from .training.folders import REFERENCE_RUNS_DIR
from .training.runs import PROJECT_RUNS_DIR


@dataclass(frozen=True)
class Limits:
    max_train_images: int = 60_000
    max_epochs: int = 50
    max_trainings: int = 2


VARIABLES = {
    "max_train_images": "LENET_MAX_TRAIN_IMAGES",
    "max_epochs": "LENET_MAX_EPOCHS",
    "max_trainings": "LENET_MAX_TRAININGS",
}
FLOORS = {"max_train_images": 1000, "max_epochs": 1, "max_trainings": 1}  # below these nothing could be trained


@dataclass(frozen=True)
class Environment:
    """What this process was told: the caps, the memory a training may need, torch's threads, and where things are."""

    limits: Limits = field(default_factory=Limits)
    max_training_bytes: int = DEFAULT_MAX_TRAINING_BYTES
    torch_threads: int = 1
    runs_dir: Path = PROJECT_RUNS_DIR
    reference_runs_dir: Path | None = REFERENCE_RUNS_DIR  # runs shipped with the app, listed read-only; None: none
    data_dir: Path | None = None
    chromium: str = "/usr/bin/chromium"
    ray_address: str | None = None  # a Ray cluster to run trainings on; None: in this process
    ray_cpus: int = 1  # CPUs one training takes on the Ray cluster (and its torch threads there)
    ray_gpus: float = 0.0  # GPUs one training takes on the Ray cluster (a fraction shares one)
    max_queued: int = 30  # trainings that may wait for a free slot, all sessions together


def _whole_number(name: str, value: Any, floor: int) -> int:
    text = str(value).strip().replace("_", "")
    if isinstance(value, bool) or not text.isdigit() or int(text) < floor:
        raise ValueError(f"{name} must be a whole number of at least {floor:,}, not {value!r}.")
    return int(text)


def _gpus(value: Any) -> float:
    try:
        gpus = float(str(value).strip())
    except ValueError:
        gpus = math.nan
    if isinstance(value, bool) or not 0 <= gpus <= 64:  # NaN fails both comparisons
        raise ValueError(f"LENET_RAY_GPUS must be a number of GPUs from 0 to 64 (0.5 shares one), not {value!r}.")
    return gpus


def _setting(name: str, secrets: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
    """A value from the environment, else from the secrets; None when neither sets it (or sets it empty)."""
    value = environ.get(name) or secrets.get(name)
    return None if value is None or str(value).strip() == "" else value


def _cluster(secrets: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The Ray cluster and the queue, from the environment or the secrets."""
    values: dict[str, Any] = {}
    if (address := _setting("LENET_RAY_ADDRESS", secrets, environ)) is not None:
        values["ray_address"] = str(address).strip()
    if (cpus := _setting("LENET_RAY_CPUS", secrets, environ)) is not None:
        values["ray_cpus"] = _whole_number("LENET_RAY_CPUS", cpus, 1)
    if (gpus := _setting("LENET_RAY_GPUS", secrets, environ)) is not None:
        values["ray_gpus"] = _gpus(gpus)
    if (queued := _setting("LENET_MAX_QUEUE", secrets, environ)) is not None:
        values["max_queued"] = _whole_number("LENET_MAX_QUEUE", queued, 1)
    return values


def read_limits(secrets: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Limits:
    """The caps set in `environ` (default os.environ), else in `secrets`, else the defaults."""
    environ = os.environ if environ is None else environ
    secrets = secrets or {}
    values = {}
    for field_name, name in VARIABLES.items():
        value = environ.get(name) or secrets.get(name)
        if value is not None:
            values[field_name] = _whole_number(name, value, FLOORS[field_name])
    return Limits(**values)


def read_environment(secrets: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Environment:
    """Everything from `environ` (default os.environ) and, for the caps and the cluster, `secrets`; a bad value is a
    ValueError."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {"limits": read_limits(secrets, environ), **_cluster(secrets or {}, environ)}
    if environ.get("LENET_MAX_TRAINING_MB"):
        values["max_training_bytes"] = _whole_number("LENET_MAX_TRAINING_MB", environ["LENET_MAX_TRAINING_MB"], 1) * 10**6
    if environ.get("LENET_TORCH_THREADS"):
        values["torch_threads"] = _whole_number("LENET_TORCH_THREADS", environ["LENET_TORCH_THREADS"], 1)
    if environ.get("LENET_RUNS_DIR"):
        values["runs_dir"] = Path(environ["LENET_RUNS_DIR"])
    if environ.get("LENET_REFERENCE_RUNS_DIR"):
        folder = environ["LENET_REFERENCE_RUNS_DIR"]
        values["reference_runs_dir"] = None if folder.strip().lower() == "none" else Path(folder)
    if environ.get("LENET_DATA_DIR"):
        values["data_dir"] = Path(environ["LENET_DATA_DIR"])
    if environ.get("LENET_CHROMIUM"):
        values["chromium"] = environ["LENET_CHROMIUM"]
    return Environment(**values)


def use_new_ray_token() -> None:
    """Token authentication for a Ray head this process starts itself (lenet.cluster_bench): a fresh token in this
    process's environment, which the head (a child) inherits and this process's own connection uses."""
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
