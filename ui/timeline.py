"""Inspect's training timeline: an epoch slider over a run's snapshots, and a Play button that steps through them."""

from __future__ import annotations

import math

import streamlit as st

from lenet.plots import filter_grid, image_grid, training_curves
from lenet.training import OpenedRun

import ui

PLAY_SECONDS = 1.0  # one snapshot a second while playing


def _toggle_play(last: int) -> None:
    st.session_state.timeline_playing = not st.session_state.timeline_playing
    st.session_state.timeline_hold = True  # show the snapshot we start from before moving on
    if st.session_state.timeline_playing and st.session_state.get("timeline_at", last) >= last:
        st.session_state.timeline_at = 0  # play again from the start
    if not st.session_state.timeline_playing:
        st.session_state.timeline_step = st.session_state.get("timeline_at", last)  # the slider stays where we paused


def _view(timeline, history, classes, playing: bool) -> None:
    """The epoch slider: the snapshot's filters and feature maps beside the curves; each timer tick moves it on.

    The snapshot shown lives in timeline_at, not in the slider: while playing, the slider is redrawn as a new,
    disabled widget each tick, so a value still on its way from the browser cannot pull the player back.
    """
    last = len(timeline) - 1
    step = min(st.session_state.get("timeline_at", last), last)
    if not st.session_state.pop("timeline_hold", False) and st.session_state.timeline_playing:
        step = min(step + 1, last)
        st.session_state.timeline_playing = step < last
    options, label = list(range(len(timeline))), lambda i: f"{timeline.epochs[i]:.3g}"
    if st.session_state.timeline_playing:
        st.select_slider("Epoch", options, value=step, format_func=label, disabled=True)
    else:
        if playing or st.session_state.get("timeline_step") not in options:  # just stopped, first shown, other run
            st.session_state.timeline_step = step
        step = st.select_slider("Epoch", options, format_func=label, key="timeline_step",
                                help="0: before training; 0.25: a quarter into epoch 1; 1: after epoch 1.")
    st.session_state.timeline_at = step
    if st.session_state.timeline_playing != playing:
        st.rerun(scope="app")  # start or stop the timer
    epoch, acc = timeline.epochs[step], timeline.train_acc[step]
    st.caption(f"Epoch {epoch:.3g}: " + ("the initial weights, before any training." if math.isnan(acc) else
                                         f"train accuracy so far {acc:.1%}, loss {timeline.train_loss[step]:.3f}."))
    curve_col, filters_col = st.columns(2, gap="large")
    with curve_col:
        ui.show_figure(ui.figure(training_curves, history, title="Training, with the snapshot marked", marker=epoch),
                       "timeline-curves")
    with filters_col:
        ui.show_figure(ui.figure(filter_grid, timeline.filters[step], f"conv1 filters at epoch {epoch:.3g}"), "timeline-filters")
    maps = timeline.maps[step]
    names = [f"{classes[label]}, channel {c}" for label in timeline.labels.tolist() for c in range(maps.shape[1])]
    ui.show_figure(ui.figure(image_grid, maps.flatten(0, 1), f"conv1 feature maps at epoch {epoch:.3g}", names,
                              columns=maps.shape[1]), "timeline-feature-maps")


def timeline_player(run: OpenedRun, classes: tuple[str, ...]) -> None:
    """The run's snapshots with Play/Pause, or a sentence saying why there are none."""
    if run.timeline_error:
        st.warning(f"This run's snapshots cannot be read, so there is no timeline: {run.timeline_error}")
    timeline = run.timeline
    if timeline is None:
        st.info("This model has no snapshots: train a run with **keep snapshots** ticked to watch its filters form.")
        return
    playing = st.session_state.setdefault("timeline_playing", False)  # the timer below runs only while playing
    images_col, button_col = st.columns([6, 1], vertical_alignment="center")
    images_col.image([image.numpy() for image in timeline.images], width=84,
                     caption=[f"test image {i}: {classes[label]}"
                              for i, label in zip(timeline.image_indices.tolist(), timeline.labels.tolist())])
    button_col.button("Pause" if playing else "Play", icon=":material/pause:" if playing else ":material/play_arrow:",
                      on_click=_toggle_play, args=(len(timeline) - 1,), width="stretch",
                      help=f"Step through the snapshots, one every {PLAY_SECONDS:g} s.")
    st.fragment(_view, run_every=PLAY_SECONDS if playing else None)(timeline, run.history, classes, playing)
