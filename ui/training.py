"""Streamlit widgets for the Train and Inspect pages: the model editor, training settings, runs."""

from __future__ import annotations

import dataclasses

from pathlib import Path

import pandas as pd
import streamlit as st

from lenet import LeNetConfig, build_lenet, init_weights, plan_layers
from lenet.figures import png_config
from lenet.data import available_datasets, load_split
from lenet.inspection import Evaluation, evaluate
from lenet.lessons import softmax_before_loss_warning
from lenet.jobs import JobRegistry, TrainingJob
from lenet.limits import Limits, read_limits
from lenet.runs import delete_run, export_run, import_run, list_runs, load_model, load_run, rename_run
from lenet.train import TrainSettings, available_devices, preset

PRESETS = {"classic": "Classic (d2l: sigmoid, average pooling)", "modern": "Modern (ReLU, max pooling, batch norm)"}
SUBSETS = [1000, 2000, 5000, 10000, 20000, 30000, 60000]  # 60000: the whole training set


def limits() -> Limits:
    """This server's caps, from the environment or st.secrets (see lenet.limits); a bad value stops the page."""
    try:
        secrets = dict(st.secrets)
    except FileNotFoundError:  # no secrets.toml: Streamlit raises a subclass of it
        secrets = {}
    try:
        return read_limits(secrets)
    except ValueError as e:
        st.error(f"This server's configuration is wrong: {e}")
        st.stop()


@st.cache_resource
def registry() -> JobRegistry:
    """One registry for the whole server: it caps how many trainings run at once."""
    return JobRegistry(limits().max_trainings)


def _apply_preset() -> None:
    config, settings = preset(st.session_state.preset)
    for i in range(3):
        st.session_state[f"conv{i}"] = i < len(config.conv_channels)
    for key, value in _config_widget_values(config).items():
        st.session_state[key] = value
    for key, value in settings.to_dict().items():
        st.session_state[f"set_{key}"] = value
    st.session_state.subset_slider = settings.subset or 60000


def _config_widget_values(config: LeNetConfig) -> dict:
    values = {"activation": config.activation, "pool": config.pool, "pool_size": config.pool_size,
              "pool_stride": config.pool_stride, "batch_norm": config.batch_norm,
              "hidden": ", ".join(map(str, config.hidden_sizes)), "dense_inputs": config.dense_inputs or 0,
              "softmax_output": config.softmax_output}
    pool_after = config.pool_after or (True,) * len(config.conv_channels)
    for i, (c, k, p, s, pooled) in enumerate(zip(config.conv_channels, config.kernel_sizes, config.paddings, config.strides,
                                                 pool_after)):
        values |= {f"c{i}": c, f"k{i}": k, f"p{i}": p, f"s{i}": s, f"pool_after{i}": pooled}
    return values


def _init_state() -> None:
    if "preset" not in st.session_state:
        asked = st.query_params.get("preset")  # a link such as /Train?preset=modern picks the starting recipe
        st.session_state.preset = asked if asked in PRESETS else "classic"
        _apply_preset()


def config_editor() -> tuple[LeNetConfig | None, str | None]:
    """The model's widgets; returns the config, or None and the reason it cannot be built."""
    _init_state()
    st.selectbox("Start from", list(PRESETS), format_func=PRESETS.get, key="preset", on_change=_apply_preset,
                 help="Resets the model and the training settings to a tested recipe.")
    st.markdown("**Convolution layers**")
    layers = []
    for i in range(3):
        on = st.session_state.get(f"conv{i}", False) if i else True
        if i:
            on = st.checkbox(f"Conv layer {i + 1}", key=f"conv{i}")
        if not on:
            continue
        if i == 0:
            st.caption("Conv layer 1")
        cols = st.columns(4)
        st.session_state.setdefault(f"c{i}", 16)
        st.session_state.setdefault(f"k{i}", 5)
        st.session_state.setdefault(f"p{i}", 0)
        st.session_state.setdefault(f"s{i}", 1)
        c = cols[0].number_input("channels", 1, 256, key=f"c{i}", help="Output channels (number of filters).")
        k = cols[1].number_input("kernel", 1, 11, key=f"k{i}", help="Kernel height and width.")
        p = cols[2].number_input("padding", 0, 5, key=f"p{i}", help="Zeros added on each side.")
        s = cols[3].number_input("stride", 1, 4, key=f"s{i}", help="Step between kernel positions.")
        layers.append((i, int(c), int(k), int(p), int(s)))
    cols = st.columns(3)
    activation = cols[0].selectbox("activation", ["sigmoid", "relu", "tanh"], key="activation")
    pool = cols[1].selectbox("pooling", ["avg", "max", "none"], key="pool", help="After the conv layers ticked below.")
    batch_norm = cols[2].checkbox("batch norm", key="batch_norm", help="BatchNorm after every conv and dense layer.")
    cols = st.columns(3)
    pool_size = cols[0].number_input("pool size", 1, 4, key="pool_size", disabled=pool == "none")
    pool_stride = cols[1].number_input("pool stride", 1, 4, key="pool_stride", disabled=pool == "none")
    hidden = cols[2].text_input("dense widths", key="hidden", help="Hidden fully connected layers, e.g. 120, 84.")
    with st.container(horizontal=True):
        pool_after = []
        for position, (i, *_) in enumerate(layers, start=1):
            st.session_state.setdefault(f"pool_after{i}", True)
            pool_after.append(st.checkbox(f"pool after conv{position}", key=f"pool_after{i}", disabled=pool == "none"))
    try:
        hidden_sizes = tuple(int(v) for v in hidden.replace(" ", "").split(",") if v)
    except ValueError:
        return None, f"dense widths must be whole numbers separated by commas, not {hidden!r}."
    if any(h < 1 or h > 4096 for h in hidden_sizes):
        return None, "each dense width must be between 1 and 4096."
    cols = st.columns(2, vertical_alignment="bottom")
    st.session_state.setdefault("dense_inputs", 0)
    dense_inputs = cols[0].number_input("first dense layer's inputs", 0, 100_000, key="dense_inputs",
                                        help="0: whatever flatten gives. A number: what a hand-written nn.Linear(400, 120) expects.")
    softmax_output = cols[1].checkbox("softmax at the end", key="softmax_output",
                                      help="A softmax after the output layer, before the cross-entropy loss.")
    config, _ = preset(st.session_state.preset)
    config = config.replace(
        conv_channels=[c for _, c, _, _, _ in layers], kernel_sizes=[k for _, _, k, _, _ in layers],
        paddings=[p for _, _, _, p, _ in layers], strides=[s for *_, s in layers], activation=activation,
        pool=pool, pool_size=int(pool_size), pool_stride=int(pool_stride), batch_norm=batch_norm,
        hidden_sizes=hidden_sizes, pool_after=None if all(pool_after) else pool_after,
        dense_inputs=int(dense_inputs) or None, softmax_output=softmax_output,
    )
    try:
        plan_layers(config)
    except ValueError as e:
        return None, str(e)
    if softmax_output:
        st.warning(softmax_before_loss_warning(config.num_classes), icon=":material/warning:")
    return config, None


def settings_editor() -> TrainSettings:
    """The training settings' widgets (recipe from the chosen preset)."""
    _init_state()
    st.markdown("**Training**")
    datasets = available_datasets() or ["fashion-mnist"]
    if st.session_state.get("set_dataset") not in datasets:
        st.session_state.set_dataset = datasets[0]
    devices = available_devices()
    if st.session_state.get("set_device") not in devices:
        st.session_state.set_device = devices[0]
    cols = st.columns(2)
    dataset = cols[0].selectbox("dataset", datasets, key="set_dataset", help="Datasets found on this machine.")
    device = cols[1].selectbox("device", devices, key="set_device", help="Devices on this machine, fastest first.")
    cap = limits()
    subsets = [n for n in SUBSETS if n < cap.max_train_images] + [min(cap.max_train_images, SUBSETS[-1])]
    st.session_state.subset_slider = min(st.session_state.subset_slider, subsets[-1])
    st.session_state.set_epochs = min(st.session_state.set_epochs, cap.max_epochs)
    subset = st.select_slider("training images", subsets, key="subset_slider",
                              help="Train on the first N images (the test set is always all 10,000).")
    cols = st.columns(3)
    epochs = cols[0].number_input("epochs", 1, cap.max_epochs, key="set_epochs", help="Passes over the training images.")
    batch_size = cols[1].selectbox("batch size", [32, 64, 128, 256, 512, 1024], key="set_batch_size")
    seed = cols[2].number_input("seed", 0, 2**31 - 1, key="set_seed", help="The same seed repeats a CPU run exactly.")
    cols = st.columns(3)
    optimizer = cols[0].selectbox("optimiser", ["sgd", "adam"], key="set_optimizer")
    lr = cols[1].number_input("learning rate", 1e-5, 10.0, key="set_lr", format="%.4g", step=0.01)
    schedule = cols[2].selectbox("schedule", ["constant", "onecycle", "cosine"], key="set_schedule",
                                 help="How the learning rate changes during training.")
    st.session_state.setdefault("set_snapshots", True)
    st.checkbox("keep snapshots", key="set_snapshots", help="Keep the first layer's filters and feature maps before, "
                "during and after each epoch (a few hundred kB), to watch them form on the Inspect page.")
    base = TrainSettings.from_dict({k.removeprefix("set_"): v for k, v in st.session_state.items()
                                    if isinstance(k, str) and k.startswith("set_")})
    if cap != Limits():
        st.caption(f"This server trains on at most {subsets[-1]:,} images for at most {cap.max_epochs} epochs, "
                   f"{cap.max_trainings} training(s) at a time.")
    return dataclasses.replace(base, dataset=dataset, subset=None if subset == 60000 else subset, epochs=int(epochs),
                        batch_size=int(batch_size), optimizer=optimizer, lr=float(lr), schedule=schedule,
                        seed=int(seed), device=device)


def format_layer_table(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    table["activation memory"] = (table.pop("activation bytes") / 1024).map(lambda kb: f"{kb:,.1f} KB")
    for column in ("parameters", "MACs"):
        table[column] = table[column].map(lambda v: f"{v:,}" if v else "")
    return table


def show_progress(job: TrainingJob) -> None:
    """Progress bar with images/s and time left, or the outcome once finished."""
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
        if result is not None and len(result.history):
            last = result.history.iloc[-1]
            verb = "Stopped" if result.stopped else "Finished"
            st.success(f"{verb} after {len(result.history)} epoch(s): test accuracy {last.test_acc:.3f}, "
                       f"train accuracy {last.train_acc:.3f}, loss {last.train_loss:.3f}. Saved to the runs below.")
        elif result is not None:
            st.warning("Stopped before the first epoch finished: nothing was saved.")


def runs_manager(overlay_runs) -> None:
    """The saved runs: a table to pick from, their curves overlaid, and rename, delete, download, upload."""
    runs = list_runs()
    if runs.empty:
        st.info("No saved runs yet. Train one above, or upload a run file below.")
    else:
        # A selection is kept by row number under the table's key. Keyed by the runs listed, it is cleared when
        # another session adds or deletes a run, so Delete never lands on a run that moved into the selected row.
        picked = st.dataframe(runs.drop(columns=["path"]), hide_index=True, width="stretch", on_select="rerun",
                              selection_mode="multi-row", key=f"runs_table-{hash(tuple(runs['path']))}")
        rows = picked.selection.rows if picked else []
        chosen = runs.iloc[rows] if rows else runs.head(0)
        ok = chosen[~chosen["status"].str.startswith("broken")]
        if len(ok):
            histories = [(r.name, load_run(r.path).history) for r in ok.itertuples()]
            st.plotly_chart(overlay_runs(histories), width="stretch", config=png_config("runs-compared"))
        else:
            st.caption("Select runs in the table to compare their curves, rename, delete or download them.")
        if len(chosen) == 1:
            row = chosen.iloc[0]
            cols = st.columns([3, 1, 1, 1], vertical_alignment="bottom")
            new_name = cols[0].text_input("Rename to", value=row["name"], max_chars=60)
            rename = cols[1].button("Rename", disabled=new_name == row["name"] or row["status"].startswith("broken"))
            delete = cols[2].button("Delete", type="secondary")
            try:  # a blank name, or a run that another session renamed or deleted meanwhile
                if not row["status"].startswith("broken"):
                    cols[3].download_button("Download", export_run(row["path"]), file_name=f"{row['name']}.zip",
                                            mime="application/zip")
                if rename:
                    rename_run(row["path"], new_name)
                    st.rerun()
                if delete:
                    delete_run(row["path"])
                    st.rerun()
            except ValueError as e:
                st.error(str(e))
    uploaded = st.file_uploader("Upload a run file (.zip downloaded from LeNet Lab)", type=["zip"], key="run_upload")
    if uploaded is not None and st.session_state.get("imported") != uploaded.file_id:
        try:
            path = import_run(uploaded.getvalue())
            st.session_state.imported = uploaded.file_id
            st.success(f"Imported as {path.name}.")
            st.rerun()
        except ValueError as e:
            st.error(f"That file was refused: {e}")


UNTRAINED = {"untrained:classic": "Untrained classic LeNet (random weights)",
             "untrained:modern": "Untrained modern LeNet (random weights)"}


@st.cache_resource(max_entries=8)
def _cached_model(choice: str, stamp: float):
    if choice in UNTRAINED:
        config, settings = preset(choice.split(":")[1])
        model = init_weights(build_lenet(config), settings.init).eval()
        return model, settings.dataset
    return load_model(choice), load_run(choice).settings.dataset


@st.cache_resource(max_entries=8)
def _cached_evaluation(choice: str, stamp: float):
    model, dataset = _cached_model(choice, stamp)
    return evaluate(model, load_split(dataset, train=False))


def _stamp(choice: str) -> float:
    weights = Path(choice) / "model.pt"
    return weights.stat().st_mtime if choice not in UNTRAINED and weights.exists() else 0.0


def model_picker():
    """Choose a saved run or an untrained preset; returns (choice, model, dataset name) or None."""
    runs = list_runs()
    runs = runs[~runs["status"].str.startswith("broken")]
    options = {**{row.path: f"{row.name} · {row.epochs} epoch(s) · test acc {row.test_acc:.3f}"
                  for row in runs.itertuples()}, **UNTRAINED}
    choice = st.selectbox("Model", list(options), format_func=options.get,
                          help="A saved run from the Train page, or a fresh model to compare with.")
    try:
        model, dataset = _cached_model(choice, _stamp(choice))
    except ValueError as e:
        st.error(f"This run cannot be loaded: {e}")
        return None
    return choice, model, dataset


def evaluation_of(choice: str) -> Evaluation:
    return _cached_evaluation(choice, _stamp(choice))
