"""Train the reference runs that ship with the app: d2l's classic recipe and the modern preset on the real
Fashion-MNIST, so Inspect, Parameters and the timeline have a trained model before anyone has trained one.

    python -m lenet.reference --out reference_runs            # both, one folder each (reference_runs/classic, ...)
    python -m lenet.reference --out /tmp/refs modern          # only one

Each run replaces the folder of the same name only once it has finished. One JSON line per run: its test accuracy,
seconds and size on disk.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from .environment import read_environment
from .training import preset, rename_run, train
from .training.folders import REFERENCE_RUNS_DIR

# name -> (display name, the preset's settings changed): the whole training set, the recipes' own epochs.
REFERENCES = {
    "classic": ("classic LeNet, d2l's recipe", {}),
    "modern": ("modern LeNet, the modern preset", {}),
}


def train_reference(name: str, out: Path, device: str = "cpu", data_dir: Path | None = None) -> dict:
    """Train one reference run into out/name (replacing it once done); returns what the JSON line reports."""
    title, changes = REFERENCES[name]
    config, settings = preset(name)
    settings = settings.replace(device=device, **changes)
    staging = out / f".training-{name}"  # hidden, so never listed while it trains
    shutil.rmtree(staging, ignore_errors=True)
    result = train(config, settings, run_dir=staging, data_dir=data_dir)
    if result.stopped or result.save_error:
        raise SystemExit(f"The {name} reference run did not finish: {result.save_error or 'it was stopped'}")
    rename_run(staging, title)
    target = out / name
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    last = result.history.iloc[-1]
    return {"run": name, "folder": str(target), "test_acc": round(float(last["test_acc"]), 4),
            "train_acc": round(float(last["train_acc"]), 4), "epochs": settings.epochs,
            "seconds": round(result.seconds, 1), "bytes": sum(f.stat().st_size for f in target.iterdir())}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m lenet.reference", description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="*", metavar="RUN", help=f"which reference runs to train: {', '.join(REFERENCES)} "
                   "(default: all)")
    p.add_argument("--out", type=Path, default=REFERENCE_RUNS_DIR, help="folder of the reference runs "
                   "(default: the app's reference_runs/)")
    p.add_argument("--device", default="cpu", help="where to train (default: cpu, as the committed runs were)")
    p.add_argument("--threads", type=int, default=1, help="torch's CPU threads (default: 1)")
    args = p.parse_args(argv)
    unknown = sorted(set(args.runs) - set(REFERENCES))
    if unknown:
        p.error(f"no reference run called {', '.join(unknown)}; choose from {', '.join(REFERENCES)}")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    data_dir = read_environment().data_dir
    for name in args.runs or list(REFERENCES):
        print(json.dumps(train_reference(name, args.out, args.device, data_dir)), flush=True)


if __name__ == "__main__":
    main()
