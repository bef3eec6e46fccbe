"""Inspect's attribution overlay and the confusion matrix's clickable cells, read back from the figures."""

import numpy as np
import pandas as pd
import torch

from lenet.inspect_plots import attribution_figure, clickable_cells, selected_cell
from lenet.plots import confusion_matrix_figure


def confusion(n=3):
    counts = np.arange(n * n).reshape(n, n)
    names = [f"c{i}" for i in range(n)]
    return pd.DataFrame(counts, index=pd.Index(names, name="true"), columns=pd.Index(names, name="predicted"))


def test_every_cell_gets_one_point_that_names_its_classes_and_count():
    cm = confusion()
    fig = clickable_cells(confusion_matrix_figure(cm), cm)
    points = fig.data[1]
    assert len(points.x) == 9 and fig.layout.clickmode == "event+select"
    for x, y, (t, p, count) in zip(points.x, points.y, points.customdata):
        assert (y, x) == (cm.index[t], cm.columns[p]) and count == cm.iloc[t, p]
    assert tuple(fig.layout.xaxis.range) == (-0.5, 2.5) and tuple(fig.layout.yaxis.range) == (2.5, -0.5)


def test_a_selected_point_gives_its_cell_as_streamlit_hands_it_over():
    assert selected_cell([{"customdata": {"0": 2, "1": 0, "2": 6}}]) == (2, 0)  # what st.plotly_chart returns
    assert selected_cell([{"customdata": [1, 2, 5]}]) == (1, 2)
    assert selected_cell([]) is None and selected_cell([{"x": "c0"}]) is None  # a click on no cell


def test_the_attribution_figure_stretches_the_layer_map_over_the_image():
    image = torch.randint(0, 256, (28, 28), dtype=torch.uint8)
    saliency, cam = torch.randn(28, 28), torch.rand(10, 10)
    fig = attribution_figure(image, saliency, cam, "Bag (90%)", "act2")
    heat = fig.data[-1]
    assert np.allclose(heat.z, cam.numpy()) and heat.dx == 2.8 and abs(heat.x0 - (-0.5 + 1.4)) < 1e-9
    signed = fig.data[2]
    assert np.allclose(signed.z, saliency.numpy()) and signed.zmin == -signed.zmax
    assert "Bag (90%)" in fig.layout.title.text and "act2 (10 x 10)" in fig.layout.annotations[2].text
