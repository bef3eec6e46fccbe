"""The Train page's architecture editor explains the notes' two classic mistakes (AppTest, no training)."""


import pytest
import torch
from streamlit.testing.v1 import AppTest

from lenet import LeNetConfig, build_lenet
from lenet.inspection import predict_proba
from lenet.lessons.training import softmax_loss_floor
from helpers import TRAIN



pytestmark = pytest.mark.usefixtures("runs_dir")  # every test gets its own runs folder


def train_button(at: AppTest):
    return next(b for b in at.button if b.label == "Train")


def test_skipped_pooling_with_a_hand_written_dense_size_is_explained():
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    assert not at.error and not train_button(at).disabled
    at.number_input(key="dense_inputs").set_value(400).run()
    assert not at.error, "400 is what flatten gives for d2l's LeNet"
    at.checkbox(key="pool_after1").uncheck().run()
    assert not at.exception
    message = at.error[0].value
    assert "flatten gives 16 x 10 x 10 = 1600 values but fc1 expects 400" in message
    assert "pool2 was skipped" in message and train_button(at).disabled
    at.number_input(key="dense_inputs").set_value(0).run()
    assert not at.error and not train_button(at).disabled


def test_softmax_before_the_loss_warns_but_still_trains():
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    assert not at.warning
    at.checkbox(key="softmax_output").check().run()
    assert not at.exception and not at.error and not train_button(at).disabled
    warning = at.warning[0].value
    assert "still builds and trains" in warning and "stays at chance" in warning and f"≈ {softmax_loss_floor(10):.2f}" in warning
    assert "softmax" in at.dataframe[0].value["layer"].tolist()


def test_inspection_does_not_apply_softmax_twice():
    torch.manual_seed(0)
    model = build_lenet(LeNetConfig.modern().replace(softmax_output=True)).eval()
    images = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    with torch.no_grad():
        expected = model(images[:, None].float() / 255)
    assert torch.allclose(predict_proba(model, images), expected, atol=1e-6)
