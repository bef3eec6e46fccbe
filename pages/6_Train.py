"""Train: design a LeNet, train it in the background, watch the curves, keep every run."""

import streamlit as st

import ui
from ui import training
from lenet import layer_table
from lenet.jobs import TrainingCapacityError
from lenet.figures import png_config
from lenet.model_figures import overlay_runs, training_curves
from lenet.runs import new_run_dir

ui.setup_page("Train")
st.title("Train LeNet")
st.caption("Design a LeNet, train it on real data, and watch it learn. Every run is saved, epoch by epoch.")

model_col, settings_col = st.columns(2, gap="large")
with model_col:
    config, config_error = training.config_editor()
with settings_col:
    settings = training.settings_editor()

if config_error:
    st.error(f"This network cannot be built: {config_error}")
else:
    table = layer_table(config)
    with st.expander(f"Layers: {table['parameters'].sum():,} parameters, "
                     f"{table['MACs'].sum():,} multiply-adds per image", expanded=False):
        st.dataframe(training.format_layer_table(table), hide_index=True, width="stretch",
                     height=35 * (len(table) + 1) + 3)

job = st.session_state.get("train_job")
busy = job is not None and job.running
name_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
name = name_col.text_input("Run name", value="", placeholder="optional, e.g. classic-lr0.9", max_chars=60)
if button_col.button("Train", type="primary", disabled=bool(config_error) or busy, icon=":material/play_arrow:", width="stretch"):
    try:
        st.session_state.train_job = training.registry().submit(config, settings, new_run_dir(name or None))
        busy = True
    except TrainingCapacityError as e:
        st.warning(str(e))


@st.fragment(run_every=0.5 if busy else None)
def live_training():
    job = st.session_state.get("train_job")
    if job is None:
        st.info("Press **Train** to start. Training runs in the background: you can leave this page and come back.")
        return
    training.show_progress(job)
    if job.running and st.button("Stop", icon=":material/stop:"):
        job.stop()
    points = list(job.points)
    if points:
        st.plotly_chart(training_curves(points, epochs=job.settings.epochs), width="stretch",
                        config=png_config("training-curves"))
    if busy and not job.running:
        st.rerun(scope="app")


live_training()

st.divider()
st.subheader("Saved runs")
training.runs_manager(overlay_runs)
