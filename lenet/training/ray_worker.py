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


class _Run:
    """One training's state in a worker: its stop event, progress points, newest finished epoch, and whether it ended."""

    def __init__(self, job: str):
        self.job, self.stop = job, threading.Event()
        self.points: list[Progress] = []
        self.epoch: FinishedEpoch | None = None
        self.ended = False


class TrainingWorker:
    """Trainings in a Ray actor, one at a time: run() trains in one thread while poll() and stop() answer in others.

    The app keeps a worker warm between trainings (torch imported, the dataset held); every call names its job, so a
    late stop or poll of one training never touches the next.
    """

    def __init__(self, threads: int):
        torch.set_num_threads(threads)  # the CPUs Ray gave this actor, as LENET_TORCH_THREADS does in the app
        self._run = _Run("")
        self._stopped: set[str] = set()  # jobs asked to stop, maybe before their run() began
        self._splits: dict[str, tuple[Split, Split]] = {}  # the dataset, by its train split's object id
        self._lock = threading.Lock()

    def where(self) -> tuple[str, int]:
        """The Ray node id and the process id this worker runs in."""
        import ray  # here, in a Ray worker, ray is always there

        return ray.get_runtime_context().get_node_id(), os.getpid()

    def run(self, job: str, config: LeNetConfig, settings: TrainSettings, splits: list, max_training_bytes: int) -> dict:
        """Train; the result is what the app cannot rebuild from the epochs: stopped, device, final weights.

        splits holds the ObjectRefs of the train and test split (in a list, so Ray hands them over unread): they are
        fetched once per worker and dataset.
        """
        current = _Run(job)
        with self._lock:
            self._run = current
            if job in self._stopped:
                self._stopped.discard(job)
                current.stop.set()
        try:
            result = train(config, settings, current.points.append, current.stop, None,
                           max_training_bytes=max_training_bytes, data=self._data(splits),
                           on_epoch=lambda rows, model, status, timeline: self._keep(current, rows, model, status,
                                                                                     timeline))
            return {"stopped": result.stopped, "device": result.device, "weights": weights_bytes(result.model),
                    "timeline": result.timeline.to_bytes() if result.timeline is not None else None,
                    "node": self.where()[0]}
        finally:
            current.ended = True

    def _data(self, splits: list) -> tuple[Split, Split]:
        import ray

        key = splits[0].hex()
        if key not in self._splits:
            self._splits = {key: tuple(ray.get(splits))}  # one dataset held at a time
        return self._splits[key]

    def _keep(self, current: _Run, rows: list[dict], model: nn.Module, status: str, timeline: Timeline | None) -> None:
        device = str(next(model.parameters()).device)
        epoch = FinishedEpoch(list(rows), weights_bytes(model), status, device,
                              timeline.to_bytes() if timeline else None)
        with self._lock:
            current.epoch = epoch

    def poll(self, job: str, points_seen: int, epochs_seen: int) -> dict:
        """Job's progress points after the first points_seen, its newest epoch if past epochs_seen, and whether its
        run() ended (read first, so that an ended run's last epoch is always in the same answer); nothing yet when
        its run() has not begun."""
        with self._lock:
            current = self._run
        ended = current.ended and current.job == job
        with self._lock:
            epoch = current.epoch if current.epoch is not None and len(current.epoch.rows) > epochs_seen else None
        node, pid = self.where()
        if current.job != job:
            return {"points": [], "epoch": None, "ended": False, "node": node, "pid": pid}
        return {"points": current.points[points_seen:], "epoch": epoch, "ended": ended, "node": node, "pid": pid}

    def stop(self, job: str) -> None:
        with self._lock:
            self._stopped.add(job)
            if self._run.job == job:
                self._run.stop.set()
