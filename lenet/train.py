"""Train LeNet from the command line; the last line printed is one JSON object with the results.

    python -m lenet.train --preset modern --epochs 3 --out runs/my-run
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

import torch

from .core.model import count_parameters, plan_layers
from .environment import read_environment
from .training import Progress, peak_memory_mb, pick_device, train
from .training.flags import add_training_flags, from_flags
from .training.folders import RunDirInUseError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lenet.train",
        description="Train LeNet on Fashion-MNIST (or MNIST). Flags left out take the preset's value. "
                    "Progress goes to stderr; the last stdout line is one JSON object with the results.",
    )
    add_training_flags(p)
    p.add_argument("--out", type=Path, metavar="RUN_DIR",
                   help="save the run folder (config.json, metrics.csv, model.pt, snapshots.pt) here after every epoch; "
                        "it must not exist yet or be empty, and no other training may write it")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="where to train: in this process (default), or on a Ray cluster's worker")
    p.add_argument("--address", help="the Ray cluster for --executor ray (auto, host:6379 or ray://host:10001; "
                                     "default: $LENET_RAY_ADDRESS, else auto)")
    return p


def _runner(executor: str, address: str | None, threads: int | None, environment, download: bool):
    """(config, settings, on_progress, stop, run_dir) -> TrainResult, here or on the Ray cluster (ValueError)."""
    if executor == "local":
        return lambda config, settings, on_progress, stop, out: train(
            config, settings, on_progress, stop, out, environment.data_dir, environment.max_training_bytes, download)
    from .training.cluster import connect_ray

    cluster = connect_ray(address or environment.ray_address or "auto", threads or environment.ray_cpus,
                          environment.ray_gpus, environment.data_dir, environment.max_training_bytes)
    print(f"Ray: {cluster.describe()}", file=sys.stderr, flush=True)
    return cluster.run


def _progress_line(p: Progress) -> str:
    width = 24
    bar = "#" * round(p.fraction * width)
    line = (f"epoch {p.epoch}/{p.epochs} [{bar:<{width}}] {p.fraction:4.0%}  loss {p.train_loss:.3f}  "
            f"train acc {p.train_acc:.3f}")
    if p.test_acc is not None:
        line += f"  test acc {p.test_acc:.3f}"
    return line + f"  {p.images_per_s:,.0f} img/s  {p.elapsed_s:.0f}s, eta {p.eta_s:.0f}s"


def _print_progress(p: Progress) -> None:
    if sys.stderr.isatty():
        end = "\n" if p.kind == "epoch" else ""
        print("\r\033[K" + _progress_line(p), end=end, file=sys.stderr, flush=True)
    elif p.kind == "epoch":
        print(_progress_line(p), file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> dict:
    start = time.perf_counter()
    parser = _parser()
    args = vars(parser.parse_args(argv))
    out, threads, download = args.pop("out"), args.pop("threads"), args.pop("download")
    executor, address = args.pop("executor"), args.pop("address")
    try:
        environment = read_environment({})
        config, settings = from_flags(args)
        plan_layers(config, settings.batch_size, environment.max_training_bytes)
        pick_device(settings.device)
    except ValueError as e:
        parser.error(str(e))
    if threads is not None and threads < 1:
        parser.error(f"--threads must be at least 1 (got {threads}).")
    if threads is not None:
        torch.set_num_threads(threads)  # this process is ours alone
    if out is not None and out.exists() and (not out.is_dir() or any(out.iterdir())):
        parser.error(f"--out {out} already exists and is not an empty folder; choose a new path.")
    try:
        runner = _runner(executor, address, threads, environment, download)
    except ValueError as e:  # Ray missing, or no cluster answers
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())  # Ctrl-C: finish the current batch, keep finished epochs
    try:
        result = runner(config, settings, _print_progress, stop, out)
    except RunDirInUseError as e:  # another training claimed --out first
        parser.exit(2, f"{parser.prog}: error: --out {e}\n")
    except (ValueError, OSError) as e:  # a model that does not fit the images, no data, --out taken or read-only
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    last = result.history.iloc[-1] if len(result.history) else {}
    summary = {
        "test_acc": last.get("test_acc"), "train_acc": last.get("train_acc"), "train_loss": last.get("train_loss"),
        "images_per_s": result.images_per_s, "seconds": time.perf_counter() - start,
        "epochs": len(result.history), "stopped": result.stopped, "device": result.device,
        "parameters": count_parameters(result.model), "run_dir": str(out) if out is not None else None,
        "peak_rss_mb": peak_memory_mb(), "save_error": result.save_error, "node": result.node,
    }
    print(json.dumps({k: float(v) if hasattr(v, "item") else v for k, v in summary.items()}))
    if result.save_error:  # the epochs trained are in the JSON line; the run folder stopped at the last one saved
        parser.exit(1, f"{parser.prog}: error: {result.save_error}\n")
    return summary


if __name__ == "__main__":
    main()
