"""The Sweep page's helpers: what to sweep and what the trials share, the sweep on the server's registry, its live
table and figures. The sweep is a plain lenet.training.sweeps.Sweep in st.session_state: its threads never call st.*."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lenet.sweep_plots import accuracy_parameters_figure, settings_parallel_figure
from lenet import LeNetConfig
from lenet.training import TrainSettings, new_run_dir, preset
from lenet.training.sweeps import GridError, Sweep, Trial, check_limits, format_value, parse_grid, trials

import ui
from ui import jobs, page_state
from ui.model_form import PRESETS

MAX_SETTINGS = 3
NONE = "none"
# The settings the page offers to sweep: their label and the values a newly picked one starts with.
CHOICES = {
    "kernel_sizes": ("kernel size", "3, 5"), "conv_channels": ("conv channels", "6x16, 16x32"),
    "paddings": ("padding", "0, 2"), "strides": ("stride", "1, 2"), "pool": ("pooling", "avg, max"),
    "activation": ("activation", "sigmoid, relu"), "batch_norm": ("batch norm", "false, true"),
    "hidden_sizes": ("dense widths", "120x84, 32"), "lr": ("learning rate", "0.1, 0.4"),
    "optimizer": ("optimiser", "sgd, adam"), "batch_size": ("batch size", "64, 256"), "epochs": ("epochs", "1, 2"),
}
LABELS = {NONE: "(nothing)"} | {name: f"{label} ({name})" for name, (label, _) in CHOICES.items()}
DEFAULTS = [("kernel_sizes", "3, 5"), ("conv_channels", "6x16, 16x32"), (NONE, "")]
IMAGES = [1000, 2000, 5000, 10000, 20000, 60000]
TEST_IMAGES = [1000, 2000, 5000, 10000]
HOW = ("Values are separated by commas. A per-layer setting takes one value per conv layer joined by x "
       "(6x16: 6 channels, then 16); one number applies to every layer.")


def _example(i: int) -> None:
    name = st.session_state[f"set{i}"]
    page_state.remember({f"values{i}": CHOICES[name][1] if name in CHOICES else ""})


def grid_editor() -> list[str]:
    """Up to three settings and their values, as NAME=V1,V2 specs for parse_grid."""
    specs = []
    for i, (name, values) in enumerate(DEFAULTS, start=1):
        left, right = st.columns(2)
        with left:
            name = ui.bound(st.selectbox, f"set{i}", name, page_state.one_of(list(LABELS)), label=f"Setting {i}",
                            options=list(LABELS), format_func=LABELS.get, on_change=_example, args=(i,))
        with right:
            values = ui.text("Values", f"values{i}", values, HOW, disabled=name == NONE,
                             placeholder=CHOICES[name][1] if name in CHOICES else "")
        if name != NONE:
            specs.append(f"{name}={values}")
    return specs


def shared_settings() -> tuple[LeNetConfig, TrainSettings]:
    """The preset the trials start from, and the epochs and images they all train with (within the server's caps)."""
    cap = ui.environment().limits
    name = ui.bound(st.selectbox, "preset", "modern", page_state.one_of(list(PRESETS)), label="Start from",
                    options=list(PRESETS), format_func=PRESETS.get, help="What every trial has unless it is swept.")
    epochs = ui.number("Epochs", "epochs", 1, cap.max_epochs, 1, "Passes over the training images, every trial.")
    subsets = [n for n in IMAGES if n < cap.max_train_images] + [min(cap.max_train_images, IMAGES[-1])]
    images = ui.bound(st.select_slider, "images", min(2000, subsets[-1]), page_state.one_of(subsets),
                      label="Training images", options=subsets, help="Every trial trains on the first N images.")
    test_images = ui.bound(st.select_slider, "test_images", TEST_IMAGES[-1], page_state.one_of(TEST_IMAGES),
                           label="Test images", options=TEST_IMAGES, help="Each trial's accuracy is on the first N.")
    config, settings = preset(name)
    return config, settings.replace(epochs=epochs, subset=images, test_subset=test_images)


def plan(config: LeNetConfig, settings: TrainSettings, specs: list[str]) -> tuple[list[Trial], str | None]:
    """The trials of the grid, or none and the sentence saying why they cannot run here."""
    environment = ui.environment()
    try:
        found = trials(config, settings, parse_grid(specs), environment.max_training_bytes)
        check_limits(found, environment.limits.max_epochs, environment.limits.max_train_images)
    except GridError as e:
        return [], str(e)
    return found, None


def current() -> Sweep | None:
    return st.session_state.get("sweep")


def running() -> bool:
    sweep = current()
    return sweep is not None and sweep.running


def start(found: list[Trial]) -> None:
    """This session's sweep, on the server's registry; each trial's run folder is made when it is submitted."""
    root = ui.environment().runs_dir
    st.session_state.sweep = Sweep(jobs.registry(), found, lambda trial: new_run_dir(f"sweep-{trial.slug}", root))
    st.session_state.sweep.start()


def table(sweep: Sweep) -> pd.DataFrame:
    """One row a trial: its status (and place in the queue), values, parameters, epochs, test accuracy, seconds."""
    rows = []
    for i, result in enumerate(sweep.results()):
        job = sweep.jobs[i]
        status = result["status"] + (f" ({job.ahead} ahead)" if result["status"] == "queued" and job.ahead else "")
        values = {k: format_value(v) for k, v in result["settings"].items()}
        rows.append({"trial": i + 1, "status": status, **values, "parameters": result["parameters"],
                     "epochs": result["epochs"], "test accuracy": result["test_acc"], "seconds": result["seconds"],
                     "node": result["node"] or "", "error": result["error"] or ""})
    return pd.DataFrame(rows)


def show(sweep: Sweep) -> None:
    """The live table, then the two figures once a trial has a test accuracy."""
    counts = sweep.counts()
    st.caption(" · ".join(f"{n} {status}" for status, n in counts.items()))
    st.dataframe(table(sweep), hide_index=True, width="stretch", column_config={
        "parameters": st.column_config.NumberColumn(format="localized"),
        "test accuracy": st.column_config.NumberColumn(format="percent"),
        "seconds": st.column_config.NumberColumn(format="%.1f")})
    results = sweep.results()
    if any(r["test_acc"] is not None for r in results):
        ui.show_figure(ui.figure(accuracy_parameters_figure, results), "sweep-accuracy-parameters")
        ui.show_figure(ui.figure(settings_parallel_figure, results), "sweep-parallel-coordinates")
