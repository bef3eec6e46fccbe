"""AppTest for the concept pages: they load, widgets and URLs change the shown numbers, bad settings explain themselves."""

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from lenet import (
    EDGE_KERNEL,
    LeNetConfig,
    build_lenet,
    conv_output_shape,
    conv_parameter_count,
    corr2d,
    corr2d_multi_in,
    count_parameters,
    edge_image,
    learn_kernel,
    mlp_parameter_count,
)
from lenet import convolve2d
from lenet.core.shapes import total_padding_output_shape
from lenet.core.units import human_bytes, human_count
from lenet.lessons.channels import example_channels
from lenet.lessons.cross_correlation import convolution_terms, dice_arithmetic, window_arithmetic
from lenet.lessons.grids import format_matrix
from lenet.lessons.pooling import shift_demo
from lenet.core.receptive import receptive_fields, unit_field
from helpers import ROOT, app_page

PAGES = [
    str(ROOT / "pages" / name)
    for name in ("1_Cross_correlation.py", "2_Padding_and_stride.py", "3_Channels.py", "4_Pooling.py", "5_MLP_vs_CNN.py",
                 "9_Receptive_fields.py")
]



def page(path: str, **query) -> AppTest:
    return app_page(path, 30, **query)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def charts(at: AppTest) -> list:
    return at.get("plotly_chart")


def click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click()
    return at.run()


@pytest.mark.parametrize("path", PAGES, ids=lambda p: Path(p).stem)
def test_page_loads_with_figures_code_and_png_download(path):
    at = page(path)
    assert not at.exception and not at.error
    assert charts(at), "every concept page draws at least one figure"
    for chart in charts(at):
        assert json.loads(chart.proto.config)["toImageButtonOptions"]["format"] == "png"
        assert json.loads(chart.proto.spec)["layout"]["title"]["text"]
    assert "Show the code" in [e.label for e in at.expander] and at.code


def test_cross_correlation_worked_example_and_steps():
    at = page(PAGES[0])
    X, K = torch.arange(9.0).reshape(3, 3), torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    assert metric(at, "Output shape") == "2 × 2"
    assert "0×0 + 1×1 + 3×2 + 4×3 = 19" in markdown(at)
    assert format_matrix(corr2d(X, K)) in markdown(at)
    at.slider(key="step").set_value(4).run()
    assert f"**Y[1, 1]** = {window_arithmetic(X, K, (1, 1))}" in markdown(at)
    assert window_arithmetic(X, K, (1, 1)).endswith(f"= {int(corr2d(X, K)[1, 1])}")


def test_cross_correlation_from_url_and_bad_input():
    X, K = torch.arange(20.0).reshape(4, 5), torch.tensor([[1.0, -1.0, 2.0]])
    at = page(PAGES[0], X=format_matrix(X), K=format_matrix(K), step=3)
    assert metric(at, "Output shape") == "{} × {}".format(*conv_output_shape((4, 5), (1, 3)))
    assert f"**Y[0, 2]** = {window_arithmetic(X, K, (0, 2))}" in markdown(at)
    at.text_input(key="K").set_value("1 2; 3").run()
    assert not at.exception and "same number of values" in at.error[0].value
    at.text_input(key="K").set_value("1 2 3 4 5 6").run()
    assert not at.exception and "make the kernel smaller" in at.error[0].value


def test_learning_the_kernel_follows_the_controls():
    at = page(PAGES[0], lr=0.02, iterations=20)
    X = edge_image()
    learned, _ = learn_kernel(X, corr2d(X, EDGE_KERNEL), lr=0.02, iterations=20)
    assert metric(at, "Learned kernel") == f"[{learned[0, 0]:.3f}, {learned[0, 1]:.3f}]"
    assert not at.warning
    at.number_input(key="lr").set_value(0.05).run()
    assert not at.exception and "learning rate is too large" in at.warning[0].value


@pytest.mark.parametrize(
    "query",
    [dict(n_h=8, n_w=8, k_h=3, k_w=3, p_h=1, p_w=1, s_h=2, s_w=2),
     dict(n_h=8, n_w=8, k_h=3, k_w=5, p_h=0, p_w=1, s_h=3, s_w=4),
     dict(n_h=11, n_w=6, k_h=2, k_w=3, p_h=3, p_w=0, s_h=4, s_w=1, d_h=3, d_w=2)],
)
def test_padding_page_output_shape_from_url(query):
    at = page(PAGES[1], **query)
    settings = [(query[f"{v}_h"], query[f"{v}_w"]) if f"{v}_h" in query else 1 for v in "nkpsd"]
    out_h, out_w = conv_output_shape(*settings)
    expected = F.conv2d(torch.zeros(1, 1, *settings[0]), torch.zeros(1, 1, *settings[1]), padding=settings[2], stride=settings[3], dilation=settings[4])
    assert (out_h, out_w) == tuple(expected.shape[-2:])
    assert metric(at, "Output shape") == f"{out_h} × {out_w}"
    assert metric(at, "Window positions") == str(out_h * out_w)
    formulas = [line.value.strip("$\n ") for line in at.latex[1:3]]
    assert formulas[0].startswith(r"\text{height") and formulas[0].endswith(f"= {out_h}")
    assert formulas[1].startswith(r"\text{width") and formulas[1].endswith(f"= {out_w}")


def test_padding_page_widgets_presets_and_impossible_settings():
    at = page(PAGES[1])
    assert metric(at, "Output shape") == "4 × 4"
    click(at, "k=(3,5), p=(0,1), s=(3,4) → 2×2")
    assert metric(at, "Output shape") == "2 × 2"
    at.number_input(key="n_h").set_value(4)
    at.number_input(key="k_h").set_value(9)
    at.number_input(key="p_h").set_value(0).run()
    assert not at.exception and "make the kernel smaller or the padding at least 3" in at.error[0].value
    assert not [m for m in at.metric if m.label == "Output shape"]
    at.number_input(key="p_h").set_value(3).run()
    assert not at.error and metric(at, "Output shape") == "{} × {}".format(*conv_output_shape((4, 8), (9, 5), (3, 1), (3, 4)))


def test_padding_page_ignores_out_of_range_url_values():
    at = page(PAGES[1], n_h=999, k_h="abc")
    assert not at.exception and metric(at, "Output shape") == "4 × 4"


def test_padding_page_runs_a_real_image_through_the_layer():
    at = page(PAGES[1], kernel="vertical edges", s_h=1, s_w=3)
    image = json.loads(charts(at)[-1].proto.spec)
    out = image["data"][1]["z"]
    assert (len(out), len(out[0])) == conv_output_shape(28, 3, 1, (1, 3))
    assert any(c.value.startswith(("Fashion-MNIST test image 0", "Built-in")) for c in at.caption)


def test_channels_page_counts_and_sums():
    at = page(PAGES[2], c_i=3, c_o=2, n=4, k=3, o=1)
    assert metric(at, "Kernel tensor shape") == "2 × 3 × 3 × 3"
    assert metric(at, "Parameters") == f"{conv_parameter_count(3, 2, 3):,}" == "56"
    assert metric(at, "Output shape") == "2 × 2 × 2"
    X, K = example_channels(3, 2, 4, 3)
    total = json.loads(charts(at)[0].proto.spec)["data"][-1]["z"]
    assert torch.equal(torch.tensor(total), corr2d_multi_in(X, K[1]))
    assert all("largest difference 0)" in s.value for s in at.success)


def test_channels_page_d2l_example_and_kernel_too_large():
    at = page(PAGES[2])
    total = json.loads(charts(at)[0].proto.spec)["data"][-1]["z"]
    assert total == [[56.0, 72.0], [104.0, 120.0]]
    at.number_input(key="k").set_value(4).run()
    assert not at.exception and "make the kernel smaller" in at.error[0].value
    assert metric(at, "Parameters") == f"{conv_parameter_count(2, 1, 4):,}"


POOLING_PRESETS = {
    "2×2 max, stride 1 (d2l)": "4 5; 7 8",
    "2×2 average, stride 1 (d2l)": "2 3; 5 6",
    "MaxPool2d(3)": "10",
    "MaxPool2d(3, padding=1, stride=2)": "5 7; 13 15",
    "MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))": "5 7; 13 15",
}


def test_pooling_presets_give_the_curriculum_results():
    at = page(PAGES[3])
    for preset, expected in POOLING_PRESETS.items():
        click(at, preset)
        assert not at.exception and f"Output Y = `{expected}`" in markdown(at), preset


def test_pooling_page_matches_torch_and_explains_bad_padding():
    X = torch.arange(25.0).reshape(5, 5)
    at = page(PAGES[3], X=format_matrix(X), mode="avg", k_h=3, k_w=2, p_h=1, p_w=1, s_h=2, s_w=1)
    expected = F.avg_pool2d(X[None, None], (3, 2), (2, 1), (1, 1))[0, 0]
    assert metric(at, "Output shape") == f"{expected.shape[0]} × {expected.shape[1]}"
    assert f"Output Y = `{format_matrix(expected)}`" in markdown(at)
    at.number_input(key="p_w").set_value(2).run()
    assert not at.exception and "more than half the window" in at.error[0].value


def test_pooling_shift_demo_counts():
    at = page(PAGES[3], shift=2, demo_k=3, demo_s=1, mode="avg")
    demo = shift_demo(edge_image(), EDGE_KERNEL, 3, "avg", 1, 2)
    assert metric(at, "Conv outputs that changed") == f"{len(demo.conv_changed)} of {demo.conv.numel()}"
    assert metric(at, "Pooled outputs that changed") == f"{len(demo.pooled_changed)} of {demo.pooled.numel()}"


def test_mlp_page_twelve_megapixel_example():
    at = page(PAGES[4])
    dense = mlp_parameter_count(3 * 3000 * 4000, [100])
    assert metric(at, "Dense layer parameters") == human_count(dense) == "3.6 billion"
    assert metric(at, "Dense layer memory (float32)") == human_bytes(4 * dense) == "14.4 GB"
    assert metric(at, "Conv layer parameters") == str(conv_parameter_count(3, 6, 5))
    assert metric(at, "LeNet parameters") == f"{count_parameters(build_lenet(LeNetConfig.classic())):,}"
    assert len(at.dataframe[1].value) == len(build_lenet(LeNetConfig.classic()))


def test_mlp_page_follows_url_and_presets():
    at = page(PAGES[4], height=28, width=28, channels=1, hidden=256, conv_channels=16, kernel=3)
    assert metric(at, "Dense layer parameters") == human_count(mlp_parameter_count(784, [256]))
    assert metric(at, "Conv layer parameters") == str(conv_parameter_count(1, 16, 3))
    click(at, "ImageNet size (224×224 RGB)")
    assert metric(at, "Dense layer parameters") == human_count(mlp_parameter_count(3 * 224 * 224, [100]))



def test_convolution_switch_flips_the_kernel():
    X, K = torch.arange(9.0).reshape(3, 3), torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    at = page(PAGES[0], op="convolution", step=2)
    assert not at.exception and f"Output Y = `{format_matrix(convolve2d(X, K))}`" in markdown(at)
    assert f"**Y[0, 1]** = {convolution_terms((2, 2), (0, 1))}" in markdown(at)
    assert "= 1×3 + 2×2 + 4×1 + 5×0 = 11" in markdown(at)
    kernel = json.loads(charts(at)[0].proto.spec)["data"][2]["z"]
    assert kernel == K.flip(0, 1).tolist()
    at.radio(key="op").set_value("cross-correlation").run()
    assert f"Output Y = `{format_matrix(corr2d(X, K))}`" in markdown(at)


def test_dice_example_from_the_notes_and_from_the_url():
    at = page(PAGES[0])
    assert metric(at, "P(sum = 4)") == "3/36" and dice_arithmetic(4) in markdown(at)
    at = page(PAGES[0], dice_sum=7)
    assert metric(at, "P(sum = 7)") == "6/36"
    bars = next(d for c in charts(at) for d in json.loads(c.proto.spec)["data"] if d["type"] == "bar" and len(d["y"]) == 11)
    assert sum(bars["y"]) == pytest.approx(1.0)


@pytest.mark.parametrize("query", [dict(n_h=8, n_w=8, k_h=3, k_w=3, pt_h=2, pt_w=2, s_h=2, s_w=2),
                                   dict(n_h=8, n_w=7, k_h=4, k_w=2, pt_h=3, pt_w=0, s_h=1, s_w=3, d_h=2)])
def test_padding_over_both_sides_from_the_url(query):
    at = page(PAGES[1], convention="both sides together", **query)
    n, k, p, s = [(query[f"{v}_h"], query[f"{v}_w"]) for v in ("n", "k", "pt", "s")]
    out = total_padding_output_shape(n, k, p, s, (query.get("d_h", 1), query.get("d_w", 1)))
    assert not at.exception and metric(at, "Output shape") == f"{out[0]} × {out[1]}"
    formulas = [line.value.strip("$\n ") for line in at.latex[1:3]]
    assert formulas[0].endswith(f"= {out[0]}") and formulas[1].endswith(f"= {out[1]}")
    assert r"p_h + s_h" in formulas[0]


def test_padding_conventions_show_the_same_example_and_an_odd_total():
    at = page(PAGES[1])
    assert "this is $p = (2, 2)$" in markdown(at)
    click(at, "odd total: k=4, p=3 → same size")
    assert not at.exception and metric(at, "Output shape") == "8 × 8"
    assert "F.pad(X, (2, 1, 2, 1))" in markdown(at)
    image = json.loads(charts(at)[-1].proto.spec)["data"][1]["z"]
    assert (len(image), len(image[0])) == (28, 28)
    at.number_input(key="pt_h").set_value(0)
    at.number_input(key="n_h").set_value(2).run()
    assert not at.exception and "total padding at least 2" in at.error[0].value
    click(at, "k=3, p=1, s=2 → 4×4")
    assert not at.error and metric(at, "Output shape") == "4 × 4" and at.radio(key="convention").value == "per side"


def test_receptive_fields_page_shows_d2l_numbers_and_a_unit():
    at = page(PAGES[5])
    assert [metric(at, f"{name} sees") for name in ("conv1", "pool1", "conv2", "pool2")] == ["5 × 5", "6 × 6", "14 × 14", "16 × 16"]
    assert list(at.dataframe[0].value["receptive field"]) == ["5 x 5", "6 x 6", "14 x 14", "16 x 16"]
    at = page(PAGES[5], layer="conv2", row=0, col=0)
    field = unit_field(LeNetConfig.classic(), "conv2", (0, 0))
    assert f"sees **{field.pixels} pixels**" in markdown(at) and "rows -2 to 11" in markdown(at)
    unseen = json.loads(charts(at)[0].proto.spec)["data"][1]["z"]  # NaN (null in JSON) where the unit sees
    assert [[v is None for v in row] for row in unseen] == field.mask.tolist()


def test_receptive_fields_page_presets_url_and_impossible_settings():
    at = page(PAGES[5])
    click(at, "the notes' LeNet (32×32)")
    notes = LeNetConfig(image_size=32, paddings=(0, 0), pool="max")  # 32 x 32 input, no padding
    assert [metric(at, f"{f.layer} sees") for f in receptive_fields(notes)] == ["5 × 5", "6 × 6", "14 × 14", "16 × 16"]
    assert at.dataframe[0].value["output"].tolist() == ["28 x 28", "14 x 14", "10 x 10", "5 x 5"]
    at = page(PAGES[5], s1=2, pool="none", layer="conv2")
    assert metric(at, "conv2 sees") == "{0} × {0}".format(receptive_fields(
        LeNetConfig(strides=(2, 1), pool="none"))[-1].size)
    at = page(PAGES[5], k1=9, p1=0, s1=4, k2=9)
    assert not at.exception and "make the kernel smaller" in at.error[0].value
