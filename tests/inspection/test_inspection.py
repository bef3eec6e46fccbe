"""Predictions, feature maps, filters and the evaluation tables, checked against torch and pandas."""

import re

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lenet import LeNetConfig, build_lenet, plan_layers
from lenet.data import Split, load_split
from lenet.inspection import conv_filters, evaluate, feature_maps, pick_image, predict_proba, to_batch


@pytest.fixture(scope="module")
def trained():
    """A modern LeNet trained for 200 small steps on 5,000 Fashion-MNIST images (a few seconds)."""
    torch.manual_seed(0)
    split = load_split("fashion-mnist", train=True)
    x, y = split.images[:5000].float().div(255).unsqueeze(1), split.labels[:5000]
    model = build_lenet(LeNetConfig.modern())
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for idx in torch.randint(5000, (200, 64), generator=torch.Generator().manual_seed(0)):
        loss = F.cross_entropy(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


@pytest.fixture(scope="module")
def fashion_test_split():
    return load_split("fashion-mnist", train=False)


@pytest.fixture(scope="module")
def evaluation(trained, fashion_test_split):
    return evaluate(trained, fashion_test_split)


def test_predict_proba_is_softmax_of_the_model_in_eval_mode(trained, fashion_test_split):
    images = fashion_test_split.images[:50]
    trained.train()
    probs = predict_proba(trained, images)
    assert trained.training, "the model's mode must be restored"
    trained.eval()
    with torch.no_grad():
        expected = F.softmax(trained(images.float().unsqueeze(1) / 255), dim=1)
    assert probs.shape == (50, 10)
    torch.testing.assert_close(probs, expected)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(50))
    torch.testing.assert_close(predict_proba(trained, images.float().unsqueeze(1) / 255), probs)
    torch.testing.assert_close(predict_proba(trained, images[0]), probs[:1])
    torch.testing.assert_close(predict_proba(trained, images, batch_size=7), probs)


@pytest.mark.parametrize("bad, words", [
    (torch.zeros(2, 28, 28, dtype=torch.int32), "uint8"),
    (torch.full((2, 1, 28, 28), 2.0), "[0, 1]"),
    (torch.full((2, 1, 28, 28), float("nan")), "[0, 1]"),
    (torch.zeros(28, 28), "shape"),
    (torch.zeros(2, 3, 28, 28), "1-channel"),
    (torch.zeros(2, 1, 32, 32), "32, 32"),
    ([[0.0] * 28] * 28, "tensor"),
])
def test_bad_images_are_refused_clearly(bad, words):
    model = build_lenet(LeNetConfig.classic())
    with pytest.raises(ValueError, match=re.escape(words)):
        predict_proba(model, bad)


def test_to_batch_scales_pixels():
    x = torch.tensor([[0, 255], [51, 102]], dtype=torch.uint8)
    assert torch.equal(to_batch(x), torch.tensor([[[[0.0, 1.0], [0.2, 0.4]]]]))


@pytest.mark.parametrize("config", [LeNetConfig.classic(), LeNetConfig.modern(),
                                    LeNetConfig(conv_channels=(4, 8, 8), kernel_sizes=(3, 3, 3), paddings=(1, 1, 1),
                                                strides=(1, 1, 2), activation="tanh", pool="none")])
def test_feature_maps_match_running_the_layers_by_hand(config):
    torch.manual_seed(0)
    model = build_lenet(config).eval()
    image = torch.randint(0, 256, (28, 28), dtype=torch.uint8)
    maps = feature_maps(model, image)
    planned = {spec.name: spec.out_shape for spec in plan_layers(config)}
    expected_names = [n for n in planned if n.startswith(("conv", "bn", "act", "pool"))]
    assert list(maps) == expected_names
    x = image.float()[None, None] / 255
    with torch.no_grad():
        for name, layer in model.named_children():
            x = layer(x)
            if name in maps:
                assert maps[name].shape == planned[name]
                torch.testing.assert_close(maps[name], x[0])
        conv1 = model.conv1
        direct = F.conv2d(model.normalize(image.float()[None, None] / 255), conv1.weight, conv1.bias,
                          conv1.stride, conv1.padding)
    torch.testing.assert_close(maps["conv1"], direct[0])


def test_feature_maps_take_float_images_and_other_sizes():
    model = build_lenet(LeNetConfig.classic())
    image = torch.rand(1, 28, 28)
    torch.testing.assert_close(feature_maps(model, image)["pool2"],
                               feature_maps(model, (image[0] * 255).round().to(torch.uint8))["pool2"], atol=0.01, rtol=0)
    assert feature_maps(model, torch.rand(1, 32, 32))["pool2"].shape == (16, 6, 6)


def test_conv_filters_are_detached_copies_of_the_weights():
    model = build_lenet(LeNetConfig.classic())
    filters = conv_filters(model)
    assert {k: tuple(v.shape) for k, v in filters.items()} == {"conv1": (6, 1, 5, 5), "conv2": (16, 6, 5, 5)}
    assert torch.equal(filters["conv2"], model.conv2.weight)
    assert not filters["conv1"].requires_grad
    filters["conv1"].zero_()
    assert model.conv1.weight.abs().sum() > 0


def test_evaluation_tables_agree_with_pandas(evaluation, fashion_test_split, trained):
    ev = evaluation
    assert ev.accuracy > 0.75, "200 steps of a modern LeNet should reach well over 75%"
    preds = predict_proba(trained, fashion_test_split.images).argmax(dim=1)
    assert torch.equal(ev.predictions, preds)
    cm = ev.confusion_matrix()
    crosstab = pd.crosstab(pd.Categorical(fashion_test_split.labels.numpy()), pd.Categorical(preds.numpy(), categories=range(10)),
                           dropna=False)
    assert (cm.to_numpy() == crosstab.to_numpy()).all()
    assert list(cm.index) == list(cm.columns) == list(fashion_test_split.classes)
    assert cm.to_numpy().sum() == len(fashion_test_split)
    assert cm.to_numpy().trace() / len(fashion_test_split) == pytest.approx(ev.accuracy)
    per_class = ev.per_class_accuracy()
    for i, name in enumerate(fashion_test_split.classes):
        mask = fashion_test_split.labels == i
        assert per_class[name] == pytest.approx((preds[mask] == i).float().mean().item())


def test_most_confident_mistakes_are_wrong_and_sorted(evaluation):
    ev = evaluation
    mistakes = ev.most_confident_mistakes(k=16)
    assert len(mistakes) == 16
    idx = torch.tensor(mistakes["index"].to_numpy())
    assert (ev.predictions[idx] != ev.labels[idx]).all()
    assert torch.equal(torch.tensor(mistakes["true"].to_numpy()), ev.labels[idx])
    assert torch.equal(torch.tensor(mistakes["predicted"].to_numpy()), ev.predictions[idx])
    conf = mistakes["confidence"].to_numpy()
    assert (conf[:-1] >= conf[1:]).all()
    wrong = ev.predictions != ev.labels
    assert ev.confidences[wrong].max().item() == pytest.approx(conf[0])
    assert (ev.confidences[wrong] > conf[-1]).sum() <= 15
    assert list(mistakes["true_name"]) == [ev.classes[i] for i in mistakes["true"]]


def test_pick_image(evaluation, fashion_test_split):
    assert pick_image(fashion_test_split, "index", index=42) == 42
    coat = fashion_test_split.classes.index("Coat")
    picks = {pick_image(fashion_test_split, "class", label=coat, seed=s) for s in range(20)}
    assert len(picks) > 10 and all(fashion_test_split.labels[i] == coat for i in picks)
    assert pick_image(fashion_test_split, "random", seed=3) == pick_image(fashion_test_split, "random", seed=3)
    for seed in range(10):
        i = pick_image(fashion_test_split, "mistake", seed=seed, evaluation=evaluation)
        assert evaluation.predictions[i] != fashion_test_split.labels[i]


@pytest.mark.parametrize("kwargs, words", [
    (dict(how="index", index=10_000), "between 0 and 9999"),
    (dict(how="class", label=10), "label"),
    (dict(how="class"), "label"),
    (dict(how="mistake"), "evaluate"),
    (dict(how="best"), "how must be"),
])
def test_pick_image_refuses_clearly(fashion_test_split, kwargs, words):
    with pytest.raises(ValueError, match=words):
        pick_image(fashion_test_split, **kwargs)


def test_pick_a_class_that_a_subset_lacks():
    split = Split("tiny", False, torch.zeros(3, 28, 28, dtype=torch.uint8), torch.tensor([0, 0, 1]), ("a", "b", "c"), "")
    with pytest.raises(ValueError, match="no image of class 'c'"):
        pick_image(split, "class", label=2)


def test_evaluate_refuses_a_model_with_other_classes(fashion_test_split):
    model = build_lenet(LeNetConfig(num_classes=5))
    small = Split("fashion-mnist", False, fashion_test_split.images[:10], fashion_test_split.labels[:10], fashion_test_split.classes, "")
    with pytest.raises(ValueError, match="5 classes"):
        evaluate(model, small)


def test_feature_maps_refuse_a_model_that_is_not_sequential():
    with pytest.raises(ValueError, match="Sequential"):
        feature_maps(nn.ModuleList([nn.Conv2d(1, 2, 3)]), torch.zeros(28, 28, dtype=torch.uint8))
