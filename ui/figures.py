"""Figures built once per server for the same inputs.

A rerun redraws every figure of a page, though a widget change usually alters one. Building a plotly figure
costs 5-60 ms of Python (plotly checks every property as it is set); `figure(build, *args)` builds it only
when these inputs are new to this server and otherwise rebuilds it from its stored dict without those
checks (about 2 ms). Every session shares the store, so a class on the same settings builds each figure once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections import OrderedDict
from typing import Any, Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch

MAX_FIGURES = 256  # about 50 kB each: a few MB of a server's memory
_store: OrderedDict[str, dict] = OrderedDict()
_lock = threading.Lock()


class Unkeyable(TypeError):
    """An input the store cannot fingerprint: that figure is simply built every time."""


def _feed(h, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().float().numpy() if value.dtype == torch.bfloat16 else value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        h.update(f"ndarray{value.dtype}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (pd.DataFrame, pd.Series)):
        names = list(value.columns) if isinstance(value, pd.DataFrame) else [value.name]
        h.update(f"{type(value).__name__}{names}".encode())
        h.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
    elif isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__}{len(value)}[".encode())
        for item in value:
            _feed(h, item)
        h.update(b"]")
    elif isinstance(value, dict):
        h.update(f"dict{len(value)}{{".encode())
        for key in sorted(value, key=repr):
            _feed(h, key)
            _feed(h, value[key])
        h.update(b"}")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        h.update(f"{type(value).__qualname__}(".encode())
        for field in dataclasses.fields(value):
            _feed(h, field.name)
            _feed(h, getattr(value, field.name))
        h.update(b")")
    elif value is None or isinstance(value, (str, bytes, bool, int, float, np.generic)):
        h.update(f"{type(value).__name__}:{value!r};".encode())
    else:
        raise Unkeyable(f"cannot fingerprint a {type(value).__name__}")


def fingerprint(build: Callable, args: tuple, kwargs: dict) -> str:
    """A key that changes whenever the function or any of its inputs (tensor values included) changes."""
    h = hashlib.blake2b(f"{build.__module__}.{build.__qualname__}".encode(), digest_size=20)
    _feed(h, args)
    _feed(h, kwargs)
    return h.hexdigest()


def figure(build: Callable[..., go.Figure], *args, **kwargs) -> go.Figure:
    """build(*args, **kwargs), built once per server for these inputs."""
    try:
        key = fingerprint(build, args, kwargs)
    except Unkeyable:
        return build(*args, **kwargs)
    with _lock:
        spec = _store.get(key)
        if spec is not None:
            _store.move_to_end(key)
    if spec is not None:
        return go.Figure(spec, _validate=False)  # checked when it was first built
    fig = build(*args, **kwargs)
    with _lock:
        _store[key] = fig.to_dict()
        while len(_store) > MAX_FIGURES:
            _store.popitem(last=False)
    return fig
