"""Saved runs on a page: the runs table (compare, rename, delete, download, upload), the model picker, and the Train
page's Export as a script.

The reference runs that ship with the app (reference_runs/, $LENET_REFERENCE_RUNS_DIR) are listed after the user's
own, marked as such, and can be compared, inspected and downloaded but not renamed or deleted."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import pandas as pd
import streamlit as st

from lenet.core.model import LeNetConfig
from lenet.data import load_split
from lenet.inspection import EVALUATING, Evaluation, evaluate
from lenet.lessons.export import export_script, script_file_name
from lenet.plots import overlay_runs
from lenet.training import (
    OpenedRun,
    TrainSettings,
    delete_run,
    export_run,
    import_run,
    list_runs,
    load_run,
    open_run,
    rename_run,
    untrained_run,
)
from lenet.training.runs import UNTRAINED_PREFIX

import ui
from ui import page_state

# The table fits 1280 px without sideways scrolling: short labels, dates and numbers in the width they need
# (train accuracy is on the compared curves; the dataset only when the runs use more than one).
RUN_COLUMNS = {
    "name": st.column_config.TextColumn("run", width=270),
    "created": st.column_config.DatetimeColumn("created", format="D MMM, HH:mm", width=105),
    "status": st.column_config.TextColumn("status", width=90),
    "epochs": st.column_config.NumberColumn("epochs", width=60),
    "train_loss": st.column_config.NumberColumn("train loss", format="%.3f", width=75),
    "test_acc": st.column_config.NumberColumn("test acc", format="percent", width=75),
    "dataset": st.column_config.TextColumn("data", width=105),
}


REFERENCE_STATUS = "reference"  # the status column's word for a reference run that opens (a broken one says why)
REFERENCE_KEY = "reference:"  # the model picker's (and the URL's) name of a reference run: reference:<folder>


def _listed() -> pd.DataFrame:
    """The user's runs, newest first, then the reference runs."""
    return list_runs(ui.environment().runs_dir, ui.environment().reference_runs_dir)


def runs_manager() -> None:
    """The saved runs: a table to pick from, their curves overlaid, and rename, delete, download, upload."""
    root = ui.environment().runs_dir
    runs = _listed()
    reference = runs["reference"].astype(bool)
    if reference.all():
        more = " The reference runs below came with the app: compare, inspect or download them." if len(runs) else ""
        st.info(f"No saved runs yet. Train one above, or upload a run file below.{more}")
    if len(runs):
        # A selection is kept by row number under the table's key. Keyed by the runs listed, it is cleared when
        # another session adds or deletes a run, so Delete never lands on a run that moved into the selected row.
        shown = runs.assign(created=pd.to_datetime(runs["created"], errors="coerce"),
                            status=runs["status"].mask(reference & ~runs["status"].str.startswith("broken"),
                                                       REFERENCE_STATUS))
        picked = st.dataframe(shown, hide_index=True, width="stretch", on_select="rerun", column_order=[c for c in RUN_COLUMNS if c != "dataset" or runs["dataset"].nunique() > 1],
                              column_config=RUN_COLUMNS, selection_mode="multi-row",
                              key=f"runs_table-{hash(tuple(runs['path']))}")
        rows = picked.selection.rows if picked else []
        chosen = runs.iloc[rows] if rows else runs.head(0)
        ok = chosen[~chosen["status"].str.startswith("broken")]
        if len(ok):
            histories = [(r.name, load_run(r.path).history) for r in ok.itertuples()]
            ui.show_figure(ui.figure(overlay_runs, histories), "runs-compared")
        else:
            st.caption("Select runs in the table to compare their curves, rename, delete or download them.")
        if len(chosen) == 1 and chosen.iloc[0]["reference"]:
            _reference_download(chosen.iloc[0])
        elif len(chosen) == 1:
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
            except (ValueError, OSError) as e:  # OSError: the runs folder is full or read-only
                st.error(str(e))
    uploaded = st.file_uploader("Upload a run file (.zip downloaded from LeNet Lab)", type=["zip"], key="run_upload")
    if uploaded is None:
        return
    done_id, done_name = st.session_state.get("imported", (None, None))
    if done_id == uploaded.file_id:  # said after the rerun that lists the new run, for as long as the file stays
        st.success(f"Imported as {done_name}.")
        return
    try:
        path = import_run(uploaded.getvalue(), root, ui.environment().max_training_bytes)
    except ValueError as e:
        st.error(f"That file was refused: {e}")
        return
    except OSError as e:  # a good run, but the runs folder is full or read-only
        st.error(f"That run could not be saved: {e}")
        return
    st.session_state.imported = (uploaded.file_id, path.name)
    st.rerun()  # list the new run in the table above


def _reference_download(row: pd.Series) -> None:
    """A reference run ships with the app, for everyone: it can be downloaded, never renamed or deleted."""
    cols = st.columns([3, 1], vertical_alignment="bottom")
    cols[0].caption("A reference run that came with the app: open it on Inspect or Parameters, or download it. "
                    "It cannot be renamed or deleted.")
    try:  # a reference folder that is broken, or cannot be read
        if not row["status"].startswith("broken"):
            cols[1].download_button("Download", export_run(row["path"]), file_name=f"{row['name']}.zip",
                                    mime="application/zip")
    except (ValueError, OSError) as e:
        st.error(str(e))


def export_button(config: LeNetConfig, settings: TrainSettings, name_key: str = "name") -> None:
    """Export as a script: the model and settings as one runnable file (plain torch and torchvision), named after
    the run name of the widget under name_key (drawn further down the page: its value is restored here first)."""
    page_state.restore(name_key, "", page_state.short_text)
    name = str(st.session_state.get(name_key) or "")
    st.download_button("Export as a script", export_script(config, settings, name), file_name=script_file_name(name),
                       mime="text/x-python", icon=":material/download:",
                       help="One Python file that trains this network with these settings on Fashion-MNIST, in plain "
                            "torch and torchvision: run it anywhere with python FILE --data-dir DIR.")


UNTRAINED = {UNTRAINED_PREFIX + "classic": "Untrained classic LeNet (random weights)",
             UNTRAINED_PREFIX + "modern": "Untrained modern LeNet (random weights)"}


def _stamp(source: str) -> float:
    """When the run's weights last changed (a run still training is opened again after each epoch)."""
    weights = Path(source) / "model.pt"
    return weights.stat().st_mtime if source not in UNTRAINED and weights.exists() else 0.0


@st.cache_resource(max_entries=8)
def _opened(source: str, stamp: float) -> OpenedRun:
    return untrained_run(source.removeprefix(UNTRAINED_PREFIX)) if source in UNTRAINED else open_run(source)


_evaluator = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lenet-evaluation")  # one at a time per server


@st.cache_resource(max_entries=8, show_spinner=False)
def _evaluation(source: str, stamp: float, data_dir: Path | None) -> Future:
    """The evaluation of one model, started once per server in the background: pages draw before it ends."""
    run = _opened(source, stamp)
    return _evaluator.submit(lambda: evaluate(run.model, load_split(run.settings.dataset, train=False, data_dir=data_dir)))


def _first_that_opens(sources: list[str], options: list[str]) -> str:
    """The option of the newest run whose model opens (an untrained preset always does): the page's default."""
    for source, option in zip(sources, options):
        try:
            _opened(source, _stamp(source))
            return option
        except ValueError:
            continue
    return options[-len(UNTRAINED)]


def model_picker() -> OpenedRun | None:
    """Choose a saved run or an untrained preset; returns it opened (config, settings, history, model, timeline),
    or None after saying why it cannot be opened."""
    runs = _listed()
    runs = runs[~runs["status"].str.startswith("broken")]
    # The URL names a run by its folder, a reference run as reference:<folder>.
    keys = [f"{REFERENCE_KEY}{row.folder}" if row.reference else row.folder for row in runs.itertuples()]
    paths = dict(zip(keys, runs["path"]))
    options = {**{key: f"{'Reference: ' if row.reference else ''}{row.name} · {row.epochs} epoch(s) · test acc "
                       f"{row.test_acc:.3f}" for key, row in zip(keys, runs.itertuples())}, **UNTRAINED}
    page_state.restore("model", _first_that_opens([paths.get(o, o) for o in options], list(options)),
                       page_state.one_of(list(options)))
    chosen = st.selectbox("Model", list(options), format_func=options.get, key="model",
                          help="A saved run from the Train page, a reference run that came with the app, or a fresh "
                               "model to compare with.")
    page_state.keep("model", chosen, default=None)  # always in the URL: the newest run, the default, changes
    source = paths.get(chosen, chosen)
    try:
        return _opened(source, _stamp(source))
    except ValueError as e:
        st.error(f"This run cannot be loaded: {e}")
        return None


def evaluation_of(run: OpenedRun) -> Evaluation:
    """The run's model on its whole test set, computed once per server and model (waits for it)."""
    return _evaluation(run.source, _stamp(run.source), ui.environment().data_dir).result()


def evaluation_if_ready(run: OpenedRun) -> Evaluation | None:
    """The run's evaluation when it has finished, else None (it is started if it was not)."""
    future = _evaluation(run.source, _stamp(run.source), ui.environment().data_dir)
    return future.result() if future.done() else None


def when_evaluated(run: OpenedRun, draw: Callable[[Evaluation], None], every: float = 0.5) -> None:
    """draw(evaluation) as soon as the run's evaluation has finished; until then a sentence, checked every `every` s.

    The rest of the page is drawn meanwhile; once the evaluation arrives the page runs once more as a whole
    (which stops the timer and lets the other parts use the evaluation)."""
    waiting = evaluation_if_ready(run) is None

    def fragment() -> None:
        evaluation = evaluation_if_ready(run)
        if evaluation is None:
            st.info(EVALUATING, icon=":material/hourglass_top:")
        elif waiting:
            st.rerun(scope="app")
        else:
            draw(evaluation)

    st.fragment(fragment, run_every=every if waiting else None)()
