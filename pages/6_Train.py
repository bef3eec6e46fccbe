"""Train: design a LeNet, train it in the background (or wait in the queue), watch the curves, keep every run."""

import uuid

import streamlit as st

import ui
from ui import diagnosis, jobs, model_form, runs
from lenet import layer_table
from lenet.lessons.training import training_code
from lenet.plots import training_curves
from lenet.training import TrainingCapacityError, new_run_dir

ui.setup_page("Train")
st.title("Train LeNet")
st.caption("Design a LeNet, train it on real data, and watch it learn. Every run is saved, epoch by epoch.")

model_col, settings_col = st.columns(2, gap="large")
with model_col:
    config, config_error = model_form.config_editor()
with settings_col:
    settings = model_form.settings_editor()

model_form.preset_notes()
if config_error:
    st.error(f"This network cannot be built: {config_error}")
else:
    table = layer_table(config)
    with st.expander(f"Layers: {table['parameters'].sum():,} parameters, "
                     f"{table['MACs'].sum():,} multiply-adds per image", expanded=False):
        st.dataframe(model_form.format_layer_table(table), hide_index=True, width="stretch",
                     height=35 * (len(table) + 1) + 3)
    ui.show_code(training_code(config, settings))
    runs.export_button(config, settings)  # the run name below names the file


def active() -> bool:
    """Whether this session's training waits in the queue or runs: one at a time per session."""
    job = st.session_state.get("train_job")
    return job is not None and job.active


jobs.executor_note()
name_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
with name_col:
    name = ui.text("Run name", "name", "", "Names the run's folder; empty: the date and time.", placeholder="optional, e.g. classic-lr0.9",
                   max_chars=60)
if button_col.button("Train", type="primary", disabled=bool(config_error) or active(), icon=":material/play_arrow:",
                     width="stretch"):
    try:
        run_dir = new_run_dir(name or None, ui.environment().runs_dir)
        owner = st.session_state.setdefault("train_owner", uuid.uuid4().hex)  # this browser session
        st.session_state.train_job = jobs.registry().submit(config, settings, run_dir, owner=owner)
    except TrainingCapacityError as e:
        st.warning(str(e))
    except OSError as e:  # the runs folder is full or read-only
        st.error(str(e))
    else:
        st.rerun()  # draw the page again with Train disabled while this training waits or runs


def live_training() -> None:
    job = st.session_state.get("train_job")
    if job is None:
        st.info("Press **Train** to start. Training runs in the background: you can leave this page and come back.")
        return
    jobs.show_progress(job)
    jobs.stop_button(job)
    points = jobs.points_to_draw(job)
    if points:
        ui.show_figure(ui.figure(training_curves, points, epochs=job.settings.epochs, stopped=job.stopped), "training-curves")
    diagnosis.stuck_help(job)  # stuck at chance or diverged: why, and a button that sets the fix


jobs.live(active, live_training)

st.divider()
st.subheader("Saved runs")
runs.runs_manager()
