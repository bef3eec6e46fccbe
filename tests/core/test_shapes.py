"""conv_output_shape and friends agree with torch, and refuse what torch refuses, with a clear sentence."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lenet import (
    conv_output_shape,
    conv_parameter_count,
    dense_equivalent_parameter_count,
    mlp_parameter_count,
    pool_output_shape,
)


def test_curriculum_padding_and_stride_examples():
    assert conv_output_shape(8, 3, padding=1, stride=2) == (4, 4)
    assert conv_output_shape(8, (3, 5), padding=(0, 1), stride=(3, 4)) == (2, 2)
    assert conv_output_shape(8, 3, padding=1) == (8, 8)  # odd kernel, p = (k - 1) / 2 keeps the size


def test_impossible_settings_explain_what_to_change():
    with pytest.raises(ValueError, match="padding at least 2"):
        conv_output_shape(4, 7)
    with pytest.raises(ValueError, match="stride must be at least 1"):
        conv_output_shape(8, 3, stride=0)
    with pytest.raises(ValueError, match="padding cannot be negative"):
        conv_output_shape(8, 3, padding=-1)
    with pytest.raises(ValueError, match="dilation"):
        conv_output_shape(8, 3, dilation=5)
    with pytest.raises(ValueError, match="pair of whole numbers"):
        conv_output_shape(8, (3, 3, 3))


pair = st.one_of(st.integers(-1, 6), st.tuples(st.integers(-1, 6), st.integers(-1, 6)))


@settings(max_examples=300, deadline=None)
@given(
    hw=st.tuples(st.integers(0, 10), st.integers(0, 10)),
    k=pair, p=pair, s=pair, d=pair,
)
def test_conv_output_shape_agrees_with_torch(hw, k, p, s, d):
    kh, kw = (k, k) if isinstance(k, int) else k
    try:
        weight = torch.zeros(1, 1, kh, kw)
        out = F.conv2d(torch.zeros(1, 1, *hw), weight, stride=s, padding=p, dilation=d)
        torch_shape = tuple(out.shape[-2:]) if out.numel() else None
    except RuntimeError:
        torch_shape = None
    if torch_shape is None:
        with pytest.raises(ValueError):
            conv_output_shape(hw, k, p, s, d)
    else:
        assert conv_output_shape(hw, k, p, s, d) == torch_shape


@settings(max_examples=200, deadline=None)
@given(hw=st.integers(1, 10), k=st.integers(1, 5), p=st.integers(0, 3), s=st.one_of(st.none(), st.integers(1, 3)))
def test_pool_output_shape_agrees_with_torch(hw, k, p, s):
    try:
        torch_shape = tuple(F.max_pool2d(torch.zeros(1, 1, hw, hw), k, s, p).shape[-2:])
    except RuntimeError:
        with pytest.raises(ValueError):
            pool_output_shape(hw, k, p, s)
        return
    assert pool_output_shape(hw, k, p, s) == torch_shape


def test_parameter_counts():
    assert mlp_parameter_count(36_000_000, [100]) == 3_600_000_100  # 36M inputs x 100 hidden = 3.6B weights
    assert 36_000_000 * 100 * 4 / 1e9 == pytest.approx(14.4)  # about 14 GB of float32
    conv = torch.nn.Conv2d(3, 8, (3, 5))
    assert conv_parameter_count(3, 8, (3, 5)) == sum(p.numel() for p in conv.parameters())
    dense = dense_equivalent_parameter_count(1, 28, 6, 5, padding=2)
    assert dense == (28 * 28) * (6 * 28 * 28) + 6 * 28 * 28
    assert mlp_parameter_count(784, [256], 10) == sum(
        p.numel() for p in torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.Linear(256, 10)).parameters()
    )
