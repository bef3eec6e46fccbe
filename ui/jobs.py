"""Background jobs on a page: the server's one job registry, and a live view that redraws while a job runs."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import streamlit as st

from lenet.lessons.initialisation import InitTrainings, init_summary, init_training_figure
from lenet.training import JobRegistry, TrainingCapacityError, TrainingJob
from lenet.training.cluster import ClusterUnavailable, RayCluster, connect_ray

import ui

LIVE_SECONDS = 2.0  # how often a live view redraws while its job runs
# How often a running training's curves take in its new points. The server builds the figure and the browser
# redraws it while the training shares their cores (and Python's lock): with the live view redrawing everything
# every 0.5 s, the Train page trained at half the command line's speed (docs/benchmark.md).
CURVE_SECONDS = 4.0


@dataclass(frozen=True)
class Executor:
    """Where this server's trainings run: its registry, the Ray cluster (None: this process), and why not on Ray."""

    registry: JobRegistry
    cluster: RayCluster | None = None
    problem: str | None = None  # LENET_RAY_ADDRESS is set but could not be used: one sentence


@st.cache_resource(show_spinner="Connecting to the Ray cluster...")
def _executor(max_trainings: int, data_dir: Path | None, max_training_bytes: int, max_queued: int,
              ray_address: str | None, ray_cpus: int, ray_gpus: float) -> Executor:
    """Chosen once per server (and per setting): the Ray cluster when one is named and answers, else this process."""
    local = Executor(JobRegistry(max_trainings, data_dir, max_training_bytes, max_queued))
    if not ray_address:
        return local
    try:
        cluster = connect_ray(ray_address, ray_cpus, ray_gpus, data_dir, max_training_bytes)
    except ClusterUnavailable as e:
        return Executor(local.registry, problem=f"{str(e).removesuffix('.')}, so trainings run in this process.")
    return Executor(JobRegistry(cluster.slots, data_dir, max_training_bytes, max_queued, runner=cluster.runner),
                    cluster)


def executor() -> Executor:
    """This server's executor, for its settings (ui.environment())."""
    environment = ui.environment()
    return _executor(environment.limits.max_trainings, environment.data_dir, environment.max_training_bytes,
                     environment.max_queued, environment.ray_address, environment.ray_cpus, environment.ray_gpus)


def registry() -> JobRegistry:
    """One registry for the whole server: it runs a few trainings at once, here or on the Ray cluster, and queues
    the rest."""
    return executor().registry


def executor_note() -> None:
    """One line on where trainings run, when LENET_RAY_ADDRESS is set: on the cluster, or why not."""
    chosen = executor()
    if chosen.problem:
        st.warning(chosen.problem, icon=":material/cloud_off:")
    elif chosen.cluster is not None:
        st.caption(f"Trainings run on the Ray cluster at {chosen.cluster.address} "
                   f"({chosen.cluster.slots} at a time).")


def live(running: Callable[[], bool], draw: Callable[[], None]) -> None:
    """draw() in a fragment that redraws every LIVE_SECONDS while running() is true; when the job ends, the whole
    page runs once more, so that its timer stops and the rest of the page (a Train button) catches up."""
    busy = running()

    def fragment() -> None:
        draw()
        if busy and not running():
            st.rerun(scope="app")

    st.fragment(fragment, run_every=LIVE_SECONDS if busy else None)()


def points_to_draw(job: TrainingJob) -> list:
    """The job's progress points for its curves: all of them once it has ended, else those of the last redraw
    until CURVE_SECONDS have passed (the same points draw the same figure, which the browser does not redraw)."""
    points = list(job.points)
    shown = st.session_state.get("curve_points")
    if not job.running or shown is None or shown[0] is not job or time.monotonic() - shown[1] >= CURVE_SECONDS:
        st.session_state.curve_points = (job, time.monotonic(), points)
        return points
    return shown[2]


STOP_WAIT_SECONDS = 2.0  # how long Stop waits for the training to save and end before the page is redrawn


def stop_button(job: TrainingJob) -> None:
    """Stop for a running training: the click waits (briefly) until the training has ended, then the whole page is
    drawn at once with the outcome, rather than at the live view's next tick."""
    if job.running and st.button("Stop", icon=":material/stop:"):
        job.stop()
        job.join(STOP_WAIT_SECONDS)
        st.rerun(scope="app")


def show_progress(job: TrainingJob) -> None:
    """Its place in the queue with Cancel while it waits, then a progress bar with images/s and time left, or the
    outcome once finished."""
    if job.status == "queued":
        ahead = job.ahead
        st.info("You are next: your training starts as soon as a running one finishes." if ahead == 0
                else f"Waiting for a free slot: {ahead} ahead of you.", icon=":material/hourglass_top:")
        if st.button("Cancel", icon=":material/close:", key="cancel_training", help="Leaves the queue."):
            job.stop()
        return
    if job.status == "cancelled":
        st.info("Cancelled before it started: nothing was saved.")
        return
    p = job.progress
    if job.error:
        st.error(f"Training failed: {job.error}")
    if p is None:
        st.progress(0.0, text="Loading data and building the model...")
        return
    text = (f"Epoch {p.epoch}/{p.epochs} · batch {p.batch}/{p.batches_per_epoch} · "
            f"{p.images_per_s:,.0f} images/s · {p.elapsed_s:.0f} s elapsed")
    if job.running:
        st.progress(min(p.fraction, 1.0), text=f"{text} · about {p.eta_s:.0f} s left")
    else:
        st.progress(min(p.fraction, 1.0), text=text)
        result = job.result
        if result is not None and result.save_error:
            st.error(result.save_error)
        elif result is not None and len(result.history):
            last = result.history.iloc[-1]
            verb = "Stopped" if result.stopped else "Finished"
            st.success(f"{verb} after {len(result.history)} epoch(s): test accuracy {last.test_acc:.3f}, "
                       f"train accuracy {last.train_acc:.3f}, loss {last.train_loss:.3f}. Saved to the runs below.")
        elif result is not None:
            st.warning("Stopped before the first epoch finished: nothing was saved.")


def scheme_trainings(trainings: InitTrainings) -> None:
    """The Parameters page's shared scheme trainings: a button, live progress with Stop, then the curves."""
    if not trainings.done and not trainings.running and st.button("Train with each scheme",
                                                                   icon=":material/play_arrow:"):
        try:
            trainings.start(registry())
            st.rerun()  # draw the page again with the progress bar instead of the button
        except TrainingCapacityError as e:
            st.warning(str(e))

    def results() -> None:
        job = trainings.job
        if trainings.running and job.status == "stopping":
            st.progress(trainings.progress[0], text="Stopping after this batch...")
        elif trainings.running:
            fraction, text = trainings.progress
            st.progress(fraction, text=text)
            if st.button("Stop", icon=":material/stop:", key="stop_init_trainings",
                         help="Stops for every visitor; finished schemes are kept."):
                trainings.stop()
        elif job is not None and job.error:
            st.error(f"Training failed: {job.error}")
        elif job is not None and job.stopped and not trainings.done:
            st.warning(f"Stopped with {len(trainings.runs)} of {len(trainings.schemes)} schemes trained: press the "
                       "button to train the others.")
        if trainings.runs:
            ui.show_figure(ui.figure(init_training_figure, trainings.runs), "init-training")
            st.dataframe(init_summary(trainings.runs), hide_index=True)
        elif not trainings.running:
            st.info("Press the button to train the classic LeNet once from each scheme and overlay the curves. "
                    "The runs are kept on the server: whoever comes next sees them at once.")

    live(lambda: trainings.running, results)
