"""Train a LeNet on resident tensors: the whole split on the device, batches are index slices.

    python -m lenet.train --preset modern --epochs 3 --out runs/my-run
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from . import runs
from .snapshots import Timeline, first_epoch_batches, snapshot_epochs
from .data import DATASETS, DatasetNotFoundError, load_split
from .model import ACTIVATIONS, INIT_SCHEMES, LeNetConfig, build_lenet, count_parameters, init_weights, plan_layers

# `python -m lenet.train` runs this file a second time as __main__ after `import lenet` loaded it;
# that is harmless here, so runpy's warning about it is noise.
warnings.filterwarnings("ignore", message="'lenet.train' found in sys.modules", category=RuntimeWarning)

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "onecycle", "cosine")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRESETS = ("classic", "modern")
HISTORY_COLUMNS = ("epoch", "train_loss", "train_acc", "test_acc", "images_per_s", "seconds", "train_seconds", "elapsed_s")
_INIT_LOCK = threading.Lock()  # model init draws from torch's global RNG: one seeded init at a time


@dataclass
class TrainSettings:
    """How to train: data, optimiser, schedule, device. JSON round trip with to_dict()/from_dict()."""

    dataset: str = "fashion-mnist"
    subset: int | None = None  # training images used (None = all)
    test_subset: int | None = None
    epochs: int = 10
    batch_size: int = 256
    optimizer: str = "sgd"
    lr: float = 0.9
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    label_smoothing: float = 0.0
    init: str = "xavier"
    seed: int = 0
    device: str = "auto"
    progress_every: int = 20  # most batches between progress reports (short epochs report about 10 times)
    augment: bool = False  # random horizontal flips and shifts of up to 2 pixels
    channels_last: bool = True  # NHWC activations: faster convolutions on CPU for the classic model
    amp: bool = False  # CUDA only: autocast to bfloat16 (float16 with loss scaling where bf16 is missing)
    snapshots: bool = True  # keep the first layer's filters and feature maps as training goes (lenet.snapshots)

    def __post_init__(self) -> None:
        choices = {"dataset": tuple(DATASETS), "optimizer": OPTIMIZERS, "schedule": SCHEDULES,
                   "init": INIT_SCHEMES, "device": DEVICES}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}.")
        for name in ("subset", "test_subset"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 image, or None for all (got {getattr(self, name)}).")
        for name in ("epochs", "batch_size", "progress_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 (got {getattr(self, name)}).")
        if not self.lr > 0 or not math.isfinite(self.lr):
            raise ValueError(f"lr must be a positive number (got {self.lr}).")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1) (got {self.momentum}).")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ValueError("nesterov needs the sgd optimizer and a momentum above 0.")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay cannot be negative (got {self.weight_decay}).")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1) (got {self.label_smoothing}).")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainSettings":
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"Unknown TrainSettings fields: {sorted(unknown)}")
        return cls(**data)

    def replace(self, **changes) -> "TrainSettings":
        return dataclasses.replace(self, **changes)


@dataclass
class Progress:
    """One progress report: every progress_every batches (kind "batch") and at each epoch's end (kind "epoch")."""

    kind: str
    epoch: int  # 1-based
    epochs: int
    batch: int  # batches done in this epoch
    batches_per_epoch: int
    train_loss: float  # running means over the current epoch
    train_acc: float
    test_acc: float | None  # set on epoch events
    images_per_s: float  # training images over training time in this epoch
    elapsed_s: float
    eta_s: float

    @property
    def fraction(self) -> float:
        """How much of the whole run is done, in [0, 1]."""
        done = (self.epoch - 1) * self.batches_per_epoch + self.batch
        return min(1.0, max(0.0, done / (self.epochs * self.batches_per_epoch)))


@dataclass
class TrainResult:
    model: nn.Module
    config: LeNetConfig
    settings: TrainSettings
    history: pd.DataFrame  # one row per finished epoch (HISTORY_COLUMNS)
    stopped: bool
    device: str
    run_dir: Path | None
    seconds: float = 0.0  # the whole call: data to device, model, training, evaluation, saving
    timeline: Timeline | None = None  # the snapshots, when settings.snapshots

    @property
    def images_per_s(self) -> float:
        """Training images over training time, evaluation excluded, over all finished epochs."""
        if self.history.empty:
            return 0.0
        images = self.history["images_per_s"] * self.history["train_seconds"]
        return float(images.sum() / self.history["train_seconds"].sum())


def preset(name: str) -> tuple[LeNetConfig, TrainSettings]:
    """classic: d2l's LeNet and recipe exactly; modern: the fastest recipe we found to 90% test accuracy."""
    if name == "classic":
        return LeNetConfig.classic(), TrainSettings()
    if name == "modern":
        return LeNetConfig.modern(), TrainSettings(
            epochs=2, batch_size=256, optimizer="sgd", lr=0.4, momentum=0.9, nesterov=True, weight_decay=5e-4,
            schedule="onecycle", init="default", channels_last=False,
        )
    raise ValueError(f"preset must be one of {', '.join(PRESETS)}, not {name!r}.")


def available_devices() -> list[str]:
    """The devices this machine can train on, fastest first."""
    found = ["cuda"] if torch.cuda.is_available() else []
    found += ["mps"] if torch.backends.mps.is_available() else []
    return found + ["cpu"]


def pick_device(name: str = "auto") -> torch.device:
    """auto picks CUDA, then Apple MPS, then CPU; a device that is asked for but missing is a ValueError."""
    if name not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {name!r}.")
    if name == "auto":
        return torch.device(available_devices()[0])
    if name not in available_devices():
        raise ValueError(f"device {name!r} is not available on this machine (available: "
                         f"{', '.join(available_devices())}); choose one of those or 'auto'.")
    return torch.device(name)


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so the clock measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _autocast(settings: TrainSettings, device: torch.device):
    use = settings.amp and device.type == "cuda"
    dtype = torch.bfloat16 if use and torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype, enabled=use)


def _to_input(images: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """uint8 N x H x W -> float N x 1 x H x W in [0, 1]."""
    x = images.unsqueeze(1).float().div_(255)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def augment_batch(x: torch.Tensor, generator: torch.Generator, shift: int = 2) -> torch.Tensor:
    """Flip each image left-right with probability 1/2 and shift it by up to `shift` pixels (zeros fill in)."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=generator, device=x.device) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (shift, shift, shift, shift))
    dy, dx = (torch.randint(0, 2 * shift + 1, (2, n), generator=generator, device=x.device))
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[torch.arange(n, device=x.device)[:, None, None, None], chans, rows, cols]


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000,
             channels_last: bool = False) -> float:
    """Accuracy of model on uint8 images (N x H x W) already on the model's device; leaves train mode as it was."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=labels.device)
    for i in range(0, len(labels), batch_size):
        x = _to_input(images[i:i + batch_size], channels_last)
        correct += (model(x).argmax(1) == labels[i:i + batch_size]).sum()
    model.train(was_training)
    return correct.item() / max(1, len(labels))


def _check_fits(config: LeNetConfig, images: torch.Tensor, dataset: str) -> None:
    h, w = images.shape[1:]
    if (config.in_channels, config.image_size, config.image_size) != (1, h, w):
        raise ValueError(f"The model expects {config.in_channels}-channel {config.image_size}x{config.image_size} "
                         f"images but {dataset} has 1-channel {h}x{w} images.")
    if config.num_classes != 10:
        raise ValueError(f"{dataset} has 10 classes but the model has {config.num_classes} outputs.")


def _subset(images: torch.Tensor, labels: torch.Tensor, n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n images (all when n is None or larger than the split)."""
    return (images, labels) if n is None else (images[:n], labels[:n])


def _make_model(config: LeNetConfig, settings: TrainSettings) -> nn.Module:
    with _INIT_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        return init_weights(build_lenet(config), settings.init)


def _make_optimizer(model: nn.Module, settings: TrainSettings, total_steps: int):
    if settings.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                              nesterov=settings.nesterov, weight_decay=settings.weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    if settings.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.lr, total_steps=total_steps,
                                                    cycle_momentum=False)
    elif settings.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    else:
        sched = None
    return opt, sched


def _step(loss: torch.Tensor, opt, sched, scaler) -> None:
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    if sched is not None:
        sched.step()


def train(config: LeNetConfig, settings: TrainSettings, on_progress: Callable[[Progress], None] | None = None,
          stop: threading.Event | None = None, run_dir: Path | None = None) -> TrainResult:
    """Train a model built from config; report progress, honour stop between batches, keep finished epochs.

    With run_dir, the run folder is rewritten after every finished epoch. After a stop, the model and the
    history are those of the last finished epoch.
    """
    start = time.perf_counter()
    plan_layers(config, settings.batch_size)  # a model too big for memory is refused before any data is loaded
    device = pick_device(settings.device)
    train_split, test_split = load_split(settings.dataset, True), load_split(settings.dataset, False)
    _check_fits(config, train_split.images, settings.dataset)
    images, labels = (t.to(device) for t in _subset(train_split.images, train_split.labels, settings.subset))
    test_images, test_labels = (t.to(device) for t in _subset(test_split.images, test_split.labels, settings.test_subset))
    model = _make_model(config, settings).to(device)
    if settings.channels_last:
        model = model.to(memory_format=torch.channels_last)
    n = len(labels)
    batches = math.ceil(n / settings.batch_size)
    report_every = min(settings.progress_every, max(1, batches // 10))  # live curves need points in short epochs
    opt, sched = _make_optimizer(model, settings, settings.epochs * batches)
    scaler = torch.amp.GradScaler("cuda", enabled=settings.amp and device.type == "cuda"
                                  and not torch.cuda.is_bf16_supported())
    loss_fn = nn.CrossEntropyLoss(label_smoothing=settings.label_smoothing)
    shuffle = torch.Generator().manual_seed(settings.seed)
    aug = torch.Generator(device).manual_seed(settings.seed + 1)
    finished = copy.deepcopy(model.state_dict())
    rows, stopped = [], False
    run_dir = Path(run_dir) if run_dir is not None else None
    timeline = Timeline.of_split(test_split) if settings.snapshots else None
    early, epochs_kept = first_epoch_batches(batches), snapshot_epochs(settings.epochs)
    if timeline is not None:
        timeline.take(model, 0.0)

    def report(kind, epoch, batch, loss_sum, correct, seen, train_s, test_acc=None):
        elapsed = time.perf_counter() - start
        p = Progress(kind, epoch, settings.epochs, batch, batches, loss_sum.item() / max(seen, 1),
                     correct.item() / max(seen, 1), test_acc, seen / max(train_s, 1e-9), elapsed, 0.0)
        p.eta_s = elapsed / p.fraction * (1 - p.fraction)
        if on_progress is not None:
            on_progress(p)

    for epoch in range(1, settings.epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=shuffle).to(device, non_blocking=True)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        seen = 0
        for b in range(batches):
            if stop is not None and stop.is_set():
                stopped = True
                break
            idx = order[b * settings.batch_size:(b + 1) * settings.batch_size]
            x, y = _to_input(images[idx], settings.channels_last), labels[idx]
            if settings.augment:
                x = augment_batch(x, aug)
            with _autocast(settings, device):
                logits = model(x)
                loss = loss_fn(logits, y)
            _step(loss, opt, sched, scaler)
            loss_sum += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
            if (b + 1) % report_every == 0 and b + 1 < batches:
                synchronize(device)
                report("batch", epoch, b + 1, loss_sum, correct, seen, time.perf_counter() - epoch_start)
            if timeline is not None and epoch == 1 and b + 1 in early:
                timeline.take(model, (b + 1) / batches, loss_sum.item() / seen, correct.item() / seen)
        if stopped:
            break
        synchronize(device)
        train_s = time.perf_counter() - epoch_start
        test_acc = evaluate(model, test_images, test_labels, settings.batch_size, settings.channels_last)
        train_loss, train_acc = loss_sum.item() / seen, correct.item() / seen
        if not math.isfinite(train_loss):
            warnings.warn(f"The training loss became {train_loss} in epoch {epoch}: lower the learning rate.")
        rows.append({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "test_acc": test_acc,
                     "images_per_s": seen / train_s, "seconds": time.perf_counter() - epoch_start,
                     "train_seconds": train_s, "elapsed_s": time.perf_counter() - start})
        finished = copy.deepcopy(model.state_dict())
        if timeline is not None and epoch in epochs_kept:
            timeline.take(model, epoch, train_loss, train_acc)
        if run_dir is not None:
            status = "finished" if epoch == settings.epochs else "running"
            _save(run_dir, config, settings, rows, model, status, device, timeline)
        report("epoch", epoch, batches, loss_sum, correct, seen, train_s, test_acc)
    if stopped:
        model.load_state_dict(finished)
        if run_dir is not None and rows:
            _save(run_dir, config, settings, rows, model, "stopped", device, timeline)
    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    model = model.to(memory_format=torch.contiguous_format).eval()  # as load_model would give it back
    return TrainResult(model, config, settings, history, stopped, str(device), run_dir,
                       time.perf_counter() - start, timeline)


def _save(run_dir: Path, config, settings, rows, model, status: str, device: torch.device,
          timeline: Timeline | None) -> None:
    extra = {"status": status, "device": str(device), "parameters": count_parameters(model)}
    runs.save_run(run_dir, config, settings, pd.DataFrame(rows, columns=HISTORY_COLUMNS), model, extra,
                  snapshots=timeline)


# ---- command line ----

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
                        "it must not exist yet or be empty")
    return p


def _progress_line(p: Progress) -> str:
    width = 24
    bar = "#" * round(p.fraction * width)
    line = (f"epoch {p.epoch}/{p.epochs} [{bar:<{width}}] {p.fraction:4.0%}  loss {p.train_loss:.3f}  "
            f"train acc {p.train_acc:.3f}")
    if p.test_acc is not None:
        line += f"  test acc {p.test_acc:.3f}"
    return line + f"  {p.images_per_s:,.0f} img/s  {p.elapsed_s:.0f}s, eta {p.eta_s:.0f}s"


def peak_memory_mb() -> float | None:
    """This process's peak resident memory so far, in MB (None where the OS does not report it)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, kB on Linux


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
    out, threads = args.pop("out"), args.pop("threads")
    model_flags = {k.removeprefix("model_"): args.pop(k) for k in list(args) if k.startswith("model_")}
    given = {k: v for k, v in args.items() if v is not None}
    try:
        config = config.replace(**{k: v for k, v in model_flags.items() if v is not None})
        settings = settings.replace(**given)
        plan_layers(config, settings.batch_size)
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
        result = train(config, settings, _print_progress, stop, out)
    except (ValueError, DatasetNotFoundError) as e:  # e.g. a model that does not fit the images, or no data
        parser.exit(2, f"{parser.prog}: error: {e}\n")
    last = result.history.iloc[-1] if len(result.history) else {}
    summary = {
        "test_acc": last.get("test_acc"), "train_acc": last.get("train_acc"), "train_loss": last.get("train_loss"),
        "images_per_s": result.images_per_s, "seconds": time.perf_counter() - start,
        "epochs": len(result.history), "stopped": result.stopped, "device": result.device,
        "parameters": count_parameters(result.model), "run_dir": str(out) if out is not None else None,
        "peak_rss_mb": peak_memory_mb(),
    }
    print(json.dumps({k: float(v) if hasattr(v, "item") else v for k, v in summary.items()}))
    return summary


if __name__ == "__main__":
    main()
