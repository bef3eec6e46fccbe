"""Background trainings: progress, stop, the cap and the queue, and sessions that do not see each other."""

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
def registry(registries):
    return registries(max_running=2)


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


def test_a_full_server_queues_the_next_training_and_starts_it_when_a_slot_frees(registry, tmp_path):
    jobs = [registry.submit(*tiny(epochs=20), run_dir=tmp_path / f"r{i}") for i in range(2)]
    waiting = registry.submit(*tiny(), run_dir=tmp_path / "r3")
    assert waiting.status == "queued" and waiting.active and not waiting.running and waiting.ahead == 0
    assert registry.running() == jobs and registry.queued() == [waiting]
    jobs[0].stop()
    jobs[0].join(60)
    waiting.join(120)  # started by itself in the freed slot
    assert waiting.status == "finished", waiting.error
    assert len(load_run(tmp_path / "r3").history) == 1 and jobs[1].running
    assert not jobs[0].points is jobs[1].points  # each job has its own progress


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


def test_any_job_counts_against_the_trainings_cap_and_frees_its_slot_for_the_queue(registry, tmp_path):
    blockers = [registry.start(Job(lambda stop: stop.wait(30))) for _ in range(2)]
    (tmp_path / "run").mkdir()
    queued = registry.submit(*tiny(), run_dir=tmp_path / "run")
    assert queued.status == "queued" and (tmp_path / "run").is_dir()
    with pytest.raises(TrainingCapacityError, match="2 trainings are already running"):
        registry.start(Job(lambda stop: None))  # a Job (the Parameters page's) does not queue
    assert registry.running() == blockers
    blockers[0].stop()
    queued.join(120)
    assert queued.status == "finished", queued.error
    assert registry.running() == [blockers[1]]


def test_five_trainings_on_two_slots_run_in_submission_order_each_with_its_run(registry, tmp_path):
    jobs = [registry.submit(*tiny(subset=1000), run_dir=new_run_dir(f"job {i}", tmp_path)) for i in range(5)]
    assert [j.status for j in jobs] == ["running"] * 2 + ["queued"] * 3
    assert [j.ahead for j in jobs] == [0, 0, 0, 1, 2]
    for job in jobs:
        job.join(240)
    assert [j.status for j in jobs] == ["finished"] * 5, [j.error for j in jobs]
    started = [j.started_at for j in jobs]
    assert started == sorted(started) and all(j.started_at >= j.submitted_at for j in jobs)
    assert jobs[2].started_at >= min(j.started_at for j in jobs[:2])  # it waited for a slot
    for job in jobs:
        run = load_run(job.run_dir)
        assert len(run.history) == 1 and (job.run_dir / "model.pt").is_file() and run.history.loc[0, "test_acc"] > 0.3
    assert sorted(list_runs(tmp_path)["status"]) == ["finished"] * 5
    assert registry.running() == [] and registry.queued() == []


def test_a_queued_training_is_cancelled_and_leaves_no_folder(tmp_path):
    registry = JobRegistry(max_running=1)
    try:
        first, second, third = (registry.submit(*tiny(subset=1000), run_dir=new_run_dir(f"job {i}", tmp_path))
                                for i in range(3))
        assert (second.status, second.ahead, third.ahead) == ("queued", 0, 1)
        listed = list_runs(tmp_path).set_index("folder")["status"]  # waiting, not "broken: empty folder"
        assert listed[second.run_dir.name] == listed[third.run_dir.name] == "queued"
        second.stop()
        assert second.status == "cancelled" and not second.active and not second.run_dir.exists()
        assert third.ahead == 0 and registry.queued() == [third]
        for job in (first, third):
            job.join(240)
            assert job.status == "finished", job.error
        assert second.started_at is None and second.result is None and second.points == []
        assert sorted(list_runs(tmp_path)["folder"]) == sorted([first.run_dir.name, third.run_dir.name])
    finally:
        registry.stop_all()


def test_a_full_queue_refuses_with_a_sentence_and_removes_the_empty_folder(tmp_path):
    registry = JobRegistry(max_running=1, max_queued=1)
    try:
        running = registry.submit(*tiny(epochs=20), run_dir=tmp_path / "r1")
        queued = registry.submit(*tiny(), run_dir=tmp_path / "r2")
        (tmp_path / "r3").mkdir()
        with pytest.raises(TrainingCapacityError, match="The queue is full: 1 trainings are waiting for the 1"):
            registry.submit(*tiny(), run_dir=tmp_path / "r3")
        assert not (tmp_path / "r3").exists() and registry.queued() == [queued] and running.running
    finally:
        registry.stop_all()
    assert queued.status == "cancelled"  # stop_all empties the queue before it stops the running ones


def test_one_training_per_owner_queued_or_running(registry, tmp_path):
    mine = registry.submit(*tiny(epochs=20), run_dir=tmp_path / "a1", owner="session a")
    with pytest.raises(TrainingCapacityError, match="This session already has a training"):
        registry.submit(*tiny(), run_dir=tmp_path / "a2", owner="session a")
    registry.submit(*tiny(epochs=20), run_dir=tmp_path / "b1", owner="session b")
    queued = registry.submit(*tiny(), run_dir=tmp_path / "c1", owner="session c")
    assert queued.status == "queued"
    with pytest.raises(TrainingCapacityError, match="This session already has a training"):
        registry.submit(*tiny(), run_dir=tmp_path / "c2", owner="session c")  # waiting counts too
    anonymous = [registry.submit(*tiny(), owner=None) for _ in range(2)]  # no owner, no rule
    assert [j.status for j in anonymous] == ["queued", "queued"]
    mine.stop()
    mine.join(60)
    again = registry.submit(*tiny(), run_dir=tmp_path / "a3", owner="session a")
    assert again.status == "queued" and not (tmp_path / "a2").exists()


def test_many_sessions_submitting_at_once_fill_the_slots_and_the_queue_exactly(tmp_path):
    registry = JobRegistry(max_running=2, max_queued=3)
    barrier, outcomes = threading.Barrier(8), []

    def session(i):
        barrier.wait()
        try:
            return registry.submit(*tiny(epochs=20), owner=f"session {i}")
        except TrainingCapacityError as e:
            return str(e)

    try:
        with ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(session, range(8)))
        jobs = [o for o in outcomes if not isinstance(o, str)]
        assert sorted(j.status for j in jobs) == ["queued"] * 3 + ["running"] * 2
        assert sorted(j.ahead for j in jobs if j.status == "queued") == [0, 1, 2]
        assert sum("The queue is full" in o for o in outcomes if isinstance(o, str)) == 3
    finally:
        registry.stop_all()
        for job in registry.running():
            job.join(60)


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
