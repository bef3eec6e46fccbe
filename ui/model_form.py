"""The Train page's forms: the model editor (a LeNetConfig) and the training settings (TrainSettings)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lenet import LeNetConfig, plan_layers
from lenet.core.model import ACTIVATIONS, POOLS
from lenet.data import available_datasets
from lenet.environment import Limits
from lenet.lessons.lenet5 import differences, fixed_parts, parameter_counts
from lenet.lessons.training import Speed, measure_speed, softmax_before_loss_warning
from lenet.training import TrainSettings, available_devices, preset

import ui
from ui import page_state

PRESETS = {"classic": "Classic (d2l: sigmoid, average pooling)", "modern": "Modern (ReLU, max pooling, batch norm)",
           "lenet5": "LeNet-5 (LeCun et al. 1998: scaled tanh, trainable subsampling)"}
SUBSETS = [1000, 2000, 5000, 10000, 20000, 30000, 60000]  # 60000: the whole training set
MAX_CONV_LAYERS = 3
NEW_LAYER = {"c": 16, "k": 5, "p": 0, "s": 1}  # a conv layer ticked on that the preset does not have


def _preset_values(name: str) -> dict:
    """Every widget's value in a preset: the defaults of the Train page's settings, kept in the URL when changed."""
    config, settings = preset(name)
    values = {"activation": config.activation, "pool": config.pool, "pool_size": config.pool_size,
              "pool_stride": config.pool_stride, "batch_norm": config.batch_norm,
              "hidden": ", ".join(map(str, config.hidden_sizes)), "dense_inputs": config.dense_inputs or 0,
              "softmax_output": config.softmax_output}
    pool_after = config.pool_after or (True,) * len(config.conv_channels)
    for i in range(MAX_CONV_LAYERS):
        values[f"conv{i}"] = i < len(config.conv_channels)
        layer = (config.conv_channels[i], config.kernel_sizes[i], config.paddings[i], config.strides[i], pool_after[i]) \
            if values[f"conv{i}"] else (*NEW_LAYER.values(), True)
        values |= dict(zip((f"c{i}", f"k{i}", f"p{i}", f"s{i}", f"pool_after{i}"), layer))
    return values | {"images": settings.subset or SUBSETS[-1], "epochs": settings.epochs, "batch": settings.batch_size,
                     "seed": settings.seed, "optimizer": settings.optimizer, "lr": settings.lr,
                     "schedule": settings.schedule, "snapshots": settings.snapshots}


def _apply_preset() -> None:
    page_state.remember(_preset_values(st.session_state.preset))


def _chosen_preset() -> str:
    return ui.bound(st.selectbox, "preset", "classic", page_state.one_of(list(PRESETS)), label="Start from",
                    options=list(PRESETS), format_func=PRESETS.get, on_change=_apply_preset,
                    help="Resets the model and the training settings to a tested recipe.")


def _whole(draw, label: str, key: str, low: int, high: int, defaults: dict, **kwargs) -> int:
    return int(ui.bound(draw.number_input, key, defaults[key], page_state.whole_number(low, high), label=label,
                        min_value=low, max_value=high, step=1, **kwargs))


def _tick(draw, label: str, key: str, defaults: dict, **kwargs) -> bool:
    return ui.bound(draw.checkbox, key, defaults[key], page_state.flag, label=label, **kwargs)


def _pick(draw, label: str, key: str, options: list, defaults: dict, **kwargs):
    default = defaults[key] if defaults[key] in options else options[0]
    return ui.bound(draw.selectbox, key, default, page_state.one_of(options), label=label, options=options, **kwargs)


def config_editor() -> tuple[LeNetConfig | None, str | None]:
    """The model's widgets; returns the config, or None and the reason it cannot be built."""
    preset_name = _chosen_preset()
    defaults = _preset_values(preset_name)
    st.markdown("**Convolution layers**")
    layers = []
    for i in range(MAX_CONV_LAYERS):
        if i == 0:
            st.caption("Conv layer 1")
        elif not _tick(st, f"Conv layer {i + 1}", f"conv{i}", defaults):
            continue
        cols = st.columns(4)
        layers.append((i, _whole(cols[0], "channels", f"c{i}", 1, 256, defaults, help="Output channels (number of filters)."),
                       _whole(cols[1], "kernel", f"k{i}", 1, 11, defaults, help="Kernel height and width."),
                       _whole(cols[2], "padding", f"p{i}", 0, 5, defaults, help="Zeros added on each side."),
                       _whole(cols[3], "stride", f"s{i}", 1, 4, defaults, help="Step between kernel positions.")))
    cols = st.columns(3)
    activation = _pick(cols[0], "activation", "activation", list(ACTIVATIONS), defaults,
                       help="scaled_tanh: LeNet-5's 1.7159 tanh(2x/3).")
    pool = _pick(cols[1], "pooling", "pool", list(POOLS), defaults, help="After the conv layers ticked below. "
                 "subsample: LeNet-5's average times a learned coefficient plus a learned bias, then the activation.")
    batch_norm = _tick(cols[2], "batch norm", "batch_norm", defaults, help="BatchNorm after every conv and dense layer.")
    cols = st.columns(3)
    pool_size = _whole(cols[0], "pool size", "pool_size", 1, 4, defaults, disabled=pool == "none")
    pool_stride = _whole(cols[1], "pool stride", "pool_stride", 1, 4, defaults, disabled=pool == "none")
    hidden = ui.bound(cols[2].text_input, "hidden", defaults["hidden"], page_state.short_text, label="dense widths",
                      help="Hidden fully connected layers, e.g. 120, 84.")
    with st.container(horizontal=True):
        pool_after = [_tick(st, f"pool after conv{position}", f"pool_after{i}", defaults, disabled=pool == "none")
                      for position, (i, *_) in enumerate(layers, start=1)]
    try:
        hidden_sizes = tuple(int(v) for v in hidden.replace(" ", "").split(",") if v)
    except ValueError:
        return None, f"dense widths must be whole numbers separated by commas, not {hidden!r}."
    if any(h < 1 or h > 4096 for h in hidden_sizes):
        return None, "each dense width must be between 1 and 4096."
    cols = st.columns(2, vertical_alignment="bottom")
    dense_inputs = _whole(cols[0], "first dense layer's inputs", "dense_inputs", 0, 100_000, defaults,
                          help="0: whatever flatten gives. A number: what a hand-written nn.Linear(400, 120) expects.")
    softmax_output = _tick(cols[1], "softmax at the end", "softmax_output", defaults,
                           help="A softmax after the output layer, before the cross-entropy loss.")
    config, _ = preset(preset_name)
    if fixed_parts(config):
        st.caption(fixed_parts(config))
    config = config.replace(
        conv_channels=[c for _, c, _, _, _ in layers], kernel_sizes=[k for _, _, k, _, _ in layers],
        paddings=[p for _, _, _, p, _ in layers], strides=[s for *_, s in layers], activation=activation,
        pool=pool, pool_size=pool_size, pool_stride=pool_stride, batch_norm=batch_norm,
        hidden_sizes=hidden_sizes, pool_after=None if all(pool_after) else pool_after,
        dense_inputs=dense_inputs or None, softmax_output=softmax_output,
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
    preset_name = st.session_state.get("preset", "classic")
    defaults = _preset_values(preset_name)
    st.markdown("**Training**")
    environment = ui.environment()
    datasets = available_datasets(environment.data_dir) or ["fashion-mnist"]
    cols = st.columns(2)
    dataset = _pick(cols[0], "dataset", "dataset", datasets, {"dataset": datasets[0]}, help="Datasets found on this machine.")
    devices = available_devices()
    device = _pick(cols[1], "device", "device", devices, {"device": devices[0]}, help="Devices on this machine, fastest first.")
    speed_caption(devices)
    cap = environment.limits
    subsets = [n for n in SUBSETS if n < cap.max_train_images] + [min(cap.max_train_images, SUBSETS[-1])]
    defaults = defaults | {"images": min(defaults["images"], subsets[-1]), "epochs": min(defaults["epochs"], cap.max_epochs)}
    subset = ui.bound(st.select_slider, "images", defaults["images"], page_state.one_of(subsets), label="training images",
                      options=subsets, format_func={n: f"{n:,}" for n in subsets}.get,
                      help="Train on the first N images (the test set is always all 10,000).")
    cols = st.columns(3)
    epochs = _whole(cols[0], "epochs", "epochs", 1, cap.max_epochs, defaults, help="Passes over the training images.")
    batch_size = _pick(cols[1], "batch size", "batch", [32, 64, 128, 256, 512, 1024], defaults)
    seed = _whole(cols[2], "seed", "seed", 0, 2**31 - 1, defaults, help="The same seed repeats a CPU run exactly.")
    cols = st.columns(3)
    optimizer = _pick(cols[0], "optimiser", "optimizer", ["sgd", "adam"], defaults)
    lr = ui.bound(cols[1].number_input, "lr", defaults["lr"], page_state.real_number(1e-5, 10.0), label="learning rate",
                  min_value=1e-5, max_value=10.0, format="%g", step=0.01)
    schedule = _pick(cols[2], "schedule", "schedule", ["constant", "onecycle", "cosine"], defaults,
                     help="How the learning rate changes during training.")
    snapshots = _tick(st, "keep snapshots", "snapshots", defaults, help="Keep the first layer's filters and feature maps "
                      "before, during and after each epoch (a few hundred kB), to watch them form on the Inspect page.")
    if cap != Limits():
        st.caption(f"This server trains on at most {subsets[-1]:,} images for at most {cap.max_epochs} epochs, "
                   f"{cap.max_trainings} training(s) at a time.")
    _, base = preset(preset_name)
    return base.replace(dataset=dataset, subset=None if subset == SUBSETS[-1] else subset, epochs=epochs,
                        batch_size=int(batch_size), optimizer=optimizer, lr=float(lr), schedule=schedule, seed=seed,
                        device=device, snapshots=snapshots, nesterov=base.nesterov and optimizer == "sgd")


def preset_notes() -> None:
    """For the LeNet-5 preset: how it differs from d2l's LeNet and from the paper, and its parameters layer by layer."""
    if st.session_state.get("preset") != "lenet5":
        return
    counts = parameter_counts()
    with st.expander("LeNet-5 as LeCun et al. published it (1998), against d2l's LeNet", expanded=True):
        st.table(differences())
        st.dataframe(counts, hide_index=True, width="stretch", column_config={
            name: st.column_config.NumberColumn(format="localized") for name in counts.columns[2:]})


def format_layer_table(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    table["activation memory"] = (table.pop("activation bytes") / 1024).map(lambda kb: f"{kb:,.1f} KB")
    for column in ("parameters", "MACs"):
        table[column] = table[column].map(lambda v: f"{v:,}" if v else "")
    return table


@st.cache_resource(show_spinner="Measuring how fast this server trains ...")
def measured_speeds(devices: tuple[str, ...]) -> list[Speed]:
    """Images per second on each device, measured once per server (a few batches each) and kept."""
    return [measure_speed(device) for device in devices]


def speed_caption(devices: list[str]) -> None:
    """This server's training speed on each of its devices, side by side, with when and how it was measured."""
    speeds = measured_speeds(tuple(devices))
    side_by_side = " · ".join(f"**{s.device.upper()}** {s.images_per_s:,.0f} images/s" for s in speeds)
    first = speeds[0]
    st.caption(f"This server trains d2l's LeNet at {side_by_side}{'' if len(speeds) > 1 else ' (it has no GPU)'}: "
               f"measured {first.measured.replace('T', ' ')}, {first.batches} batches of {first.batch_size}, "
               f"{first.threads} torch thread(s).")
