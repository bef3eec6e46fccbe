"""The Exercises page: every link opens its page with the settings it names, and the answers' numbers are the
app's own."""

import math
import re
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import torch
from streamlit.testing.v1 import AppTest

import ui
from lenet import EDGE_KERNEL, LeNetConfig, build_lenet, conv_output_shape, corr2d, edge_image, learn_kernel, pool2d
from lenet.lessons.exercises import available_exercises, Exercise, EXERCISES, Link, page_url
from lenet.lessons.grids import parse_matrix
from lenet.lessons.parameters import module_tree, shared_parameter_demo
from lenet.core.receptive import receptive_fields
from lenet.core.shapes import conv_parameter_count, mlp_parameter_count
from helpers import ROOT

LINKS = list({link.url.split("#")[0]: link for e in EXERCISES for link in e.links}.values())


pytestmark = pytest.mark.usefixtures("runs_dir")  # every test gets its own runs folder


def exercise(title: str) -> Exercise:
    return next(e for e in EXERCISES if e.title == title)


def test_page_url_is_where_streamlit_serves_the_page():
    assert page_url("pages/2_Padding_and_stride.py") == "/Padding_and_stride"
    assert page_url("pages/10_Exercises.py") == "/Exercises"
    with pytest.raises(ValueError, match="page file"):
        page_url("lenet/model.py")


def test_link_url_encodes_every_setting():
    link = Link("x", "pages/1_Cross_correlation.py", {"X": "0 1; 2 3", "lr": 0.05}, anchor="edge-detection")
    parts = urlsplit(link.url)
    assert parts.path == "/Cross_correlation" and parts.fragment == "edge-detection"
    assert dict(parse_qsl(parts.query)) == {"X": "0 1; 2 3", "lr": "0.05"}
    assert " " not in link.url and ";" not in link.url


def test_every_link_points_at_an_existing_page_and_every_exercise_has_an_answer():
    for e in EXERCISES:
        assert e.question.strip() and e.answer.strip() and e.links, e.title
        for link in e.links:
            assert (ROOT / link.page).exists(), link.page


def test_exercises_needing_a_missing_dataset_are_left_out():
    titles = [e.title for e in available_exercises(["fashion-mnist"])]
    assert "The original MNIST digits" not in titles and "Diagonal edges" in titles
    assert len(available_exercises(["fashion-mnist", "mnist"])) == len(EXERCISES)


@pytest.mark.parametrize("link", LINKS, ids=lambda link: link.url.split("#")[0][:60])
def test_link_opens_a_working_page_with_its_settings(link):
    at = AppTest.from_file(str(ROOT / link.page), default_timeout=90)
    for key, value in link.params.items():
        at.query_params[key] = str(value)
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    for key, value in link.params.items():
        shown = at.session_state[key]
        assert shown == value or math.isclose(float(shown), float(value)), (key, shown, value)


def test_anchors_are_headers_of_their_page():
    for e in EXERCISES:
        for link in e.links:
            if link.anchor:
                source = (ROOT / link.page).read_text()
                headers = re.findall(r'st\.header\("([^"]+)"', source)
                assert link.anchor in [h.lower().replace(" ", "-") for h in headers], link.anchor


def test_exercises_page_lists_each_exercise_with_its_links():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("pages/10_Exercises.py").run()  # run from home, the app's pages are known and page links draw
    assert not at.exception
    shown = available_exercises(["fashion-mnist"])
    assert [s.value for s in at.subheader] == [f"{i}. {e.title}" for i, e in enumerate(shown, start=1)]
    drawn = [(p.proto.label, p.proto.page, parse_qs(p.proto.query_string)) for p in at.get("page_link")]
    for e in shown:
        for link in e.links:  # page links, not markdown links: those open a new tab, a new session
            params = {key: [str(value)] for key, value in link.params.items()}
            assert (link.label, page_url(link.page).lstrip("/"), params) in drawn, link.label
    assert len(at.expander) == len(shown)
    assert {"pages/8_Parameters.py", "pages/10_Exercises.py"} <= {path for path, *_ in ui.PAGES}


# ---- the numbers the answers quote, recomputed with the functions the pages use ----

def _matrix(link: Link, key: str) -> torch.Tensor:
    return parse_matrix(link.params[key])


def test_diagonal_edges_answer():
    plain, transposed, kernel_t = exercise("Diagonal edges").links
    X, K = _matrix(plain, "X"), _matrix(plain, "K")
    assert torch.equal(_matrix(transposed, "X"), X.t())
    Y = corr2d(X, K)
    assert Y.shape == (6, 5) and torch.equal(Y, torch.eye(6, 5))
    lower, right = torch.zeros(6, 5), torch.zeros(5, 6)
    lower[1:], right[:, 1:] = -torch.eye(5), -torch.eye(5)
    assert torch.equal(corr2d(X.t(), K), lower)  # one row lower
    assert torch.equal(corr2d(X, _matrix(kernel_t, "K")), right)  # one column to the right


def test_second_derivative_answer():
    ramp = exercise("Hand-designed kernels").links[0]
    Y = corr2d(_matrix(ramp, "X"), _matrix(ramp, "K"))
    assert Y[0].tolist() == [0, 1, 0, 0, 0, 0] and "0 1 0 0 0 0" in exercise("Hand-designed kernels").answer


def test_learning_rate_answer():
    answer = exercise("A learning rate that is too large").answer
    edges = edge_image()
    kernel, losses = learn_kernel(edges, corr2d(edges, EDGE_KERNEL), lr=0.05, iterations=10)
    assert f"{round(losses[-1], -4):,.0f}" in answer and f"[{kernel[0, 0]:.1f}, {kernel[0, 1]:.1f}]" in answer
    kernel, losses = learn_kernel(edges, corr2d(edges, EDGE_KERNEL), lr=0.03, iterations=10)
    assert f"{losses[-1]:.2f}" in answer and f"[{kernel[0, 0]:.3f}, {kernel[0, 1]:.3f}]" in answer


def test_shapes_and_counts_answers():
    p = exercise("Output size by hand").links[0].params
    shape = conv_output_shape((p["n_h"], p["n_w"]), (p["k_h"], p["k_w"]), (p["p_h"], p["p_w"]), (p["s_h"], p["s_w"]))
    assert shape == (2, 2)
    assert f"{conv_parameter_count(3, 2, 1)} parameters" in exercise("1 x 1 convolution").answer
    X = _matrix(exercise("nn.MaxPool2d's default stride").links[0], "X")
    assert pool2d(X, 3, "max", 0, 3).tolist() == [[10]]
    assert pool2d(X, 3, "max").shape == (2, 2)  # d2l's one-step pool2d
    photo = exercise("A dense layer for a photo")
    assert f"{mlp_parameter_count(3000 * 4000 * 3, [100]):,}" in photo.answer
    assert f"{conv_parameter_count(3, 6, 5)}" in photo.answer


def test_receptive_field_answer():
    sizes = {f.layer: f.size for f in receptive_fields(LeNetConfig.classic())}
    assert sizes == {"conv1": 5, "pool1": 6, "conv2": 14, "pool2": 16}
    answer = exercise("What a unit of LeNet sees").answer
    assert "14 x 14 for conv2 and 16 x 16 for pool2" in answer


def test_parameters_answers():
    tree = module_tree(build_lenet(LeNetConfig.classic())).set_index("name")["parameters"]
    blocks = exercise("Blocks inside blocks").answer
    assert f"{tree['fc1']:,} of the {tree['model']:,}" in blocks
    assert f"({tree['fc1'] / tree['model']:.0%})" in blocks
    assert f"{tree['conv1'] + tree['conv2']:,} ({(tree['conv1'] + tree['conv2']) / tree['model']:.0%})" in blocks
    demo = shared_parameter_demo()
    assert f"{demo.count} parameters, against {demo.count_untied}" in exercise("Shared parameters").answer
