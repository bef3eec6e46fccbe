"""What the Train page explains beside the model editor, its training loop as code, and this machine's speed."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import datetime

import torch
from torch import nn

from ..core.lenet5 import PartialConv2d, ScaledTanh, Subsample
from ..core.model import LeNetConfig, build_lenet, plan_layers
from ..training.devices import pick_device, synchronize
from ..training.settings import TrainSettings, preset


def softmax_loss_floor(num_classes: int) -> float:
    """The smallest cross-entropy a model can reach when its outputs are already probabilities: log(1 + (C - 1)/e).

    CrossEntropyLoss applies log-softmax itself, so a one-hot output p gives softmax(p) = e / (e + C - 1) at best.
    """
    return math.log(1 + (num_classes - 1) / math.e)


def softmax_before_loss_warning(num_classes: int) -> str:
    """Why a softmax before CrossEntropyLoss still trains, but worse; with numbers measured on this project."""
    return (
        "**Softmax before the loss.** This network still builds and trains: softmax keeps the order of the scores, so "
        "the largest output still names the predicted class. But `nn.CrossEntropyLoss` applies log-softmax itself, "
        "so it now sees a softmax of probabilities: squeezed into [0, 1], the scores can never be confident, the loss "
        f"cannot fall below log(1 + {num_classes - 1}/e) ≈ {softmax_loss_floor(num_classes):.2f}, and the second "
        "softmax shrinks the gradients. Measured on Fashion-MNIST: the modern preset (2 epochs, all 60,000 images, "
        "seeds 0 and 1) reaches test accuracy 0.888 and 0.843 instead of 0.905 and 0.903; d2l's classic recipe "
        "(sigmoid, 10 epochs on 20,000 images) stays at chance, 0.100 instead of 0.673. Leave the last layer's "
        "scores (logits) as they are, and apply softmax only to read probabilities."
    )


def _module_code(module: nn.Module) -> str:
    """One layer as d2l writes it: nn.Conv2d(1, 6, kernel_size=5, stride=1, padding=2)."""
    if isinstance(module, nn.Conv2d):
        return (f"nn.Conv2d({module.in_channels}, {module.out_channels}, kernel_size={module.kernel_size[0]}, "
                f"stride={module.stride[0]}, padding={module.padding[0]})")
    if isinstance(module, nn.Linear):
        return f"nn.Linear({module.in_features}, {module.out_features})"
    if isinstance(module, (nn.AvgPool2d, nn.MaxPool2d)):
        return f"nn.{type(module).__name__}(kernel_size={module.kernel_size}, stride={module.stride})"
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return f"nn.{type(module).__name__}({module.num_features})"
    if isinstance(module, nn.Flatten):
        return "nn.Flatten()"
    if isinstance(module, PartialConv2d):  # LeNet-5's C3
        return (f"PartialConv2d(LENET5_TABLE, {module.in_channels}, kernel_size={module.kernel_size}, "
                f"stride={module.stride}, padding={module.padding})")
    if isinstance(module, Subsample):
        return (f"Subsample({module.channels}, kernel_size={module.kernel_size}, stride={module.stride}, "
                f"activation={_module_code(module.activation).removesuffix('()')})")
    if isinstance(module, ScaledTanh):
        return "ScaledTanh()"
    return f"nn.{module!r}"  # Sigmoid(), ReLU(), Tanh(), Softmax(dim=1)


def model_code(config: LeNetConfig) -> str:
    """The config as an nn.Sequential with build_lenet's layer names, so a run's model.pt loads into it.

    Its normalisation is left to to_input (input_code): it holds no weights. LeNet-5's own layers come from lenet.
    """
    with torch.device("meta"):  # the layers' shapes only: no memory, no draw from torch's random numbers
        layers = [(spec.name, _module_code(spec.make())) for spec in plan_layers(config, batch_size=None)]
    body = "\n".join(f'    ("{name}", {code}),' for name, code in layers if name != "normalize")
    names = [name for name in LENET5_NAMES if re.search(rf"\b{name}\b", body)]
    imports = f"from lenet.core.lenet5 import {', '.join(names)}  # LeNet-5's own layers\n" if names else ""
    return f"{imports}model = nn.Sequential(OrderedDict([\n{body}\n]))\n"


def input_code(config: LeNetConfig) -> str:
    """to_input(images): uint8 pixels to the model's input, normalised as LeNet Lab's first layer does."""
    mean, std = config.normalize_mean, config.normalize_std
    normalise = "" if (mean, std) == (0.0, 1.0) else f"\n    x = (x - {mean!r}) / {std!r}  # the dataset's mean and std"
    return f'''
def to_input(images):
    """uint8 pixels (batch x height x width) -> floats in [0, 1], one channel (batch x 1 x height x width)."""
    x = images.unsqueeze(1).float() / 255{normalise}
    return x
'''


LENET5_NAMES = ("LENET5_TABLE", "PartialConv2d", "ScaledTanh", "Subsample")
INIT_CODE = {
    "default": "m.reset_parameters()  # PyTorch's own initialisation, drawn again",
    "normal": "nn.init.normal_(m.weight, mean=0.0, std=0.01)\n        nn.init.zeros_(m.bias)",
    "xavier": "nn.init.xavier_uniform_(m.weight)  # d2l's choice for LeNet",
    "constant": "nn.init.constant_(m.weight, 1.0)\n        nn.init.zeros_(m.bias)",
}


def optimizer_code(settings: TrainSettings) -> str:
    """optimizer = ... (and scheduler = ..., over epochs * batches steps) as the engine makes them."""
    extras = [f"{name}={getattr(settings, name)!r}" for name in ("momentum", "nesterov", "weight_decay")
              if getattr(settings, name) and (settings.optimizer == "sgd" or name == "weight_decay")]
    name = "SGD" if settings.optimizer == "sgd" else "Adam"
    code = f"optimizer = torch.optim.{name}(model.parameters(), {', '.join([f'lr={settings.lr!r}', *extras])})\n"
    if settings.schedule == "onecycle":
        code += ("scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * batches, "
                 "cycle_momentum=False)\n").replace("max_lr=lr", f"max_lr={settings.lr!r}")
    elif settings.schedule == "cosine":
        code += "scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * batches)\n"
    return code


def training_code(config: LeNetConfig, settings: TrainSettings) -> str:
    """The Train page's training loop for these settings, in plain torch: the same model, initialisation, optimiser,
    schedule and seeded shuffling as lenet.training.train; leaves model and history (loss and accuracies per epoch)."""
    subset = f"[:{settings.subset}]" if settings.subset else ""
    device = ('"cuda" if torch.cuda.is_available() else "cpu"' if settings.device == "auto" else f'"{settings.device}"')
    smoothing = f"label_smoothing={settings.label_smoothing!r}" if settings.label_smoothing else ""
    step = "\n        scheduler.step()" if settings.schedule != "constant" else ""
    augment = ("\n        x = augment_batch(x, flips_and_shifts)  # a random flip and a shift of up to 2 pixels"
               if settings.augment else "")
    augment_setup = ("from lenet.training.engine import augment_batch\nflips_and_shifts = "
                     f"torch.Generator(device).manual_seed({settings.seed + 1})\n" if settings.augment else "")
    return f'''import math
from collections import OrderedDict

import torch
from torch import nn

from lenet.data import load_split  # {settings.dataset} as uint8 tensors (torchvision's files, read once)

device = {device}
train, test = load_split("{settings.dataset}", train=True), load_split("{settings.dataset}", train=False)
images, labels = train.images{subset}.to(device), train.labels{subset}.to(device)
test_images, test_labels = test.images.to(device), test.labels.to(device)
{input_code(config)}
torch.manual_seed({settings.seed})  # the same starting weights as the Train page's run
{model_code(config)}for m in model.modules():
    if isinstance(m, (nn.Conv2d, nn.Linear{", PartialConv2d" if config.connection_table else ""})):
        {INIT_CODE[settings.init]}
model = model.to(device)

epochs, batch_size = {settings.epochs}, {settings.batch_size}
batches = math.ceil(len(labels) / batch_size)
{optimizer_code(settings)}loss_fn = nn.CrossEntropyLoss({smoothing})
shuffle = torch.Generator().manual_seed({settings.seed})  # the same order of batches as the Train page's run
{augment_setup}

def accuracy(images, labels):
    model.eval()
    with torch.no_grad():
        correct = sum((model(to_input(x)).argmax(1) == y).sum().item()
                      for x, y in zip(images.split(1000), labels.split(1000)))
    return correct / len(labels)


history = []
for epoch in range(1, epochs + 1):
    model.train()
    order = torch.randperm(len(labels), generator=shuffle).to(device)
    loss_sum, correct = 0.0, 0
    for b in range(batches):
        idx = order[b * batch_size:(b + 1) * batch_size]
        x, y = to_input(images[idx]), labels[idx]{augment}
        logits = model(x)
        loss = loss_fn(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step(){step}
        loss_sum += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
    history.append({{"epoch": epoch, "train_loss": loss_sum / len(labels), "train_acc": correct / len(labels),
                    "test_acc": accuracy(test_images, test_labels)}})
    print(history[-1])
'''


@dataclass(frozen=True)
class Speed:
    """Training images per second on one device, measured here at `measured` (ISO date and time)."""

    device: str
    images_per_s: float
    measured: str
    batches: int
    batch_size: int
    threads: int


def measure_speed(device: str, batches: int = 8, batch_size: int = 256, warmup: int = 2) -> Speed:
    """Time `batches` training steps of d2l's classic LeNet (SGD, random pictures: speed does not depend on them)
    on one device, after `warmup` steps that are not timed; torch's own thread setting applies."""
    config, settings = preset("classic")
    where = pick_device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_lenet(config).to(where)
        x = torch.rand(batch_size, config.in_channels, config.image_size, config.image_size, device=where)
        y = torch.randint(0, config.num_classes, (batch_size,), device=where)
    optimizer = torch.optim.SGD(model.parameters(), lr=settings.lr)
    start = 0.0
    for step in range(warmup + batches):
        if step == warmup:
            synchronize(where)
            start = time.perf_counter()
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    synchronize(where)
    seconds = time.perf_counter() - start
    return Speed(device, batches * batch_size / seconds, datetime.now().isoformat(timespec="minutes"), batches,
                 batch_size, torch.get_num_threads())
