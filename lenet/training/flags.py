"""The training's settings as command-line flags, shared by the commands that train (lenet.train, lenet.sweep).

Flags left out take the preset's value; the model flags change its LeNetConfig, the others its TrainSettings.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..core.model import ACTIVATIONS, INIT_SCHEMES, LeNetConfig
from ..data import DATASETS
from .settings import DEVICES, OPTIMIZERS, PRESETS, SCHEDULES, TrainSettings, preset


def add_training_flags(p: argparse.ArgumentParser) -> None:
    """--preset, the TrainSettings flags, the model group (--conv-channels ...), --device, --subset, --threads."""
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


def from_flags(args: dict[str, Any]) -> tuple[LeNetConfig, TrainSettings]:
    """The preset named by args["preset"] with the flags given on top; a value the settings refuse is a ValueError.

    args holds what add_training_flags added (vars() of the parsed namespace, less --threads and --download)."""
    args = dict(args)
    config, settings = preset(args.pop("preset"))
    model_flags = {k.removeprefix("model_"): args.pop(k) for k in list(args) if k.startswith("model_")}
    config = config.replace(**{k: v for k, v in model_flags.items() if v is not None})
    return config, settings.replace(**{k: v for k, v in args.items() if v is not None})
