"""Train a LeNet on resident tensors: the whole split on the device, batches are index slices."""

from __future__ import annotations

import copy
import math
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

from ..core.model import (
    DEFAULT_MAX_TRAINING_BYTES,
    LeNetConfig,
    build_lenet,
    count_parameters,
    init_weights,
    plan_layers,
)
from ..data import Split, load_split
from .devices import pick_device, synchronize
from .folders import claim_run_dir, release_run_dir
from .runs import save_run
from .settings import HISTORY_COLUMNS, TrainSettings
from .snapshots import Timeline, first_epoch_batches, snapshot_epochs

EpochCallback = Callable[[list[dict], nn.Module, str, "Timeline | None"], None]  # (rows, model, status, timeline)
_INIT_LOCK = threading.Lock()  # model init draws from torch's global RNG: one seeded init at a time


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
    save_error: str | None = None  # why the run folder could not be written (the training stopped there)
    node: str = "local"  # where it ran: "local" (this process), or the Ray node id

    @property
    def images_per_s(self) -> float:
        """Training images over training time, evaluation excluded, over all finished epochs."""
        if self.history.empty:
            return 0.0
        images = self.history["images_per_s"] * self.history["train_seconds"]
        return float(images.sum() / self.history["train_seconds"].sum())


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
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000,
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


def make_model(config: LeNetConfig, settings: TrainSettings) -> nn.Module:
    """The untrained model a training with these settings starts from (seeded, so always the same)."""
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
          stop: threading.Event | None = None, run_dir: Path | None = None, data_dir: Path | None = None,
          max_training_bytes: int = DEFAULT_MAX_TRAINING_BYTES, download: bool = False,
          data: tuple[Split, Split] | None = None, on_epoch: EpochCallback | None = None) -> TrainResult:
    """Train a model built from config; report progress, honour stop between batches, keep finished epochs.

    With run_dir (new or empty), the run folder is claimed for this training (a second training into it raises
    RunDirInUseError) and rewritten after every finished epoch; a disk that refuses an epoch stops the training
    there, with save_error saying why. After a stop, the model and the history are those of the last finished
    epoch. data_dir is looked in first for the dataset, which is downloaded only with download=True, unless data
    gives the (train, test) splits already loaded (a Ray worker gets them from the object store). A model whose
    training would need more than max_training_bytes is refused before any data is loaded. on_epoch(rows, model,
    status, timeline) is called after every finished epoch (a Ray worker hands each epoch back to the app with it).
    """
    start = time.perf_counter()
    plan_layers(config, settings.batch_size, max_training_bytes)
    device = pick_device(settings.device)

    def splits() -> tuple[Split, Split]:
        return data or (load_split(settings.dataset, True, download, data_dir),
                        load_split(settings.dataset, False, download, data_dir))

    if run_dir is None:
        return _train(config, settings, on_progress, stop, None, splits, on_epoch, device, start)
    claim_run_dir(run_dir)
    try:
        return _train(config, settings, on_progress, stop, Path(run_dir), splits, on_epoch, device, start)
    finally:
        release_run_dir(run_dir)


def _train(config: LeNetConfig, settings: TrainSettings, on_progress, stop, run_dir: Path | None,
           splits: Callable[[], tuple[Split, Split]], on_epoch, device: torch.device, start: float) -> TrainResult:
    train_split, test_split = splits()
    _check_fits(config, train_split.images, settings.dataset)
    images, labels = (t.to(device) for t in _subset(train_split.images, train_split.labels, settings.subset))
    test_images, test_labels = (t.to(device) for t in _subset(test_split.images, test_split.labels, settings.test_subset))
    model = make_model(config, settings).to(device)
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
    rows, stopped, save_error = [], False, None
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
        test_acc = accuracy(model, test_images, test_labels, settings.batch_size, settings.channels_last)
        train_loss, train_acc = loss_sum.item() / seen, correct.item() / seen
        if not math.isfinite(train_loss):
            warnings.warn(f"The training loss became {train_loss} in epoch {epoch}: lower the learning rate.")
        rows.append({"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc, "test_acc": test_acc,
                     "images_per_s": seen / train_s, "seconds": time.perf_counter() - epoch_start,
                     "train_seconds": train_s, "elapsed_s": time.perf_counter() - start})
        finished = copy.deepcopy(model.state_dict())
        if timeline is not None and epoch in epochs_kept:
            timeline.take(model, epoch, train_loss, train_acc)
        status = "finished" if epoch == settings.epochs else "running"
        if run_dir is not None:
            save_error = save_epoch(run_dir, config, settings, rows, model, status, str(device), timeline)
        if on_epoch is not None:
            on_epoch(list(rows), model, status, timeline)
        report("epoch", epoch, batches, loss_sum, correct, seen, train_s, test_acc)
        if save_error:
            save_error = (f"Epoch {epoch} could not be saved, so the training stopped there: {save_error} "
                          f"The run folder keeps the {epoch - 1} epoch(s) saved before it.")
            stopped = True
            break
    if stopped:
        model.load_state_dict(finished)
        if run_dir is not None and rows and not save_error:
            error = save_epoch(run_dir, config, settings, rows, model, "stopped", str(device), timeline)
            save_error = error and (f"The stop could not be saved: {error} The run folder keeps its {len(rows)} "
                                    "epoch(s) and reads as interrupted.")
    history = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    model = model.to(memory_format=torch.contiguous_format).eval()  # as load_model would give it back
    return TrainResult(model, config, settings, history, stopped, str(device), run_dir,
                       time.perf_counter() - start, timeline, save_error)


def save_epoch(run_dir: Path, config: LeNetConfig, settings: TrainSettings, rows: list[dict], model: nn.Module,
               status: str, device: str, timeline: Timeline | None) -> str | None:
    """Rewrite the run folder; a disk that refuses (full, read-only) is returned as a sentence, not raised."""
    extra = {"status": status, "device": device, "parameters": count_parameters(model)}
    try:
        save_run(run_dir, config, settings, pd.DataFrame(rows, columns=HISTORY_COLUMNS), model, extra,
                 snapshots=timeline)
    except OSError as e:  # save_run leaves the folder as the last epoch saved it
        return str(e)
    return None
