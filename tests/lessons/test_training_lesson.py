"""What the Train page explains: the softmax-before-the-loss floor."""



import pytest
import torch
import torch.nn.functional as F

from lenet.lessons.training import softmax_before_loss_warning, softmax_loss_floor


@pytest.mark.parametrize("classes", [2, 10, 100])
def test_softmax_loss_floor_is_what_cross_entropy_gives_a_one_hot_output(classes):
    one_hot = torch.zeros(1, classes)
    one_hot[0, 0] = 1.0
    assert F.cross_entropy(one_hot, torch.tensor([0])).item() == pytest.approx(softmax_loss_floor(classes))
    assert f"≈ {softmax_loss_floor(classes):.2f}" in softmax_before_loss_warning(classes)
