"""Initialisation on the sigmoid LeNet: each scheme's weights and activations, and real trainings from
each scheme, run as one background job that every visitor shares."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from torch import nn

from ..core.model import INIT_SCHEMES, LeNetConfig, build_lenet, init_weights
from ..data import to_batch
from ..training import Job, JobRegistry, Progress, TrainSettings, train
from .parameters import parameter_values

SCHEME_LABELS = {
    "default": "PyTorch's default",
    "normal": "normal(0, 0.01), zero biases",
    "xavier": "Xavier uniform",
    "constant": "constant 1, zero biases",
}
# Long enough for Xavier to lift the sigmoid LeNet off chance level (seen during epoch 2), short enough for a CPU.
INIT_TRAINING = TrainSettings(subset=20_000, test_subset=2_000, epochs=3, batch_size=128, lr=0.9, progress_every=5)


def initialised(config: LeNetConfig, scheme: str, seed: int = 0) -> nn.Module:
    """A fresh model for config, initialised with one of INIT_SCHEMES from a fixed seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return init_weights(build_lenet(config), scheme).eval()


def scheme_weights(config: LeNetConfig, schemes=INIT_SCHEMES, seed: int = 0) -> dict[str, torch.Tensor]:
    """'scheme · name' -> the values of every weight tensor of a fresh model under each scheme."""
    return {f"{scheme} · {name}": values for scheme in schemes
            for name, values in parameter_values(initialised(config, scheme, seed), weights_only=True).items()}


@torch.no_grad()
def activation_stats(model: nn.Module, images: torch.Tensor) -> pd.DataFrame:
    """Mean and standard deviation of every layer's output on a batch (uint8 N x H x W or floats in [0, 1])."""
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"Expected an nn.Sequential such as build_lenet's, not a {type(model).__name__}.")
    x = to_batch(images)
    if len(x) < 2:
        raise ValueError("Activation statistics need a batch of at least 2 images.")
    x = x.to(next(model.parameters()).device)
    was_training = model.training
    model.eval()
    rows = []
    try:
        for name, layer in model.named_children():
            x = layer(x)
            rows.append({"layer": name, "type": type(layer).__name__, "mean": x.mean().item(), "std": x.std().item()})
    finally:
        model.train(was_training)
    return pd.DataFrame(rows)


def compare_inits(config: LeNetConfig, images: torch.Tensor, schemes=INIT_SCHEMES, seed: int = 0) -> pd.DataFrame:
    """activation_stats of a fresh model under each scheme, stacked, with a `scheme` column first."""
    tables = [activation_stats(initialised(config, s, seed), images).assign(scheme=s) for s in schemes]
    table = pd.concat(tables, ignore_index=True)
    return table[["scheme", *table.columns.drop("scheme")]]


@dataclass
class InitRun:
    """One short training from one initialisation scheme: its progress reports and per-epoch history."""

    scheme: str
    points: list[Progress]
    history: pd.DataFrame


def train_with_init(config: LeNetConfig, scheme: str, settings: TrainSettings = INIT_TRAINING,
                    on_progress: Callable[[Progress], None] | None = None,
                    stop: threading.Event | None = None, data_dir: Path | None = None) -> InitRun:
    """Train config briefly with one initialisation scheme (a real run of lenet.training.train), keep its curve."""
    points: list[Progress] = []

    def report(p: Progress) -> None:
        points.append(p)
        if on_progress is not None:
            on_progress(p)

    result = train(config, settings.replace(init=scheme), report, stop, data_dir=data_dir)
    return InitRun(scheme, points, result.history)


def train_inits(config: LeNetConfig, results: dict[str, InitRun], schemes=INIT_SCHEMES,
                settings: TrainSettings = INIT_TRAINING,
                on_progress: Callable[[float, str], None] | None = None,
                stop: threading.Event | None = None, data_dir: Path | None = None) -> dict[str, InitRun]:
    """Train once from each scheme not yet in results, adding each run once it has all its epochs (a stop or an
    error keeps the runs finished before it). on_progress gets the fraction done over these runs and a line of text."""
    todo = [scheme for scheme in schemes if scheme not in results]
    for i, scheme in enumerate(todo):
        def report(p: Progress, i: int = i, scheme: str = scheme) -> None:
            if on_progress is not None:
                on_progress((i + p.fraction) / len(todo), f"{SCHEME_LABELS.get(scheme, scheme)}: epoch "
                            f"{p.epoch}/{p.epochs}, training loss {p.train_loss:.3f}")

        run = train_with_init(config, scheme, settings, report, stop, data_dir)
        if len(run.history) < settings.epochs:  # stopped: a shorter run would not compare with the others
            break
        results[scheme] = run
    return results


class InitTrainings:
    """The runs of train_inits, shared by every visitor: one background job at a time trains the missing schemes.

    The settings and seeds are fixed, so a run finished for one visitor is the run every visitor would get.
    """

    def __init__(self, config: LeNetConfig, settings: TrainSettings = INIT_TRAINING, schemes=INIT_SCHEMES):
        self.config, self.settings, self.schemes = config, settings, tuple(schemes)
        self.results: dict[str, InitRun] = {}
        self.job: Job | None = None
        self.progress = (0.0, "Loading data...")  # fraction of the job done, and what it is training now
        self._lock = threading.Lock()

    def start(self, registry: JobRegistry) -> Job:
        """Start training the missing schemes in one job counted by registry's cap, or return the job already
        running; raises TrainingCapacityError when the server is at its cap."""
        with self._lock:
            if self.job is None or not self.job.running:
                self.progress = (0.0, "Loading data...")
                self.job = registry.start(Job(partial(self._train, data_dir=registry.data_dir),
                                              name="lenet-init-trainings"))
            return self.job

    def _train(self, stop: threading.Event, data_dir: Path | None = None) -> dict[str, InitRun]:
        def report(fraction: float, text: str) -> None:
            self.progress = (fraction, text)

        return train_inits(self.config, self.results, self.schemes, self.settings, report, stop, data_dir)

    def stop(self) -> None:
        if self.job is not None:
            self.job.stop()

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    @property
    def done(self) -> bool:
        return all(scheme in self.results for scheme in self.schemes)

    @property
    def runs(self) -> list[InitRun]:
        """The finished runs, in the order of the schemes."""
        return [self.results[scheme] for scheme in self.schemes if scheme in self.results]


def init_summary(runs: list[InitRun]) -> pd.DataFrame:
    """The last epoch of each run: scheme, train loss, train accuracy, test accuracy, and whether it left chance."""
    rows = []
    for run in runs:
        last = run.history.iloc[-1]
        rows.append({"scheme": run.scheme, "epochs": len(run.history), "train loss": last.train_loss,
                     "train accuracy": last.train_acc, "test accuracy": last.test_acc,
                     "learns": bool(last.test_acc > 0.2)})  # ten classes: chance is 0.1
    return pd.DataFrame(rows)


def init_code(scheme: str) -> str:
    """How init_weights applies one scheme to every conv and linear layer."""
    body = {
        "default": "m.reset_parameters()                      # PyTorch's own: uniform in +-1/sqrt(fan_in) (Kaiming, a=sqrt(5))",
        "normal": "nn.init.normal_(m.weight, mean=0.0, std=0.01)\n        nn.init.zeros_(m.bias)",
        "xavier": "nn.init.xavier_uniform_(m.weight)         # uniform in +-sqrt(6 / (fan_in + fan_out))",
        "constant": "nn.init.constant_(m.weight, 1.0)\n        nn.init.zeros_(m.bias)",
    }[scheme]
    return f"""import torch
from torch import nn

net = nn.Sequential(
    nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
    nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
    nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))

for m in net.modules():
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        {body}

X = torch.rand(256, 1, 28, 28)
stats = []
for layer in net:
    X = layer(X)
    stats.append((type(layer).__name__, X.mean().item(), X.std().item()))
"""


SCHEME_COLORS = {"default": "#1f77b4", "normal": "#ff7f0e", "xavier": "#2ca02c", "constant": "#d62728"}


def activation_figure(table: pd.DataFrame, title: str = "Each layer's output on a real batch") -> go.Figure:
    """compare_inits' table as two heatmaps, scheme by layer: the mean and the standard deviation, with values
    written in; colours on a log scale of the size, so 0.01 and 100 both read."""
    schemes = list(dict.fromkeys(table["scheme"]))
    layers = list(dict.fromkeys(table["layer"]))
    fig = make_subplots(rows=2, cols=1, subplot_titles=["mean", "standard deviation"], vertical_spacing=0.18)
    for row, stat in enumerate(("mean", "std"), start=1):
        grid = table.pivot(index="scheme", columns="layer", values=stat).loc[schemes, layers]
        size = np.log10(grid.abs().clip(lower=1e-4).to_numpy())
        text = [[f"{v:.3g}" for v in line] for line in grid.to_numpy()]
        fig.add_trace(go.Heatmap(
            z=size, x=layers, y=[SCHEME_LABELS.get(s, s) for s in schemes], text=text, texttemplate="%{text}",
            textfont=dict(size=12), colorscale="Blues", zmin=-3, zmax=2, showscale=False, xgap=1, ygap=1,
            hovertemplate=f"%{{y}}, %{{x}}: {stat} %{{text}}<extra></extra>",
        ), row=row, col=1)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title, height=140 + 2 * 40 * len(schemes) + 80, margin=dict(l=10, r=10, t=70, b=10))
    return fig


# Plain numbers on the log loss axis: plotly's own ticks within one decade read "3 2 10 9 8 7 ...".
LOSS_TICKS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10, 20, 50, 100]


def init_training_figure(runs: list[InitRun], title: str = "Training from each initialisation") -> go.Figure:
    """Overlaid curves, one colour per scheme: the running training loss (log scale) and the test accuracy."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["training loss (running mean over the epoch)",
                                                        "test accuracy after each epoch"])
    for run in runs:
        color = SCHEME_COLORS.get(run.scheme)
        label = SCHEME_LABELS.get(run.scheme, run.scheme)
        x = [p.epoch - 1 + p.batch / p.batches_per_epoch for p in run.points]
        fig.add_trace(go.Scatter(x=x, y=[p.train_loss for p in run.points], name=label, legendgroup=run.scheme,
                                 line=dict(color=color), hovertemplate="epoch %{x:.2f}: loss %{y:.3f}<extra></extra>"),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=run.history["epoch"], y=run.history["test_acc"], name=label,
                                 legendgroup=run.scheme, showlegend=False, mode="lines+markers",
                                 line=dict(color=color), hovertemplate="epoch %{x}: %{y:.3f}<extra></extra>"),
                      row=1, col=2)
    epochs = max((len(run.history) for run in runs), default=1)
    fig.add_hline(y=0.1, line=dict(dash="dot", color="gray"), annotation_text="chance (10 classes)", row=1, col=2)
    fig.update_xaxes(title="epoch", range=[0, epochs])
    fig.update_yaxes(type="log", title="loss (log scale)", tickvals=LOSS_TICKS, ticktext=[f"{v:g}" for v in LOSS_TICKS],
                     row=1, col=1)
    fig.update_yaxes(range=[0, 1], title="accuracy", tickformat=".0%", row=1, col=2)
    fig.update_layout(title=title, height=420, legend=dict(orientation="h", y=-0.2),
                      margin=dict(l=10, r=10, t=70, b=10))
    return fig


INTRO_TEXT = (
    "Before training, every weight gets a starting value. The choice decides whether a signal reaches the "
    "last layer at all: too small and every layer shrinks it, too large and sigmoids saturate. Here are the "
    "curriculum's four schemes on the **classic sigmoid LeNet**, on 256 real test images."
)
# What the activation figure shows, measured on the first 256 test images with seed 0.
READING_TEXT = (
    "Read the **standard deviation** row by row. With normal(0, 0.01) every sigmoid sits near 0.5 whatever the "
    "image (standard deviations of 0.006 to 0.025, 3 to 12 times smaller than with Xavier), so the output hardly "
    "depends on the input and the gradients are tiny. With a constant, the second conv's outputs are around "
    "130, its sigmoids saturate at exactly 1 for every image (standard deviation 0), and from there on every "
    "unit of a layer computes the same number: the network cannot tell images apart. PyTorch's default and "
    "Xavier keep a signal all the way to the output, Xavier a larger one in the dense layers."
)


def trainings_text(settings: TrainSettings = INIT_TRAINING) -> str:
    """What the scheme trainings are, in a sentence."""
    s = settings
    return (f"Real runs: the classic LeNet trained from each scheme on {s.subset:,} Fashion-MNIST images for "
            f"{s.epochs} epochs (SGD, learning rate {s.lr}, batch {s.batch_size}), tested on {s.test_subset:,} "
            "test images: one to three minutes on a CPU, seconds on a GPU.")
