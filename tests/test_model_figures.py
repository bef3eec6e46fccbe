"""The figures draw exactly the tensors and tables they are given."""

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

from lenet import LeNetConfig, build_lenet
from lenet.inspection import Evaluation, conv_filters, feature_maps
from lenet.train import Progress
from lenet.model_figures import (
    confusion_matrix_figure,
    filter_grid,
    image_grid,
    mistakes_gallery,
    overlay_runs,
    per_class_accuracy_figure,
    probability_bar,
    training_curves,
)

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_lenet(LeNetConfig.classic()).eval()


@pytest.fixture(scope="module")
def fake_evaluation():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(10, (500,), generator=g)
    logits = torch.randn(500, 10, generator=g) + 3 * torch.nn.functional.one_hot(labels, 10)
    return Evaluation(labels, logits.softmax(dim=1), CLASSES)


def has_title(fig: go.Figure) -> bool:
    return bool(fig.layout.title.text) and fig.layout.height is not None and 200 <= fig.layout.height <= 900


def test_probability_bar_shows_every_probability():
    probs = torch.tensor([0.05, 0.0, 0.1, 0.0, 0.6, 0.0, 0.25, 0.0, 0.0, 0.0])
    fig = probability_bar(probs, CLASSES, true_label=6)
    bar = fig.data[0]
    np.testing.assert_allclose(bar.x, probs.numpy())
    assert list(bar.y) == list(CLASSES)
    colors = list(bar.marker.color)
    assert colors[4] != colors[6] != colors[0], "predicted, true and the rest differ"
    assert "Coat" in fig.layout.title.subtitle.text and "Shirt" in fig.layout.title.subtitle.text
    assert has_title(fig)
    with pytest.raises(ValueError, match="9 class names"):
        probability_bar(probs, CLASSES[:9])


@pytest.mark.parametrize("shared", [True, False])
def test_image_grid_draws_each_feature_map(model, shared):
    maps = feature_maps(model, torch.randint(0, 256, (28, 28), dtype=torch.uint8))
    conv2 = maps["conv2"]
    fig = image_grid(conv2, "conv2", shared_scale=shared)
    assert len(fig.data) == 16
    for trace, expected in zip(fig.data, conv2):
        np.testing.assert_allclose(np.array(trace.z, dtype=float), expected.numpy(), rtol=1e-6)
    if shared:
        assert fig.layout.coloraxis.cmin == pytest.approx(conv2.min().item())
        assert fig.layout.coloraxis.cmax == pytest.approx(conv2.max().item())
    else:
        assert all(trace.coloraxis is None for trace in fig.data)
    assert [a.text for a in fig.layout.annotations] == [f"channel {i}" for i in range(16)]
    assert fig.layout.yaxis.autorange == "reversed", "row 0 on top, like an image"
    assert has_title(fig)


def test_image_grid_takes_one_image_and_checks_names():
    image = torch.rand(28, 28)
    fig = image_grid(image, "input", names=["the image"])
    assert len(fig.data) == 1
    np.testing.assert_allclose(np.array(fig.data[0].z, dtype=float), image.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="2 names for 1 maps"):
        image_grid(image, "input", names=["a", "b"])
    with pytest.raises(ValueError, match="C x H x W"):
        image_grid(torch.rand(2, 2, 2, 2), "too many dimensions")


def test_filter_grid_places_each_kernel_in_its_column_and_row(model):
    weights = conv_filters(model)["conv2"]
    fig = filter_grid(weights, "conv2")
    z = np.array(fig.data[0].z, dtype=float)
    assert z.shape == (6 * 6 - 1, 16 * 6 - 1)
    for o in range(16):
        for i in range(6):
            np.testing.assert_allclose(z[i * 6 : i * 6 + 5, o * 6 : o * 6 + 5], weights[o, i].numpy(), rtol=1e-6)
    assert np.isnan(z[5]).all() and np.isnan(z[:, 5]).all(), "gaps between kernels"
    bound = weights.abs().max().item()
    assert fig.data[0].zmin == pytest.approx(-bound) and fig.data[0].zmax == pytest.approx(bound)
    assert list(fig.layout.xaxis.ticktext) == [str(o) for o in range(16)]
    assert list(fig.layout.yaxis.ticktext) == [str(i) for i in range(6)]
    assert has_title(fig)
    first = filter_grid(conv_filters(model)["conv1"])
    assert np.array(first.data[0].z, dtype=float).shape == (5, 6 * 6 - 1)
    with pytest.raises(ValueError, match="c_o x c_i"):
        filter_grid(weights[0])


def test_confusion_matrix_figure_shows_the_counts(fake_evaluation):
    cm = fake_evaluation.confusion_matrix()
    fig = confusion_matrix_figure(cm)
    assert np.array_equal(np.array(fig.data[0].z), cm.to_numpy())
    assert list(fig.data[0].x) == list(fig.data[0].y) == list(CLASSES)
    assert fig.layout.xaxis.title.text == "predicted" and fig.layout.yaxis.title.text == "true"
    assert has_title(fig)


def test_per_class_accuracy_figure(fake_evaluation):
    accuracy = fake_evaluation.per_class_accuracy()
    fig = per_class_accuracy_figure(accuracy, overall=fake_evaluation.accuracy)
    np.testing.assert_allclose(fig.data[0].y, accuracy.to_numpy())
    assert list(fig.data[0].x) == list(CLASSES)
    line = fig.layout.shapes[0]
    assert line.y0 == line.y1 == pytest.approx(fake_evaluation.accuracy)
    assert f"{fake_evaluation.accuracy:.1%}" in fig.layout.title.subtitle.text
    assert has_title(fig)


def test_mistakes_gallery_shows_the_images_and_what_was_said(fake_evaluation):
    mistakes = fake_evaluation.most_confident_mistakes(k=5)
    images = torch.randint(0, 256, (500, 28, 28), dtype=torch.uint8)[torch.tensor(mistakes["index"].to_numpy())]
    fig = mistakes_gallery(images, mistakes["true"], mistakes["predicted"], mistakes["confidence"], CLASSES)
    assert len(fig.data) == 5
    for trace, image in zip(fig.data, images):
        assert np.array_equal(np.array(trace.z, dtype=float), image.numpy())
    first = fig.layout.annotations[0].text
    row = mistakes.iloc[0]
    assert row["true_name"] in first and row["predicted_name"] in first and f"{row['confidence']:.0%}" in first
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0, 255)
    with pytest.raises(ValueError, match="no mistakes"):
        mistakes_gallery(images[:0], [], [], [], CLASSES)


HISTORY = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [2.3, 1.1, 0.7], "train_acc": [0.1, 0.6, 0.75],
                        "test_acc": [0.2, 0.65, 0.78]})


def test_training_curves_follow_the_history():
    fig = training_curves(HISTORY, epochs=10)
    assert [t.name for t in fig.data] == ["train loss", "train acc", "test acc"]
    for trace, column in zip(fig.data, ["train_loss", "train_acc", "test_acc"]):
        assert list(trace.x) == [1, 2, 3] and list(trace.y) == list(HISTORY[column])
    assert tuple(fig.layout.xaxis.range) == (0, 10)
    assert fig.layout.yaxis.range[0] == 0 and fig.layout.yaxis.range[1] >= 2.3
    assert fig.layout.xaxis.title.text == "epoch" and has_title(fig)
    without_epochs = training_curves(HISTORY.to_dict("records"))
    assert tuple(without_epochs.layout.xaxis.range) == (0, 3)
    assert list(without_epochs.data[2].y) == list(HISTORY["test_acc"])


def report(epoch: int, batch: int, loss: float, acc: float, test_acc: float | None) -> Progress:
    return Progress(kind="epoch" if test_acc is not None else "batch", epoch=epoch, epochs=2, batch=batch,
                    batches_per_epoch=100, train_loss=loss, train_acc=acc, test_acc=test_acc,
                    images_per_s=1000.0, elapsed_s=1.0, eta_s=1.0)


def test_training_curves_place_progress_reports_within_epochs():
    reports = [report(1, 25, 2.0, 0.3, None), report(1, 100, 1.5, 0.5, 0.6), report(2, 50, 1.0, 0.7, None)]
    fig = training_curves(reports, epochs=2)
    loss, _, test = fig.data
    assert list(loss.x) == [0.25, 1.0, 1.5] and list(loss.y) == [2.0, 1.5, 1.0]
    assert list(test.x) == [1.0] and list(test.y) == [0.6], "no test accuracy within an epoch"
    assert len(training_curves([], epochs=3).data) == 0
    with pytest.raises(ValueError, match="'epoch' column"):
        training_curves([{"step": 1, "train_loss": 2.0}])


def test_overlay_runs_draws_one_curve_per_run():
    other = HISTORY.assign(test_acc=[0.5, 0.8, 0.85])
    fig = overlay_runs([("classic", HISTORY), ("modern", other)])
    assert [t.name for t in fig.data] == ["classic", "modern"]
    assert list(fig.data[1].y) == [0.5, 0.8, 0.85]
    assert fig.layout.yaxis.range[0] == 0 and math.isclose(fig.layout.xaxis.range[1], 3)
    loss = overlay_runs([("classic", HISTORY)], metric="train_loss")
    assert list(loss.data[0].y) == list(HISTORY["train_loss"]) and loss.layout.yaxis.range[1] >= 2.3
    with pytest.raises(ValueError, match="metric"):
        overlay_runs([("classic", HISTORY)], metric="accuracy")
