"""The Train page's "stuck at 10%" help through AppTest: a real stuck training gets the warning, the layer table and
"Apply the fix"; the button sets the page's widgets to the fix, and the fixed run's curves show beside the stuck run's."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from helpers import TRAIN

pytestmark = pytest.mark.usefixtures("runs_dir")


def train(at):
    next(b for b in at.button if b.label == "Train").click().run()
    job = at.session_state["train_job"]
    job.join(120)
    at.run()
    assert not at.exception and job.status == "finished", job.error
    return job


def stuck_page():
    """d2l's classic LeNet (sigmoid, Xavier) at learning rate 0.01 for one epoch on 1,000 images: 4 steps, at chance."""
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    at.select_slider(key="images").set_value(1000)
    at.number_input(key="epochs").set_value(1)
    at.number_input(key="lr").set_value(0.01)
    return at.run()


def warnings(at):
    return [w.value for w in at.warning if "stuck at chance" in w.value]


def test_a_stuck_run_gets_the_warning_and_the_button_sets_the_fix():
    at = stuck_page()
    stuck = train(at)
    assert warnings(at), [w.value for w in at.warning]
    assert "`activation` sigmoid → relu" in warnings(at)[0] and "0.01 → 0.1" in warnings(at)[0]
    table = next(d.value for d in at.dataframe if "gradient norm" in d.value)
    assert list(table["layer"][:2]) == ["conv1", "act1"] and table["saturated"].iloc[1] == "0%"
    apply = next(b for b in at.button if b.label == "Apply the fix")
    apply.click().run()
    assert not at.exception
    assert at.selectbox(key="activation").value == "relu"
    assert at.number_input(key="lr").value == pytest.approx(0.1)
    assert at.selectbox(key="batch").value == 64
    assert any("press **Train**" in s.value for s in at.success)
    assert not [b for b in at.button if b.label == "Apply the fix"]

    fixed = train(at)
    assert fixed is not stuck and fixed.config.activation == "relu" and fixed.settings.lr == pytest.approx(0.1)
    charts = {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    after = next(spec for spec in charts.values() if "Before and after" in spec["layout"]["title"]["text"])
    assert "activation relu, lr 0.1, batch_size 64" in after["layout"]["title"]["text"]
    assert [t["name"] for t in after["data"]][::3] == ["before · train loss", "after · train loss"]
    assert not warnings(at)  # the fixed run left chance behind


def test_a_run_that_learns_gets_no_warning():
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    at.selectbox(key="preset").set_value("modern").run()
    at.select_slider(key="images").set_value(1000)
    at.number_input(key="epochs").set_value(1)
    train(at.run())
    assert not warnings(at) and not [b for b in at.button if b.label == "Apply the fix"]


def test_a_diverged_run_gets_a_tenth_of_its_learning_rate():
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    at.select_slider(key="images").set_value(1000)
    at.number_input(key="epochs").set_value(1)
    at.number_input(key="lr").set_value(10.0)
    train(at.run())
    assert any(w.value.startswith("The training diverged") for w in at.warning), [w.value for w in at.warning]
    next(b for b in at.button if b.label == "Apply the fix").click().run()
    assert not at.exception and at.number_input(key="lr").value == pytest.approx(1.0)
    assert at.selectbox(key="activation").value == "sigmoid"  # one change: the learning rate
