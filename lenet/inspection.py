"""Look inside a trained LeNet: its predictions, feature maps, filters and mistakes."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from .core.lenet5 import PartialConv2d, ScaledTanh, Subsample
from .data import Split, to_batch

FEATURE_LAYERS = (nn.Conv2d, nn.BatchNorm2d, nn.Sigmoid, nn.ReLU, nn.Tanh, nn.AvgPool2d, nn.MaxPool2d,
                  PartialConv2d, ScaledTanh, Subsample)
PICK_HOWS = ("index", "class", "random", "mistake")


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _check_fits(model: nn.Module, x: torch.Tensor) -> None:
    """A ValueError instead of torch's shape error deep inside the model."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is not None and x.shape[1] != conv.in_channels:
        raise ValueError(f"The model takes {conv.in_channels}-channel images, not {x.shape[1]}-channel ones.")


@torch.no_grad()
def predict_proba(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Class probabilities (N x classes, on the CPU) in eval mode; the model's train/eval mode is restored."""
    x = to_batch(images)
    _check_fits(model, x)
    was_training = model.training
    model.eval()
    ends_in_softmax = isinstance(model, nn.Sequential) and isinstance(model[-1], nn.Softmax)  # softmax_output=True
    try:
        device = _device(model)
        outputs = [model(chunk.to(device)) for chunk in x.split(batch_size)]
        chunks = [(out if ends_in_softmax else out.softmax(dim=1)).cpu() for out in outputs]
    except RuntimeError as e:
        if isinstance(e, torch.OutOfMemoryError):
            raise
        raise ValueError(f"The model cannot take images of shape {tuple(x.shape[1:])}: {e}") from None
    finally:
        model.train(was_training)
    return torch.cat(chunks)


def _sequential(model: nn.Module) -> nn.Sequential:
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"Expected the nn.Sequential built by build_lenet, not a {type(model).__name__}.")
    return model


@torch.no_grad()
def feature_maps(model: nn.Module, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """The output of every conv, batch-norm, activation and pooling layer for one image (name -> C x H x W).

    image: H x W uint8 pixels or C x H x W floats in [0, 1]. Stops at the first layer whose output
    is no longer an image (flatten), so any image size the conv layers accept works.
    """
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"image must be a torch tensor, not {type(image).__name__}.")
    x = to_batch(image[None])
    _check_fits(model, x)
    was_training = model.training
    model.eval()
    maps = {}
    try:
        x = x.to(_device(model))
        for name, layer in _sequential(model).named_children():
            x = layer(x)
            if x.dim() != 4:
                break
            if isinstance(layer, FEATURE_LAYERS):
                maps[name] = x[0].cpu()
    finally:
        model.train(was_training)
    return maps


def conv_filters(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every conv layer's weights (name -> c_o x c_i x k_h x k_w), detached, on the CPU; a PartialConv2d's kernels
    are zero between the maps it does not connect."""
    weights = {name: m.dense_weight() if isinstance(m, PartialConv2d) else m.weight for name, m in model.named_modules()
               if isinstance(m, (nn.Conv2d, PartialConv2d))}
    return {name: w.detach().cpu().clone() for name, w in weights.items()}


@dataclass(frozen=True)
class Evaluation:
    """A model's predictions on a whole split, and the tables drawn from them."""

    labels: torch.Tensor  # N, int64
    probs: torch.Tensor  # N x classes
    classes: tuple[str, ...]

    @property
    def predictions(self) -> torch.Tensor:
        return self.probs.argmax(dim=1)

    @property
    def confidences(self) -> torch.Tensor:
        """The probability the model gives to the class it predicts."""
        return self.probs.max(dim=1).values

    @property
    def accuracy(self) -> float:
        return (self.predictions == self.labels).float().mean().item()

    def confusion_matrix(self) -> pd.DataFrame:
        """Counts: one row per true class, one column per predicted class."""
        n = len(self.classes)
        counts = torch.bincount(self.labels * n + self.predictions, minlength=n * n).reshape(n, n)
        index = pd.Index(self.classes, name="true")
        columns = pd.Index(self.classes, name="predicted")
        return pd.DataFrame(counts.numpy(), index=index, columns=columns)

    def per_class_accuracy(self) -> pd.Series:
        """The fraction of each true class that the model gets right (recall)."""
        cm = self.confusion_matrix()
        totals = cm.sum(axis=1)
        right = pd.Series(cm.to_numpy().diagonal(), index=cm.index)
        return (right / totals.where(totals > 0)).rename("accuracy")

    def most_confident_mistakes(self, k: int = 16) -> pd.DataFrame:
        """The k wrong predictions the model was surest of: index, true, predicted (labels and names), confidence."""
        wrong = torch.nonzero(self.predictions != self.labels).flatten()
        order = self.confidences[wrong].argsort(descending=True, stable=True)[:k]
        picked = wrong[order]
        true, predicted = self.labels[picked], self.predictions[picked]
        return pd.DataFrame({
            "index": picked.numpy(),
            "true": true.numpy(),
            "predicted": predicted.numpy(),
            "confidence": self.confidences[picked].numpy(),
            "true_name": [self.classes[i] for i in true],
            "predicted_name": [self.classes[i] for i in predicted],
        })

    def most_confused(self, min_count: int = 1) -> pd.DataFrame:
        """fastai's most confused pairs: true, predicted (class names), count of images, the largest count first."""
        cm = self.confusion_matrix()
        pairs = cm.stack().rename("count").reset_index()
        pairs = pairs[(pairs["true"] != pairs["predicted"]) & (pairs["count"] >= min_count)]
        return pairs.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)

    def cell(self, true: int, predicted: int) -> pd.DataFrame:
        """The images of one confusion-matrix cell (true class, predicted class): index and confidence, surest first."""
        n = len(self.classes)
        if not (0 <= true < n and 0 <= predicted < n):
            raise ValueError(f"Class numbers must be between 0 and {n - 1} (got {true} and {predicted}).")
        picked = torch.nonzero((self.labels == true) & (self.predictions == predicted)).flatten()
        picked = picked[self.confidences[picked].argsort(descending=True, stable=True)]
        return pd.DataFrame({"index": picked.numpy(), "confidence": self.confidences[picked].numpy()})


# What a page shows while a model's evaluation runs in the background (lenet.screenshots waits until it is gone).
EVALUATING = "Evaluating the model on the whole test set: the results appear here in a few seconds."

def evaluate(model: nn.Module, split: Split, batch_size: int = 1000) -> Evaluation:
    """Run the model over a whole split (e.g. load_split("fashion-mnist", train=False))."""
    probs = predict_proba(model, split.images, batch_size)
    if probs.shape[1] != len(split.classes):
        raise ValueError(f"The model predicts {probs.shape[1]} classes but {split.name} has {len(split.classes)}.")
    return Evaluation(split.labels.clone(), probs, tuple(split.classes))


def pick_image(
    split: Split,
    how: str = "index",
    index: int = 0,
    label: int | None = None,
    seed: int = 0,
    evaluation: Evaluation | None = None,
) -> int:
    """The index of an image in the split: the given index, or a seeded random pick of one class,
    of the whole split, or of the model's mistakes (which needs an evaluation of this split)."""
    if how not in PICK_HOWS:
        raise ValueError(f"how must be one of {PICK_HOWS}, not {how!r}.")
    n = len(split)
    if how == "index":
        if not 0 <= index < n:
            raise ValueError(f"index must be between 0 and {n - 1} (got {index}).")
        return index
    if how == "random":
        candidates, empty = torch.arange(n), "This split is empty."
    elif how == "class":
        if label is None or not 0 <= label < len(split.classes):
            raise ValueError(f"label must be a class number between 0 and {len(split.classes) - 1} (got {label}).")
        candidates = torch.nonzero(split.labels == label).flatten()
        empty = f"This split has no image of class {split.classes[label]!r}."
    else:
        if evaluation is None or len(evaluation.labels) != n:
            raise ValueError("Picking a mistake needs the evaluation of this split: call evaluate(model, split).")
        candidates = torch.nonzero(evaluation.predictions != evaluation.labels).flatten()
        empty = "The model makes no mistakes on this split."
    if len(candidates) == 0:
        raise ValueError(empty)
    generator = torch.Generator().manual_seed(seed)
    return int(candidates[torch.randint(len(candidates), (1,), generator=generator)])
