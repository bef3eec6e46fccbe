"""LeNet-5 as LeCun, Bottou, Bengio and Haffner published it (1998) beside d2l's LeNet: what differs, layer by layer."""

from __future__ import annotations

import pandas as pd

from ..core.lenet5 import LENET5_TABLE
from ..core.model import LeNetConfig, layer_table
from ..training.settings import preset

# The paper's trainable parameters per layer (Section II.B); its output layer's 840 RBF weights are fixed by hand.
D2L, PAPER, PRESET = "d2l's LeNet", "LeNet-5 (1998)", "this preset"
PAPER_PARAMETERS = {"C1": 156, "S2": 12, "C3": 1_516, "S4": 32, "C5": 48_120, "F6": 10_164, "output": 0}
# Which layer of each model plays the paper's part: d2l's LeNet makes C5 and F6 dense layers.
LENET5_LAYERS = {"C1": "conv1", "S2": "pool1", "C3": "conv2", "S4": "pool2", "C5": "conv3", "F6": "fc1",
                 "output": "output"}
D2L_LAYERS = {"C1": "conv1", "S2": "pool1", "C3": "conv2", "S4": "pool2", "C5": "fc1", "F6": "fc2", "output": "output"}


def _counts(config: LeNetConfig, names: dict[str, str]) -> dict[str, int]:
    table = layer_table(config).set_index("layer")["parameters"]
    return {part: int(table[name]) for part, name in names.items()}


def parameter_counts() -> pd.DataFrame:
    """One row per layer of the paper, with its name in the lenet5 preset: its trainable parameters in d2l's
    LeNet, in the paper and in the preset."""
    ours, d2l = _counts(LeNetConfig.lenet5(), LENET5_LAYERS), _counts(LeNetConfig.classic(), D2L_LAYERS)
    rows = [{"layer": part, "layer here": LENET5_LAYERS[part], D2L: d2l[part], PAPER: PAPER_PARAMETERS[part],
             PRESET: ours[part]} for part in PAPER_PARAMETERS]
    rows.append({"layer": "total", "layer here": "", D2L: sum(d2l.values()), PAPER: sum(PAPER_PARAMETERS.values()),
                 PRESET: sum(ours.values())})
    return pd.DataFrame(rows)


def differences() -> pd.DataFrame:
    """What d2l's LeNet, the 1998 paper and this preset do, part by part (index: the part)."""
    counts = parameter_counts().set_index("layer")
    _, d2l = preset("classic")
    _, settings = preset("lenet5")
    connections = sum(map(len, LENET5_TABLE))
    rows = {
        "input": ("28 x 28; conv1 pads it by 2 with zeros", "32 x 32: the 28 x 28 digit centred in a larger field",
                  "28 x 28, padded by 2 pixels of background (the pad layer) to 32 x 32"),
        "pixel scale": ("raw, 0 (black) to 1", "background -0.1, foreground 1.175: mean about 0, variance about 1",
                        "as the paper (the normalize layer)"),
        "activation": ("sigmoid", "scaled tanh 1.7159 tanh(2x/3), after every layer up to F6", "as the paper"),
        "S2, S4": ("2 x 2 average pooling, no parameters",
                   "sum of each 2 x 2 window times a learned coefficient plus a learned bias per map, then the "
                   f"activation ({counts.loc['S2', PAPER]} and {counts.loc['S4', PAPER]} parameters)",
                   "the same with the window's average (the 1/4 goes into the coefficient)"),
        "C3": (f"every one of the 6 maps feeds each of the 16 ({counts.loc['C3', D2L]:,} parameters)",
               f"Table I: {connections} of the 96 map pairs, to break symmetry and save weights "
               f"({counts.loc['C3', PAPER]:,} parameters)", "as the paper (a PartialConv2d)"),
        "C5": ("flatten 16 x 5 x 5, then a dense layer of 120",
               "a 5 x 5 convolution to 120 maps of 1 x 1: larger inputs would give larger maps",
               f"as the paper (conv3); the same {counts.loc['C5', PRESET]:,} parameters as d2l's dense layer"),
        "F6": ("dense 84, sigmoid", "dense 84, scaled tanh", "as the paper (fc1)"),
        "output": ("dense 10, cross-entropy loss",
                   "10 Euclidean RBF units on F6, their weights fixed 7 x 12 bitmaps of the characters; "
                   "a squared-error loss with a penalty term",
                   f"dense 10 ({counts.loc['output', PRESET]} trainable parameters), cross-entropy loss"),
        "training": (f"SGD, learning rate {d2l.lr}, batches of {d2l.batch_size}, {d2l.epochs} epochs, "
                     f"{d2l.init.capitalize()} initialisation",
                     "stochastic diagonal Levenberg-Marquardt, one image at a time, learning rate stepped from "
                     "0.0005 down to 0.00001 over 20 passes; weights uniform in +-2.4 / fan-in",
                     f"SGD, momentum {settings.momentum}, batches of {settings.batch_size}, learning rate "
                     f"{settings.lr} decayed by a cosine over {settings.epochs} epochs, PyTorch's default "
                     "initialisation"),
        "parameters": (f"{counts.loc['total', D2L]:,}",
                       f"{counts.loc['total', PAPER]:,} trainable (and 840 fixed RBF weights)",
                       f"{counts.loc['total', PRESET]:,}"),
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=[D2L, PAPER, PRESET])


def fixed_parts(config: LeNetConfig) -> str | None:
    """The parts of config the Train page's editor cannot change, in a sentence (None: it can change them all)."""
    parts = []
    if config.input_padding:
        size = config.image_size + 2 * config.input_padding
        parts.append(f"{config.input_padding} pixels of background around each image ({config.image_size} x "
                     f"{config.image_size} to {size} x {size})")
    if config.connection_table:
        parts.append(f"conv2 (C3) joined to conv1's maps by the paper's Table I ({sum(map(len, LENET5_TABLE))} of "
                     f"the {6 * len(LENET5_TABLE)} pairs)")
    return f"Fixed in this preset: {'; '.join(parts)}." if parts else None
