"""The Train page's model and settings as one runnable Python file: plain torch and torchvision, no lenet import.

It trains what lenet.training.train trains, step for step: the same seeded weights, batch order, optimiser, schedule,
normalisation (inside the model) and test subset, so on the same device it ends at the same test accuracy.
"""

from __future__ import annotations

import inspect
import re
import textwrap

from ..core.model import LeNetConfig, Normalize, build_lenet, count_parameters
from ..data import DATASETS
from ..training.engine import augment_batch
from ..training.settings import TrainSettings
from .training import INIT_CODE, model_code, optimizer_code

AUTO_DEVICE = '"cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"'


def script_file_name(run_name: str) -> str:
    """A file name for the script of a run called run_name: letters, digits, - and _ only (lenet-train.py if none)."""
    stem = re.sub(r"[^\w-]+", "-", run_name, flags=re.ASCII).strip("-_")[:60]
    return f"{stem or 'lenet-train'}.py"


def _model_function(config: LeNetConfig, settings: TrainSettings) -> str:
    """build_model(): Show the code's nn.Sequential with LeNet Lab's Normalize as its first layer, initialised."""
    first = f'    ("normalize", Normalize({config.normalize_mean!r}, {config.normalize_std!r})),\n'
    layers = model_code(config).replace("OrderedDict([\n", "OrderedDict([\n" + first, 1)
    init = f"""for m in model.modules():
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        {INIT_CODE[settings.init]}
"""
    return f'''def build_model():
    """The network, with LeNet Lab's layer names (its model.pt loads into it); call after torch.manual_seed."""
{textwrap.indent(layers + init, "    ")}    return model
'''


def _input_function(channels_last: bool) -> str:
    layout = "\n    x = x.contiguous(memory_format=torch.channels_last)  # faster convolutions on a CPU" \
        if channels_last else ""
    return f'''def to_input(images):
    """uint8 pixels (N x H x W) -> floats in [0, 1], one channel (N x 1 x H x W); the model normalises them."""
    x = images.unsqueeze(1).float() / 255{layout}
    return x
'''


def _forward(settings: TrainSettings) -> str:
    """The training step's forward pass, under bfloat16 autocast on CUDA when the run used mixed precision."""
    forward = "logits = model(x)\nloss = loss_fn(logits, y)\n"
    if not settings.amp:
        return textwrap.indent(forward, " " * 12)
    autocast = 'with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):\n'
    return textwrap.indent(autocast + textwrap.indent(forward, "    "), " " * 12)


def export_script(config: LeNetConfig, settings: TrainSettings, run_name: str = "") -> str:
    """A self-contained training script for config and settings (python FILE --data-dir DIR) that prints one line per
    epoch and, last, one JSON object: test_acc, train_acc, train_loss, parameters, seconds."""
    dataset = DATASETS[settings.dataset]  # torchvision's class
    parameters = count_parameters(build_lenet(config))
    file = script_file_name(run_name)
    smoothing = f"label_smoothing={settings.label_smoothing!r}" if settings.label_smoothing else ""
    augment_setup = (f"    flips_and_shifts = torch.Generator(device).manual_seed({settings.seed + 1})\n"
                     if settings.augment else "")
    augment = "\n            x = augment_batch(x, flips_and_shifts)" if settings.augment else ""
    step = "\n            scheduler.step()" if settings.schedule != "constant" else ""
    layout = "\n    model = model.to(memory_format=torch.channels_last)" if settings.channels_last else ""
    functional = "import torch.nn.functional as F\n" if settings.augment else ""
    helpers = inspect.getsource(Normalize) + ("\n\n" + inspect.getsource(augment_batch) if settings.augment else "")
    shown = " ".join(re.sub(r"[^\w .,:()+-]", " ", run_name).split())  # no quote or backslash can end the docstring
    title = f"LeNet Lab's run '{shown}'" if shown else "A LeNet Lab run"
    return f'''"""{title} as a script: the same network ({parameters:,} parameters),
data and training, in plain torch and torchvision. Exported from LeNet Lab's Train page.

    python {file} --data-dir data              # a folder with {dataset}/raw/ in it (torchvision's layout)
    python {file} --data-dir data --download   # let torchvision download {dataset} there first
    python {file} --threads 1 --save model.pt  # keep the trained weights (a state_dict)

It prints one line per epoch and, last, one JSON object (test_acc, train_acc, train_loss, parameters, seconds).
"""

import argparse
import json
import math
import time
from collections import OrderedDict

import torch
{functional}import torchvision
from torch import nn

SEED, EPOCHS, BATCH_SIZE = {settings.seed}, {settings.epochs}, {settings.batch_size}
TRAIN_IMAGES, TEST_IMAGES = {settings.subset}, {settings.test_subset}  # the first images of each split (None: all)
DEVICE = {AUTO_DEVICE if settings.device == "auto" else repr(settings.device)}


{helpers}

{_model_function(config, settings)}

{_input_function(settings.channels_last)}

def load(data_dir, train, download, n):
    """The first n images (all when n is None) of one split, as uint8 images and int64 labels."""
    try:
        split = torchvision.datasets.{dataset}(data_dir, train=train, download=download)
    except RuntimeError as e:  # torchvision: "Dataset not found or corrupted"
        raise SystemExit(f"{{e}} (looked in {{data_dir}}/{dataset}/raw; --download fetches it)") from None
    return split.data[:n], split.targets[:n]


@torch.no_grad()
def accuracy(model, images, labels):
    model.eval()
    correct = sum((model(to_input(images[i:i + BATCH_SIZE])).argmax(1) == labels[i:i + BATCH_SIZE]).sum().item()
                  for i in range(0, len(labels), BATCH_SIZE))
    model.train()
    return correct / len(labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data", help="where torchvision finds {dataset}/raw/ (default: data)")
    parser.add_argument("--download", action="store_true", help="let torchvision download the dataset if missing")
    parser.add_argument("--device", default=DEVICE, help=f"where to train (default: {{DEVICE}})")
    parser.add_argument("--threads", type=int, help="torch's CPU threads (default: torch's choice)")
    parser.add_argument("--save", help="write the trained weights (a state_dict) to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    start, device = time.perf_counter(), torch.device(args.device)
    images, labels = (t.to(device) for t in load(args.data_dir, True, args.download, TRAIN_IMAGES))
    test_images, test_labels = (t.to(device) for t in load(args.data_dir, False, args.download, TEST_IMAGES))

    torch.manual_seed(SEED)  # the same starting weights as LeNet Lab's run
    model = build_model().to(device){layout}
    epochs, batch_size = EPOCHS, BATCH_SIZE
    batches = math.ceil(len(labels) / batch_size)
{textwrap.indent(optimizer_code(settings), "    ")}    loss_fn = nn.CrossEntropyLoss({smoothing})
    shuffle = torch.Generator().manual_seed(SEED)  # the same order of batches as LeNet Lab's run
{augment_setup}
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(labels), generator=shuffle).to(device)
        loss_sum, correct = 0.0, 0
        for b in range(batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            x, y = to_input(images[idx]), labels[idx]{augment}
{_forward(settings)}            optimizer.zero_grad()
            loss.backward()
            optimizer.step(){step}
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
        result = {{"epoch": epoch, "train_loss": loss_sum / len(labels), "train_acc": correct / len(labels),
                  "test_acc": accuracy(model, test_images, test_labels)}}
        print(result, flush=True)
    if args.save:
        torch.save({{k: v.cpu() for k, v in model.state_dict().items()}}, args.save)
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(json.dumps({{**result, "parameters": parameters, "seconds": round(time.perf_counter() - start, 1)}}))


if __name__ == "__main__":
    main()
'''
