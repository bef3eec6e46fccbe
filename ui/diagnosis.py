"""The Train page's help for "my training is stuck at 10%": when a training is stuck or diverged, why (with its own
numbers and its first batches layer by layer), a button that sets the page to the fix, and then the stuck run's
curves beside the fixed run's."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lenet.data import DatasetNotFoundError
from lenet.lessons.stuck import before_after_figure
from lenet.training import TrainingJob
from lenet.training.diagnosis import (
    PROBE_BATCH_SIZE,
    PROBE_BATCHES,
    SATURATED_MARGIN,
    Diagnosis,
    detect,
    diagnose,
    probe_run,
)

import ui
from ui import page_state

WIDGETS = {"activation": "activation", "batch_norm": "batch_norm", "lr": "lr", "batch_size": "batch",
           "optimizer": "optimizer", "epochs": "epochs"}  # a fix's field -> the Train page's widget for it
BEFORE = "stuck_before"  # the stuck training whose fix was applied, and what the fix changed
PROBE = "stuck_probe"  # (the training, its probe table): probed once per training
SHOWN_LAYERS = ("Conv2d", "Linear", "Sigmoid", "Tanh", "ReLU", "BatchNorm2d", "BatchNorm1d")


def stuck_help(job: TrainingJob) -> None:
    """Below a training's curves: the before/after curves once a fix was applied, and a warning with the fix when
    the training is stuck or diverged."""
    before = st.session_state.get(BEFORE)
    if before is not None and before["job"] is not job and job.points:
        ui.show_figure(before_after_figure(list(before["job"].points), list(job.points), job.config.num_classes,
                                           title=f"Before and after the fix: {before['changes']}"),
                       "before-after-the-fix")
    if not detect(list(job.points), job.config.num_classes).fired:
        return
    diagnosis = diagnose(job.config, job.settings, list(job.points), _probe(job))
    st.warning("\n\n".join(diagnosis.reasons) + "\n\n**The fix:**\n" + "\n".join(
        f"- `{c.field}` {c.before} → {c.after}: {c.why}" for c in diagnosis.changes), icon=":material/warning:")
    stats = _probe(job)
    if stats is not None:
        st.caption(f"This run's first {PROBE_BATCHES} batches of {PROBE_BATCH_SIZE} images, layer by layer, before any "
                   f"step (saturated: within {SATURATED_MARGIN:.0%} of the activation's bounds; step / weights: how "
                   "much one SGD step would change the layer's weights, against their size).")
        st.dataframe(_table(stats, job.settings.lr), hide_index=True, width="stretch")
    _fix_button(job, diagnosis)


def _probe(job: TrainingJob) -> pd.DataFrame | None:
    """The probe of the model this training started from, computed once per training (a tenth of a second)."""
    kept = st.session_state.get(PROBE)
    if kept is None or kept[0] is not job:
        try:
            kept = (job, probe_run(job.config, job.settings, ui.environment().data_dir))
        except (DatasetNotFoundError, ValueError):
            kept = (job, None)
        st.session_state[PROBE] = kept
    return kept[1]


def _table(stats: pd.DataFrame, lr: float) -> pd.DataFrame:
    shown = stats[stats["type"].isin(SHOWN_LAYERS)]
    return pd.DataFrame({"layer": shown["layer"], "type": shown["type"], "output mean": shown["mean"].round(3),
                         "output std": shown["std"].round(3), "saturated": shown["saturated"].map("{:.0%}".format),
                         "gradient norm": shown["grad_norm"].map("{:.2g}".format),
                         "step / weights": (lr * shown["grad_norm"] / shown["weight_norm"]).map("{:.1e}".format)}
                        ).replace("nan", "").replace("nan%", "")


def _fix_button(job: TrainingJob, diagnosis: Diagnosis) -> None:
    """Apply the fix: the page's widgets take the fixed values; then the user presses Train."""
    missing = [c for c in diagnosis.changes if c.field not in WIDGETS]
    if missing:
        st.caption("The Train page keeps the preset's " + ", ".join(f"`{c.field}` ({c.before})" for c in missing) +
                   "; in code: `" + ", ".join(f"{c.field}={c.after!r}" for c in missing) + "`.")
    before = st.session_state.get(BEFORE)
    if before is not None and before["job"] is job:
        st.success("The fix is set above: press **Train** to train with it"
                   + (" once this training is stopped or finished" if job.active else "")
                   + "; both runs' curves then show here together.", icon=":material/check:")
    else:
        st.button("Apply the fix", type="primary", icon=":material/build:", key="apply_fix", on_click=_apply,
                  args=(job, diagnosis), help="Sets the model and training settings above to the fix.")


def _apply(job: TrainingJob, diagnosis: Diagnosis) -> None:
    changes = [c for c in diagnosis.changes if c.field in WIDGETS]
    page_state.remember({WIDGETS[c.field]: c.after for c in changes})
    st.session_state[BEFORE] = {"job": job, "changes": ", ".join(f"{c.field} {c.after}" for c in changes)}
    st.rerun(scope="app")  # the button sits in the live view's fragment: redraw the widgets above too
