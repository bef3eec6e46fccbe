"""Background jobs: one thread per job, a stop event, progress a page can poll, a cap and a first-come queue.

Plain Python, no Streamlit: a page keeps its own TrainingJob in its session state and polls it;
the shared JobRegistry runs at most `max_running` jobs at once and lets further trainings wait in a queue
(at most `max_queued`), starting each by itself when a slot frees.
A Job runs any callable work(stop) -> result (the Parameters page's four short trainings are one);
a TrainingJob is the Job that runs one training through a runner: the local engine by default, or another
executor's (a Ray cluster's) with the same signature. The registry and its queue are the same for every runner.
"""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from collections import deque
from pathlib import Path
from typing import Any, Callable, Hashable

from ..core.model import DEFAULT_MAX_TRAINING_BYTES, LeNetConfig
from .engine import Progress, TrainResult, train
from .folders import mark_queued, unmark_queued
from .settings import TrainSettings

# (config, settings, on_progress, stop, run_dir) -> TrainResult: where and how one training runs.
Runner = Callable[[LeNetConfig, TrainSettings, Callable[[Progress], None], threading.Event, Path | None], TrainResult]


class TrainingCapacityError(RuntimeError):
    """Raised when the server runs as many jobs as it allows, its queue is full, or a session already trains."""


def drop_empty_run_dir(run_dir: Path | None) -> None:
    """Remove a run folder that holds nothing, so that it does not show as a "broken" run."""
    with contextlib.suppress(OSError):  # gone already, or not empty after all
        if run_dir is not None and not any(Path(run_dir).iterdir()):
            Path(run_dir).rmdir()


def local_runner(data_dir: Path | None = None, max_training_bytes: int = DEFAULT_MAX_TRAINING_BYTES) -> Runner:
    """The in-process runner: lenet.training.train in the job's own thread, data looked for in data_dir first."""

    def run(config: LeNetConfig, settings: TrainSettings, on_progress: Callable[[Progress], None],
            stop: threading.Event, run_dir: Path | None) -> TrainResult:
        return train(config, settings, on_progress, stop, run_dir, data_dir, max_training_bytes)

    return run


class Job:
    """work(stop) running in a background thread; work should return soon after stop is set."""

    owner: Hashable | None = None  # who asked for it (a session): one queued or running training per owner

    def __init__(self, work: Callable[[threading.Event], Any], name: str = "lenet-job"):
        self.work = work
        self.result: Any = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._on_end: Callable[[Job], None] | None = None  # the registry's: frees the slot, starts the next
        self._ended = threading.Event()  # set once the work has ended (or, for a queued training, was cancelled)

    def start(self) -> "Job":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.result = self.work(self._stop)
        except Exception as e:  # shown on the page; the traceback goes to the server log
            traceback.print_exc()
            self.error = f"{type(e).__name__}: {e}"
        finally:
            if self._on_end is not None:
                self._on_end(self)
            self._ended.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def active(self) -> bool:
        """Whether the job is waiting for a slot or running (a page keeps its live view on meanwhile)."""
        return self.running

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
    """One training in a background thread, run by runner (the local engine when None); it may first wait in a
    JobRegistry's queue (status "queued", `ahead` of it), and stop() there cancels it (status "cancelled")."""

    def __init__(self, config: LeNetConfig, settings: TrainSettings, run_dir: Path | None = None,
                 data_dir: Path | None = None, max_training_bytes: int = DEFAULT_MAX_TRAINING_BYTES,
                 runner: Runner | None = None, owner: Hashable | None = None):
        self.config, self.settings, self.run_dir, self.owner = config, settings, run_dir, owner
        self.data_dir, self.max_training_bytes = data_dir, max_training_bytes
        self.runner = runner or local_runner(data_dir, max_training_bytes)
        self.points: list[Progress] = []  # every progress report, for live curves
        self.submitted_at, self.started_at = time.monotonic(), None  # started_at - submitted_at: the wait
        self._registry: JobRegistry | None = None  # the registry it was submitted to: its queue and slots
        self._queued = self._cancelled = False
        super().__init__(self._train, name="lenet-training")

    def start(self) -> "TrainingJob":
        self.started_at = time.monotonic()
        return super().start()

    def _train(self, stop: threading.Event) -> TrainResult:
        unmark_queued(self.run_dir)  # the training claims a folder that holds nothing else
        try:
            return self.runner(self.config, self.settings, self.points.append, stop, self.run_dir)
        finally:
            drop_empty_run_dir(self.run_dir)  # ended before its first epoch: nothing saved

    @property
    def progress(self) -> Progress | None:
        return self.points[-1] if self.points else None

    @property
    def ahead(self) -> int:
        """How many queued trainings will start before this one (0 when it is next, running or done)."""
        registry = self._registry
        return registry.ahead(self) if registry is not None and self._queued else 0

    @property
    def active(self) -> bool:
        return self._queued or self.running  # a started job is running before it stops being queued: no gap

    @property
    def stopped(self) -> bool:
        return self.result is not None and self.result.stopped

    @property
    def status(self) -> str:
        if self._cancelled:
            return "cancelled"
        if self._queued:
            return "queued"
        return super().status

    def stop(self) -> None:
        """Cancel the training if it still waits in the queue, otherwise ask it to stop; finished epochs are kept."""
        registry = self._registry
        if registry is None or not registry.cancel(self):
            super().stop()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the training to end, however long it first waits in the queue."""
        if not (self._queued or self._cancelled or self._thread.ident is not None):
            return super().join(timeout)  # never submitted nor started: as a thread says so
        deadline = None if timeout is None else time.monotonic() + timeout
        if self._ended.wait(timeout) and self._thread.ident is not None:
            self._thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))


class JobRegistry:
    """Runs jobs while fewer than max_running run; further trainings wait, first come first served, in a queue of at
    most max_queued and start by themselves as slots free. Thread-safe: every session of a server shares one.

    Trainings run through runner (None: the local engine, which looks for data in data_dir first and lets a training
    need at most max_training_bytes; the app passes what lenet.environment read).
    """

    def __init__(self, max_running: int = 2, data_dir: Path | None = None,
                 max_training_bytes: int = DEFAULT_MAX_TRAINING_BYTES, max_queued: int = 30,
                 runner: Runner | None = None):
        self.max_running, self.data_dir, self.max_training_bytes = max_running, data_dir, max_training_bytes
        self.max_queued, self.runner = max_queued, runner
        self._jobs: list[Job] = []  # running
        self._queue: deque[TrainingJob] = deque()
        self._lock = threading.Lock()

    def running(self) -> list[Job]:
        with self._lock:
            self._prune()
            return list(self._jobs)

    def queued(self) -> list[TrainingJob]:
        """The trainings waiting for a slot, the next one first."""
        with self._lock:
            return list(self._queue)

    def ahead(self, job: TrainingJob) -> int:
        """How many queued trainings are before job (0 when it is not queued)."""
        with self._lock:
            for i, queued in enumerate(self._queue):
                if queued is job:
                    return i
            return 0

    def start(self, job: Job) -> Job:
        """Start job now, or raise TrainingCapacityError when the server is at its cap (a Job does not queue)."""
        with self._lock:
            self._prune()
            if len(self._jobs) >= self.max_running:
                raise TrainingCapacityError(
                    f"{len(self._jobs)} trainings are already running on this server (the limit is "
                    f"{self.max_running}). Please wait for one to finish and try again."
                )
            self._launch(job)
            return job

    def submit(self, config: LeNetConfig, settings: TrainSettings, run_dir: Path | None = None,
               owner: Hashable | None = None) -> TrainingJob:
        """Start a training, or queue it while max_running jobs run; raise TrainingCapacityError (removing run_dir if
        empty) when the queue is full or owner (None: anyone) already has a training queued or running."""
        job = TrainingJob(config, settings, run_dir, self.data_dir, self.max_training_bytes, self.runner, owner)
        try:
            with self._lock:
                self._prune()
                self._check_room(owner)
                job._registry = self
                if len(self._jobs) < self.max_running:
                    self._launch(job)
                else:
                    job._queued = True
                    self._queue.append(job)
                    mark_queued(run_dir)
        except TrainingCapacityError:
            drop_empty_run_dir(run_dir)
            raise
        return job

    def cancel(self, job: TrainingJob) -> bool:
        """Take job out of the queue (status "cancelled", its empty run folder removed); False if it is not queued."""
        with self._lock:
            if job not in self._queue:
                return False
            self._queue.remove(job)
            job._cancelled, job._queued = True, False
            job._stop.set()
            job._ended.set()
        unmark_queued(job.run_dir)
        drop_empty_run_dir(job.run_dir)
        return True

    def stop_all(self) -> None:
        """Cancel every queued training, then ask every running job to stop."""
        for job in self.queued():
            self.cancel(job)
        for job in self.running():
            job.stop()

    def _check_room(self, owner: Hashable | None) -> None:
        if owner is not None and any(j.owner == owner for j in (*self._jobs, *self._queue)):
            raise TrainingCapacityError("This session already has a training waiting or running: stop it, or wait "
                                        "for it to finish, before starting another.")
        if len(self._jobs) < self.max_running:
            return
        if self.max_queued <= 0:
            raise TrainingCapacityError(
                f"{len(self._jobs)} trainings are already running on this server (the limit is {self.max_running}). "
                "Please wait for one to finish and try again.")
        if len(self._queue) >= self.max_queued:
            raise TrainingCapacityError(
                f"The queue is full: {len(self._queue)} trainings are waiting for the {self.max_running} that run at "
                "once on this server. Please try again in a few minutes.")

    def _launch(self, job: Job) -> None:
        """Start job in a free slot (the lock is held)."""
        job._on_end = self._ended
        self._jobs.append(job)
        try:
            job.start()
        except RuntimeError as e:  # the system refused another thread: the job fails, the slot stays free
            self._jobs.remove(job)
            job._on_end, job.error = None, f"{type(e).__name__}: {e}"
            job._ended.set()
        if isinstance(job, TrainingJob):
            job._queued = False

    def _ended(self, job: Job) -> None:
        """Called by a job's own thread as its work ends: free its slot and start the next queued trainings."""
        try:
            with self._lock:
                if job in self._jobs:
                    self._jobs.remove(job)
                self._prune()
        except Exception:  # never let the queue stall silently on a bug: it goes to the server log
            traceback.print_exc()

    def _prune(self) -> None:
        """Forget jobs whose thread ended, then fill free slots from the queue, first come first (the lock is held)."""
        self._jobs = [j for j in self._jobs if j.running]
        while self._queue and len(self._jobs) < self.max_running:
            self._launch(self._queue.popleft())
