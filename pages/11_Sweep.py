"""Sweep: train a grid of LeNet variants and see test accuracy against parameter count."""

import streamlit as st

import ui
from ui import jobs
from ui import sweep as sweeps

ui.setup_page("Sweep")
st.title("Sweep: accuracy against parameters")
st.caption("Train every combination of a few settings on the same images, then compare what each variant costs in "
           "parameters with what it buys in test accuracy. Does a convolution need fewer parameters? Every trial is "
           "an ordinary run: open it on the Inspect page.")

grid_col, shared_col = st.columns([3, 2], gap="large")
with grid_col:
    st.markdown("**What to sweep** (up to three settings; the trials are every combination)")
    specs = sweeps.grid_editor()
with shared_col:
    st.markdown("**What every trial shares**")
    config, settings = sweeps.shared_settings()

found, error = sweeps.plan(config, settings, specs)
jobs.executor_note()
if error:
    st.error(error, icon=":material/warning:")
else:
    slots = jobs.registry().max_running
    st.caption(f"{len(found)} trial(s) of {settings.epochs} epoch(s) on {settings.subset:,} images, {slots} at a time "
               f"on this server: " + "; ".join(trial.label for trial in found) + ".")

if st.button("Start the sweep", type="primary", icon=":material/play_arrow:", disabled=bool(error) or sweeps.running()):
    try:
        sweeps.start(found)
    except OSError as e:  # the runs folder is full or read-only
        st.error(str(e))
    else:
        st.rerun()  # draw the page again with Start disabled while the sweep runs


def live_sweep() -> None:
    sweep = sweeps.current()
    if sweep is None:
        st.info("Pick the settings and their values, then press **Start the sweep**. Trials run in the background, "
                "in the same queue as the Train page's trainings: you can leave this page and come back.")
        return
    if sweep.running and st.button("Stop", icon=":material/stop:", key="stop_sweep",
                                   help="Cancels the trials not started yet and stops the running ones."):
        sweep.stop()
    if not sweep.running:
        st.success("The sweep has ended. Its trials are runs named sweep-... on the Inspect and Train pages.")
    sweeps.show(sweep)


jobs.live(sweeps.running, live_sweep)
