"""Export as a script: the exported file, run on its own with plain torch and torchvision, trains what the app's engine
trains: the same weights at the end, the same test accuracy, the same parameter count."""

import ast
import json
import subprocess
import sys

from unittest import mock

import pytest
import streamlit as st
import torch
from streamlit.testing.v1 import AppTest

from lenet import LeNetConfig, build_lenet, count_parameters
from lenet.data import torchvision_dataset
from lenet.lessons.export import export_script, script_file_name
from lenet.training import TrainSettings, preset, train
from helpers import TRAIN

SMALL = {"subset": 2000, "test_subset": 2000, "epochs": 1, "device": "cpu", "snapshots": False}
CASES = {
    # ReLU, batch norm, normalisation in the model, Nesterov SGD, one-cycle schedule, augmentation's own generator
    "modern": (LeNetConfig.modern(), preset("modern")[1].replace(augment=True, **SMALL)),
    # tanh, average pooling, channels-last, Adam with a cosine schedule, label smoothing, normal init, seed 3
    "classic": (LeNetConfig.classic().replace(activation="tanh", conv_channels=(4, 8), hidden_sizes=(32,)),
                TrainSettings(optimizer="adam", lr=0.01, schedule="cosine", label_smoothing=0.1, init="normal",
                              seed=3, batch_size=128, **SMALL)),
}


def imports(code: str) -> set[str]:
    tree = ast.parse(code)
    names = {a.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    return names | {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}


@pytest.mark.parametrize("case", CASES)
def test_the_exported_script_trains_what_the_engine_trains(case, tmp_path):
    config, settings = CASES[case]
    script = tmp_path / script_file_name("my run")
    script.write_text(export_script(config, settings, "my run"))
    assert imports(script.read_text()) <= {"argparse", "json", "math", "time", "collections", "torch", "torchvision"}
    data = torchvision_dataset(settings.dataset, train=True).root  # torchvision's layout: <root>/FashionMNIST/raw
    # -I: no PYTHONPATH, no user site, not the project's folder: lenet cannot be imported even by accident.
    done = subprocess.run([sys.executable, "-I", str(script), "--data-dir", str(data), "--threads", "1", "--save",
                           str(tmp_path / "weights.pt")], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    exported = json.loads(done.stdout.splitlines()[-1])
    ours = train(config, settings)
    last = ours.history.iloc[-1]
    # Same seed, batch order and operations on one CPU thread: the weights come out identical (measured: a largest
    # difference of 0.0). assert_close's float32 tolerance leaves room for a kernel that sums in another order;
    # the accuracies may then differ by an image whose two best scores are within rounding, hence one image.
    trained = torch.load(tmp_path / "weights.pt", weights_only=True)
    torch.testing.assert_close(trained, ours.model.state_dict())
    assert abs(exported["test_acc"] - last["test_acc"]) <= 1 / settings.test_subset
    assert exported["train_loss"] == pytest.approx(last["train_loss"], rel=1e-5)
    assert exported["train_acc"] == pytest.approx(last["train_acc"], abs=1 / settings.subset)
    assert exported["parameters"] == count_parameters(build_lenet(config))
    assert last["test_acc"] > 0.3  # the runs compared learned something: a model stuck at chance would match too


def test_a_run_name_cannot_break_out_of_the_script():
    """A shared link sets the run name: no quote, backslash or newline of it reaches the code."""
    config, settings = preset("classic")
    code = export_script(config, settings, 'x"""\nimport os; os.remove("f") #\\')
    tree = ast.parse(code)
    assert [type(node).__name__ for node in tree.body][:2] == ["Expr", "Import"]  # the docstring, then the imports
    assert "os" not in imports(code) and "remove" in ast.get_docstring(tree).splitlines()[0]
    assert script_file_name('x"""/../y') == "x-y.py" and script_file_name("") == "lenet-train.py"


def test_the_train_page_offers_the_script_named_after_the_run(runs_dir):
    offered = []
    real = st.download_button

    def spy(label, data, file_name=None, **kwargs):
        offered.append((label, data, file_name))
        return real(label, data, file_name=file_name, **kwargs)

    at = AppTest.from_file(TRAIN, default_timeout=60)
    at.query_params["name"] = "my run"  # a shared link: the Run name widget is drawn below the button
    with mock.patch.object(st, "download_button", spy):
        at.run()
        at.text_input(key="name").set_value("second try")
        at.number_input(key="epochs").set_value(3).run()
    assert not at.exception
    scripts = [(data, file_name) for label, data, file_name in offered if label == "Export as a script"]
    assert [file_name for _, file_name in scripts] == ["my-run.py", "second-try.py"]
    code = scripts[-1][0]
    assert ast.get_docstring(ast.parse(code)).startswith("LeNet Lab's run 'second try' as a script")
    assert "SEED, EPOCHS, BATCH_SIZE = 0, 3, " in code  # the settings the page shows now
