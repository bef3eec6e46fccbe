"""The Parameters page through Streamlit's AppTest: the model picker, the tables and figures, the init trainings."""

import threading
import zlib

import pandas as pd
import pytest
import torch
from streamlit.testing.v1 import AppTest

import lenet.lessons.initialisation
from lenet import LeNetConfig, TrainSettings, build_lenet, count_parameters
from lenet.training import Job
from lenet.training import new_run_dir, save_run
from ui import jobs
from helpers import PARAMETERS



pytestmark = pytest.mark.usefixtures("runs_dir")  # every test gets its own runs folder


def open_page(**query) -> AppTest:
    at = AppTest.from_file(PARAMETERS, default_timeout=120)
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
    tree = at.code[0].value  # wrapped under each module (lenet.lessons.parameters.tree_text's width)
    assert "    fc1: Linear(in_features=400, out_features=120,\n          bias=True)  · 48,120 parameters" in tree
    assert max(map(len, tree.splitlines())) <= 50
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


def init_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lenet-init-trainings"]


def button(at, label: str):
    return next((b for b in at.button if b.label == label), None)


@pytest.fixture
def gated_init_trainings(monkeypatch, request):
    """Tiny settings of this test's own (a fresh shared object), and a job that waits at its first progress report
    until the gate opens, so the page is seen while it trains."""
    tiny = TrainSettings(subset=256, test_subset=256, epochs=1, batch_size=64, progress_every=1,
                         seed=zlib.crc32(request.node.name.encode()))
    monkeypatch.setattr(lenet.lessons.initialisation, "INIT_TRAINING", tiny)
    gate, real = threading.Event(), lenet.lessons.initialisation.train_inits

    def gated(config, results, schemes, settings, on_progress, stop, data_dir=None):
        def report(fraction, text):
            on_progress(fraction, text)
            gate.wait(60)

        return real(config, results, schemes, settings, report, stop, data_dir)

    monkeypatch.setattr(lenet.lessons.initialisation, "train_inits", gated)
    yield gate
    gate.set()
    for thread in init_threads():
        thread.join(60)


def rerun_until_training(at: AppTest) -> str:
    """The progress text once the job has reported its first batch (run_every does nothing under AppTest)."""
    for _ in range(200):
        at.run()
        if at.get("progress") and "epoch" in at.get("progress")[0].proto.text:
            return at.get("progress")[0].proto.text
        threading.Event().wait(0.05)
    raise AssertionError("the page never showed the training's progress")


def test_train_button_runs_one_shared_job_and_everyone_sees_its_results(gated_init_trainings):
    first, second = open_page(), open_page()
    assert any("Press the button" in i.value for i in first.info)
    button(first, "Train with each scheme").click().run()
    button(second, "Train with each scheme").click().run()  # pressed at the same time: joins the first one's job
    assert not first.exception and not second.exception and len(init_threads()) == 1
    text = rerun_until_training(first)
    assert text.startswith("PyTorch's default: epoch 1/1, training loss")
    assert button(first, "Stop") and not button(first, "Train with each scheme")
    assert rerun_until_training(second) == text
    gated_init_trainings.set()
    init_threads()[0].join(60)
    for at in (first.run(), open_page()):  # the page that trained, and a later visitor: no training again
        assert not at.exception and not at.get("progress") and not init_threads()
        summary = next(df.value for df in at.dataframe if "learns" in df.value)
        assert list(summary["scheme"]) == ["default", "normal", "xavier", "constant"]
        assert (summary["epochs"] == 1).all()
        assert len(at.get("plotly_chart")) == 6
        assert not button(at, "Train with each scheme")  # done: nothing left to train


def test_stop_ends_the_job_and_the_button_trains_the_rest(gated_init_trainings):
    at = open_page()
    button(at, "Train with each scheme").click().run()
    rerun_until_training(at)
    button(at, "Stop").click().run()
    gated_init_trainings.set()
    init_threads()[0].join(60)
    at.run()
    assert not at.exception
    assert any("Stopped with 0 of 4 schemes trained" in w.value for w in at.warning)
    assert button(at, "Train with each scheme") and len(at.get("plotly_chart")) == 5


def test_a_full_server_refuses_with_a_message(gated_init_trainings):
    at = open_page()
    registry = jobs.registry()  # the server's one registry, shared with the Train page
    blockers = [registry.start(Job(lambda stop: stop.wait(60))) for _ in range(registry.max_running)]
    try:
        button(at, "Train with each scheme").click().run()
        assert not at.exception and not init_threads()
        assert any(f"the limit is {registry.max_running}" in w.value for w in at.warning)
        assert button(at, "Train with each scheme")
    finally:
        for job in blockers:
            job.stop()
            job.join(10)
