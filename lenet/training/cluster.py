"""Trainings on a Ray cluster: connect once, then run each training in an actor on a worker.

Ray is optional: it is imported only by connect_ray. The dataset travels once per app process through Ray's
object store (the uint8 tensors); each training runs in a TrainingWorker actor that takes cpus_per_training CPUs
(and gpus_per_training GPUs), kept warm for the next training (lenet.training.ray_pool); the app polls it a few
times a second for progress and finished epochs and writes the run folder itself with save_run, exactly as a local
training does. A worker that dies leaves every finished epoch saved, and the job says why it failed.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from ..core.model import DEFAULT_MAX_TRAINING_BYTES, LeNetConfig, plan_layers
from ..data import load_split
from .engine import Progress, TrainResult, make_model, save_epoch
from .folders import claim_run_dir, release_run_dir
from .ray_pool import forget_pools, worker_pool
from .ray_worker import FinishedEpoch, model_from_bytes
from .settings import HISTORY_COLUMNS, TrainSettings
from .snapshots import Timeline

POLL_S = 0.2  # how often the app asks a worker for news
STOP_S = 1.0  # a stopped training whose worker has not answered by then (it never started) is given up
CONNECT_S = 5.0  # how long the cluster may take to answer
ADDRESS = re.compile(r"(?:ray://)?(?P<host>\[[0-9a-fA-F:]+\]|[\w.-]+):(?P<port>\d{1,5})")
_connected: dict[str, str] = {}  # this process's Ray connection: {"address": ...}
_datasets: dict[tuple, tuple[Any, Any]] = {}  # (address, dataset, data_dir) -> the splits' ObjectRefs
_lock = threading.Lock()


class ClusterUnavailable(ValueError):
    """Raised when Ray is not installed or the cluster does not answer; the message is one sentence."""


class WorkerDiedError(RuntimeError):
    """Raised when the Ray worker running a training died; its finished epochs are saved."""


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ClusterUnavailable("Ray is not installed here (pip install -r requirements-cluster.txt).") from None
    return ray


def _check_reachable(address: str, timeout: float) -> None:
    """Refuse an address that is not auto, host:port or ray://host:port, or where nothing answers."""
    if address == "auto":
        return
    match = ADDRESS.fullmatch(address)
    if match is None:
        raise ClusterUnavailable(f"A Ray address must be auto, host:port or ray://host:port, not {address!r}.")
    try:
        socket.create_connection((match["host"].strip("[]"), int(match["port"])), timeout).close()
    except (OSError, ValueError, OverflowError):
        raise ClusterUnavailable(f"No Ray cluster answers at {address} (within {timeout:.0f} s).") from None


def _connect(ray, address: str) -> None:
    """ray.init once per process; a second address in the same process is refused."""
    with _lock:
        if _connected.get("address") == address and ray.is_initialized():
            return
        if ray.is_initialized():
            raise ClusterUnavailable(f"This process is already connected to the Ray cluster at "
                                     f"{_connected.get('address', 'another address')}, not {address}.")
        try:
            ray.init(address=address, namespace="lenet-lab", log_to_driver=False,
                     runtime_env={"py_modules": [str(Path(__file__).resolve().parents[1])],
                                  "excludes": ["__pycache__"]})
        except Exception as e:  # ConnectionError, RuntimeError, TimeoutError...: all say the cluster is not there
            if address == "auto":
                raise ClusterUnavailable("No running Ray cluster was found on this machine (LENET_RAY_ADDRESS=auto)."
                                         ) from None
            raise ClusterUnavailable(f"The Ray cluster at {address} did not accept the connection "
                                     f"({type(e).__name__}: does it need its token, RAY_AUTH_MODE=token and "
                                     "RAY_AUTH_TOKEN, or is it another Ray version?).") from None
        _connected["address"] = address
        _datasets.clear()  # refs and workers of an earlier connection are gone with it
        forget_pools()


@dataclass
class RayCluster:
    """A connected Ray cluster: .runner runs one training there, .slots trainings at once."""

    address: str
    slots: int
    cpus_per_training: int = 1
    gpus_per_training: float = 0.0
    nodes: int = 1
    cpus: float = 0.0
    gpus: float = 0.0
    data_dir: Path | None = None
    max_training_bytes: int = DEFAULT_MAX_TRAINING_BYTES
    _pids: dict[int, int] = field(default_factory=dict)  # the job thread -> its worker's process id

    def describe(self) -> str:
        gpus = f", {self.gpus:g} GPUs" if self.gpus else ""
        return (f"the Ray cluster at {self.address}: {self.nodes} node(s), {self.cpus:g} CPUs{gpus}, "
                f"{self.slots} training(s) at a time ({self.cpus_per_training} CPU each)")

    @property
    def runner(self) -> Callable[..., TrainResult]:
        """(config, settings, on_progress, stop, run_dir) -> TrainResult, as JobRegistry expects of a runner."""
        return self.run

    def worker_pids(self) -> list[int]:
        """The process ids of the workers running this process's trainings now (for tests and monitoring)."""
        return list(self._pids.values())

    def run(self, config: LeNetConfig, settings: TrainSettings, on_progress: Callable[[Progress], None] | None = None,
            stop: threading.Event | None = None, run_dir: Path | None = None) -> TrainResult:
        """Train on a worker; like lenet.training.train, the run folder is claimed and rewritten every epoch."""
        start = time.perf_counter()
        plan_layers(config, settings.batch_size, self.max_training_bytes)  # refused here, before any worker
        stop = stop or threading.Event()
        if run_dir is None:
            return self._train(config, settings, on_progress, stop, None, start)
        claim_run_dir(run_dir)
        try:
            return self._train(config, settings, on_progress, stop, Path(run_dir), start)
        finally:
            release_run_dir(run_dir)

    def _train(self, config, settings, on_progress, stop, run_dir: Path | None, start: float) -> TrainResult:
        ray = _import_ray()
        splits = _dataset(ray, self.address, settings.dataset, self.data_dir)
        pool = worker_pool(ray, self.cpus_per_training, self.gpus_per_training)
        actor, job, keep = pool.take(), uuid.uuid4().hex, False
        watch = _Watch(config, settings, run_dir, on_progress)
        try:
            done = actor.run.remote(job, config, settings, list(splits), self.max_training_bytes)
            self._follow(ray, actor, job, watch, stop)
            if watch.save_error or watch.gave_up:
                return watch.result(start, None)
            try:
                final = ray.get(done)
            except ray.exceptions.RayTaskError as e:  # the training itself raised: show its own error
                keep = True
                raise (e.cause if isinstance(e.cause, Exception) else e) from None
            except _died(ray) as e:
                raise WorkerDiedError(watch.died(type(e).__name__)) from None
            keep = True
            return watch.result(start, final)
        finally:
            self._pids.pop(threading.get_ident(), None)
            pool.give_back(actor) if keep else pool.drop(actor)

    def _follow(self, ray, actor, job: str, watch: "_Watch", stop: threading.Event) -> None:
        """Poll the worker until job's run ends, forwarding progress and saving epochs; a stop reaches it within
        POLL_S; a dead worker raises WorkerDiedError."""
        asked, stop_sent = None, None
        while True:
            if stop.is_set() and stop_sent is None:
                actor.stop.remote(job)
                stop_sent = time.monotonic()
            asked = asked or actor.poll.remote(job, len(watch.points), len(watch.rows))
            ready, _ = ray.wait([asked], timeout=POLL_S)
            if not ready:  # the actor has not started yet: the cluster is busy, or its worker is starting
                if stop_sent is not None and time.monotonic() - stop_sent > STOP_S:
                    watch.gave_up = True
                    return
                continue
            try:
                news = ray.get(asked)
            except _died(ray) as e:
                raise WorkerDiedError(watch.died(type(e).__name__)) from None
            asked = None
            self._pids[threading.get_ident()] = news["pid"]
            if not watch.take(news) or news["ended"]:
                return
            stop.wait(POLL_S)


def _died(ray) -> tuple[type[Exception], ...]:
    """Ray's errors that mean the worker (or its node) is gone."""
    x = ray.exceptions
    return x.RayActorError, x.WorkerCrashedError, x.ObjectLostError, x.NodeDiedError


class _Watch:
    """What the app knows of one Ray training: progress points and finished epochs, saved as they come."""

    def __init__(self, config: LeNetConfig, settings: TrainSettings, run_dir: Path | None,
                 on_progress: Callable[[Progress], None] | None):
        self.config, self.settings, self.run_dir, self.on_progress = config, settings, run_dir, on_progress
        self.points: list[Progress] = []
        self.rows: list[dict] = []
        self.epoch: FinishedEpoch | None = None
        self.node, self.device = "", ""
        self.save_error: str | None = None
        self.gave_up = False

    def take(self, news: dict) -> bool:
        """Forward new points, save a new epoch; False when the epoch could not be saved (the training stops)."""
        self.node = news["node"]
        for point in news["points"]:
            self.points.append(point)
            if self.on_progress is not None:
                self.on_progress(point)
        epoch: FinishedEpoch | None = news["epoch"]
        if epoch is None:
            return True
        self.rows, self.epoch, self.device = epoch.rows, epoch, epoch.device
        if self.run_dir is not None:
            error = save_epoch(self.run_dir, self.config, self.settings, self.rows, self._model(epoch), epoch.status,
                               epoch.device, self._timeline(epoch.timeline))
            if error:
                n = len(self.rows)
                self.save_error = (f"Epoch {n} could not be saved, so the training stopped there: {error} "
                                   f"The run folder keeps the {n - 1} epoch(s) saved before it.")
                return False
        return True

    def died(self, why: str) -> str:
        where = f" on node {self.node[:12]}" if self.node else ""
        return (f"The Ray worker running this training{where} died ({why}), so it stopped there; the run keeps its "
                f"{len(self.rows)} finished epoch(s).")

    def result(self, start: float, final: dict | None) -> TrainResult:
        """The TrainResult, from the worker's final answer, or (stopped early) from the last epoch that came."""
        if final is not None:
            weights, timeline, stopped = final["weights"], final["timeline"], final["stopped"]
            self.device, self.node = final["device"], final["node"]
        else:
            weights = self.epoch.weights if self.epoch else None
            timeline, stopped = self.epoch.timeline if self.epoch else None, True
        model = model_from_bytes(self.config, weights) if weights else None
        if stopped and self.run_dir is not None and self.rows and not self.save_error and model is not None:
            error = save_epoch(self.run_dir, self.config, self.settings, self.rows, model, "stopped", self.device,
                               self._timeline(timeline))
            self.save_error = error and (f"The stop could not be saved: {error} The run folder keeps its "
                                         f"{len(self.rows)} epoch(s) and reads as interrupted.")
        if model is None:  # given up before the worker started: the untrained model, as a stop before epoch 1 gives
            model = make_model(self.config, self.settings).eval()
        return TrainResult(model, self.config, self.settings, pd.DataFrame(self.rows, columns=HISTORY_COLUMNS),
                           stopped, self.device or "cpu", self.run_dir, time.perf_counter() - start,
                           self._timeline(timeline), self.save_error, self.node or "ray")

    def _model(self, epoch: FinishedEpoch):
        return model_from_bytes(self.config, epoch.weights)

    def _timeline(self, data: bytes | None) -> Timeline | None:
        return Timeline.from_bytes(data, self.config) if data else None


def _dataset(ray, address: str, dataset: str, data_dir: Path | None) -> tuple[Any, Any]:
    """The train and test splits in the object store: put there once per process, address and dataset."""
    key = (address, dataset, str(data_dir))
    with _lock:
        if key not in _datasets:
            _datasets[key] = (ray.put(load_split(dataset, True, data_dir=data_dir)),
                              ray.put(load_split(dataset, False, data_dir=data_dir)))
        return _datasets[key]


def connect_ray(address: str, cpus_per_training: int = 1, gpus_per_training: float = 0,
                data_dir: Path | None = None, max_training_bytes: int = DEFAULT_MAX_TRAINING_BYTES,
                timeout: float = CONNECT_S) -> RayCluster:
    """Connect this process to the Ray cluster at address (auto, host:port or ray://host:port) and say how many
    trainings it runs at once; ClusterUnavailable (one sentence) when Ray is missing or nothing answers."""
    address = address.strip()
    ray = _import_ray()
    _check_reachable(address, timeout)
    _connect(ray, address)
    resources = ray.cluster_resources()
    cpus, gpus = float(resources.get("CPU", 0)), float(resources.get("GPU", 0))
    slots = int(cpus // cpus_per_training)
    if gpus_per_training:
        slots = min(slots, int(gpus // gpus_per_training))
    if slots < 1:
        raise ClusterUnavailable(f"The Ray cluster at {address} has {cpus:g} CPUs and {gpus:g} GPUs, fewer than one "
                                 f"training takes ({cpus_per_training} CPU, {gpus_per_training:g} GPU).")
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    return RayCluster(address, slots, cpus_per_training, float(gpus_per_training), nodes, cpus, gpus, data_dir,
                      max_training_bytes)
