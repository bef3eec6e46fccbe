"""Parameters: the blocks of a model, every named parameter, initialisation, shared weights, save and load."""

import streamlit as st

import ui
from ui import training
from lenet import INIT_SCHEMES, LeNetConfig, count_parameters
from lenet.data import DatasetNotFoundError, load_split
from lenet.jobs import TrainingCapacityError
from lenet.parameter_figures import (
    SCHEME_COLORS,
    activation_figure,
    gradient_figure,
    histogram_grid,
    init_training_figure,
    parameter_treemap,
)
from lenet.parameters import (
    INIT_TRAINING,
    InitTrainings,
    compare_inits,
    init_code,
    init_summary,
    module_tree,
    nested_blocks,
    parameter_table,
    parameter_values,
    round_trip,
    save_load_code,
    scheme_weights,
    shared_code,
    shared_parameter_demo,
    state_dict_table,
    tree_code,
    tree_text,
)
from lenet.runs import load_run
from lenet.train import TrainSettings, preset

ui.setup_page("Parameters")
st.title("Layers, blocks and parameters")
st.caption("What a model is made of: blocks inside blocks, named tensors, how they start, how they are shared and saved.")

try:
    test = load_split("fashion-mnist", train=False)
except DatasetNotFoundError as e:
    st.error(str(e))
    st.stop()
batch = test.images[:256]

st.header("Blocks and parameters")
st.markdown(
    "A model is a tree of **blocks**: `nn.Sequential` chains layers, and a block can hold other blocks. "
    "Every learnable tensor has a name, its path through the tree (`conv1.weight`), which is what "
    "`named_parameters()` and `state_dict()` list."
)
picked = training.model_picker()
if picked is None:
    st.stop()
choice, model, dataset = picked
config = preset(choice.split(":")[1])[0] if choice in training.UNTRAINED else load_run(choice).config
tree_col, map_col = st.columns([3, 2], gap="large")
with tree_col:
    st.metric("Parameters", f"{count_parameters(model):,}")
    st.code(tree_text(model), language="text", wrap_lines=True)
with map_col:
    ui.show_figure(parameter_treemap(module_tree(model)), "parameter-treemap")
st.dataframe(parameter_table(model), hide_index=True, width="stretch", column_config={
    "count": st.column_config.NumberColumn(format="localized"),
    "share": st.column_config.ProgressColumn("share of all", format="percent", min_value=0.0, max_value=1.0),
    "mean": st.column_config.NumberColumn(format="%.4f"), "std": st.column_config.NumberColumn(format="%.4f")})
ui.show_figure(histogram_grid(parameter_values(model), "The values of every parameter tensor"), "parameter-histograms")
with st.expander("A block made of blocks (d2l's nested Sequential)", icon=":material/account_tree:"):
    nested = nested_blocks()
    left, right = st.columns(2)
    left.code(tree_text(nested), language="text", wrap_lines=True)
    right.dataframe(parameter_table(nested)[["name", "shape", "count"]], hide_index=True, height=400)
    st.markdown("The names are paths: `0.block2.0.weight` is the weight of layer 0 of `block2` inside block `0`.")
ui.show_code(tree_code())

st.header("Initialisation")
st.markdown(
    "Before training, every weight gets a starting value. The choice decides whether a signal reaches the "
    "last layer at all: too small and every layer shrinks it, too large and sigmoids saturate. Here are the "
    "curriculum's four schemes on the **classic sigmoid LeNet**, on 256 real test images."
)
classic = LeNetConfig.classic()


@st.cache_resource
def init_figures():
    """The same for everyone (fixed seed, the first 256 test images): drawn once per server."""
    return (histogram_grid(scheme_weights(classic), "Weights under each scheme (rows: default, normal, xavier, constant)",
                           colors=SCHEME_COLORS), activation_figure(compare_inits(classic, batch)))


histograms, activations = init_figures()
ui.show_figure(histograms, "init-histograms")
ui.show_figure(activations, "init-activations")
st.markdown(
    "Read the **standard deviation** row by row. With normal(0, 0.01) every sigmoid sits near 0.5 whatever the "
    "image (standard deviations of 0.006 to 0.025, 3 to 12 times smaller than with Xavier), so the output hardly "
    "depends on the input and the gradients are tiny. With a constant, the second conv's outputs are around "
    "130, its sigmoids saturate at exactly 1 for every image (standard deviation 0), and from there on every "
    "unit of a layer computes the same number: the network cannot tell images apart. PyTorch's default and "
    "Xavier keep a signal all the way to the output, Xavier a larger one in the dense layers."
)
scheme = ui.choice("Show the code for", "scheme", INIT_SCHEMES, "Which initialisation the code applies.")
ui.show_code(init_code(scheme))

st.subheader("Which schemes let the sigmoid LeNet learn?")
s = INIT_TRAINING
st.markdown(
    f"Real runs: the classic LeNet trained from each scheme on {s.subset:,} Fashion-MNIST images for "
    f"{s.epochs} epochs (SGD, learning rate {s.lr}, batch {s.batch_size}), tested on {s.test_subset:,} "
    "test images: one to three minutes on a CPU, seconds on a GPU."
)


@st.cache_resource
def init_trainings(settings: TrainSettings) -> InitTrainings:
    """One set of scheme runs for the whole server: fixed seeds and images give everyone the same curves."""
    return InitTrainings(classic, settings)


trainings = init_trainings(INIT_TRAINING)
busy = trainings.running
if not trainings.done and not busy and st.button("Train with each scheme", icon=":material/play_arrow:"):
    try:
        trainings.start(training.registry())
        st.rerun()  # draw the page again with the progress bar instead of the button
    except TrainingCapacityError as e:
        st.warning(str(e))


@st.fragment(run_every=0.5 if busy else None)
def init_results():
    job = trainings.job
    if trainings.running and job.status == "stopping":
        st.progress(trainings.progress[0], text="Stopping after this batch...")
    elif trainings.running:
        fraction, text = trainings.progress
        st.progress(fraction, text=text)
        if st.button("Stop", icon=":material/stop:", key="stop_init_trainings",
                     help="Stops for every visitor; finished schemes are kept."):
            trainings.stop()
    elif job is not None and job.error:
        st.error(f"Training failed: {job.error}")
    elif job is not None and job.stopped and not trainings.done:
        st.warning(f"Stopped with {len(trainings.runs)} of {len(INIT_SCHEMES)} schemes trained: press the button "
                   "to train the others.")
    runs = trainings.runs
    if runs:
        ui.show_figure(init_training_figure(runs), "init-training")
        st.dataframe(init_summary(runs), hide_index=True)
    elif not trainings.running:
        st.info("Press the button to train the classic LeNet once from each scheme and overlay the curves. "
                "The runs are kept on the server: whoever comes next sees them at once.")
    if busy and not trainings.running:
        st.rerun(scope="app")  # draw the page again without the button, and stop the timer


init_results()

st.header("Shared parameters")
st.markdown(
    "One layer object used twice is **one** tensor: `named_parameters()` lists it once, the parameter count "
    "counts it once, and on the backward pass the gradients of both uses **add up** in its `.grad`. d2l's "
    "example uses one `nn.Linear(8, 8)` at positions 2 and 4:"
)
demo = shared_parameter_demo()
a, b, c = st.columns(3)
a.metric("Named parameters", len(demo.names), help=", ".join(demo.names))
b.metric("Parameters", f"{demo.count:,}", help="The shared 8 x 8 weight and its 8 biases counted once.")
c.metric("With two separate layers", f"{demo.count_untied:,}", delta=f"{demo.count_untied - demo.count:,} more",
         delta_color="off")
st.markdown(f"`named_parameters()`: {', '.join(f'`{n}`' for n in demo.names)} (no `4.weight`: it is `2.weight`).")
difference = (demo.grad - (demo.grad_first + demo.grad_second)).abs().max().item()
grads = {"from the first use": demo.grad_first, "from the second use": demo.grad_second,
         "their sum": demo.grad_first + demo.grad_second, "net[2].weight.grad": demo.grad}
ui.show_figure(gradient_figure(grads, "The shared 8 x 8 weight's gradient is the sum of both uses'"), "shared-gradient")
st.success(f"Largest difference between `.grad` and the sum of the two uses: {difference:.2g}.")
ui.show_code(shared_code())

st.header("Save and load")
st.markdown(
    "Saving a model means saving its `state_dict`: every parameter and buffer (batch norm's running "
    "statistics) by name. To load it, rebuild the architecture in code, here from the run's config, and "
    "copy the tensors in by name."
)
left, right = st.columns([3, 2], gap="large")
left.dataframe(state_dict_table(model), hide_index=True, width="stretch",
               column_config={"count": st.column_config.NumberColumn(format="localized")})
trip = ui.checked(round_trip, model, config, batch)
if trip is not None:
    right.metric("Saved", f"{trip.bytes / 1024:,.0f} KB", help=f"{trip.keys} tensors in the state_dict")
    right.metric("Largest difference after loading", f"{trip.max_difference:.2g}",
                 help="Between the outputs of the model and of its rebuilt copy on 256 test images.")
    if trip.same_predictions:
        right.success("Same predictions on all 256 images after the round trip.")
    else:
        right.error("The rebuilt model predicts differently.")
ui.show_code(save_load_code(config))
