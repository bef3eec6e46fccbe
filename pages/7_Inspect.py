"""Inspect: what a trained (or untrained) LeNet sees, what it learned, and where it goes wrong."""

import math

import streamlit as st

import ui
from ui import training
from lenet.data import DatasetNotFoundError, load_split
from lenet.figures import png_config
from lenet.images import BOX, load_uploaded_image
from lenet.inspection import PICK_HOWS, conv_filters, feature_maps, pick_image, predict_proba
from lenet.model_figures import (
    confusion_matrix_figure,
    filter_grid,
    image_grid,
    mistakes_gallery,
    per_class_accuracy_figure,
    probability_bar,
    training_curves,
)
from lenet.runs import load_run, load_timeline

ui.setup_page("Inspect")
st.title("Look inside LeNet")
st.caption("Pick a model and an image: see what each layer computes, the filters it learned, and its mistakes.")

picked = training.model_picker()
if picked is None:
    st.stop()
choice, model, dataset = picked
try:
    test = load_split(dataset, train=False)
except DatasetNotFoundError as e:
    st.error(str(e))
    st.stop()

HOW_LABELS = {"index": "by index", "class": "by class", "random": "random", "mistake": "a mistake", "upload": "upload"}
image_col, probs_col = st.columns([1, 2], gap="large")
with image_col:
    how = st.radio("Image", [*PICK_HOWS, "upload"], format_func=HOW_LABELS.get, horizontal=True)
    label = None
    if how == "upload":
        uploaded = st.file_uploader("A PNG or JPEG picture", type=["png", "jpg", "jpeg"])
        if uploaded is None:
            st.info("Upload a picture of a piece of clothing; it is converted to 28x28 grayscale like the dataset.")
            st.stop()
        try:
            image, shown = load_uploaded_image(uploaded.getvalue(), BOX.get(dataset, 28))
        except ValueError as e:
            st.error(f"That file was refused: {e}")
            st.stop()
        st.image(shown, caption="converted to 28x28, like the dataset", width=224)
    else:
        index = st.number_input("test image", 0, len(test) - 1, 0, disabled=how != "index")
        cls = st.selectbox("class", range(len(test.classes)), format_func=lambda i: test.classes[i],
                           disabled=how != "class")
        seed = st.number_input("draw", 0, 10_000, 0, help="Another number draws another image.",
                               disabled=how in ("index",))
        try:
            evaluation = training.evaluation_of(choice) if how == "mistake" else None
            i = pick_image(test, how, index=int(index), label=int(cls), seed=int(seed), evaluation=evaluation)
        except ValueError as e:
            st.warning(str(e))
            st.stop()
        image, label = test.images[i], int(test.labels[i])
        st.image(image.numpy(), caption=f"test image {i}: {test.classes[label]}", width=224, clamp=True)
with probs_col:
    probs = predict_proba(model, image)[0]
    st.plotly_chart(probability_bar(probs, test.classes, true_label=label), width="stretch",
                    config=png_config("probabilities"))

st.subheader("Feature maps, layer by layer")
maps = feature_maps(model, image)
kinds = {"conv": "convolution", "act": "activation", "pool": "pooling", "bn": "batch norm"}
shown_kinds = st.multiselect("Show", list(kinds), default=["conv", "pool"], format_func=kinds.get)
for name, fmap in maps.items():
    if name.rstrip("0123456789") in shown_kinds:
        st.plotly_chart(image_grid(fmap, f"{name}: {' x '.join(map(str, fmap.shape))}"), width="stretch",
                        config=png_config(f"feature-maps-{name}"))

st.subheader("Learned filters")
for name, weights in conv_filters(model).items():
    st.plotly_chart(filter_grid(weights, f"{name}: {' x '.join(map(str, weights.shape))}"), width="stretch",
                    config=png_config(f"filters-{name}"))


PLAY_SECONDS = 1.0  # one snapshot a second while playing
playing = st.session_state.setdefault("timeline_playing", False)  # the timer below runs only while playing


def toggle_play(last: int) -> None:
    st.session_state.timeline_playing = not st.session_state.timeline_playing
    st.session_state.timeline_hold = True  # show the snapshot we start from before moving on
    if st.session_state.timeline_playing and st.session_state.get("timeline_at", last) >= last:
        st.session_state.timeline_at = 0  # play again from the start
    if not st.session_state.timeline_playing:
        st.session_state.timeline_step = st.session_state.get("timeline_at", last)  # the slider stays where we paused


@st.fragment(run_every=PLAY_SECONDS if playing else None)
def timeline_view(timeline, history, classes):
    """The epoch slider: the snapshot's filters and feature maps beside the curves; each timer tick moves it on.

    The snapshot shown lives in timeline_at, not in the slider: while playing, the slider is redrawn as a new,
    disabled widget each tick, so a value still on its way from the browser cannot pull the player back.
    """
    last = len(timeline) - 1
    step = min(st.session_state.get("timeline_at", last), last)
    if not st.session_state.pop("timeline_hold", False) and st.session_state.timeline_playing:
        step = min(step + 1, last)
        st.session_state.timeline_playing = step < last
    options, label = list(range(len(timeline))), lambda i: f"{timeline.epochs[i]:.3g}"
    if st.session_state.timeline_playing:
        st.select_slider("Epoch", options, value=step, format_func=label, disabled=True)
    else:
        if playing or st.session_state.get("timeline_step") not in options:  # just stopped, first shown, other run
            st.session_state.timeline_step = step
        step = st.select_slider("Epoch", options, format_func=label, key="timeline_step",
                                help="0: before training; 0.25: a quarter into epoch 1; 1: after epoch 1.")
    st.session_state.timeline_at = step
    if st.session_state.timeline_playing != playing:
        st.rerun(scope="app")  # start or stop the timer
    epoch, acc = timeline.epochs[step], timeline.train_acc[step]
    st.caption(f"Epoch {epoch:.3g}: " + ("the initial weights, before any training." if math.isnan(acc) else
                                         f"train accuracy so far {acc:.1%}, loss {timeline.train_loss[step]:.3f}."))
    curve_col, filters_col = st.columns(2, gap="large")
    curve_col.plotly_chart(training_curves(history, title="Training, with the snapshot marked", marker=epoch),
                           width="stretch", config=png_config("timeline-curves"))
    filters_col.plotly_chart(filter_grid(timeline.filters[step], f"conv1 filters at epoch {epoch:.3g}"),
                             width="stretch", config=png_config("timeline-filters"))
    maps = timeline.maps[step]
    names = [f"{classes[label]}, channel {c}" for label in timeline.labels.tolist() for c in range(maps.shape[1])]
    st.plotly_chart(image_grid(maps.flatten(0, 1), f"conv1 feature maps at epoch {epoch:.3g}", names,
                               columns=maps.shape[1]), width="stretch", config=png_config("timeline-feature-maps"))


st.subheader("Training timeline")
st.caption("The first layer's filters, and its feature maps of a few fixed test images, kept before training, "
           "at 1/8, 1/4 and 1/2 of the first epoch, and after every epoch.")
try:
    timeline = None if choice in training.UNTRAINED else load_timeline(choice)
except ValueError as e:
    st.warning(f"This run's snapshots cannot be read, so there is no timeline: {e}")
    timeline = None
if timeline is None:
    st.info("This model has no snapshots: train a run with **keep snapshots** ticked to watch its filters form.")
else:
    images_col, button_col = st.columns([6, 1], vertical_alignment="center")
    images_col.image([image.numpy() for image in timeline.images], width=84,
                     caption=[f"test image {i}: {test.classes[label]}"
                              for i, label in zip(timeline.image_indices.tolist(), timeline.labels.tolist())])
    button_col.button("Pause" if playing else "Play", icon=":material/pause:" if playing else ":material/play_arrow:",
                      on_click=toggle_play, args=(len(timeline) - 1,), width="stretch",
                      help=f"Step through the snapshots, one every {PLAY_SECONDS:g} s.")
    timeline_view(timeline, load_run(choice).history, test.classes)

st.subheader("On the whole test set")
evaluation = training.evaluation_of(choice)
st.markdown(f"Test accuracy: **{evaluation.accuracy:.1%}** on {len(test):,} images.")
left, right = st.columns(2, gap="large")
left.plotly_chart(confusion_matrix_figure(evaluation.confusion_matrix()), width="stretch",
                  config=png_config("confusion-matrix"))
right.plotly_chart(per_class_accuracy_figure(evaluation.per_class_accuracy(), evaluation.accuracy),
                   width="stretch", config=png_config("per-class-accuracy"))
mistakes = evaluation.most_confident_mistakes(16)
if len(mistakes):
    st.plotly_chart(mistakes_gallery(test.images[mistakes["index"].tolist()], mistakes["true"], mistakes["predicted"],
                                     mistakes["confidence"], test.classes), width="stretch",
                    config=png_config("mistakes"))
