"""What runs inside a Ray worker process: one training, with its progress and finished epochs kept for the app to poll.

Plain Python (no ray import): lenet.training.cluster wraps TrainingWorker with ray.remote. The worker never writes
to disk; each finished epoch's rows, weights (state_dict bytes) and snapshots wait here until the app fetches them
and writes the run folder itself.
"""

from __future__ import annotations

import io
import os
import threading
from dataclasses import dataclass

import torch
from torch import nn

from ..core.model import LeNetConfig, build_lenet
from ..data import Split
from .engine import Progress, train
from .settings import TrainSettings
from .snapshots import Timeline


@dataclass(frozen=True)
class FinishedEpoch:
    """One finished epoch as it travels to the app: every row so far, the weights and the snapshots after it."""

    rows: list[dict]
    weights: bytes  # torch.save of the state_dict, on the CPU
    status: str  # "running", or "finished" after the last epoch
    device: str  # where the worker trains: cpu, cuda:0...
    timeline: bytes | None  # Timeline.to_bytes(), when the training keeps snapshots


def weights_bytes(model: nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    return buffer.getvalue()


def model_from_bytes(config: LeNetConfig, weights: bytes) -> nn.Module:
    """The model built from config with the weights a worker sent (read with weights_only=True: no code runs)."""
    model = build_lenet(config)
    model.load_state_dict(torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True))
    return model.eval()


class TrainingWorker:
    """One training in a Ray actor: run() trains in one thread while poll() and stop() answer in others."""

    def __init__(self, threads: int):
        torch.set_num_threads(threads)  # the CPUs Ray gave this actor, as LENET_TORCH_THREADS does in the app
        self._stop = threading.Event()
        self._points: list[Progress] = []
        self._epoch: FinishedEpoch | None = None
        self._ended = False
        self._lock = threading.Lock()

    def where(self) -> tuple[str, int]:
        """The Ray node id and the process id this training runs in."""
        import ray  # here, in a Ray worker, ray is always there

        return ray.get_runtime_context().get_node_id(), os.getpid()

    def run(self, config: LeNetConfig, settings: TrainSettings, train_split: Split, test_split: Split,
            max_training_bytes: int) -> dict:
        """Train; the result is what the app cannot rebuild from the epochs: stopped, device, final weights."""
        try:
            result = train(config, settings, self._points.append, self._stop, None,
                           max_training_bytes=max_training_bytes, data=(train_split, test_split),
                           on_epoch=self._keep)
            return {"stopped": result.stopped, "device": result.device, "weights": weights_bytes(result.model),
                    "timeline": result.timeline.to_bytes() if result.timeline is not None else None,
                    "node": self.where()[0]}
        finally:
            self._ended = True

    def _keep(self, rows: list[dict], model: nn.Module, status: str, timeline: Timeline | None) -> None:
        device = str(next(model.parameters()).device)
        epoch = FinishedEpoch(list(rows), weights_bytes(model), status, device,
                              timeline.to_bytes() if timeline else None)
        with self._lock:
            self._epoch = epoch

    def poll(self, points_seen: int, epochs_seen: int) -> dict:
        """Progress points after the first points_seen, the newest epoch if it is past epochs_seen, and whether
        run() has ended (read first, so that an ended run's last epoch is always in the same answer)."""
        ended = self._ended
        with self._lock:
            epoch = self._epoch if self._epoch is not None and len(self._epoch.rows) > epochs_seen else None
        node, pid = self.where()
        return {"points": self._points[points_seen:], "epoch": epoch, "ended": ended, "node": node, "pid": pid}

    def stop(self) -> None:
        self._stop.set()
