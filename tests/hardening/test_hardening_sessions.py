"""Many users on one server: concurrent AppTest sessions, some training, some inspecting, some reading;
each sees only its own training, the cap on trainings holds (the others wait in the queue, then train), memory
stays bounded, nothing deadlocks.
And starting and stopping a training 50 times leaks neither threads nor memory."""

import gc
import threading
import time
import traceback
import warnings
import weakref
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from lenet.training import JobRegistry, list_runs, new_run_dir, preset
from ui import jobs as ui_jobs
from helpers import INSPECT, ROOT, TRAIN

READ = [str(ROOT / "pages/2_Padding_and_stride.py"), str(ROOT / "pages/4_Pooling.py")]
TRAINERS, INSPECTORS, READERS = 4, 3, 3
SESSION_SECONDS = 240  # every session's whole visit, trainings included, on 2 busy cores
MEMORY_BOUND_MB = 1000  # growth of this process's resident memory while all sessions are open
LEAK_BOUND_MB = 30  # growth of the tensors alive over 40 start/stop cycles after 10 warm-up cycles
RUN_LOCK = threading.Lock()


pytestmark = pytest.mark.usefixtures("runs_dir")  # every test gets its own runs folder


def rss_mb() -> float:
    """This process's resident memory now (Linux)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024


def live_tensor_mb() -> float:
    """Memory held by the tensors still alive after a garbage collection: what a leak of jobs, models or data
    would keep. (The process's resident size also moves with how glibc's per-thread arenas happen to be
    fragmented: 0 to 70 MB between runs of the same code, with no object kept.)"""
    gc.collect()
    with warnings.catch_warnings():  # isinstance() on some of torch's deprecated module attributes warns
        warnings.simplefilter("ignore", FutureWarning)
        tensors = {id(o): o for o in gc.get_objects() if isinstance(o, torch.Tensor)}
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes() for t in tensors.values()}
    return sum(storages.values()) / 2**20


class Watch(threading.Thread):
    """Samples the number of running trainings and the memory every 50 ms until stopped."""

    def __init__(self, registry: JobRegistry):
        super().__init__(daemon=True)
        self.registry, self.done = registry, threading.Event()
        self.most_running, self.most_queued, self.peak_mb = 0, 0, rss_mb()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.most_running = max(self.most_running, len(self.registry.running()))
            self.most_queued = max(self.most_queued, len(self.registry.queued()))
            self.peak_mb = max(self.peak_mb, rss_mb())


def run(at: AppTest) -> AppTest:
    """One script run. AppTest swaps process-wide state on every run (Runtime._instance, PagesManager), so two
    runs at once mix up their widgets: script runs take turns, while trainings and sessions overlap."""
    with RUN_LOCK:
        return at.run()


def trainer(i: int, start: threading.Barrier, report: dict) -> None:
    at = run(AppTest.from_file(TRAIN, default_timeout=120))
    at.selectbox(key="preset").set_value("modern")
    run(at)
    at.select_slider(key="images").set_value(1000)
    at.number_input(key="epochs").set_value(1)
    next(t for t in at.text_input if t.label == "Run name").set_value(f"session-{i}")
    run(at)
    start.wait()
    next(b for b in at.button if b.label == "Train").click()
    run(at)
    waited = [m.value for m in at.info if "ahead of you" in m.value or m.value.startswith("You are next")]
    start.wait()  # every trainer has pressed Train before the others go on
    job = at.session_state["train_job"] if "train_job" in at.session_state else None
    if job is not None:
        while job.active:  # the page polls its training, waiting or running, as its fragment does every 0.5 s
            job.join(0.5)
            run(at)
        run(at)
    report[i] = {"job": job, "exception": list(at.exception), "success": [s.value for s in at.success],
                 "warning": [w.value for w in at.warning], "info": [m.value for m in at.info], "waited": waited}


def inspector(i: int, start: threading.Barrier, report: dict) -> None:
    at = run(AppTest.from_file(INSPECT, default_timeout=120))
    start.wait()
    start.wait()
    at.selectbox(key="how").set_value("mistake")
    run(at)
    report[i] = {"exception": list(at.exception), "train_job": "train_job" in at.session_state}


def reader(i: int, start: threading.Barrier, report: dict) -> None:
    at = run(AppTest.from_file(READ[i % 2], default_timeout=120))
    start.wait()
    start.wait()
    for widget in at.number_input[:2]:
        widget.set_value(widget.max)
        run(at)
    report[i] = {"exception": list(at.exception), "train_job": "train_job" in at.session_state}


def visit(role, i: int, start: threading.Barrier, report: dict) -> None:
    """One session's visit in its own thread; a crash in the test code itself is reported, not lost."""
    try:
        role(i, start, report)
    except BaseException:
        report[i] = {"crash": traceback.format_exc()}
        start.abort()


@pytest.mark.time_limit
def test_many_concurrent_sessions_each_see_their_own_training(runs_dir):
    registry = ui_jobs.registry()  # the server's one registry, shared by every session
    roles = [trainer] * TRAINERS + [inspector] * INSPECTORS + [reader] * READERS
    start, report = threading.Barrier(len(roles), timeout=SESSION_SECONDS), {}
    threads_before, memory_before = threading.active_count(), rss_mb()
    watch = Watch(registry)
    watch.start()
    sessions = [threading.Thread(target=visit, args=(role, i, start, report), daemon=True)
                for i, role in enumerate(roles)]
    began = time.perf_counter()
    for s in sessions:
        s.start()
    for s in sessions:
        s.join(max(1.0, SESSION_SECONDS - (time.perf_counter() - began)))
    seconds = time.perf_counter() - began
    watch.done.set()
    watch.join(5)
    assert not any(s.is_alive() for s in sessions), "a session did not finish: deadlock or runaway training"
    assert len(report) == len(roles)
    for i, seen in report.items():
        assert "crash" not in seen, f"session {i}: {seen.get('crash')}"
        assert not seen["exception"], f"session {i}: {seen['exception'][0].value}"

    jobs = {i: seen["job"] for i, seen in report.items() if roles[i] is trainer and seen["job"] is not None}
    assert len(jobs) == TRAINERS, [report[i]["warning"] for i in range(TRAINERS)]  # beyond the cap: queued, not refused
    waited = [i for i in range(TRAINERS) if report[i]["waited"]]
    assert watch.most_running <= registry.max_running, "the cap on concurrent trainings was exceeded"
    assert watch.most_queued >= TRAINERS - registry.max_running >= 1 and waited, "nobody waited in the queue"
    assert all(jobs[i].started_at > jobs[i].submitted_at for i in waited)
    assert len({id(job) for job in jobs.values()}) == len(jobs)  # one job per session, none shared
    for i, job in jobs.items():
        assert job.status == "finished", job.error
        assert job.run_dir.name.endswith(f"session-{i}") and len(job.result.history) == 1
        assert any("Finished after 1 epoch" in s for s in report[i]["success"])
    assert all(not report[i]["train_job"] for i in range(TRAINERS, len(roles)))  # nobody else sees a training
    assert sorted(list_runs(runs_dir)["folder"]) == sorted(job.run_dir.name for job in jobs.values())

    growth = watch.peak_mb - memory_before
    print(f"{len(roles)} sessions ({len(jobs)} trained, {len(waited)} of them after waiting in the queue for the cap "
          f"of {registry.max_running}) in {seconds:.0f} s; memory {memory_before:.0f} MB -> peak {watch.peak_mb:.0f} MB")
    assert growth < MEMORY_BOUND_MB
    deadline = time.monotonic() + 10
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert threading.active_count() <= threads_before


def test_start_and_stop_50_times_leaks_no_threads_no_memory_and_no_folders(runs_dir):
    config, settings = preset("modern")
    settings = settings.replace(subset=1000, test_subset=500, epochs=5)
    registry = JobRegistry(max_running=1)
    threads_before = set(threading.enumerate())  # other tests' threads may end meanwhile: count only new ones
    memory, jobs = [], []
    for i in range(50):
        job = registry.submit(config, settings, new_run_dir(f"cycle {i}", runs_dir))
        job.stop()
        job.join(30)
        assert job.status == "stopped" and registry.running() == [], job.error
        jobs.append(weakref.ref(job))
        del job
        if i in (9, 49):
            memory.append(live_tensor_mb())
    assert set(threading.enumerate()) - threads_before == set()
    print(f"50 start/stop cycles: tensors alive after 10 {memory[0]:.1f} MB, after 50 {memory[1]:.1f} MB; "
          f"resident {rss_mb():.0f} MB")
    assert memory[1] - memory[0] < LEAK_BOUND_MB
    assert sum(ref() is not None for ref in jobs) == 0  # nothing keeps a finished job (or its model) alive
    assert list_runs(runs_dir).empty  # stopped before the first epoch: nothing saved, no empty folder left
