"""Inspect's extras: a drawing pad as an image source, which pixels decided, and a confusion matrix to click."""

from __future__ import annotations

from typing import Sequence

import streamlit as st
import torch
from streamlit_drawable_canvas import st_canvas
from torch import nn

import ui
from ui import page_state
from lenet.attribution import cam_layer, grad_cam, gradient_x_input
from lenet.data import Split
from lenet.data.images import load_drawn_image
from lenet.inspect_plots import attribution_figure, clickable_cells, selected_cell
from lenet.inspection import Evaluation, predict_proba
from lenet.plots import confusion_matrix_figure

PAD = 224  # the drawing pad's side in screen pixels: as wide as the image shown, fits the narrow column
PEN = 18  # pixels of the pen: a 2-pixel stroke once a drawing that fills the pad is shrunk to 28 x 28
PREDICTED = "the predicted class"
CELL_IMAGES, CELL_COLUMNS = 12, 6
MOST_CONFUSED = 10  # st.dataframe shows ten rows without a scroll bar, in presentation mode too
ATTRIBUTION_NOTE = ("Gradient x input: how much each pixel, times the score's gradient there, adds to (red) or takes "
                    "from (blue) the class's score. Grad-CAM: the last conv layer's activated channels ({layer}) "
                    "weighted by their mean gradient, negative parts cut off: bright where that layer saw evidence "
                    "for the class. Both computed with captum.")
ZERO_CAM = " Here Grad-CAM is zero everywhere: at every place the evidence against the class outweighs that for it."
MATRIX_HEIGHT = 560  # square cells in two thirds of a wide page, 1280 pixels across


def drawn_image(box: int) -> torch.Tensor:
    """A drawing pad whose drawing is converted like an upload; stops the page until something is drawn."""
    st.space("small")  # room for the pad's toolbar, which floats above it
    pad = st_canvas(stroke_width=PEN, stroke_color="#000000", background_color="#ffffff", height=PAD, width=PAD,
                    drawing_mode="freedraw", update_streamlit=True, return_image_data=True, key="drawing")
    if not (pad.json_data or {}).get("objects") or pad.image_data is None:
        st.info("Draw a piece of clothing on the pad (its toolbar undoes and clears): the probabilities and the "
                "feature maps follow every stroke.")
        st.stop()
    converted = ui.checked(load_drawn_image, pad.image_data, box)
    if converted is None:
        st.stop()
    st.image(converted[1], caption="your drawing, converted to 28x28 like the dataset", width=224)
    return converted[0]


def attribution(model: nn.Module, image: torch.Tensor, classes: Sequence[str]) -> None:
    """Gradient x input and Grad-CAM over the image, for the predicted class or one the user picks."""
    st.subheader("Which pixels decided")
    picked = ui.select("Explain the score of", "explain", [PREDICTED, *classes],
                       "Which class's output to trace back to the pixels: the model's prediction, or another class "
                       "(why not a shirt?).")
    probs = predict_proba(model, image)[0]
    target = int(probs.argmax()) if picked == PREDICTED else list(classes).index(picked)
    saliency = ui.checked(gradient_x_input, model, image, target)
    cam = ui.checked(grad_cam, model, image, target)
    if saliency is None or cam is None:
        return
    name = f"{classes[target]} ({probs[target]:.0%})"
    layer = cam_layer(model)[0]
    ui.show_figure(attribution_figure(image, saliency, cam, name, layer), "attribution")
    st.caption(ATTRIBUTION_NOTE.format(layer=layer) + (ZERO_CAM if cam.max() == 0 else ""))


def _open(index: int) -> None:
    page_state.remember({"how": "index", "image": index})
    st.toast(f"Test image {index} is now the image at the top of the page.", icon=":material/arrow_upward:")
    st.rerun(scope="app")  # the explorer is drawn in a fragment: the image at the top must follow too


def confusion_explorer(evaluation: Evaluation, test: Split) -> None:
    """The confusion matrix, whose cells a click opens, beside the most confused pairs."""
    cm = evaluation.confusion_matrix()
    matrix_col, table_col = st.columns([2, 1], gap="medium")
    with matrix_col:
        fig = clickable_cells(confusion_matrix_figure(cm), cm).update_layout(height=MATRIX_HEIGHT)
        event = st.plotly_chart(ui.slide_figure(fig) if ui.presenting() else fig, width="stretch",
                                config=ui.png_config("confusion-matrix"), on_select="rerun",
                                selection_mode="points", key="confusion_click")
    with table_col:
        st.markdown("**Most confused pairs**")
        st.dataframe(evaluation.most_confused().head(MOST_CONFUSED), hide_index=True, width="stretch")
    cell = selected_cell((event or {}).get("selection", {}).get("points", []))
    if cell is None:
        st.caption("Click a cell of the matrix to see its images, and open any of them above.")
        return
    true, predicted = cell
    images = evaluation.cell(true, predicted)
    st.markdown(f"**True {test.classes[true]}, predicted {test.classes[predicted]}: {len(images):,} images**"
                + (f" (the {CELL_IMAGES} surest shown)" if len(images) > CELL_IMAGES else ""))
    if images.empty:
        return
    columns = st.columns(CELL_COLUMNS)
    for k, (index, confidence) in enumerate(images.head(CELL_IMAGES).itertuples(index=False)):
        with columns[k % CELL_COLUMNS]:
            st.image(test.images[int(index)].numpy(), caption=f"#{index}: {confidence:.0%} sure", width=96)
            st.button("Open", key=f"open_{index}", on_click=_open, args=(int(index),),
                      help="Show this image's feature maps and attributions at the top of the page.")
