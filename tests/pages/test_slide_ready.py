"""Slide-ready pages through AppTest: presentation mode from the URL or the switch, kept across pages; every concept
page's check against PyTorch; Train's and Inspect's code; Inspect's controls; Train's speeds; Home's claim."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

import ui
from helpers import HOME, INSPECT, ROOT, TRAIN, run_snippet

pytestmark = pytest.mark.usefixtures("runs_dir")
CONCEPT_CHECKS = {
    "1_Cross_correlation.py": "torch's `F.conv2d` gives the same Y",
    "2_Padding_and_stride.py": "torch's `F.conv2d` makes a 4 × 4 output",
    "3_Channels.py": "equals torch.nn.functional.conv2d",
    "4_Pooling.py": "torch's `F.max_pool2d` gives the same Y",
    "5_MLP_vs_CNN.py": "counting the parameters of torch's own `nn.Linear`, `nn.Conv2d` and LeNet",
    "9_Receptive_fields.py": "torch's autograd finds the gradient of this unit",
}


def page(path: str, **query) -> AppTest:
    at = AppTest.from_file(str(path), default_timeout=90)
    for key, value in query.items():
        at.query_params[key] = str(value)
    return at.run()


def styles(at: AppTest) -> str:
    return "\n".join(h.proto.body for h in at.get("html"))


def figure(at: AppTest, index: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def test_presentation_mode_from_the_url_hides_the_chrome_and_sizes_figures_for_a_slide():
    plain = page(ROOT / "pages/4_Pooling.py")
    shown = page(ROOT / "pages/4_Pooling.py", present=1)
    assert not shown.exception and "stMainMenu" in styles(shown) and "stMainMenu" not in styles(plain)
    assert shown.toggle(key=ui.PRESENT_TOGGLE).value and not plain.toggle(key=ui.PRESENT_TOGGLE).value
    assert shown.query_params["present"] == "1" and "present" not in plain.query_params
    before, after = figure(plain), figure(shown)
    assert after["layout"]["height"] == min(round(before["layout"]["height"] * 1.3), ui.PRESENT_FIGURE_HEIGHT)
    assert after["layout"]["font"]["size"] == pytest.approx(12 * ui.PRESENT_FONT_SCALE, abs=0.1)
    assert before["data"] == after["data"]


def test_a_slide_figure_grows_with_its_type_up_to_a_slide_and_is_never_squeezed():
    import plotly.graph_objects as go
    small = go.Figure(go.Bar(x=[1], y=[2], textfont=dict(size=10)), layout=dict(height=300, title=dict(text="t")))
    grown = ui.slide_figure(small)
    assert grown.layout.height == 390 and grown.data[0].textfont.size == 13 and grown.layout.font.size == 15.6
    assert small.layout.height == 300 and small.data[0].textfont.size == 10  # the page's own figure is left alone
    assert ui.slide_figure(go.Figure(layout=dict(height=500))).layout.height == ui.PRESENT_FIGURE_HEIGHT
    assert ui.slide_figure(go.Figure(layout=dict(height=800))).layout.height == 800
    assert ui.slide_figure(go.Figure()).layout.height == 585  # plotly's own 450, grown


def test_the_switch_turns_presentation_mode_on_and_off_and_it_follows_the_sidebar():
    at = AppTest.from_file(HOME, default_timeout=90).run()
    at.toggle(key=ui.PRESENT_TOGGLE).set_value(True).run()
    assert at.query_params["present"] == "1" and "stMainMenu" in styles(at)
    at.switch_page("pages/1_Cross_correlation.py")
    at.query_params.clear()  # what a sidebar link does
    at.run()
    assert at.query_params["present"] == "1" and "stMainMenu" in styles(at) and at.toggle(key=ui.PRESENT_TOGGLE).value
    assert at.number_input(key="lr").value == 0.03  # ?present=1 is no setting: the page keeps its defaults
    at.toggle(key=ui.PRESENT_TOGGLE).set_value(False).run()
    assert "present" not in at.query_params and "stMainMenu" not in styles(at)


@pytest.mark.parametrize("value, on", [("0", False), ("true", True), ("nonsense", False)])
def test_the_url_can_say_present_0_and_a_bad_value_changes_nothing(value, on):
    at = page(ROOT / "pages/3_Channels.py", present=value)
    assert not at.exception and at.toggle(key=ui.PRESENT_TOGGLE).value is on
    assert at.query_params.get("present") == ("1" if on else None)


def test_a_url_with_only_present_gives_the_defaults_and_one_with_settings_keeps_them():
    at = page(ROOT / "pages/1_Cross_correlation.py", present=1, lr="0.05")
    assert at.number_input(key="lr").value == 0.05 and at.query_params["lr"] == "0.05"


@pytest.mark.parametrize("name, claim", CONCEPT_CHECKS.items())
def test_every_concept_page_checks_its_result_against_pytorch(name, claim):
    at = page(ROOT / "pages" / name)
    checks = [s.value for s in at.success if claim in s.value]
    assert not at.exception and checks, [s.value for s in at.success]
    assert all("difference 0)" in c or "differ: 0)" in c for c in checks), checks


@pytest.mark.parametrize("name, query, claim", [
    ("1_Cross_correlation.py", {"op": "convolution", "X": "1 2 3; 4 5 6; 7 8 9", "K": "1 0; 0 -1"}, "with K flipped"),
    ("2_Padding_and_stride.py", {"convention": "both sides together", "pt_h": 3, "pt_w": 3, "k_h": 4, "k_w": 4,
                                 "s_h": 1, "s_w": 1}, "after `F.pad` makes a 8 × 8 output"),
    ("4_Pooling.py", {"mode": "avg", "X": "0 1 2 3; 4 5 6 7; 8 9 10 11; 12 13 14 15", "k_h": 3, "k_w": 3, "p_h": 1,
                      "p_w": 1, "s_h": 2, "s_w": 2}, "`F.avg_pool2d` gives the same Y"),
    ("5_MLP_vs_CNN.py", {"height": 10000, "width": 10000, "channels": 4, "hidden": 10000, "conv_channels": 64,
                         "kernel": 11}, "`nn.Linear`"),
    ("9_Receptive_fields.py", {"size": 32, "k1": 3, "p1": 0, "s1": 2, "k2": 3, "pool": "max", "layer": "pool2",
                               "row": 1, "col": 0}, "autograd"),
])
def test_the_checks_follow_the_settings(name, query, claim):
    at = page(ROOT / "pages" / name, **query)
    assert not at.exception and not at.error
    assert any(claim in s.value and ("difference 0)" in s.value or "differ: 0)" in s.value) for s in at.success), \
        [s.value for s in at.success]


def test_a_check_that_fails_is_red_and_float_rounding_is_not_a_failure():
    def draw():
        import ui
        from lenet.lessons.checks import TorchCheck
        ui.show_check(TorchCheck("exact", 0.0))
        ui.show_check(TorchCheck("rounding of large values", 0.01, scale=1e6))
        ui.show_check(TorchCheck("wrong", 0.5))
    at = AppTest.from_function(draw).run()
    assert [s.value for s in at.success] == ["Checked: exact (largest difference 0).",
                                             "Checked: rounding of large values (largest difference 0.01)."]
    assert [e.value for e in at.error] == ["Check failed: wrong (largest difference 0.5)."]


def test_inspect_picks_its_image_from_one_line_and_its_seed_says_what_it_is():
    at = page(INSPECT, how="class", draw=3)
    how = at.selectbox(key="how")
    assert not at.exception and how.value == "class" and len(how.options) == 6
    assert at.number_input(key="draw").label == "seed of the random pick" and at.number_input(key="draw").value == 3
    assert "test image" in at.get("image")[0].proto.imgs[0].caption


def test_inspect_shows_the_feature_map_code_for_its_image():
    at = page(INSPECT, how="index", image=42)
    code = next(c.value for c in at.code if "maps[name]" in c.value)
    assert ".images[42]" in code and "untrained model" in code
    assert list(run_snippet(code)["maps"])[:3] == ["conv1", "act1", "pool1"]


def test_train_shows_its_training_loop_speeds_and_a_readable_slider():
    at = page(TRAIN, preset="modern", epochs=1, images=1000, batch=128, seed=5)
    code = next(c.value for c in at.code if "optimizer.step()" in c.value)
    assert "train.images[:1000]" in code and "torch.manual_seed(5)" in code and "batch_size = 1, 128" in code
    assert at.select_slider(key="images").format_func(60000) == "60,000" and at.query_params["images"] == "1000"
    speed = next(c.value for c in at.caption if "images/s" in c.value)
    assert "**CPU**" in speed and "measured 20" in speed


def test_the_training_code_shown_runs_on_a_tiny_subset():
    at = page(TRAIN, images=1000, epochs=1, batch=512)
    code = next(c.value for c in at.code if "optimizer.step()" in c.value)
    history = run_snippet(code.replace("[:1000]", "[:300]"))["history"]
    assert len(history) == 1 and 0 <= history[0]["test_acc"] <= 1 and history[0]["train_loss"] > 0


def test_home_claims_only_what_the_pages_keep():
    at = page(HOME)
    text = "\n".join(m.value for m in at.markdown)
    assert "Every concept page" in text and "Train and Inspect show the torch code" in text
