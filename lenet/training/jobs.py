"""Background jobs: one thread per job, a stop event, progress a page can poll, and a cap.

Plain Python, no Streamlit: a page keeps its own TrainingJob in its session state and polls it;
the shared JobRegistry only counts jobs so the server never runs more than `max_running` at once.
A Job runs any callable work(stop) -> result (the Parameters page's four short trainings are one);
a TrainingJob is the Job that runs lenet.training.train.
Another executor (a process pool, a cluster) can replace this by offering the same small interface:
submit(config, settings) -> a handle with .progress, .stop() and .result.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from pathlib import Path
from typing import Any, Callable

from ..core.model import DEFAULT_MAX_TRAINING_BYTES, LeNetConfig
from .engine import Progress, TrainResult, train
from .settings import TrainSettings


class TrainingCapacityError(RuntimeError):
    """Raised when the server already runs as many trainings as it allows."""


def drop_empty_run_dir(run_dir: Path | None) -> None:
    """Remove a run folder that holds nothing, so that it does not show as a "broken" run."""
    with contextlib.suppress(OSError):  # gone already, or not empty after all
        if run_dir is not None and not any(Path(run_dir).iterdir()):
            Path(run_dir).rmdir()


class Job:
    """work(stop) running in a background thread; work should return soon after stop is set."""

    def __init__(self, work: Callable[[threading.Event], Any], name: str = "lenet-job"):
        self.work = work
        self.result: Any = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> "Job":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = self.work(self._stop)
        except Exception as e:  # shown on the page; the traceback goes to the server log
            traceback.print_exc()
            self.error = f"{type(e).__name__}: {e}"

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def stopped(self) -> bool:
        """Whether a stop was asked for (a subclass may know better whether the work ended early)."""
        return self._stop.is_set()

    @property
    def status(self) -> str:
        if self.running:
            return "stopping" if self._stop.is_set() else "running"
        if self.error:
            return "failed"
        if self._thread.ident is None:
            return "not started"
        return "stopped" if self.stopped else "finished"

    def stop(self) -> None:
        """Ask the work to stop; what it finished is kept."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


class TrainingJob(Job):
    """One training running in a background thread."""

    def __init__(self, config: LeNetConfig, settings: TrainSettings, run_dir: Path | None = None,
                 data_dir: Path | None = None, max_training_bytes: int = DEFAULT_MAX_TRAINING_BYTES):
        self.config, self.settings, self.run_dir = config, settings, run_dir
        self.data_dir, self.max_training_bytes = data_dir, max_training_bytes
        self.points: list[Progress] = []  # every progress report, for live curves
        super().__init__(self._train, name="lenet-training")

    def _train(self, stop: threading.Event) -> TrainResult:
        try:
            return train(self.config, self.settings, self.points.append, stop, self.run_dir, self.data_dir,
                         self.max_training_bytes)
        finally:
            drop_empty_run_dir(self.run_dir)  # ended before its first epoch: nothing saved

    @property
    def progress(self) -> Progress | None:
        return self.points[-1] if self.points else None

    @property
    def stopped(self) -> bool:
        return self.result is not None and self.result.stopped


class JobRegistry:
    """Starts jobs while fewer than max_running are alive, refuses politely otherwise.

    Its trainings look for data in data_dir first and may need at most max_training_bytes (the app passes
    what lenet.environment read).
    """

    def __init__(self, max_running: int = 2, data_dir: Path | None = None,
                 max_training_bytes: int = DEFAULT_MAX_TRAINING_BYTES):
        self.max_running, self.data_dir, self.max_training_bytes = max_running, data_dir, max_training_bytes
        self._jobs: list[Job] = []
        self._lock = threading.Lock()

    def running(self) -> list[Job]:
        with self._lock:
            self._jobs = [j for j in self._jobs if j.running]
            return list(self._jobs)

    def start(self, job: Job) -> Job:
        """Start job, or raise TrainingCapacityError when the server is at its cap."""
        with self._lock:
            self._jobs = [j for j in self._jobs if j.running]
            if len(self._jobs) >= self.max_running:
                raise TrainingCapacityError(
                    f"{len(self._jobs)} trainings are already running on this server (the limit is "
                    f"{self.max_running}). Please wait for one to finish and try again."
                )
            self._jobs.append(job.start())
            return job

    def submit(self, config: LeNetConfig, settings: TrainSettings, run_dir: Path | None = None) -> TrainingJob:
        """Start a training, or raise TrainingCapacityError when the server is at its cap (removing run_dir if empty)."""
        try:
            return self.start(TrainingJob(config, settings, run_dir, self.data_dir, self.max_training_bytes))
        except TrainingCapacityError:
            drop_empty_run_dir(run_dir)
            raise

    def stop_all(self) -> None:
        for job in self.running():
            job.stop()
