"""Background trainings: one thread per job, a stop event, progress a page can poll, and a cap.

Plain Python, no Streamlit: a page keeps its own TrainingJob in its session state and polls it;
the shared JobRegistry only counts jobs so the server never runs more than `max_running` at once.
Another executor (a process pool, a cluster) can replace this by offering the same small interface:
submit(config, settings) -> a handle with .progress, .stop() and .result.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from pathlib import Path

from .limits import read_limits
from .model import LeNetConfig
from .train import Progress, TrainResult, TrainSettings, train


class TrainingCapacityError(RuntimeError):
    """Raised when the server already runs as many trainings as it allows."""


def drop_empty_run_dir(run_dir: Path | None) -> None:
    """Remove a run folder that holds nothing, so that it does not show as a "broken" run."""
    with contextlib.suppress(OSError):  # gone already, or not empty after all
        if run_dir is not None and not any(Path(run_dir).iterdir()):
            Path(run_dir).rmdir()


class TrainingJob:
    """One training running in a background thread."""

    def __init__(self, config: LeNetConfig, settings: TrainSettings, run_dir: Path | None = None):
        self.config, self.settings, self.run_dir = config, settings, run_dir
        self.points: list[Progress] = []  # every progress report, for live curves
        self.result: TrainResult | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lenet-training", daemon=True)

    def start(self) -> "TrainingJob":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = train(self.config, self.settings, self.points.append, self._stop, self.run_dir)
        except Exception as e:  # shown on the page; the traceback goes to the server log
            traceback.print_exc()
            self.error = f"{type(e).__name__}: {e}"
        finally:
            drop_empty_run_dir(self.run_dir)  # ended before its first epoch: nothing saved

    @property
    def progress(self) -> Progress | None:
        return self.points[-1] if self.points else None

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def status(self) -> str:
        if self.running:
            return "stopping" if self._stop.is_set() else "running"
        if self.error:
            return "failed"
        if self.result is None:
            return "not started"
        return "stopped" if self.result.stopped else "finished"

    def stop(self) -> None:
        """Ask the training to stop after the current batch; finished epochs are kept."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


class JobRegistry:
    """Starts trainings while fewer than max_running are alive, refuses politely otherwise."""

    def __init__(self, max_running: int | None = None):
        self.max_running = read_limits().max_trainings if max_running is None else max_running
        self._jobs: list[TrainingJob] = []
        self._lock = threading.Lock()

    def running(self) -> list[TrainingJob]:
        with self._lock:
            self._jobs = [job for job in self._jobs if job.running]
            return list(self._jobs)

    def submit(self, config: LeNetConfig, settings: TrainSettings, run_dir: Path | None = None) -> TrainingJob:
        """Start a training, or raise TrainingCapacityError when the server is at its cap (removing run_dir if empty)."""
        with self._lock:
            self._jobs = [job for job in self._jobs if job.running]
            if len(self._jobs) >= self.max_running:
                drop_empty_run_dir(run_dir)
                raise TrainingCapacityError(
                    f"{len(self._jobs)} trainings are already running on this server (the limit is "
                    f"{self.max_running}). Please wait for one to finish and press Train again."
                )
            job = TrainingJob(config, settings, run_dir).start()
            self._jobs.append(job)
            return job

    def stop_all(self) -> None:
        for job in self.running():
            job.stop()
