"""AppTest for the 'Convolution as a matrix' section at the end of the Cross-correlation and Channels pages."""

import json

import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from lenet.core.shapes import conv_output_shape
from lenet.lessons.channels import example_channels
from helpers import K2, ROOT, X3, app_page as page

CROSS, CHANNELS = (str(ROOT / "pages" / name) for name in ("1_Cross_correlation.py", "3_Channels.py"))
SECTION = "Convolution as a matrix"



def figure(at: AppTest, title_start: str) -> dict:
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return next(s for s in specs if s["layout"]["title"]["text"].startswith(title_start))


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def shows_the_section(at: AppTest) -> bool:
    return SECTION in [h.value for h in at.header]


@pytest.mark.parametrize("path, query", [(CROSS, {}), (CROSS, {"op": "convolution"}), (CHANNELS, {}),
                                         (CHANNELS, {"c_i": 3, "c_o": 2, "n": 4, "k": 2})])
def test_the_section_draws_both_matrices_and_both_checks_agree(path, query):
    at = page(path, **query)
    assert not at.exception and not at.error and shows_the_section(at)
    checks = [s.value for s in at.success]
    assert any("as the product" in c for c in checks) and any("W @ X.flatten()" in c for c in checks)
    assert figure(at, "im2col") and figure(at, "The convolution as a dense layer")


def test_cross_correlation_shows_the_kernel_it_slides():
    K = K2.flip(0, 1)  # the page's convolution slides the flipped kernel
    at = page(CROSS, op="convolution")
    kernel_panel = figure(at, "The convolution as a dense layer")["data"][0]
    weights = [float(t) for row in kernel_panel["text"] for t in row]
    assert weights == K.flatten().tolist()
    Y = F.conv2d(X3[None, None], K[None, None])[0, 0]
    assert figure(at, "im2col")["data"][3]["z"] == Y.tolist()


def test_channels_section_counts_the_weight_matrix():
    c_i, c_o, n, k = 3, 2, 4, 2
    at = page(CHANNELS, c_i=c_i, c_o=c_o, n=n, k=k)
    out_h, out_w = conv_output_shape(n, k)
    assert metric(at, "W's shape") == f"{c_o * out_h * out_w} × {c_i * n * n}"
    assert metric(at, "Distinct weights") == f"{c_o * c_i * k * k} vs {c_o * out_h * out_w * c_i * n * n:,}"
    X, K = example_channels(c_i, c_o, n, k)
    product = torch.tensor(figure(at, "im2col")["data"][2]["z"])  # the first windows of K @ im2col(X)
    assert torch.equal(product, F.conv2d(X[None], K)[0].reshape(c_o, -1)[:, : product.shape[1]])


def test_no_section_when_the_kernel_does_not_fit():
    at = page(CHANNELS, n=2, k=3)
    assert not at.exception and not shows_the_section(at)
    at = page(CROSS, X="1 2; 3 4", K="1 2 3; 4 5 6; 7 8 9")
    assert not at.exception and not shows_the_section(at)
