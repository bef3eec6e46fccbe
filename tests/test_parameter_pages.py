"""The Parameters page through Streamlit's AppTest: the model picker, the tables and figures, the init trainings."""

from pathlib import Path

import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

import lenet.parameters
from lenet import LeNetConfig, TrainSettings, build_lenet, count_parameters
from lenet.runs import new_run_dir, save_run

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages/8_Parameters.py")


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("LENET_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def open_page(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_page_shows_the_untrained_classic_lenet():
    at = open_page()
    assert not at.exception and not at.error
    assert metric(at, "Parameters") == "61,706"
    table = next(df.value for df in at.dataframe if "share" in df.value)
    assert list(table["name"]) == [name for name, _ in build_lenet(LeNetConfig.classic()).named_parameters()]
    assert "fc1: Linear(in_features=400, out_features=120, bias=True)  · 48,120 parameters" in at.code[0].value
    assert [h.value for h in at.header] == ["Blocks and parameters", "Initialisation", "Shared parameters",
                                            "Save and load"]
    assert metric(at, "Largest difference after loading") == "0"
    assert any("Same predictions on all 256 images" in s.value for s in at.success)
    assert len(at.get("plotly_chart")) == 5  # treemap, histograms, init weights, activations, shared gradients


def test_modern_model_lists_batch_norm_buffers():
    at = open_page()
    at.selectbox[0].set_value("untrained:modern").run()
    assert not at.exception
    assert metric(at, "Parameters") == f"{count_parameters(build_lenet(LeNetConfig.modern())):,}"
    state = next(df.value for df in at.dataframe if "kind" in df.value)
    assert "bn1.running_mean" in set(state["key"]) and set(state["kind"]) == {"parameter", "buffer"}


def test_a_saved_run_is_listed_and_round_trips(runs_dir):
    config = LeNetConfig.classic().replace(conv_channels=(4, 8))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = build_lenet(config)
    history = pd.DataFrame([{"epoch": 1, "train_loss": 2.0, "train_acc": 0.2, "test_acc": 0.25, "images_per_s": 1000.0,
                             "seconds": 1.0}])
    save_run(new_run_dir("small", runs_dir), config, TrainSettings(), history, model)
    at = open_page()
    assert not at.exception and not at.error
    assert metric(at, "Parameters") == f"{count_parameters(model):,}"
    assert any("Same predictions" in s.value for s in at.success)
    assert "conv_channels': [4, 8]" in at.code[-1].value  # the save/load code rebuilds this run's config


def test_url_picks_the_init_code():
    at = open_page(scheme="constant")
    code = "\n".join(c.value for c in at.code)
    assert "nn.init.constant_(m.weight, 1.0)" in code and "xavier_uniform_" not in code


def test_train_button_trains_each_scheme_once(monkeypatch):
    tiny = TrainSettings(subset=256, test_subset=256, epochs=1, batch_size=64, progress_every=1)
    monkeypatch.setattr(lenet.parameters, "INIT_TRAINING", tiny)
    at = open_page()
    assert any("Press the button" in i.value for i in at.info)
    next(b for b in at.button if b.label == "Train with each scheme").click().run()
    assert not at.exception
    results = at.session_state["init_runs"]
    assert list(results) == ["default", "normal", "xavier", "constant"]
    assert all(len(run.history) == 1 for run in results.values())
    summary = next(df.value for df in at.dataframe if "learns" in df.value)
    assert list(summary["scheme"]) == list(results)
    assert len(at.get("plotly_chart")) == 6
    assert not [b for b in at.button if b.label == "Train with each scheme"]  # done: nothing left to train
