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

from .core.model import ACTIVATIONS, INIT_SCHEMES, count_parameters, plan_layers
from .data import DATASETS
from .environment import read_environment
from .training import (
    DEVICES,
    OPTIMIZERS,
    PRESETS,
    SCHEDULES,
    Progress,
    peak_memory_mb,
    pick_device,
    preset,
    train,
)
from .training.folders import RunDirInUseError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lenet.train",
        description="Train LeNet on Fashion-MNIST (or MNIST). Flags left out take the preset's value. "
                    "Progress goes to stderr; the last stdout line is one JSON object with the results.",
    )
    p.add_argument("--preset", choices=PRESETS, default="classic",
                   help="classic: d2l's sigmoid LeNet, SGD lr 0.9, 10 epochs; modern: ReLU, max pooling, "
                        "batch norm, 2 epochs of one-cycle SGD (default: classic)")
    p.add_argument("--dataset", choices=tuple(DATASETS), help="which images to train on")
    p.add_argument("--download", action="store_true",
                   help="let torchvision download the dataset when it is not installed (needs the internet)")
    p.add_argument("--epochs", type=int, help="passes over the training images")
    p.add_argument("--batch-size", type=int, help="images per gradient step")
    p.add_argument("--lr", type=float, help="learning rate (the peak rate for onecycle)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="sgd or adam")
    p.add_argument("--momentum", type=float, help="SGD momentum, in [0, 1)")
    p.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=None, help="Nesterov momentum (SGD)")
    p.add_argument("--weight-decay", type=float, help="L2 penalty added by the optimiser")
    p.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule over the whole run")
    p.add_argument("--label-smoothing", type=float, help="in [0, 1): how much target mass goes to other classes")
    p.add_argument("--init", choices=INIT_SCHEMES, help="weight initialisation of conv and linear layers")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random flips and 2-pixel shifts of training images")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC memory format (faster for the classic model on CPU)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="mixed precision on CUDA (bfloat16, or float16 with loss scaling)")
    p.add_argument("--snapshots", action=argparse.BooleanOptionalAction, default=None,
                   help="keep the first layer's filters and feature maps before, during and after each epoch "
                        "(snapshots.pt in the run folder, for Inspect's timeline; default: on)")
    model = p.add_argument_group("model", "change the preset's LeNetConfig (the run folder stores the result)")
    model.add_argument("--conv-channels", type=int, nargs="+", metavar="C", dest="model_conv_channels",
                       help="output channels of each conv layer (classic: 6 16)")
    model.add_argument("--kernel-sizes", type=int, nargs="+", metavar="K", dest="model_kernel_sizes",
                       help="kernel size of each conv layer (classic: 5 5)")
    model.add_argument("--paddings", type=int, nargs="+", metavar="P", dest="model_paddings",
                       help="padding of each conv layer (classic: 2 0)")
    model.add_argument("--hidden-sizes", type=int, nargs="+", metavar="H", dest="model_hidden_sizes",
                       help="units of each hidden dense layer (classic: 120 84)")
    model.add_argument("--activation", choices=tuple(ACTIVATIONS), dest="model_activation",
                       help="activation after every conv and hidden layer")
    p.add_argument("--device", choices=DEVICES, help="auto picks cuda, then mps, then cpu")
    p.add_argument("--subset", type=int, help="train on the first N training images (default: all)")
    p.add_argument("--test-subset", type=int, help="evaluate on the first N test images (default: all)")
    p.add_argument("--seed", type=int, help="seed for initialisation, shuffling and augmentation")
    p.add_argument("--progress-every", type=int, help="batches between progress updates")
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice; 1 is steadier on "
                                                "a machine whose cores are busy with other work)")
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
    config, settings = preset(args.pop("preset"))
    out, threads, download = args.pop("out"), args.pop("threads"), args.pop("download")
    model_flags = {k.removeprefix("model_"): args.pop(k) for k in list(args) if k.startswith("model_")}
    given = {k: v for k, v in args.items() if v is not None}
    try:
        environment = read_environment({})
        config = config.replace(**{k: v for k, v in model_flags.items() if v is not None})
        settings = settings.replace(**given)
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
