"""python -m lenet.sweep: a run folder per trial, the JSON line, and argparse-style refusals of a bad grid."""

import json
import subprocess
import sys

import pytest

from lenet import build_lenet, count_parameters, load_run
from lenet import sweep as sweep_module
from helpers import ROOT

SHARED = ["--preset", "modern", "--subset", "512", "--test-subset", "256", "--epochs", "1", "--batch-size", "128",
          "--device", "cpu", "--seed", "3", "--threads", "1", "--no-snapshots"]


def test_the_cli_trains_every_trial_and_prints_one_json_line(tmp_path):
    out = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, "-m", "lenet.sweep", *SHARED, "--grid", "kernel_sizes=3,5", "--grid", "lr=0.1,0.4",
         "--max-running", "2", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    found = summary["trials"]
    assert [t["settings"] for t in found] == [{"kernel_sizes": [k, k], "lr": lr} for k in (3, 5) for lr in (0.1, 0.4)]
    assert sorted(p.name for p in out.iterdir()) == ["kernel_sizes-3x3_lr-0.1", "kernel_sizes-3x3_lr-0.4",
                                                      "kernel_sizes-5x5_lr-0.1", "kernel_sizes-5x5_lr-0.4"]
    for trial in found:
        run = load_run(trial["run_dir"])
        assert trial["status"] == "finished" and trial["node"] == "local" and trial["seconds"] > 0
        assert trial["test_acc"] == run.history["test_acc"].iloc[-1] and 0.1 < trial["test_acc"] <= 1
        assert trial["parameters"] == count_parameters(build_lenet(run.config))
        assert run.config.kernel_sizes == tuple(trial["settings"]["kernel_sizes"]) and run.config.batch_norm
        assert run.settings.lr == trial["settings"]["lr"] and run.settings.seed == 3 and run.settings.subset == 512
    assert "trial 4/4 kernel_sizes=5x5, lr=0.4: finished" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("argv, message", [
    (["--grid", "lr"], "written NAME=V1,V2"),
    (["--grid", "kernel=3,5"], "'kernel' is not a setting"),
    (["--grid", "lr=fast"], "lr takes numbers, not 'fast'"),
    (["--grid", "activation=relu,gelu"], "activation must be one of"),
    (["--grid", "seed=" + ",".join(map(str, range(65)))], "65 trials; a sweep runs at most 64"),
    (["--grid", "lr=0.1", "--epochs", "0"], "epochs must be at least 1"),
    (["--grid", "lr=0.1", "--max-running", "0"], "--max-running must be at least 1"),
    (["--lr", "0.1"], "the following arguments are required: --grid"),
])
def test_a_bad_grid_exits_2_with_a_sentence(capsys, tmp_path, argv, message):
    with pytest.raises(SystemExit) as exit_:
        sweep_module.main([*argv, "--out", str(tmp_path / "sweep")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and message in err and "Traceback" not in err
    assert not (tmp_path / "sweep").exists()


def test_out_must_be_new(capsys, tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(SystemExit) as exit_:
        sweep_module.main(["--grid", "lr=0.1", "--out", str(tmp_path)])
    assert exit_.value.code == 2 and "not an empty folder" in capsys.readouterr().err


def test_help_names_the_shared_training_flags(capsys):
    with pytest.raises(SystemExit):
        sweep_module.main(["--help"])
    text = capsys.readouterr().out
    for flag in ("--preset", "--epochs", "--subset", "--seed", "--batch-size", "--device", "--threads", "--grid",
                 "--executor", "--address", "--max-running", "--out", "--kernel-sizes"):
        assert flag in text, flag
