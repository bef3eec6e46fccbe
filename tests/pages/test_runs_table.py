"""The Train page's saved-runs table reads well as a slide: no sideways scrolling at 1280 px, no column cut."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from helpers import HISTORY, TRAIN
from lenet import LeNetConfig, TrainSettings, build_lenet
from lenet.training import new_run_dir, save_run

pytestmark = pytest.mark.usefixtures("runs_dir")
MAIN_COLUMN_PX = 820  # the page's main column at 1280 px with the sidebar open, less the selection boxes


def runs_table(at: AppTest):
    return next(d for d in at.dataframe if "status" in d.value.columns)


def test_the_runs_table_fits_the_page_and_shows_what_a_run_is(runs_dir):
    for name in ("classic-lr0.9-sigmoid-average", "modern-relu-max-batchnorm"):
        save_run(new_run_dir(name, runs_dir), LeNetConfig.classic(), TrainSettings(), HISTORY,
                 build_lenet(LeNetConfig.classic()))
    at = AppTest.from_file(TRAIN, default_timeout=60).run()
    proto = runs_table(at).proto
    columns = json.loads(proto.columns)
    assert list(proto.column_order) == ["name", "created", "status", "epochs", "train_loss", "test_acc"]
    assert sum(columns[c]["width"] for c in proto.column_order) <= MAIN_COLUMN_PX
    assert columns["name"]["width"] >= 7 * len("classic-lr0.9-sigmoid-average")  # the whole name, ~7 px a letter
    assert columns["created"]["type_config"]["type"] == "datetime"  # "2 Dec, 14:12", not "2026-12-"
