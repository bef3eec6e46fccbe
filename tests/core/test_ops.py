"""The curriculum's worked examples, and the library checked against torch's own operators."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lenet import (
    EDGE_KERNEL,
    Conv2D,
    conv1d,
    convolve2d,
    corr2d,
    corr2d_1x1,
    corr2d_fast,
    corr2d_multi_in,
    corr2d_multi_in_out,
    edge_image,
    learn_kernel,
    pool2d,
)

X3 = torch.arange(9.0).reshape(3, 3)


def test_corr2d_worked_example():
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    expected = torch.tensor([[19.0, 25.0], [37.0, 43.0]])
    assert torch.equal(corr2d(X3, K), expected)
    assert torch.equal(corr2d_fast(X3, K), expected)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), kh=st.integers(1, 4), kw=st.integers(1, 4), seed=st.integers(0, 99))
def test_corr2d_matches_torch(h, w, kh, kw, seed):
    g = torch.Generator().manual_seed(seed)
    X, K = torch.randn(h, w, generator=g), torch.randn(kh, kw, generator=g)
    if kh > h or kw > w:
        with pytest.raises(ValueError):
            corr2d_fast(X, K)
        return
    expected = F.conv2d(X[None, None], K[None, None])[0, 0]
    torch.testing.assert_close(corr2d(X, K), expected)
    torch.testing.assert_close(corr2d_fast(X, K), expected)


def test_edge_detection():
    X = edge_image()
    assert X.shape == (6, 8) and X[:, 2:6].sum() == 0 and X[:, [0, 1, 6, 7]].eq(1).all()
    Y = corr2d(X, EDGE_KERNEL)
    expected = torch.zeros(6, 7)
    expected[:, 1], expected[:, 5] = 1, -1
    assert torch.equal(Y, expected)
    assert corr2d(X.t(), EDGE_KERNEL).abs().sum() == 0  # horizontal edges are invisible to [1, -1]


def test_learned_kernel_ends_near_edge_kernel():
    X = edge_image()
    kernel, losses = learn_kernel(X, corr2d(X, EDGE_KERNEL), lr=3e-2, iterations=10)
    assert len(losses) == 10 and losses[-1] < losses[0] / 10
    torch.testing.assert_close(kernel, EDGE_KERNEL, atol=0.1, rtol=0)


def test_multi_channel_correlation_matches_torch():
    g = torch.Generator().manual_seed(0)
    X, K = torch.randn(3, 7, 6, generator=g), torch.randn(4, 3, 2, 3, generator=g)
    torch.testing.assert_close(corr2d_multi_in(X, K[0]), F.conv2d(X[None], K[:1])[0, 0])
    torch.testing.assert_close(corr2d_multi_in_out(X, K), F.conv2d(X[None], K)[0])


def test_d2l_multi_input_example():
    X = torch.tensor([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
                      [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
    K = torch.tensor([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
    assert torch.equal(corr2d_multi_in(X, K), torch.tensor([[56.0, 72.0], [104.0, 120.0]]))
    assert corr2d_multi_in_out(X, torch.stack((K, K + 1, K + 2))).shape == (3, 2, 2)


def test_1x1_convolution_is_a_matrix_multiply():
    g = torch.Generator().manual_seed(1)
    X, K = torch.randn(3, 3, 3, generator=g), torch.randn(2, 3, 1, 1, generator=g)
    torch.testing.assert_close(corr2d_1x1(X, K), corr2d_multi_in_out(X, K))
    torch.testing.assert_close(corr2d_1x1(X, K), F.conv2d(X[None], K)[0])


def test_pool2d_worked_examples():
    assert torch.equal(pool2d(X3, (2, 2)), torch.tensor([[4.0, 5.0], [7.0, 8.0]]))
    assert torch.equal(pool2d(X3, (2, 2), "avg"), torch.tensor([[2.0, 3.0], [5.0, 6.0]]))


def test_pytorch_pooling_defaults_stride_to_window():
    X = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert torch.equal(torch.nn.MaxPool2d(3)(X), torch.tensor([[[[10.0]]]]))
    assert torch.equal(pool2d(X[0, 0], 3, stride=3), torch.tensor([[10.0]]))
    expected = torch.tensor([[5.0, 7.0], [13.0, 15.0]])
    assert torch.equal(pool2d(X[0, 0], 3, padding=1, stride=2), expected)
    assert torch.equal(pool2d(X[0, 0], (2, 3), padding=(0, 1), stride=(2, 3)), expected)
    two_channels = torch.cat((X[0], X[0] + 1))
    Y = pool2d(two_channels, 3, padding=1, stride=2)
    assert Y.shape == (2, 2, 2) and torch.equal(Y[1], expected + 1)


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 8), w=st.integers(1, 8), k=st.integers(1, 4), p=st.integers(0, 2),
    s=st.integers(1, 3), mode=st.sampled_from(["max", "avg"]),
)
def test_pool2d_matches_torch_or_refuses_like_it(h, w, k, p, s, mode):
    X = torch.randn(2, h, w)
    op = F.max_pool2d if mode == "max" else F.avg_pool2d
    try:
        expected = op(X[None], k, s, p)[0]
    except RuntimeError:
        with pytest.raises(ValueError):
            pool2d(X, k, mode, p, s)
        return
    torch.testing.assert_close(pool2d(X, k, mode, p, s), expected)


def test_conv2d_module_learns_with_autograd():
    torch.manual_seed(0)
    layer = Conv2D((1, 2))
    assert layer.weight.shape == (1, 2) and torch.equal(layer.bias.data, torch.zeros(1))
    X = edge_image()
    Y = corr2d(X, EDGE_KERNEL)
    opt = torch.optim.SGD(layer.parameters(), lr=0.01)
    for _ in range(300):
        opt.zero_grad()
        ((layer(X) - Y) ** 2).sum().backward()
        opt.step()
    torch.testing.assert_close(layer.weight.data, EDGE_KERNEL, atol=0.05, rtol=0)


def test_conv1d_and_true_convolution():
    x, k = torch.tensor([0.0, 1, 2, 3, 4, 5, 6]), torch.tensor([1.0, 2])
    torch.testing.assert_close(conv1d(x, k), F.conv1d(x[None, None], k[None, None])[0, 0])
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    torch.testing.assert_close(convolve2d(X3, K), corr2d(X3, torch.tensor([[3.0, 2.0], [1.0, 0.0]])))
