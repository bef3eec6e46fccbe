"""Layers, blocks and parameters: the module tree, parameter tables, initialisation, shared weights, save and load.

The "deep learning computation" chapter of d2l, on LeNet: plain torch and pandas, no UI.
"""

from __future__ import annotations

import copy
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import pandas as pd
import torch
from torch import nn

from .inspection import to_batch
from .jobs import Job, JobRegistry
from .model import INIT_SCHEMES, LeNetConfig, build_lenet, count_parameters, init_weights
from .train import Progress, TrainSettings, train

SCHEME_LABELS = {
    "default": "PyTorch's default",
    "normal": "normal(0, 0.01), zero biases",
    "xavier": "Xavier uniform",
    "constant": "constant 1, zero biases",
}
# Long enough for Xavier to lift the sigmoid LeNet off chance level (seen during epoch 2), short enough for a CPU.
INIT_TRAINING = TrainSettings(subset=20_000, test_subset=2_000, epochs=3, batch_size=128, lr=0.9, progress_every=5)


def nested_blocks() -> nn.Sequential:
    """d2l's block of blocks (rgnet): four small Sequentials inside a Sequential, inside a Sequential."""
    def block() -> nn.Sequential:
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())

    blocks = nn.Sequential(OrderedDict((f"block{i}", block()) for i in range(4)))
    return nn.Sequential(blocks, nn.Linear(4, 1))


def module_tree(model: nn.Module) -> pd.DataFrame:
    """One row per module, depth first: its dotted name, parent, depth, type, and the parameters inside it."""
    rows = []
    for name, module in model.named_modules():
        rows.append({
            "name": name or "model",
            "parent": "" if not name else (name.rpartition(".")[0] or "model"),
            "depth": 0 if not name else name.count(".") + 1,
            "type": type(module).__name__,
            "parameters": count_parameters(module),
            "details": module.extra_repr(),
        })
    return pd.DataFrame(rows)


def tree_text(model: nn.Module) -> str:
    """The module tree as indented lines, each with its parameter count (like print(model), with counts)."""
    lines = []
    for row in module_tree(model).itertuples():
        label = row.name.rpartition(".")[2]
        details = f"({row.details})" if row.details else ""
        count = f"  · {row.parameters:,} parameters" if row.parameters else ""
        lines.append(f"{'    ' * row.depth}{label}: {row.type}{details}{count}")
    return "\n".join(lines)


def parameter_table(model: nn.Module) -> pd.DataFrame:
    """One row per named_parameters entry: name, shape, count, share of the total, mean and standard deviation."""
    params = list(model.named_parameters())
    total = sum(p.numel() for _, p in params)
    rows = [
        {
            "name": name,
            "shape": " x ".join(map(str, p.shape)),
            "count": p.numel(),
            "share": p.numel() / total,
            "mean": p.detach().float().mean().item(),
            "std": p.detach().float().std().item() if p.numel() > 1 else 0.0,
        }
        for name, p in params
    ]
    return pd.DataFrame(rows, columns=["name", "shape", "count", "share", "mean", "std"])


def parameter_values(model: nn.Module, weights_only: bool = False) -> dict[str, torch.Tensor]:
    """name -> the parameter's values, flattened, detached, on the CPU (weights_only skips biases and norms)."""
    return {
        name: p.detach().cpu().flatten()
        for name, p in model.named_parameters()
        if not weights_only or name.endswith("weight") and p.dim() > 1
    }


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
                    stop: threading.Event | None = None) -> InitRun:
    """Train config briefly with one initialisation scheme (a real run with lenet.train) and keep its curve."""
    points: list[Progress] = []

    def report(p: Progress) -> None:
        points.append(p)
        if on_progress is not None:
            on_progress(p)

    result = train(config, settings.replace(init=scheme), report, stop)
    return InitRun(scheme, points, result.history)


def train_inits(config: LeNetConfig, results: dict[str, InitRun], schemes=INIT_SCHEMES,
                settings: TrainSettings = INIT_TRAINING,
                on_progress: Callable[[float, str], None] | None = None,
                stop: threading.Event | None = None) -> dict[str, InitRun]:
    """Train once from each scheme not yet in results, adding each run once it has all its epochs (a stop or an
    error keeps the runs finished before it). on_progress gets the fraction done over these runs and a line of text."""
    todo = [scheme for scheme in schemes if scheme not in results]
    for i, scheme in enumerate(todo):
        def report(p: Progress, i: int = i, scheme: str = scheme) -> None:
            if on_progress is not None:
                on_progress((i + p.fraction) / len(todo), f"{SCHEME_LABELS.get(scheme, scheme)}: epoch "
                            f"{p.epoch}/{p.epochs}, training loss {p.train_loss:.3f}")

        run = train_with_init(config, scheme, settings, report, stop)
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
                self.job = registry.start(Job(self._train, name="lenet-init-trainings"))
            return self.job

    def _train(self, stop: threading.Event) -> dict[str, InitRun]:
        def report(fraction: float, text: str) -> None:
            self.progress = (fraction, text)

        return train_inits(self.config, self.results, self.schemes, self.settings, report, stop)

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


@dataclass
class SharedDemo:
    """d2l's shared layer: one nn.Linear used twice, its one tensor, and where its gradient comes from."""

    net: nn.Sequential
    names: list[str]  # named_parameters: the shared weight appears once
    count: int  # parameters, the shared tensor counted once
    count_untied: int  # what two separate layers would need
    grad: torch.Tensor  # the shared weight's gradient after one backward pass
    grad_first: torch.Tensor  # the part that comes from its first use
    grad_second: torch.Tensor  # ... and from its second use


def _shared_net() -> nn.Sequential:
    shared = nn.Linear(8, 8)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1))


def shared_parameter_demo(seed: int = 0) -> SharedDemo:
    """Build d2l's net with a shared layer, backpropagate once, and split the shared gradient by use.

    The split comes from an untied copy (the second use gets its own copy of the same values): its two
    gradients are what each use contributes, and they add up to the shared one.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = _shared_net()
        X = torch.rand(2, 4)
    untied = copy.deepcopy(net)
    untied[4] = copy.deepcopy(untied[2])
    for model in (net, untied):
        model(X).sum().backward()
    return SharedDemo(
        net=net,
        names=[name for name, _ in net.named_parameters()],
        count=count_parameters(net),
        count_untied=count_parameters(untied),
        grad=net[2].weight.grad.clone(),
        grad_first=untied[2].weight.grad.clone(),
        grad_second=untied[4].weight.grad.clone(),
    )


def state_dict_table(model: nn.Module) -> pd.DataFrame:
    """One row per state_dict entry: key, shape, count, dtype, and whether it is a parameter or a buffer."""
    parameters = {name for name, _ in model.named_parameters()}
    rows = [
        {"key": key, "shape": " x ".join(map(str, value.shape)) or "scalar", "count": value.numel(),
         "dtype": str(value.dtype).removeprefix("torch."), "kind": "parameter" if key in parameters else "buffer"}
        for key, value in model.state_dict().items()
    ]
    return pd.DataFrame(rows, columns=["key", "shape", "count", "dtype", "kind"])


@dataclass
class RoundTrip:
    """Save, rebuild from the config, load: what was written and whether the copy predicts the same."""

    bytes: int
    keys: int
    max_difference: float  # largest difference between the two models' outputs
    same_predictions: bool


@torch.no_grad()
def round_trip(model: nn.Module, config: LeNetConfig, images: torch.Tensor) -> RoundTrip:
    """torch.save the state_dict, build_lenet(config) anew, load_state_dict, and compare outputs on images."""
    buffer = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(state, buffer)
    clone = build_lenet(config)
    try:
        clone.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    except RuntimeError as e:
        raise ValueError(f"The weights do not fit a model built from this config: {e}") from None
    x = to_batch(images)
    was_training = model.training
    model.eval()
    try:
        before = model(x.to(next(model.parameters()).device)).cpu()
    finally:
        model.train(was_training)
    after = clone.eval()(x)
    return RoundTrip(len(buffer.getvalue()), len(state), (before - after).abs().max().item(),
                     bool((before.argmax(1) == after.argmax(1)).all()))


# ---- "show the code": each snippet runs on its own and leaves its result in a named variable ----

def tree_code() -> str:
    return """from torch import nn

def block():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())

blocks = nn.Sequential()
for i in range(4):
    blocks.add_module(f"block{i}", block())
net = nn.Sequential(blocks, nn.Linear(4, 1))   # Sequentials inside a Sequential inside a Sequential
print(net)                                     # the tree
names = [(name, tuple(p.shape)) for name, p in net.named_parameters()]
print(names[:2])                               # [('0.block0.0.weight', (8, 4)), ('0.block0.0.bias', (8,))]
total = sum(p.numel() for p in net.parameters())
"""


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


def shared_code() -> str:
    return """import torch
from torch import nn

shared = nn.Linear(8, 8)
net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(), nn.Linear(8, 1))
print([name for name, _ in net.named_parameters()])   # '2.weight' once, no '4.weight'
print(net[2].weight is net[4].weight)                  # True: one tensor
net(torch.rand(2, 4)).sum().backward()
grad = net[2].weight.grad                              # the sum of what both uses contribute
count = sum(p.numel() for p in net.parameters())       # 121: the shared 72 counted once (193 untied)
"""


def save_load_code(config: LeNetConfig) -> str:
    """Save a LeNet's state_dict, rebuild it from its config, load, and check the predictions."""
    return f"""import torch
from lenet import LeNetConfig, build_lenet

config = LeNetConfig.from_dict({config.to_dict()!r})
net = build_lenet(config).eval()
torch.save(net.state_dict(), "lenet.pt")               # only tensors: names -> values

clone = build_lenet(config)                            # the architecture comes from code (and the config)
clone.load_state_dict(torch.load("lenet.pt", weights_only=True))
clone.eval()
X = torch.rand(8, 1, {config.image_size}, {config.image_size})
same = torch.equal(net(X), clone(X))                   # True
"""
