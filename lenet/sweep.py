"""Train a grid of LeNet variants from the command line; the last line printed is one JSON object with every trial.

    python -m lenet.sweep --preset modern --epochs 1 --subset 2000 --grid kernel_sizes=3,5 --grid lr=0.1,0.4 \
        --out runs/kernels
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

import torch

from .data import load_split
from .environment import Environment, read_environment
from .training import JobRegistry, pick_device
from .training.flags import add_training_flags, from_flags
from .training.sweeps import MAX_TRIALS, Sweep, Trial, parse_grid, trials


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lenet.sweep",
        description="Train every combination of the --grid values (the other flags are what all trials share, as in "
                    "python -m lenet.train). Progress goes to stderr; the last stdout line is one JSON object with "
                    "a 'trials' list.",
    )
    add_training_flags(p)
    p.add_argument("--grid", action="append", required=True, metavar="NAME=V1,V2,...",
                   help="a LeNetConfig or TrainSettings field and its values, e.g. lr=0.05,0.1 or kernel_sizes=3x3,5x5 "
                        "(one value per conv layer, joined by x; one number: every layer); repeat the flag for more "
                        f"settings, the trials are their product (at most {MAX_TRIALS})")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: threads in this process, --max-running at a time; ray: a Ray cluster's workers")
    p.add_argument("--address", help="the Ray cluster (auto, host:6379 or ray://host:10001; default: "
                                     "$LENET_RAY_ADDRESS, else auto)")
    p.add_argument("--max-running", type=int, default=2, metavar="N", help="local: trials training at once (default 2)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="one run folder per trial inside it, named by its values (kernel_sizes-3x3_lr-0.1); it must "
                        "not exist yet or be empty")
    return p


def _registry(executor: str, address: str | None, max_running: int, threads: int | None,
              environment: Environment) -> JobRegistry:
    """The local registry, or one whose runner trains on the Ray cluster (raises ValueError with a sentence)."""
    if executor == "local":
        return JobRegistry(max_running, environment.data_dir, environment.max_training_bytes)
    try:
        from .training.cluster import connect_ray
    except ImportError:
        raise ValueError("--executor ray needs lenet.training.cluster, which this version does not have.") from None
    cluster = connect_ray(address or environment.ray_address or "auto", threads or environment.ray_cpus,
                          environment.ray_gpus, environment.data_dir, environment.max_training_bytes)
    print(f"Ray: {cluster.describe()}", file=sys.stderr, flush=True)
    return JobRegistry(cluster.slots, environment.data_dir, environment.max_training_bytes, runner=cluster.runner)


class _Reporter:
    """One stderr line whenever a trial finishes an epoch or changes status."""

    def __init__(self, count: int):
        self.count, self.seen = count, {}

    def __call__(self, sweep: Sweep) -> None:
        for i, row in enumerate(sweep.results()):
            state = (row["status"], row["epochs"])
            if self.seen.get(i) == state or row["status"] == "waiting":
                continue
            self.seen[i] = state
            line = f"trial {i + 1}/{self.count} {sweep.trials[i].label}: {row['status']}"
            if row["epochs"]:
                line += f", epoch {row['epochs']}/{sweep.trials[i].settings.epochs}, test acc {row['test_acc']:.3f}"
            if row["seconds"] is not None and row["status"] not in ("queued", "running"):
                line += f", {row['seconds']:.1f} s on {row['node'] or 'local'}"
            if row["error"]:
                line += f": {row['error']}"
            print(line, file=sys.stderr, flush=True)


def _folder(out: Path):
    def run_dir(trial: Trial) -> Path:
        path = out / trial.slug
        path.mkdir(parents=True, exist_ok=True)  # --out was new or empty: the folder is this sweep's
        return path
    return run_dir


def main(argv: list[str] | None = None) -> dict:
    start = time.perf_counter()
    parser = _parser()
    args = vars(parser.parse_args(argv))
    specs, executor, address = args.pop("grid"), args.pop("executor"), args.pop("address")
    max_running, out, threads = args.pop("max_running"), args.pop("out"), args.pop("threads")
    download = args.pop("download")
    if max_running < 1:
        parser.error(f"--max-running must be at least 1 (got {max_running}).")
    if threads is not None and threads < 1:
        parser.error(f"--threads must be at least 1 (got {threads}).")
    try:
        environment = read_environment({})
        config, settings = from_flags(args)
        pick_device(settings.device)
        sweep_trials = trials(config, settings, parse_grid(specs), environment.max_training_bytes)
    except ValueError as e:  # GridError included: a bad grid is one sentence and exit 2
        parser.error(str(e))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        parser.error(f"--out {out} already exists and is not an empty folder; choose a new path.")
    if threads is not None:
        torch.set_num_threads(threads)  # this process is ours alone
    try:
        for train in (True, False):  # once here, not in every trial: no data is one sentence, not N failed trials
            load_split(settings.dataset, train, download, environment.data_dir)
        registry = _registry(executor, address, max_running, threads, environment)
    except (ValueError, OSError) as e:  # no dataset; Ray missing, or the cluster does not answer
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    print(f"{len(sweep_trials)} trials: " + "; ".join(t.label for t in sweep_trials), file=sys.stderr, flush=True)
    sweep = Sweep(registry, sweep_trials, _folder(out)).start()
    interrupt = signal.signal(signal.SIGINT, lambda *_: sweep.stop())  # Ctrl-C: stop every trial, keep what finished
    try:
        results = sweep.wait(_Reporter(len(sweep_trials)))
    finally:
        signal.signal(signal.SIGINT, interrupt)  # main() called from Python (a test) leaves Ctrl-C as it was
    summary = {"trials": results, "seconds": time.perf_counter() - start, "executor": executor, "out": str(out)}
    print(json.dumps(summary))
    failed = [f"{t.label} ({r['error']})" for t, r in zip(sweep_trials, results) if r["status"] == "failed"]
    if failed:
        parser.exit(1, f"{parser.prog}: error: {len(failed)} trial(s) failed: {'; '.join(failed)}\n")
    return summary


if __name__ == "__main__":
    main()
