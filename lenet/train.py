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
    return p


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
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())  # Ctrl-C: finish the current batch, keep finished epochs
    try:
        result = train(config, settings, _print_progress, stop, out, environment.data_dir,
                       environment.max_training_bytes, download)
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
        "peak_rss_mb": peak_memory_mb(), "save_error": result.save_error,
    }
    print(json.dumps({k: float(v) if hasattr(v, "item") else v for k, v in summary.items()}))
    if result.save_error:  # the epochs trained are in the JSON line; the run folder stopped at the last one saved
        parser.exit(1, f"{parser.prog}: error: {result.save_error}\n")
    return summary


if __name__ == "__main__":
    main()
