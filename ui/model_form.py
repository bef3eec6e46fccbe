"""The Train page's forms: the model editor (a LeNetConfig) and the training settings (TrainSettings)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

from lenet import LeNetConfig, plan_layers
from lenet.data import available_datasets
from lenet.environment import Limits
from lenet.lessons.training import softmax_before_loss_warning
from lenet.training import TrainSettings, available_devices, preset

import ui

PRESETS = {"classic": "Classic (d2l: sigmoid, average pooling)", "modern": "Modern (ReLU, max pooling, batch norm)"}
SUBSETS = [1000, 2000, 5000, 10000, 20000, 30000, 60000]  # 60000: the whole training set


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
        plan_layers(config, 1, ui.environment().max_training_bytes)
    except ValueError as e:
        return None, str(e)
    if softmax_output:
        st.warning(softmax_before_loss_warning(config.num_classes), icon=":material/warning:")
    return config, None


def settings_editor() -> TrainSettings:
    """The training settings' widgets (recipe from the chosen preset)."""
    _init_state()
    st.markdown("**Training**")
    environment = ui.environment()
    datasets = available_datasets(environment.data_dir) or ["fashion-mnist"]
    if st.session_state.get("set_dataset") not in datasets:
        st.session_state.set_dataset = datasets[0]
    devices = available_devices()
    if st.session_state.get("set_device") not in devices:
        st.session_state.set_device = devices[0]
    cols = st.columns(2)
    dataset = cols[0].selectbox("dataset", datasets, key="set_dataset", help="Datasets found on this machine.")
    device = cols[1].selectbox("device", devices, key="set_device", help="Devices on this machine, fastest first.")
    cap = environment.limits
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
