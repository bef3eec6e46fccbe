""""My training is stuck at 10%": tell a stuck or diverged run from its metrics, probe its first batches
(activations and gradients, layer by layer), and explain it with the run's own numbers and a changed config."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..core.model import LeNetConfig
from ..data import load_split, to_batch
from .engine import make_model
from .settings import TrainSettings
from .sweeps import FULL_TRAINING_SET

LOSS_TOL, ACCURACY_TOL = 0.1, 0.05  # stuck: loss at least ln C - LOSS_TOL, accuracy at most 1/C + ACCURACY_TOL
DIVERGED_FACTOR = 1.5  # diverged: a loss that is not a number, or above DIVERGED_FACTOR x ln C
FIRST_JUDGED = 0.5  # judge a run once it has trained half an epoch (earlier, every run is still at chance)
SATURATING = {"Sigmoid": (0.0, 1.0), "Tanh": (-1.0, 1.0)}  # activations that flatten out, and their bounds
SATURATED_MARGIN = 0.05  # an output within 5% of its range from a bound is saturated: its slope is nearly 0
FEW_STEPS = 50  # an epoch of fewer weight updates than this is short for a network that starts at chance
PROBE_BATCHES, PROBE_BATCH_SIZE = 4, 64  # the probe's handful of batches: a tenth of a second on one CPU core
# (lowest, highest, what the fix sets): each end lifted the classic LeNet with ReLU and Xavier off chance in 2 epochs
# of 2,000 images in batches of 64, seeds 0-2 (SGD 0.03: 0.38-0.53 test accuracy); SGD 0.01 stayed at chance, and so
# did 0.9 in 2 of 3 seeds of 1 epoch on 1,000 images
GOOD_LR = {"sgd": (0.03, 0.3, 0.1), "adam": (1e-4, 3e-3, 1e-3)}


@dataclass(frozen=True)
class Verdict:
    """What the metrics say: "ok", "stuck", "diverged", or "too early" (under half an epoch, nothing wrong yet)."""

    state: str
    epoch: float  # where it was judged (fractional epochs)
    loss: float
    accuracy: float
    num_classes: int = 10

    @property
    def fired(self) -> bool:
        return self.state in ("stuck", "diverged")

    @property
    def chance_loss(self) -> float:
        """The cross-entropy of a model that gives every class the same probability: ln C."""
        return math.log(self.num_classes)


def metrics_frame(points) -> pd.DataFrame:
    """Progress reports, history rows (dicts) or a metrics.csv DataFrame -> one row per point, fractional epochs."""
    rows = [dataclasses.asdict(p) if dataclasses.is_dataclass(p) else dict(p) for p in points] \
        if not isinstance(points, pd.DataFrame) else points.to_dict("records")
    frame = pd.DataFrame(rows, columns=None if rows else ["epoch", "train_loss", "train_acc", "test_acc"])
    if {"batch", "batches_per_epoch"} <= set(frame.columns):
        frame = frame.assign(epoch=frame["epoch"] - 1 + frame["batch"] / frame["batches_per_epoch"])
    for column in ("train_loss", "train_acc", "test_acc"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce") if column in frame else math.nan
    return frame


def detect(points, num_classes: int = 10, loss_tol: float = LOSS_TOL, accuracy_tol: float = ACCURACY_TOL) -> Verdict:
    """Stuck: after half an epoch the loss is still about ln C (or above) and the accuracy about 1/C;
    diverged: the loss is not a number, or far above ln C. Judged on the latest point."""
    frame = metrics_frame(points)
    if frame.empty:
        return Verdict("too early", 0.0, math.nan, math.nan, num_classes)
    last = frame.iloc[-1]
    accuracy = max((float(a) for a in (last.train_acc, last.test_acc) if math.isfinite(a)), default=math.nan)
    chance = math.log(num_classes)
    if not math.isfinite(last.train_loss) or last.train_loss > DIVERGED_FACTOR * chance:
        state = "diverged"
    elif last.epoch < FIRST_JUDGED:
        state = "too early"
    elif last.train_loss >= chance - loss_tol and accuracy <= 1 / num_classes + accuracy_tol:
        state = "stuck"
    else:
        state = "ok"
    return Verdict(state, float(last.epoch), float(last.train_loss), accuracy, num_classes)


def _saturated(output: torch.Tensor, bounds: tuple[float, float]) -> float:
    low, high = bounds
    margin = SATURATED_MARGIN * (high - low)
    return ((output < low + margin) | (output > high - margin)).float().mean().item()


def probe(model: nn.Sequential, images: torch.Tensor, labels: torch.Tensor, batches: int = PROBE_BATCHES,
          batch_size: int = PROBE_BATCH_SIZE) -> pd.DataFrame:
    """Run the first batches forward and backward (no step); per layer, averaged over the batches: its output's
    mean, std and fraction saturated (sigmoid, tanh), and the norms of its parameters' gradient and values.

    The model's gradients are left as they were; batch norm's running statistics move, as in training."""
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"The probe needs an nn.Sequential such as build_lenet's, not a {type(model).__name__}.")
    if len(labels) == 0 or batches < 1 or batch_size < 1:
        raise ValueError("The probe needs at least one batch of at least one image.")
    layers = dict(model.named_children())
    outputs = {name: [] for name in layers}
    grads = {name: [] for name, layer in layers.items() if list(layer.parameters())}
    squares: dict[str, list[torch.Tensor]] = {}
    hooks = []
    for name, layer in layers.items():
        def keep(_module, _inputs, output, name=name):
            outputs[name].append(output.detach())
        hooks.append(layer.register_forward_hook(keep))
        for p in layer.parameters():  # a backward hook on each parameter: its gradient as autograd computes it
            hooks.append(p.register_hook(lambda g, name=name: squares.setdefault(name, []).append(g.pow(2).sum())))
    saved = [p.grad for p in model.parameters()]
    device = next(model.parameters()).device
    try:
        for i in range(0, min(len(labels), batches * batch_size), batch_size):
            x, y = to_batch(images[i:i + batch_size]).to(device), labels[i:i + batch_size].to(device)
            squares.clear()
            F.cross_entropy(model(x), y).backward()
            for name in grads:
                grads[name].append(torch.stack(squares[name]).sum().sqrt().item())
    finally:
        for hook in hooks:
            hook.remove()
        for p, grad in zip(model.parameters(), saved):
            p.grad = grad
    return pd.DataFrame([_layer_row(name, layer, outputs[name], grads.get(name)) for name, layer in layers.items()])


def _layer_row(name: str, layer: nn.Module, outputs: list[torch.Tensor], grads: list[float] | None) -> dict:
    kind = type(layer).__name__
    bounds = SATURATING.get(kind)
    values = list(layer.parameters())
    return {"layer": name, "type": kind,
            "mean": sum(o.mean().item() for o in outputs) / len(outputs),
            "std": sum(o.std().item() for o in outputs) / len(outputs),
            "saturated": sum(_saturated(o, bounds) for o in outputs) / len(outputs) if bounds else math.nan,
            "grad_norm": sum(grads) / len(grads) if grads else math.nan,
            "weight_norm": math.sqrt(sum(p.detach().pow(2).sum().item() for p in values)) if values else math.nan}


def probe_run(config: LeNetConfig, settings: TrainSettings, data_dir: Path | None = None,
              batches: int = PROBE_BATCHES, batch_size: int = PROBE_BATCH_SIZE) -> pd.DataFrame:
    """probe() on the model this run starts from (same seed, same init) and the first images of its training data."""
    split = load_split(settings.dataset, True, data_dir=data_dir)
    n = batches * batch_size
    return probe(make_model(config, settings).train(), split.images[:n], split.labels[:n], batches, batch_size)


@dataclass(frozen=True)
class Change:
    """One setting the fix changes, and why."""

    field: str  # a LeNetConfig or TrainSettings field
    before: object
    after: object
    why: str


@dataclass
class Diagnosis:
    """Why a run is stuck or diverged, in sentences with its own numbers, and the config and settings that fix it."""

    verdict: Verdict
    reasons: list[str]
    changes: list[Change]
    config: LeNetConfig  # the fixed ones
    settings: TrainSettings


def diagnose(config: LeNetConfig, settings: TrainSettings, points, stats: pd.DataFrame | None = None) -> Diagnosis | None:
    """The diagnosis of a run from its points (and probe() statistics, when given); None when it trains as it should."""
    verdict = detect(points, config.num_classes)
    if not verdict.fired:
        return None
    steps = math.ceil((settings.subset or FULL_TRAINING_SET) / settings.batch_size)
    reasons = [_headline(verdict, settings, steps)]
    if verdict.state == "diverged":
        changes = _lr_fix(settings)
        reasons += _step_reasons(settings, stats) if stats is not None else []
    else:
        changes = _stuck_fix(config, settings, steps)
        reasons += _probe_reasons(config, settings, stats) if stats is not None else []
    fields = {f.name for f in dataclasses.fields(LeNetConfig)}
    fixed_config = config.replace(**{c.field: c.after for c in changes if c.field in fields})
    fixed_settings = settings.replace(**{c.field: c.after for c in changes if c.field not in fields})
    return Diagnosis(verdict, reasons, changes, fixed_config, fixed_settings)


def _headline(verdict: Verdict, settings: TrainSettings, steps: int) -> str:
    where = f"after {verdict.epoch:.3g} epoch{'' if verdict.epoch == 1 else 's'} " \
        f"({round(verdict.epoch * steps):,} weight updates of {settings.batch_size} images)"
    if verdict.state == "diverged":
        return (f"The training diverged: {where} the loss is {verdict.loss:.4g}, far above ln {verdict.num_classes} = "
                f"{verdict.chance_loss:.3f}, the loss of guessing. Steps of learning rate {settings.lr:g} overshoot "
                "and the weights blow up.")
    return (f"The training is stuck at chance: {where} the loss is still {verdict.loss:.3f} (ln {verdict.num_classes} = "
            f"{verdict.chance_loss:.3f} is the loss of a model that gives every class the same probability) and the "
            f"accuracy {verdict.accuracy:.1%}, what guessing one of {verdict.num_classes} classes gives.")


def _weighted(stats: pd.DataFrame) -> pd.DataFrame:
    """The conv and linear layers' rows, with the size of one SGD step relative to the weights at learning rate 1."""
    rows = stats[stats["type"].isin(["Conv2d", "Linear"])].dropna(subset=["grad_norm"])
    return rows.assign(step=rows["grad_norm"] / rows["weight_norm"].clip(lower=1e-30))


def _step_reasons(settings: TrainSettings, stats: pd.DataFrame) -> list[str]:
    """The largest first step relative to its layer's weights, when it is large enough to throw the weights off."""
    weighted = _weighted(stats)
    if weighted.empty or settings.optimizer != "sgd":
        return []
    worst = weighted.loc[weighted["step"].idxmax()]
    step = settings.lr * worst.step
    return [f"With learning rate {settings.lr:g}, the first step changes {worst.layer}'s weights by {step:.0%} of their "
            "size."] if step > 0.01 else []


def _probe_reasons(config: LeNetConfig, settings: TrainSettings, stats: pd.DataFrame) -> list[str]:
    """What the probe's numbers say: vanishing gradients, tiny steps, squeezed or saturated activations."""
    reasons = []
    weighted = _weighted(stats)
    if len(weighted) >= 2:
        first, last = weighted.iloc[0], weighted.iloc[-1]
        ratio = last.grad_norm / max(first.grad_norm, 1e-30)
        if ratio > 10:
            reasons.append(f"The gradients vanish on the way back: on the first batches {first.layer}'s gradient norm is "
                           f"{first.grad_norm:.2g}, {ratio:,.0f} times smaller than {last.layer}'s ({last.grad_norm:.2g}).")
        step = settings.lr * first.step
        if settings.optimizer == "sgd" and step < 1e-3:
            reasons.append(f"With learning rate {settings.lr:g}, one step changes {first.layer}'s weights by about "
                           f"{step:.1e} of their size: about {1 / step:,.0f} steps to change them by their own size.")
    bounds = SATURATING.get({"sigmoid": "Sigmoid", "tanh": "Tanh"}.get(config.activation, ""))
    acts = stats[stats["type"].isin(list(SATURATING))]
    if bounds and len(acts):
        worst = acts.loc[acts["saturated"].idxmax()]
        if worst.saturated > 0.2:
            reasons.append(f"{worst.saturated:.0%} of {worst.layer}'s outputs are saturated (within "
                           f"{SATURATED_MARGIN:.0%} of {bounds[0]:g} or {bounds[1]:g}), where its slope is nearly 0.")
        last_act = acts.iloc[-1]
        if config.activation == "sigmoid" and last_act["std"] < 0.1:
            reasons.append(f"{last_act.layer}'s sigmoid outputs sit at {last_act['mean']:.2f} ± {last_act['std']:.2f}, "
                           "near the middle, where the sigmoid's slope is largest: 0.25. Even there, each sigmoid "
                           "passes back at most a quarter of the gradient it gets.")
    return reasons


INIT_WHY = {
    "default": "PyTorch's default draws weights with standard deviation 1/sqrt(3 x fan-in), which shrinks the signal "
               "layer by layer",
    "normal": "normal(0, 0.01) weights are far too small: the signal dies out within a layer or two",
    "constant": "constant weights make every unit of a layer compute the same thing, and they stay the same",
}


def _stuck_fix(config: LeNetConfig, settings: TrainSettings, steps: int) -> list[Change]:
    """Changes for a run stuck at chance: ReLU, Xavier, a learning rate that moves a ReLU LeNet, more steps."""
    changes = []
    if config.activation in ("sigmoid", "tanh"):
        changes.append(Change("activation", config.activation, "relu", "ReLU passes the gradient back unshrunk "
                              "where it is on (slope 1); sigmoid's slope is at most 0.25, tanh's 1 only at 0."))
    if settings.init in INIT_WHY:
        changes.append(Change("init", settings.init, "xavier", f"{INIT_WHY[settings.init]}; Xavier scales each "
                              "layer's weights to its fan-in and fan-out, so activations and gradients keep their size."))
    low, high, good = GOOD_LR[settings.optimizer]
    if not low <= settings.lr <= high:
        changes.append(Change("lr", settings.lr, good, f"In 64 steps of 64 images, {settings.optimizer.upper()} lifted "
                              f"a ReLU LeNet off chance with learning rates from {low:g} to {high:g}; {settings.lr:g} is "
                              f"too {'small' if settings.lr < low else 'large'}."))
    if steps < FEW_STEPS and settings.batch_size > 64:
        changes.append(Change("batch_size", settings.batch_size, 64, f"{steps} weight updates an epoch are few: "
                              f"batches of 64 give {math.ceil((settings.subset or FULL_TRAINING_SET) / 64)}."))
    if not changes and settings.optimizer == "sgd":
        changes.append(Change("optimizer", "sgd", "adam", "Adam scales each step to the gradient's own size, so small "
                              "gradients still move the weights."))
        changes.append(Change("lr", settings.lr, GOOD_LR["adam"][2], "Adam's usual learning rate."))
    elif not changes:
        changes.append(Change("epochs", settings.epochs, 2 * settings.epochs, "Nothing else looks wrong: train longer."))
    return changes


def _lr_fix(settings: TrainSettings) -> list[Change]:
    """The change for a diverged run: a tenth of its learning rate."""
    lr = float(f"{settings.lr / 10:.1g}")
    return [Change("lr", settings.lr, lr, f"A training that diverges needs smaller steps: a tenth of {settings.lr:g}.")]
