"""What do training snapshots cost? The same run with and without them, interleaved; prints one JSON object.

    python -m lenet.snapshot_bench --threads 1            # classic LeNet, 20,000 images, 2 epochs, 5 repeats
    python -m lenet.snapshot_bench --device cuda --subset 0

See docs/benchmark.md ("Training snapshots") for recorded results.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import torch

from .training import pick_device, preset, train
from .training.snapshots import SNAPSHOT_FILE


def one_run(preset_name: str, subset: int | None, epochs: int, snapshots: bool, device: str) -> dict:
    """One training saved to a temporary run folder: its throughput, its whole time and its files' sizes."""
    config, settings = preset(preset_name)
    settings = settings.replace(subset=subset, epochs=epochs, snapshots=snapshots, device=device)
    with tempfile.TemporaryDirectory() as folder:
        result = train(config, settings, run_dir=Path(folder))
        sizes = {p.name: p.stat().st_size for p in Path(folder).iterdir()}
    kept = len(result.timeline) if result.timeline is not None else 0
    return {"snapshots": snapshots, "images_per_s": result.images_per_s, "seconds": result.seconds,
            "kept": kept, "snapshot_bytes": sizes.get(SNAPSHOT_FILE, 0), "model_bytes": sizes["model.pt"]}


def compare(preset_name: str, subset: int | None, epochs: int, repeats: int, device: str) -> dict:
    """Runs without and with snapshots, alternating which goes first; medians and the ratio of the medians."""
    runs = []
    for r in range(repeats):
        for snapshots in ((False, True) if r % 2 == 0 else (True, False)):
            runs.append(one_run(preset_name, subset, epochs, snapshots, device))
    off = [run for run in runs if not run["snapshots"]]
    on = [run for run in runs if run["snapshots"]]

    def median(rows, key):
        return statistics.median(row[key] for row in rows)

    kept, size = on[0]["kept"], on[0]["snapshot_bytes"]
    return {
        "images_per_s_without": median(off, "images_per_s"), "images_per_s_with": median(on, "images_per_s"),
        "images_per_s_ratio": median(on, "images_per_s") / median(off, "images_per_s"),
        "seconds_without": median(off, "seconds"), "seconds_with": median(on, "seconds"),
        "seconds_ratio": median(on, "seconds") / median(off, "seconds"),
        "snapshots_kept": kept, "snapshot_file_bytes": size, "bytes_per_snapshot": size / max(kept, 1),
        "model_bytes": on[0]["model_bytes"], "runs": runs,
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m lenet.snapshot_bench", description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="classic", help="classic or modern (default: classic)")
    p.add_argument("--subset", type=int, default=20_000, help="training images per epoch (0: all 60,000)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5, help="pairs of runs, without and with snapshots")
    p.add_argument("--device", default="cpu", help="auto, cpu, cuda or mps")
    p.add_argument("--threads", type=int, help="CPU threads for torch (1 is steadier on a busy machine)")
    args = p.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = str(pick_device(args.device))
    result = {"preset": args.preset, "subset": args.subset or None, "epochs": args.epochs, "device": device,
              "threads": torch.get_num_threads(), "torch": torch.__version__,
              **compare(args.preset, args.subset or None, args.epochs, args.repeats, args.device)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
