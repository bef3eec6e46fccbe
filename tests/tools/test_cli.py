"""python -m lenet.train and python -m lenet.bench: run folders, the JSON line, and argparse-style refusals."""

import dataclasses
import json
import subprocess
import sys

import pytest

from lenet import LeNetConfig, TrainSettings, available_devices, layer_table, load_model, load_run
from lenet import bench
from lenet import train as train_module
from helpers import ROOT




def test_cli_trains_writes_the_run_folder_and_one_json_line(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "lenet.train", "--preset", "modern", "--subset", "1024", "--test-subset", "500",
         "--epochs", "2", "--batch-size", "128", "--device", "cpu", "--seed", "3", "--threads", "1", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"test_acc", "train_acc", "train_loss", "images_per_s", "seconds"} <= summary.keys()
    assert 0.3 < summary["test_acc"] <= 1 and summary["images_per_s"] > 0 and summary["epochs"] == 2
    assert 50 < summary["peak_rss_mb"] < 1000  # torch alone is ~250 MB (CPU wheel) to ~650 MB (CUDA wheel)
    run = load_run(out)
    assert run.history["test_acc"].iloc[-1] == summary["test_acc"] and run.settings.seed == 3
    assert run.settings.batch_size == 128 and run.config.batch_norm  # the modern preset, with the flags on top
    load_model(out)
    assert "epoch 2/2" in proc.stderr and "Traceback" not in proc.stderr and "Warning" not in proc.stderr


def test_help_explains_every_setting(capsys):
    with pytest.raises(SystemExit) as exit_:
        train_module.main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for field in dataclasses.fields(TrainSettings):
        assert "--" + field.name.replace("_", "-") in text, field.name
    assert "--out" in text and "--preset" in text


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "0"], "epochs must be at least 1"),
    (["--optimizer", "rmsprop"], "invalid choice"),
    (["--lr", "fast"], "invalid float value"),
    (["--momentum", "0", "--nesterov"], "nesterov needs"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--conv-channels", "16", "32", "32"], "kernel_sizes has 2 entries but there are 3 conv layers"),
    (["--kernel-sizes", "29", "5"], "larger than"),
    (["--activation", "gelu"], "invalid choice"),
])
def test_bad_flags_get_argparse_errors(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        train_module.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and message in err and "Traceback" not in err


def test_model_flags_change_the_preset_config(capsys, tmp_path):
    train_module.main(["--preset", "modern", "--conv-channels", "8", "12", "--hidden-sizes", "20", "--subset", "256",
                       "--test-subset", "100", "--epochs", "1", "--no-snapshots", "--out", str(tmp_path / "run")])
    config = load_run(tmp_path / "run").config
    assert config.conv_channels == (8, 12) and config.hidden_sizes == (20,) and config.batch_norm
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["parameters"] == sum(p.numel() for p in load_model(tmp_path / "run").parameters())


def test_out_must_be_new(capsys, tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(SystemExit):
        train_module.main(["--out", str(tmp_path), "--subset", "64"])
    assert "not an empty folder" in capsys.readouterr().err


@pytest.mark.skipif("cuda" in available_devices(), reason="this machine has CUDA")
def test_missing_device_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit):
        train_module.main(["--device", "cuda"])
    assert "'cuda' is not available" in capsys.readouterr().err


def test_bench_quick_prints_the_comparison(capsys):
    report = bench.main(["--quick", "--device", "cpu"])
    printed = json.loads(capsys.readouterr().out)
    assert printed["throughput"]["ratio_to_textbook"] == report["throughput"]["ratio_to_textbook"]
    medians = report["throughput"]["median"]
    assert set(medians) == {"textbook", "classic_contiguous_b256", "classic_channels_last_b256",
                            "modern_contiguous_b256", "modern_channels_last_b256"}
    assert all(v > 0 for v in medians.values())
    macs = layer_table(LeNetConfig.classic()).set_index("layer")["MACs"]
    # forward 2 FLOPs a MAC, backward twice that, except conv1 which needs no gradient for its input
    assert report["classic_train_flops_per_image"] == 6 * macs.sum() - 2 * macs["conv1"]
    assert report["matmul_flops_per_s"] > 1e9
    assert {"modern", "plain"} <= report["recipes"].keys()


def test_two_trainings_started_together_into_one_out_folder_one_refuses(tmp_path):
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "lenet.train", "--preset", "modern", "--subset", "256", "--test-subset", "100",
            "--epochs", "2", "--device", "cpu", "--threads", "1", "--no-snapshots", "--out", str(out)]
    procs = [subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], [err for _, _, err in results]
    refused = next(err for code, _, err in results if code == 2)
    assert "--out" in refused and "Traceback" not in refused, refused
    winner = next(out_ for code, out_, _ in results if code == 0)
    assert len(load_run(out).history) == json.loads(winner.strip().splitlines()[-1])["epochs"] == 2
