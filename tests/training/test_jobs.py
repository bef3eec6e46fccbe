"""Background trainings: progress, stop, the cap, and sessions that do not see each other."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from lenet.training import Job, JobRegistry, TrainingCapacityError
from lenet.training import list_runs, load_run, new_run_dir
from lenet.training import preset


def tiny(epochs=1, subset=2000):
    config, settings = preset("modern")
    return config, settings.from_dict({**settings.to_dict(), "epochs": epochs, "subset": subset,
                                       "test_subset": 1000, "progress_every": 2})


@pytest.fixture
def registry():
    reg = JobRegistry(max_running=2)
    yield reg
    reg.stop_all()
    for job in reg.running():
        job.join(30)


def test_job_reports_progress_and_saves_its_run(registry, tmp_path):
    job = registry.submit(*tiny(), run_dir=tmp_path / "run")
    job.join(120)
    assert job.status == "finished", job.error
    assert any(p.kind == "batch" for p in job.points) and job.points[-1].kind == "epoch"
    assert job.points[-1].test_acc is not None
    assert len(load_run(tmp_path / "run").history) == 1


def test_stop_keeps_finished_epochs(registry, tmp_path):
    job = registry.submit(*tiny(epochs=20), run_dir=tmp_path / "run")
    while not any(p.kind == "epoch" for p in list(job.points)):
        assert job.running, job.error
        threading.Event().wait(0.05)
    job.stop()
    job.join(60)
    assert job.status == "stopped"
    assert 1 <= len(job.result.history) < 20
    assert len(load_run(tmp_path / "run").history) == len(job.result.history)


def test_cap_refuses_politely_and_frees_up(registry, tmp_path):
    jobs = [registry.submit(*tiny(epochs=20), run_dir=tmp_path / f"r{i}") for i in range(2)]
    with pytest.raises(TrainingCapacityError, match="limit is 2"):
        registry.submit(*tiny(), run_dir=tmp_path / "r3")
    for job in jobs:
        job.stop()
        job.join(60)
    assert registry.running() == []
    assert not jobs[0].points is jobs[1].points  # each job has its own progress
    registry.submit(*tiny(epochs=20), run_dir=tmp_path / "r4").stop()


def test_failure_is_reported_not_raised(registry):
    config, settings = tiny()
    job = registry.submit(config.replace(image_size=32), settings)  # Fashion-MNIST images are 28x28
    job.join(60)
    assert job.status == "failed" and "28" in job.error


def test_a_job_runs_any_work_with_a_stop_event(registry):
    started = threading.Event()

    def work(stop):
        started.set()
        stop.wait(30)
        return "kept"

    job = Job(work)
    assert job.status == "not started"
    registry.start(job)
    assert started.wait(10) and job.status == "running" and registry.running() == [job]
    job.stop()
    job.join(10)
    assert job.status == "stopped" and job.result == "kept"
    done = registry.start(Job(lambda stop: 42))
    done.join(10)
    assert done.status == "finished" and done.result == 42
    failing = registry.start(Job(lambda stop: 1 / 0))
    failing.join(10)
    assert failing.status == "failed" and failing.error.startswith("ZeroDivisionError")


def test_any_job_counts_against_the_trainings_cap(registry, tmp_path):
    blockers = [registry.start(Job(lambda stop: stop.wait(30))) for _ in range(2)]
    (tmp_path / "run").mkdir()
    with pytest.raises(TrainingCapacityError, match="2 trainings are already running"):
        registry.submit(*tiny(), run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()  # the empty run folder is not left behind as a broken run
    with pytest.raises(TrainingCapacityError):
        registry.start(Job(lambda stop: None))
    assert registry.running() == blockers


def test_two_trainings_into_one_run_folder_the_second_is_refused(registry, tmp_path):
    first = registry.submit(*tiny(epochs=20), run_dir=tmp_path / "run")
    while not any(p.kind == "epoch" for p in list(first.points)):
        assert first.running, first.error
        threading.Event().wait(0.05)
    assert list_runs(tmp_path).loc[0, "status"] == "running"  # a live training of this process
    second = registry.submit(*tiny(), run_dir=tmp_path / "run")
    second.join(60)
    assert second.status == "failed" and "another training" in second.error, second.error
    assert first.running
    first.stop()
    first.join(60)
    assert first.status == "stopped" and list_runs(tmp_path).loc[0, "status"] == "stopped"
    assert len(load_run(tmp_path / "run").history) == len(first.result.history)


def test_sessions_naming_their_runs_alike_get_a_folder_each(tmp_path):
    start = threading.Barrier(8)

    def claim(_):
        start.wait()
        return new_run_dir("same name", tmp_path)

    with ThreadPoolExecutor(8) as pool:
        folders = list(pool.map(claim, range(8)))
    assert len(set(folders)) == 8 and all(f.is_dir() and not any(f.iterdir()) for f in folders)
