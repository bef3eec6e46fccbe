"""The LeNet-5 preset on the Train page (from its URL and from the picker) and its run on the Inspect page."""

import pytest
from streamlit.testing.v1 import AppTest

from lenet.training import preset, train
from helpers import INSPECT, TRAIN

pytestmark = pytest.mark.usefixtures("runs_dir")


def shows_lenet5(at: AppTest) -> None:
    assert not at.exception and not at.error
    assert at.selectbox(key="activation").value == "scaled_tanh" and at.selectbox(key="pool").value == "subsample"
    assert [at.number_input(key=f"c{i}").value for i in range(3)] == [6, 16, 120]
    assert at.checkbox(key="pool_after2").value is False and at.text_input(key="hidden").value == "84"
    assert any("Table I" in c.value for c in at.caption)
    labels = [e.label for e in at.expander]
    assert any(label.startswith("LeNet-5 as LeCun et al. published it") for label in labels)
    assert any(label.startswith("Layers: 60,850 parameters") for label in labels)
    assert any("RBF" in table.value.to_csv() for table in at.table)


def test_a_link_with_preset_lenet5_opens_the_paper_network():
    at = AppTest.from_file(TRAIN, default_timeout=90)
    at.query_params["preset"] = "lenet5"
    shows_lenet5(at.run())
    assert at.query_params["preset"] == "lenet5"
    at.number_input(key="c1").set_value(20).run()  # the table joins 6 maps to 16: a sentence, not a traceback
    assert not at.exception and "connection table" in at.error[0].value


def test_picking_lenet5_sets_the_form_and_the_url():
    at = AppTest.from_file(TRAIN, default_timeout=90).run()
    assert not [e for e in at.expander if e.label.startswith("LeNet-5")]
    at.selectbox(key="preset").set_value("lenet5").run()
    shows_lenet5(at)
    assert at.query_params["preset"] == "lenet5"


def test_a_lenet5_run_opens_on_inspect(runs_dir):
    config, settings = preset("lenet5")
    train(config, settings.replace(subset=256, test_subset=256, epochs=1, device="cpu"), run_dir=runs_dir / "lenet5")
    at = AppTest.from_file(INSPECT, default_timeout=90).run()
    assert not at.exception and not at.error
