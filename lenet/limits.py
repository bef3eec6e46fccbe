"""Caps for a shared or hosted app: training-set size, epochs, and trainings running at once.

Each cap is read from an environment variable or, on Streamlit, from a root-level key of the same
name in `.streamlit/secrets.toml` (or the Secrets box of Streamlit Community Cloud); the environment
wins. Unset, the app allows everything it offers:

    LENET_MAX_TRAIN_IMAGES = 10000   # at most this many training images (default 60000: all)
    LENET_MAX_EPOCHS = 5             # at most this many epochs a training (default 50)
    LENET_MAX_TRAININGS = 1          # trainings running at once on the server (default 2)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping


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


def _whole_number(name: str, value: Any, floor: int) -> int:
    text = str(value).strip().replace("_", "")
    if isinstance(value, bool) or not text.isdigit() or int(text) < floor:
        raise ValueError(f"{name} must be a whole number of at least {floor:,}, not {value!r}.")
    return int(text)


def read_limits(secrets: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Limits:
    """The caps set in `environ` (default os.environ), else in `secrets`, else the defaults."""
    environ = os.environ if environ is None else environ
    secrets = secrets or {}
    values = {}
    for field, name in VARIABLES.items():
        value = environ.get(name) or secrets.get(name)
        if value is not None:
            values[field] = _whole_number(name, value, FLOORS[field])
    return Limits(**values)
