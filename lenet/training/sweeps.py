"""Sweeps: a grid of LeNet variants (NAME=V1,V2,... for LeNetConfig or TrainSettings fields) on a JobRegistry.

    grid = parse_grid(["kernel_sizes=3,5", "lr=0.05,0.1"])      # 4 trials: the product
    sweep = Sweep(registry, trials(config, settings, grid), lambda trial: out / trial.slug).start()
    sweep.wait()
    sweep.results()      # one dict a trial: settings, parameters, test_acc, seconds, run_dir, node

Plain Python, no Streamlit: a page keeps its Sweep in its session state and polls it, the CLI waits for it.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..core.fields import check_field_types
from ..core.model import DEFAULT_MAX_TRAINING_BYTES, LeNetConfig, build_lenet, count_parameters, plan_layers
from .jobs import JobRegistry, TrainingCapacityError, TrainingJob
from .settings import TrainSettings

MAX_TRIALS = 64  # trials in one sweep: 4 one-epoch trials on 2,000 images took 21 s here (2 at a time), 64 ~6 minutes
PER_LAYER = ("conv_channels", "kernel_sizes", "paddings", "strides", "pool_after")  # one value per conv layer
CONFIG_FIELDS = {f.name: f.type for f in dataclasses.fields(LeNetConfig)}
SETTINGS_FIELDS = {f.name: f.type for f in dataclasses.fields(TrainSettings)}
FULL_TRAINING_SET = 60_000  # Fashion-MNIST and MNIST alike: what subset=None trains on
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")

Grid = dict[str, list]  # a setting's name -> its values, in the order given; the trials are their product


class GridError(ValueError):
    """A grid that cannot be swept: a bad NAME=V1,V2 spec, a value of the wrong kind, a trial that cannot be built."""


def format_value(value: Any) -> str:
    """A swept value as the grid writes it: (3, 3) -> "3x3", True -> "true", 0.05 -> "0.05", None -> "none"."""
    if isinstance(value, (list, tuple)):
        return "x".join(map(format_value, value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _known(name: str) -> str:
    name = name.strip().replace("-", "_")
    if name in CONFIG_FIELDS or name in SETTINGS_FIELDS:
        return name
    close = difflib.get_close_matches(name, [*CONFIG_FIELDS, *SETTINGS_FIELDS], n=1)
    hint = f"did you mean {close[0]}?" if close else "e.g. lr, epochs, activation, kernel_sizes, conv_channels"
    raise GridError(f"{name!r} is not a setting of LeNetConfig or TrainSettings: {hint}")


def _scalar(name: str, kind: str, text: str) -> Any:
    if kind == "str":
        return text
    if kind == "bool":
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise GridError(f"{name} takes true or false, not {text!r}.")
    try:
        value = int(text) if kind == "int" else float(text)
    except ValueError:
        words = "whole numbers" if kind == "int" else "numbers"
        raise GridError(f"{name} takes {words}, not {text!r}.") from None
    if not math.isfinite(value):
        raise GridError(f"{name} takes finite numbers, not {text!r}.")
    return value


def parse_value(name: str, text: str) -> Any:
    """One value of a setting, typed by its field: "3x5" is (3, 5) for a tuple field; a single number for a per-layer
    field (kernel_sizes=3) stays a number and is applied to every conv layer by trials()."""
    annotation = CONFIG_FIELDS.get(name) or SETTINGS_FIELDS[name]
    kinds = [k for k in annotation.split(" | ") if k != "None"]
    if text.lower() in ("none", "all") and "None" in annotation:
        return None
    if not text:
        raise GridError(f"{name} has an empty value: write values between the commas.")
    kind = kinds[0]
    if not kind.startswith("tuple["):
        return _scalar(name, kind, text)
    inner = kind.removeprefix("tuple[").removesuffix(", ...]")
    values = tuple(_scalar(name, inner, part.strip()) for part in text.lower().split("x"))
    return values[0] if len(values) == 1 and name in PER_LAYER else values


def parse_grid(specs: Sequence[str], max_trials: int = MAX_TRIALS) -> Grid:
    """["kernel_sizes=3x3,5x5", "lr=0.05,0.1"] -> {"kernel_sizes": [(3, 3), (5, 5)], "lr": [0.05, 0.1]}; GridError
    with a sentence for an unknown name, a bad value, a setting given twice or more than max_trials trials."""
    grid: Grid = {}
    for spec in specs:
        name, equals, values = spec.partition("=")
        if not equals or not name.strip():
            raise GridError(f"A swept setting is written NAME=V1,V2,... (e.g. lr=0.05,0.1), not {spec!r}.")
        name = _known(name)
        if name in grid:
            raise GridError(f"{name} is swept twice: give all its values in one NAME=V1,V2,...")
        parsed = [parse_value(name, v.strip()) for v in values.split(",")]
        repeated = next((v for i, v in enumerate(parsed) if v in parsed[:i]), None)
        if repeated is not None:
            raise GridError(f"{name} lists {format_value(repeated)} twice.")
        grid[name] = parsed
    if not grid:
        raise GridError("Name at least one setting to sweep, e.g. kernel_sizes=3,5.")
    count = math.prod(len(v) for v in grid.values())
    if count > max_trials:
        raise GridError(f"This grid has {count:,} trials; a sweep runs at most {max_trials}. Sweep fewer values.")
    return grid


@dataclass
class Trial:
    """One point of the grid: a model and a recipe that differ from the base only in the swept values."""

    config: LeNetConfig
    settings: TrainSettings
    values: dict[str, Any]  # the swept settings, as this trial has them (a per-layer number applied to each layer)
    parameters: int  # count_parameters(build_lenet(config))

    @property
    def label(self) -> str:
        return ", ".join(f"{name}={format_value(v)}" for name, v in self.values.items())

    @property
    def slug(self) -> str:
        """A folder name made of its values: kernel_sizes-3x3_lr-0.05."""
        return "_".join(f"{name}-{format_value(v)}" for name, v in self.values.items())


def _trial(config: LeNetConfig, settings: TrainSettings, values: dict[str, Any], max_training_bytes: int) -> Trial:
    layers = values.get("conv_channels", config.conv_channels)
    layers = len(config.conv_channels) if not isinstance(layers, tuple) else len(layers)
    values = {name: (v,) * layers if name in PER_LAYER and not isinstance(v, tuple) else v
              for name, v in values.items()}
    model = {k: v for k, v in values.items() if k in CONFIG_FIELDS}
    recipe = {k: v for k, v in values.items() if k in SETTINGS_FIELDS}
    trial = ", ".join(f"{name}={format_value(v)}" for name, v in values.items())
    try:
        check_field_types(LeNetConfig, model)
        check_field_types(TrainSettings, recipe)
        config, settings = config.replace(**model), settings.replace(**recipe)
        plan_layers(config, settings.batch_size, max_training_bytes)
    except ValueError as e:
        raise GridError(f"The trial {trial} cannot run: {e}") from None
    return Trial(config, settings, values, count_parameters(build_lenet(config)))


def trials(config: LeNetConfig, settings: TrainSettings, grid: Grid,
           max_training_bytes: int = DEFAULT_MAX_TRAINING_BYTES) -> list[Trial]:
    """Every combination of the grid's values on top of config and settings, each checked (plan_layers and the
    settings' own checks) before anything trains; GridError names the first trial that cannot run."""
    return [_trial(config, settings, dict(zip(grid, combination)), max_training_bytes)
            for combination in itertools.product(*grid.values())]


def check_limits(sweep_trials: Sequence[Trial], max_epochs: int, max_train_images: int) -> None:
    """Refuse a sweep whose trials would pass a server's caps on epochs or training images (GridError)."""
    for trial in sweep_trials:
        images = trial.settings.subset or FULL_TRAINING_SET
        if trial.settings.epochs > max_epochs:
            raise GridError(f"The trial {trial.label} trains {trial.settings.epochs} epochs; this server allows "
                            f"{max_epochs}.")
        if images > max_train_images:
            raise GridError(f"The trial {trial.label} trains on {images:,} images; this server allows "
                            f"{max_train_images:,}.")


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class Sweep:
    """A sweep's trials on a JobRegistry, submitted by a background thread as the registry has room.

    At most at_once trials (default: the registry's max_running) are queued or running at a time, so a sweep never
    fills the queue that other visitors' trainings wait in; a training they start meanwhile runs next.
    run_dir_for(trial) gives each trial's run folder (an ordinary run: it opens on Inspect); None saves nothing.
    """

    def __init__(self, registry: JobRegistry, sweep_trials: Sequence[Trial],
                 run_dir_for: Callable[[Trial], Path | None] = lambda trial: None, at_once: int | None = None,
                 poll_s: float = 0.2):
        self.registry, self.trials, self.run_dir_for = registry, list(sweep_trials), run_dir_for
        self.at_once, self.poll_s = at_once or registry.max_running, poll_s
        self.jobs: list[TrainingJob | None] = [None] * len(self.trials)
        self.errors: list[str | None] = [None] * len(self.trials)  # why a trial failed before it had a job
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._submit_all, name="lenet-sweep", daemon=True)

    def start(self) -> "Sweep":
        self._thread.start()
        return self

    def _submit_all(self) -> None:
        waiting = list(range(len(self.trials)))
        while waiting and not self._stop.is_set():
            while waiting and sum(job is not None and job.active for job in self.jobs) < self.at_once:
                if not self._submit(waiting[0]):
                    break  # the server is full: try again when a slot frees
                waiting.pop(0)
            self._stop.wait(self.poll_s)

    def _submit(self, i: int) -> bool:
        """Submit trial i; False when the registry has no room for it now."""
        trial = self.trials[i]
        with self._lock:
            if self._stop.is_set():
                return True
            try:
                self.jobs[i] = self.registry.submit(trial.config, trial.settings, self.run_dir_for(trial))
            except TrainingCapacityError:
                return False
            except (ValueError, OSError) as e:  # its folder cannot be made (a full disk), or it was refused
                self.errors[i] = str(e)
        return True

    def stop(self) -> None:
        """Cancel the trials not started yet and stop those running; finished epochs are kept."""
        with self._lock:
            self._stop.set()
        for job in self.jobs:
            if job is not None:
                job.stop()

    @property
    def running(self) -> bool:
        """Whether any trial may still change: some wait to be submitted, are queued or train."""
        return self._thread.is_alive() or any(job is not None and job.active for job in self.jobs)

    def wait(self, on_poll: Callable[["Sweep"], None] | None = None, poll_s: float = 0.5) -> list[dict]:
        """Block until every trial is done, calling on_poll(self) every poll_s; returns results()."""
        while self.running:
            if on_poll is not None:
                on_poll(self)
            threading.Event().wait(poll_s)
        if on_poll is not None:
            on_poll(self)
        return self.results()

    def status(self, i: int) -> str:
        """waiting, queued, running, stopping, finished, stopped, failed or cancelled."""
        job = self.jobs[i]
        if job is None:
            return "failed" if self.errors[i] else "cancelled" if self._stop.is_set() else "waiting"
        if job.status == "finished" and job.result is not None and job.result.save_error:
            return "failed"
        return job.status

    def result(self, i: int) -> dict:
        """Trial i as JSON: its swept settings, parameters, status, epochs, test_acc, seconds, run_dir, node, error."""
        trial, job = self.trials[i], self.jobs[i]
        row = {"settings": {k: _plain(v) for k, v in trial.values.items()}, "parameters": trial.parameters,
               "status": self.status(i), "epochs": 0, "test_acc": None, "seconds": None, "run_dir": None,
               "node": None, "error": self.errors[i]}
        if job is None:
            return row
        row |= {"run_dir": str(job.run_dir) if job.run_dir is not None else None, "error": job.error}
        epochs = [p for p in list(job.points) if p.kind == "epoch"]  # while it trains: its last finished epoch
        if epochs:
            row |= {"epochs": epochs[-1].epoch, "test_acc": epochs[-1].test_acc, "seconds": epochs[-1].elapsed_s}
        result = job.result
        if result is not None:
            history = result.history
            row |= {"epochs": len(history), "test_acc": float(history["test_acc"].iloc[-1]) if len(history) else None,
                    "seconds": result.seconds, "node": result.node, "error": result.save_error}
        return row

    def results(self) -> list[dict]:
        return [self.result(i) for i in range(len(self.trials))]

    def counts(self) -> dict[str, int]:
        """How many trials are in each status."""
        statuses = [self.status(i) for i in range(len(self.trials))]
        return {status: statuses.count(status) for status in dict.fromkeys(statuses)}
