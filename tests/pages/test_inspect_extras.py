"""Inspect's extras through AppTest: a drawing as the image, which pixels decided, a confusion-matrix cell opened.

AppTest cannot draw on the pad or click a chart: the pad's and the chart's states are set as the browser would send
them (tests/browser/test_browser_inspect.py draws and clicks for real).
"""

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from helpers import INSPECT
from lenet.data import load_split

pytestmark = pytest.mark.usefixtures("runs_dir")


def titles(at):
    return [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]


def shape(z) -> tuple:
    """A figure's array, written as a list of lists or as plotly's typed array {"dtype", "bdata", "shape": "28, 28"}."""
    return tuple(map(int, z["shape"].split(","))) if isinstance(z, dict) else np.shape(z)


def pad_state(rgba: np.ndarray) -> dict:
    """What the drawing pad sends after a stroke: its Fabric.js objects and the canvas as a PNG data URL."""
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return {"drawing": {"raw": {"objects": [{"type": "path"}]}, "data": url}, "backgroundFit": None}


def test_a_drawing_is_the_image_the_model_and_its_maps_follow():
    at = AppTest.from_file(INSPECT, default_timeout=120).run()
    at.selectbox(key="how").set_value("draw").run()
    assert not at.exception and any("Draw a piece of clothing" in i.value for i in at.info)
    assert not any("conv1:" in t for t in titles(at)), "no maps before anything is drawn"

    rgba = np.full((280, 280, 4), 255, dtype=np.uint8)
    rgba[60:220, 100:180, :3] = 0  # a dark block drawn on the white pad
    at.session_state["drawing"] = pad_state(rgba)
    at.run()
    assert not at.exception and not at.error
    assert any("your drawing, converted to 28x28" in i.caption for i in at.get("image")[0].proto.imgs)
    assert any("conv1: 6 x 28 x 28" in t for t in titles(at)) and any("Which pixels decided" in t for t in titles(at))


def test_the_attribution_follows_the_predicted_or_the_picked_class():
    at = AppTest.from_file(INSPECT, default_timeout=120).run()
    assert not at.exception
    subtitle = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["title"]["subtitle"]["text"]
    predicted = subtitle.removeprefix("predicted: ").split(" (")[0]  # the probability chart's "predicted: Dress (23.0%)"
    assert any(t.startswith(f"Which pixels decided '{predicted} (") for t in titles(at))
    at.selectbox(key="explain").set_value("Sandal").run()
    assert not at.exception and any(t.startswith("Which pixels decided 'Sandal (") for t in titles(at))
    figure = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "Which pixels" in c.proto.spec)
    assert [shape(trace["z"]) for trace in figure["data"]] == [(28, 28)] * 4 + [(10, 10)]  # the image, Grad-CAM


def test_a_clicked_cell_shows_its_images_and_opens_one_at_the_top():
    at = AppTest.from_file(INSPECT, default_timeout=120).run()
    assert any("Click a cell" in c.value for c in at.caption) and any("Most confused" in m.value for m in at.markdown)
    classes = load_split("fashion-mnist", train=False).classes
    pairs = at.dataframe[0].value  # the most confused pairs: click the first one's cell
    true, predicted, count = pairs.iloc[0]
    t, p = classes.index(true), classes.index(predicted)
    point = {"curve_number": 1, "point_number": t * 10 + p, "point_index": t * 10 + p, "x": predicted, "y": true,
             "customdata": {"0": t, "1": p, "2": int(count)}}
    at.session_state["confusion_click"] = {"selection": {"points": [point], "point_indices": [t * 10 + p], "box": [],
                                                         "lasso": []}}
    at.run()
    assert not at.exception
    heading = next(m.value for m in at.markdown if m.value.startswith("**True"))
    assert heading.startswith(f"**True {true}, predicted {predicted}: {count:,} images")
    opens = [b for b in at.button if (b.key or "").startswith("open_")]
    assert 0 < len(opens) <= 12
    index = int(opens[-1].key.removeprefix("open_"))
    opens[-1].click().run()
    assert not at.exception
    assert at.selectbox(key="how").value == "index" and at.number_input(key="image").value == index
    assert at.get("image")[0].proto.imgs[0].caption == f"test image {index}: {true}"
