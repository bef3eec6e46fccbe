"""The figures draw exactly the tensors and tables they are given."""

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

from lenet import LeNetConfig, build_lenet
from lenet.inspection import Evaluation, conv_filters, feature_maps
from lenet.training import Progress
from lenet.sweep_plots import accuracy_parameters_figure, settings_parallel_figure
from lenet.plots import confusion_matrix_figure, filter_grid, image_grid, mistakes_gallery, overlay_runs, per_class_accuracy_figure, probability_bar, training_curves

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


def runs(filled: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], filled.astype(int), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def tiles(fig: go.Figure) -> list[tuple[slice, slice]]:
    """Where the maps lie in a grid's one heatmap, found between its all-NaN rows and columns, row by row."""
    z = np.array(fig.data[0].z, dtype=float)
    rows, cols = runs(~np.isnan(z).all(axis=1)), runs(~np.isnan(z).all(axis=0))
    found = [(slice(*r), slice(*c)) for r in rows for c in cols]
    return [tile for tile in found if not np.isnan(z[tile]).all()]


def cells(fig: go.Figure, name: str) -> np.ndarray:
    return np.array(getattr(fig.data[0], name), dtype=float)


@pytest.mark.parametrize("shared", [True, False])
def test_image_grid_draws_each_feature_map_in_one_heatmap(model, shared):
    conv2 = feature_maps(model, torch.randint(0, 256, (28, 28), dtype=torch.uint8))["conv2"].numpy()
    fig = image_grid(conv2, "conv2", shared_scale=shared)
    assert len(fig.data) == 1 and fig.data[0].type == "heatmap"
    z, where = cells(fig, "z"), cells(fig, "customdata")
    found = tiles(fig)
    assert len(found) == 16 and len(runs(~np.isnan(z).all(axis=0))) == 8, "rows of 8 maps, NaN gaps between"
    rows, cols = np.indices((10, 10))
    for tile, expected in zip(found, conv2):
        lo, hi = expected.min(), expected.max()
        np.testing.assert_allclose(z[tile], expected if shared else (expected - lo) / (hi - lo), rtol=1e-5,
                                   atol=1e-6)
        assert np.array_equal(where[tile][..., 0], rows) and np.array_equal(where[tile][..., 1], cols)
        if not shared:  # the colour is the map's own range; the hover says the real value
            np.testing.assert_allclose(where[tile][..., 2], expected, rtol=1e-6)
    assert "row %{customdata[0]}, column %{customdata[1]}" in fig.data[0].hovertemplate
    if shared:
        assert (fig.data[0].zmin, fig.data[0].zmax) == pytest.approx((conv2.min(), conv2.max()))
    else:
        assert (fig.data[0].zmin, fig.data[0].zmax) == (0, 1)
        assert list(fig.data[0].colorbar.ticktext) == ["min", "max"] and "own" in fig.data[0].colorbar.title.text
    assert [a.text for a in fig.layout.annotations] == [f"channel {i}" for i in range(16)]
    assert has_title(fig)


def test_image_grid_puts_names_above_their_maps_row_0_on_top_with_square_pixels():
    maps = np.arange(6 * 3 * 4, dtype=float).reshape(6, 3, 4)
    fig = image_grid(maps, "six", names=[f"map {i}" for i in range(6)], columns=4)
    z, y = cells(fig, "z"), np.array(fig.data[0].y, dtype=float)
    assert len(y) == len(z) + 1, "y holds the rows' edges"
    found = tiles(fig)
    assert [(t[0].start, t[1].start) for t in found] == [(found[0][0].start, found[i][1].start) for i in range(4)] + [
        (found[4][0].start, found[i][1].start) for i in range(2)], "rows of 4: maps 4 and 5 start the second row"
    assert found[4][0].start > found[0][0].stop
    for tile, expected, note in zip(found, maps, fig.layout.annotations):
        assert np.array_equal(z[tile], expected)
        assert np.array_equal(np.diff(y[tile[0].start : tile[0].stop + 1]), np.ones(3)), "pixels 1 unit tall"
        assert tile[1].start <= note.x <= tile[1].stop - 1 and note.y <= y[tile[0].start], "name above its map"
    assert fig.layout.yaxis.autorange == "reversed" and fig.layout.yaxis.scaleanchor == "x"


def test_image_grid_takes_one_image_and_checks_names():
    image = torch.rand(28, 28)
    fig = image_grid(image, "input", names=["the image"])
    assert len(fig.data) == 1 and len(tiles(fig)) == 1
    np.testing.assert_allclose(cells(fig, "z")[tiles(fig)[0]], image.numpy(), rtol=1e-6)
    assert has_title(fig)
    with pytest.raises(ValueError, match="2 names for 1 maps"):
        image_grid(image, "input", names=["a", "b"])
    with pytest.raises(ValueError, match="C x H x W"):
        image_grid(torch.rand(2, 2, 2, 2), "too many dimensions")
    with pytest.raises(ValueError, match="C x H x W"):
        image_grid(torch.rand(0, 5, 5), "no maps")


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


def test_a_wide_filter_mosaic_labels_every_few_channels():
    fig = filter_grid(torch.randn(120, 16, 5, 5), "conv3")  # LeNet-5's C5
    assert list(fig.layout.xaxis.ticktext) == [str(o) for o in range(0, 120, 4)]
    assert list(fig.layout.xaxis.tickvals)[1] == 4 * 6 + 2  # filter 4's middle column
    assert list(fig.layout.yaxis.ticktext) == [str(i) for i in range(0, 16, 2)]


def test_confusion_matrix_figure_shows_the_counts(fake_evaluation):
    cm = fake_evaluation.confusion_matrix()
    fig = confusion_matrix_figure(cm)
    assert np.array_equal(np.array(fig.data[0].z), cm.to_numpy())
    assert list(fig.data[0].x) == list(fig.data[0].y) == list(CLASSES)
    assert fig.layout.xaxis.title.text == "predicted" and fig.layout.yaxis.title.text == "true"
    assert has_title(fig)


def test_confusion_matrix_reads_on_a_slide(fake_evaluation):
    """Counts of at least 11 px, square cells on a matrix at least 600 px tall, class names at 45 degrees."""
    fig = confusion_matrix_figure(fake_evaluation.confusion_matrix())
    assert fig.data[0].texttemplate == "%{z}" and fig.data[0].textfont.size >= 12
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.height >= 700
    assert abs(fig.layout.xaxis.tickangle) == 45 and fig.layout.xaxis.tickfont.size >= 12


def test_per_class_accuracy_figure(fake_evaluation):
    accuracy = fake_evaluation.per_class_accuracy()
    fig = per_class_accuracy_figure(accuracy, overall=fake_evaluation.accuracy)
    np.testing.assert_allclose(fig.data[0].y, accuracy.to_numpy())
    assert list(fig.data[0].x) == list(CLASSES)
    line = fig.layout.shapes[0]
    assert line.y0 == line.y1 == pytest.approx(fake_evaluation.accuracy)
    assert f"{fake_evaluation.accuracy:.1%}" in fig.layout.title.subtitle.text
    assert fig.data[0].textfont.size >= 12 and fig.layout.uniformtext.minsize >= 11  # never shrunk below 11 px
    assert has_title(fig)


def test_mistakes_gallery_shows_the_images_and_what_was_said(fake_evaluation):
    mistakes = fake_evaluation.most_confident_mistakes(k=5)
    images = torch.randint(0, 256, (500, 28, 28), dtype=torch.uint8)[torch.tensor(mistakes["index"].to_numpy())]
    fig = mistakes_gallery(images, mistakes["true"], mistakes["predicted"], mistakes["confidence"], CLASSES)
    assert len(fig.data) == 1 and len(tiles(fig)) == 5
    for tile, image in zip(tiles(fig), images):
        assert np.array_equal(cells(fig, "z")[tile], image.numpy())
    for note, (_, row) in zip(fig.layout.annotations, mistakes.iterrows()):
        assert row["true_name"] in note.text and row["predicted_name"] in note.text
        assert f"{row['confidence']:.0%}" in note.text
    heatmap = fig.data[0]
    assert (heatmap.zmin, heatmap.zmax) == (0, 255) and heatmap.colorscale[0][1] == "rgb(0, 0, 0)"
    assert heatmap.showscale is False
    with pytest.raises(ValueError, match="no mistakes"):
        mistakes_gallery(images[:0], [], [], [], CLASSES)
    with pytest.raises(ValueError, match="one true label"):
        mistakes_gallery(images, [0], [1], [0.5], CLASSES)


HISTORY = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [2.3, 1.1, 0.7], "train_acc": [0.1, 0.6, 0.75],
                        "test_acc": [0.2, 0.65, 0.78]})


def test_training_curves_follow_the_history():
    fig = training_curves(HISTORY, epochs=10)
    assert [t.name for t in fig.data] == ["train loss", "train acc", "test acc"]
    for trace, column in zip(fig.data, ["train_loss", "train_acc", "test_acc"]):
        assert list(trace.x) == [1, 2, 3] and list(trace.y) == list(HISTORY[column])
    assert tuple(fig.layout.xaxis2.range) == (0, 10) and fig.layout.xaxis2.title.text == "epoch" and has_title(fig)
    without_epochs = training_curves(HISTORY.to_dict("records"))
    assert tuple(without_epochs.layout.xaxis2.range) == (0, 3)
    assert list(without_epochs.data[2].y) == list(HISTORY["test_acc"])


def test_training_curves_put_loss_and_accuracy_on_their_own_axes():
    """Loss (0 to 2.3 here) above, accuracies (0 to 100%) below: on one axis the accuracies were a flat line."""
    fig = training_curves(HISTORY, epochs=10)
    loss, train_acc, test_acc = fig.data
    assert loss.yaxis == "y" and train_acc.yaxis == test_acc.yaxis == "y2"
    assert fig.layout.yaxis.title.text == "loss" and fig.layout.yaxis.range[0] == 0 and fig.layout.yaxis.range[1] >= 2.3
    assert fig.layout.yaxis2.title.text == "accuracy" and fig.layout.yaxis2.tickformat == ".0%"
    assert fig.layout.yaxis2.range[0] == 0 and 1 <= fig.layout.yaxis2.range[1] < 1.1
    assert loss.xaxis == "x" and fig.layout.xaxis.matches == "x2", "both panels share the epochs"


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


def test_after_a_stop_the_curves_end_at_the_last_epoch_kept():
    """A stopped training keeps its finished epochs: the reports after them are drawn grey, as not kept."""
    reports = [report(1, 50, 2.0, 0.3, None), report(1, 100, 1.5, 0.5, 0.6), report(2, 50, 1.0, 0.7, None),
               report(2, 80, 0.9, 0.75, None)]
    live = training_curves(reports, epochs=2)
    assert list(live.data[0].x) == [0.5, 1.0, 1.5, 1.8] and not live.layout.shapes, "still training: all drawn"
    fig = training_curves(reports, epochs=2, stopped=True)
    kept = {t.name: list(t.x) for t in fig.data if t.name != "after Stop: not kept"}
    assert kept == {"train loss": [0.5, 1.0], "train acc": [0.5, 1.0], "test acc": [1.0]}
    dropped = [t for t in fig.data if t.name == "after Stop: not kept"]
    assert [list(t.x) for t in dropped] == [[1.0, 1.5, 1.8]] * 2 and [t.yaxis for t in dropped] == ["y", "y2"]
    assert {t.line.color for t in dropped} == {"#9ca3af"} and sum(t.showlegend is not False for t in dropped) == 1
    line = fig.layout.shapes[0]
    assert line.x0 == line.x1 == 1 and "1 epoch kept" in fig.layout.annotations[0].text
    nothing_kept = training_curves(reports[:1], epochs=2, stopped=True)
    assert [t.name for t in nothing_kept.data] == ["after Stop: not kept"] * 2
    finished = training_curves(HISTORY, stopped=True)  # a history holds finished epochs only
    assert [len(t.x) for t in finished.data] == [3, 3, 3] and not finished.layout.shapes


def test_overlay_runs_draws_one_curve_per_run():
    other = HISTORY.assign(test_acc=[0.5, 0.8, 0.85])
    fig = overlay_runs([("classic", HISTORY), ("modern", other)])
    assert [t.name for t in fig.data] == ["classic", "modern"]
    assert list(fig.data[1].y) == [0.5, 0.8, 0.85]
    assert fig.layout.yaxis.range[0] == 0 and math.isclose(fig.layout.xaxis.range[1], 3)
    assert fig.layout.yaxis.tickformat == ".0%" and fig.layout.yaxis.title.text == "test acc"
    loss = overlay_runs([("classic", HISTORY)], metric="train_loss")
    assert list(loss.data[0].y) == list(HISTORY["train_loss"]) and loss.layout.yaxis.range[1] >= 2.3
    assert loss.layout.yaxis.tickformat is None
    with pytest.raises(ValueError, match="metric"):
        overlay_runs([("classic", HISTORY)], metric="accuracy")


def sweep_results() -> list[dict]:
    """What Sweep.results() gives for a 2 x 2 sweep, one trial still waiting."""
    rows = []
    for kernel, parameters in ((3, 81646), (5, 62158)):
        for activation, acc in (("relu", 0.71), ("tanh", 0.66)):
            rows.append({"settings": {"kernel_sizes": [kernel, kernel], "activation": activation},
                         "parameters": parameters, "status": "finished", "epochs": 1, "test_acc": round(acc + kernel / 100, 2),
                         "seconds": 2.5, "run_dir": f"runs/k{kernel}-{activation}", "node": "local", "error": None})
    rows[-1] |= {"status": "waiting", "epochs": 0, "test_acc": None, "seconds": None}
    return rows


def test_accuracy_against_parameters_draws_each_scored_trial_once():
    fig = accuracy_parameters_figure(sweep_results())
    assert [t.name for t in fig.data] == ["3x3", "5x5"]  # one colour per value of the first swept setting
    assert list(fig.data[0].x) == [81646, 81646] and list(fig.data[0].y) == [0.74, 0.69]
    assert list(fig.data[1].x) == [62158] and list(fig.data[1].y) == [0.76]  # the waiting trial is left out
    assert list(fig.data[0].text) == ["3x3 · relu", "3x3 · tanh"]
    hover = fig.data[1].hovertext[0]
    assert "kernel_sizes = 5x5" in hover and "activation = relu" in hover and "62,158" in hover and "76.0%" in hover
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text.startswith("parameters")
    assert fig.layout.yaxis.title.text == "test accuracy" and has_title(fig)
    low, high = fig.layout.xaxis.range  # log10 of the counts, with room for the labels
    assert low < math.log10(62158) < math.log10(81646) < high
    assert list(fig.layout.xaxis.tickvals) == [50000, 100000] and list(fig.layout.xaxis.ticktext) == ["50k", "100k"]
    empty = accuracy_parameters_figure([])
    assert len(empty.data) == 0 and "no trial" in empty.layout.title.subtitle.text


def test_parallel_coordinates_have_an_axis_per_setting_and_lines_coloured_by_accuracy():
    fig = settings_parallel_figure(sweep_results())
    dims = fig.data[0].dimensions
    assert [d.label for d in dims] == ["kernel_sizes", "activation", "parameters", "test accuracy"]
    assert list(dims[0].values) == [0, 0, 1] and list(dims[0].ticktext) == ["3x3", "5x5"]
    assert list(dims[1].ticktext) == ["relu", "tanh"] and list(dims[1].values) == [0, 1, 0]
    assert list(dims[2].values) == [81646, 81646, 62158] and list(dims[3].values) == [0.74, 0.69, 0.76]
    assert list(fig.data[0].line.color) == [0.74, 0.69, 0.76] and fig.data[0].line.showscale and has_title(fig)
    numeric = settings_parallel_figure([{**r, "settings": {"lr": lr}} for r, lr in zip(sweep_results(), (0.1, 0.4, 0.2))])
    assert list(numeric.data[0].dimensions[0].values) == [0.1, 0.4, 0.2] and numeric.data[0].dimensions[0].ticktext is None
