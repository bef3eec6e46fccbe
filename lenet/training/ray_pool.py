"""Warm Ray workers: TrainingWorker actors kept between trainings, so that a training does not wait for a new
Python process to start and import torch (about 4 s on 2 busy cores, and its first batches run slow)."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from .ray_worker import TrainingWorker

IDLE_S = 60.0  # how long a finished worker waits, warm, for the next training before it frees its CPUs
ANSWER_S = 5.0  # an idle worker that does not answer within this is replaced
_remote: dict[str, Any] = {}  # "worker": TrainingWorker wrapped by ray.remote
_pools: dict[tuple, "WorkerPool"] = {}  # (cpus, gpus) -> this process's warm workers of that size
_lock = threading.Lock()


class WorkerPool:
    """Warm TrainingWorker actors of one size (CPUs, GPUs), kept between trainings so that a training does not wait
    for a new Python process to import torch; one idle for IDLE_S is let go, so that it frees its CPUs."""

    def __init__(self, ray, cpus: int, gpus: float):
        self.ray, self.cpus, self.gpus = ray, cpus, gpus
        self._idle: list[tuple[Any, float]] = []  # (actor, since when idle)
        self._lock = threading.Lock()

    def take(self):
        """An idle worker that still answers, else a new one (which Ray starts once the cluster has room)."""
        while True:
            with self._lock:
                if not self._idle:
                    break
                actor = self._idle.pop()[0]
            if self._answers(actor):
                return actor
            self.drop(actor)
        return (_worker_class(self.ray)
                .options(num_cpus=self.cpus, num_gpus=self.gpus, max_concurrency=4, max_restarts=0)
                .remote(self.cpus))

    def give_back(self, actor) -> None:
        with self._lock:
            self._idle.append((actor, time.monotonic()))
        timer = threading.Timer(IDLE_S + 1, self._let_go)
        timer.daemon = True
        timer.start()

    def _answers(self, actor) -> bool:
        try:
            self.ray.get(actor.where.remote(), timeout=ANSWER_S)
        except self.ray.exceptions.RayError:  # died while idle (its node went away), or hangs
            return False
        return True

    def drop(self, actor) -> None:
        """Kill a worker that is dead, stuck or busy with a training nobody follows any more."""
        with contextlib.suppress(Exception):  # already gone, or Ray disconnected: nothing left to free
            self.ray.kill(actor, no_restart=True)

    def _let_go(self) -> None:
        with self._lock:
            now = time.monotonic()
            old = [actor for actor, since in self._idle if now - since >= IDLE_S]
            self._idle = [(actor, since) for actor, since in self._idle if now - since < IDLE_S]
        for actor in old:
            self.drop(actor)


def worker_pool(ray, cpus: int, gpus: float) -> WorkerPool:
    """This process's pool of workers of that size (every RayCluster of the process shares it)."""
    with _lock:
        if (cpus, gpus) not in _pools:
            _pools[(cpus, gpus)] = WorkerPool(ray, cpus, gpus)
        return _pools[(cpus, gpus)]


def forget_pools() -> None:
    """Drop every pool: their workers belonged to a connection that is gone."""
    with _lock:
        _pools.clear()


def _worker_class(ray):
    """TrainingWorker as a Ray actor class, made once per process."""
    with _lock:
        if "worker" not in _remote:
            _remote["worker"] = ray.remote(TrainingWorker)
        return _remote["worker"]
