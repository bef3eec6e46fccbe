"""Trainings on a real local Ray cluster: the same metrics as here, the queue, stop, a worker killed mid-training."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import torch

from lenet.data import Split, load_split
from lenet.training import JobRegistry, list_runs, load_run, new_run_dir, train
from lenet.training.cluster import WorkerDiedError

from cluster_helpers import tiny, wait_for


@pytest.fixture
def registry(ray_cluster):
    reg = JobRegistry(ray_cluster.slots, max_queued=30, runner=ray_cluster.runner)
    yield reg
    reg.stop_all()
    for job in reg.running():
        job.join(60)


def test_the_engine_trains_on_splits_it_is_given_and_hands_back_every_epoch():
    blank = [Split(s.name, s.train, torch.zeros_like(s.images[:1000]), s.labels[:1000], s.classes, "blank")
             for s in (load_split("fashion-mnist", True), load_split("fashion-mnist", False))]
    epochs = []
    result = train(*tiny(epochs=2), data=tuple(blank),
                   on_epoch=lambda rows, model, status, timeline: epochs.append((len(rows), status, timeline)))
    assert [(n, status) for n, status, _ in epochs] == [(1, "running"), (2, "finished")]
    assert all(timeline is not None for *_, timeline in epochs)
    assert result.history["test_acc"].max() < 0.3  # blank images: what it learnt came from them, not from disk
    assert result.node == "local"


def test_a_seeded_training_gives_the_same_metrics_on_ray_as_here(ray_cluster, tmp_path):
    config, settings = tiny(epochs=2)
    local = train(config, settings)  # one torch thread here (tests/conftest.py), one CPU a training on Ray
    points = []
    remote = ray_cluster.run(config, settings, points.append, threading.Event(), tmp_path / "run")
    columns = ["epoch", "train_loss", "train_acc", "test_acc"]
    assert remote.history[columns].equals(local.history[columns])
    assert remote.node != "local" and len(remote.node) == 56 and local.node == "local"  # a Ray node id
    assert [p.kind for p in points].count("epoch") == 2 and points[-1].test_acc == local.history.test_acc.iloc[-1]
    saved = load_run(tmp_path / "run")  # written here, by the app process, as a local training writes it
    assert saved.history[columns].equals(local.history[columns]) and saved.meta["status"] == "finished"
    assert (tmp_path / "run" / "snapshots.pt").is_file() and not (tmp_path / "run" / ".owner.json").exists()
    for a, b in zip(remote.model.state_dict().values(), local.model.state_dict().values()):
        assert torch.equal(a, b)
    again = ray_cluster.run(config, settings)  # on a warm worker now: the same again
    assert again.history[columns].equals(local.history[columns])


def test_eight_submitted_at_once_on_two_cpus_all_finish_in_queue_order(registry, tmp_path):
    jobs = [registry.submit(*tiny(subset=500), run_dir=new_run_dir(f"job {i}", tmp_path)) for i in range(8)]
    assert [j.status for j in jobs] == ["running"] * 2 + ["queued"] * 6
    assert [j.ahead for j in jobs] == [0, 0, 0, 1, 2, 3, 4, 5]
    for job in jobs:
        job.join(600)
    assert [j.status for j in jobs] == ["finished"] * 8, [j.error for j in jobs]
    started = [j.started_at for j in jobs]
    assert started == sorted(started)
    assert all(j.result.node not in ("", "local") for j in jobs)
    for job in jobs:
        run = load_run(job.run_dir)
        assert len(run.history) == 1 and run.history.loc[0, "test_acc"] > 0.3
        assert {p.name for p in job.run_dir.iterdir()} == {"config.json", "metrics.csv", "model.pt", "snapshots.pt"}
    assert sorted(list_runs(tmp_path)["status"]) == ["finished"] * 8


def test_stop_on_ray_keeps_the_finished_epochs(registry, tmp_path):
    job = registry.submit(*tiny(epochs=30), run_dir=tmp_path / "run")
    wait_for(lambda: any(p.kind == "epoch" for p in list(job.points)), job=job)
    asked = time.monotonic()
    job.stop()
    job.join(60)
    took = time.monotonic() - asked
    assert job.status == "stopped", job.error
    kept = len(job.result.history)
    assert 1 <= kept < 30 and took < 10, took
    saved = load_run(tmp_path / "run")
    assert len(saved.history) == kept and saved.meta["status"] == "stopped"


def test_a_worker_killed_mid_training_fails_the_job_and_keeps_its_finished_epochs(registry, ray_cluster, tmp_path):
    job = registry.submit(*tiny(epochs=30), run_dir=tmp_path / "run")
    wait_for(lambda: (tmp_path / "run" / "metrics.csv").exists() and ray_cluster.worker_pids(), job=job)
    [pid] = ray_cluster.worker_pids()
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    job.join(60)
    assert job.status == "failed" and job.error.startswith(WorkerDiedError.__name__), job.error
    saved = load_run(tmp_path / "run")
    assert len(saved.history) >= 1
    assert f"the run keeps its {len(saved.history)} finished epoch(s)" in job.error
    assert ray_cluster.worker_pids() == []
    again = registry.submit(*tiny(), run_dir=tmp_path / "again")  # the cluster trains on
    again.join(120)
    assert again.status == "finished", again.error
