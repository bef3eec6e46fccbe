"""The most confused pairs and one confusion-matrix cell's images, against a direct count over the predictions."""

from collections import Counter

import pytest
import torch

from lenet.inspection import Evaluation

CLASSES = tuple(f"class {i}" for i in range(5))


@pytest.fixture
def evaluation():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(5, (400,), generator=generator)
    logits = torch.randn(400, 5, generator=generator) + 3 * torch.nn.functional.one_hot(labels, 5)
    return Evaluation(labels, logits.softmax(dim=1), CLASSES)


def direct_pairs(evaluation):
    predictions = evaluation.probs.argmax(dim=1).tolist()
    return Counter((CLASSES[t], CLASSES[p]) for t, p in zip(evaluation.labels.tolist(), predictions) if t != p)


def evaluation_of(labels, predictions):
    return Evaluation(labels, torch.nn.functional.one_hot(predictions, 5).float(), CLASSES)


def test_most_confused_counts_every_wrong_pair_largest_first(evaluation):
    table = evaluation.most_confused()
    assert list(table.columns) == ["true", "predicted", "count"]
    got = {(t, p): c for t, p, c in table.itertuples(index=False)}
    assert got == dict(direct_pairs(evaluation)) and len(got) == len(table)
    assert table["count"].is_monotonic_decreasing and (table["true"] != table["predicted"]).all()


def test_min_count_leaves_out_rare_pairs(evaluation):
    table = evaluation.most_confused(min_count=5)
    expected = {pair: n for pair, n in direct_pairs(evaluation).items() if n >= 5}
    assert {(t, p): c for t, p, c in table.itertuples(index=False)} == expected and expected


def test_a_perfect_model_has_no_confused_pairs():
    labels = torch.tensor([0, 1, 2, 3, 4])
    assert evaluation_of(labels, labels).most_confused().empty



def test_a_cells_images_are_those_of_that_true_and_predicted_class_surest_first(evaluation):
    (true, predicted), count = direct_pairs(evaluation).most_common(1)[0]
    t, p = CLASSES.index(true), CLASSES.index(predicted)
    cell = evaluation.cell(t, p)
    predictions, confidences = evaluation.probs.argmax(dim=1), evaluation.probs.max(dim=1).values
    expected = [i for i in range(len(evaluation.labels)) if evaluation.labels[i] == t and predictions[i] == p]
    assert sorted(cell["index"].tolist()) == expected and len(cell) == count
    assert cell["confidence"].tolist() == sorted((confidences[i].item() for i in expected), reverse=True)
    diagonal = evaluation.cell(t, t)
    assert len(diagonal) == int(((evaluation.labels == t) & (predictions == t)).sum())
    with pytest.raises(ValueError, match="between 0 and 4"):
        evaluation.cell(5, 0)
