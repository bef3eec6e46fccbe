"""Inspect: what a trained (or untrained) LeNet sees, what it learned, and where it goes wrong."""

import streamlit as st

import ui
from ui import inspect_extras, runs, timeline
from lenet.data import DatasetNotFoundError, load_split
from lenet.data.images import BOX, load_uploaded_image
from lenet.inspection import PICK_HOWS, conv_filters, feature_maps, pick_image, predict_proba
from lenet.lessons.feature_maps import feature_maps_code
from lenet.plots import (
    filter_grid,
    image_grid,
    mistakes_gallery,
    per_class_accuracy_figure,
    probability_bar,
)

ui.setup_page("Inspect")
st.title("Look inside LeNet")
st.caption("Pick a model and an image: see what each layer computes, the filters it learned, and its mistakes.")

run = runs.model_picker()
if run is None:
    st.stop()
try:
    test = load_split(run.settings.dataset, train=False, data_dir=ui.environment().data_dir)
except DatasetNotFoundError as e:
    st.error(str(e))
    st.stop()

HOW_LABELS = {"index": "a test image by its number", "class": "a random image of one class", "random": "a random test image",
              "mistake": "a random mistake of the model", "upload": "a picture you upload", "draw": "a drawing of yours"}


@st.fragment
def image_and_maps() -> None:
    """The chosen image, its probabilities, which pixels decided, its feature maps: a change here reruns only this."""
    image_col, probs_col = st.columns([1, 2], gap="large")
    with image_col:
        how = ui.select("Image", "how", [*PICK_HOWS, "upload", "draw"], "Which image to run through the model.", format_func=HOW_LABELS.get)
        label = None
        if how == "upload":
            uploaded = st.file_uploader("A PNG or JPEG picture", type=["png", "jpg", "jpeg"])
            if uploaded is None:
                st.info("Upload a picture of a piece of clothing; it is converted to 28x28 grayscale like the dataset.")
                st.stop()
            try:
                image, shown = load_uploaded_image(uploaded.getvalue(), BOX.get(run.settings.dataset, 28))
            except ValueError as e:
                st.error(f"That file was refused: {e}")
                st.stop()
            st.image(shown, caption="converted to 28x28, like the dataset", width=224)
        elif how == "draw":
            image = inspect_extras.drawn_image(BOX.get(run.settings.dataset, 28))
        else:
            index = ui.number("test image", "image", 0, len(test) - 1, 0, f"Which test image (0 to {len(test) - 1:,}).",
                              disabled=how != "index")
            cls = ui.select("class", "class", test.classes, "Which class to draw an image of.", disabled=how != "class")
            seed = ui.number("seed of the random pick", "draw", 0, 10_000, 0, "The same seed picks the same image; another "
                             "seed picks another one (of the class, of the test set, or of the mistakes).", disabled=how == "index")
            try:
                evaluation = runs.evaluation_of(run) if how == "mistake" else None
                i = pick_image(test, how, index=index, label=test.classes.index(cls), seed=seed, evaluation=evaluation)
            except ValueError as e:
                st.warning(str(e))
                st.stop()
            image, label = test.images[i], int(test.labels[i])
            st.image(image.numpy(), caption=f"test image {i}: {test.classes[label]}", width=224, clamp=True)
    with probs_col:
        ui.show_figure(ui.figure(probability_bar, predict_proba(run.model, image)[0], test.classes, true_label=label), "probabilities")
    inspect_extras.attribution(run.model, image, test.classes)

    st.subheader("Feature maps, layer by layer")
    kinds = {"conv": "convolution", "act": "activation", "pool": "pooling", "bn": "batch norm"}
    shown_kinds = ui.several("Show", "show", list(kinds), ["conv", "pool"], "Which layers' outputs to draw.", format_func=kinds.get)
    for name, fmap in feature_maps(run.model, image).items():
        if name.rstrip("0123456789") in shown_kinds:
            ui.show_figure(ui.figure(image_grid, fmap, f"{name}: {' x '.join(map(str, fmap.shape))}"), f"feature-maps-{name}")
    ui.show_code(feature_maps_code(run.config, run.source if run.trained else None, run.settings.dataset,
                                   None if how in ("upload", "draw") else i, BOX.get(run.settings.dataset, 28)))


image_and_maps()

st.subheader("Learned filters")
for name, weights in conv_filters(run.model).items():
    ui.show_figure(ui.figure(filter_grid, weights, f"{name}: {' x '.join(map(str, weights.shape))}"), f"filters-{name}")

st.subheader("Training timeline")
st.caption("The first layer's filters, and its feature maps of a few fixed test images, kept before training, "
           "at 1/8, 1/4 and 1/2 of the first epoch, and after every epoch.")
timeline.timeline_player(run, test.classes)

st.subheader("On the whole test set")


def whole_test_set(evaluation) -> None:
    st.markdown(f"Test accuracy: **{evaluation.accuracy:.1%}** on {len(test):,} images.")
    inspect_extras.confusion_explorer(evaluation, test)
    ui.show_figure(ui.figure(per_class_accuracy_figure, evaluation.per_class_accuracy(), evaluation.accuracy),
                   "per-class-accuracy")
    mistakes = evaluation.most_confident_mistakes(16)
    if len(mistakes):
        ui.show_figure(ui.figure(mistakes_gallery, test.images[mistakes["index"].tolist()], mistakes["true"],
                                 mistakes["predicted"], mistakes["confidence"], test.classes), "mistakes")


runs.when_evaluated(run, whole_test_set)
