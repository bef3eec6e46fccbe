"""Parameters: the blocks of a model, every named parameter, initialisation, shared weights, save and load."""

import streamlit as st

import ui
from ui import jobs, runs
from lenet import INIT_SCHEMES, LeNetConfig, count_parameters
from lenet.data import DatasetNotFoundError, load_split
from lenet.lessons import initialisation as init
from lenet.lessons import parameters as lesson
from lenet.training import TrainSettings

ui.setup_page("Parameters")
st.title("Layers, blocks and parameters")
st.caption("What a model is made of: blocks inside blocks, named tensors, how they start, how they are shared and saved.")

try:
    test = load_split("fashion-mnist", train=False, data_dir=ui.environment().data_dir)
except DatasetNotFoundError as e:
    st.error(str(e))
    st.stop()
batch = test.images[:256]

st.header("Blocks and parameters")
st.markdown(lesson.BLOCKS_TEXT)
run = runs.model_picker()
if run is None:
    st.stop()
tree_col, map_col = st.columns([3, 2], gap="large")
with tree_col:
    st.metric("Parameters", f"{count_parameters(run.model):,}")
    st.code(lesson.tree_text(run.model, width=50), language="text", wrap_lines=True)
with map_col:
    ui.show_figure(ui.figure(lesson.parameter_treemap, lesson.module_tree(run.model)), "parameter-treemap")
st.dataframe(lesson.parameter_table(run.model), hide_index=True, width="stretch", column_config={
    "count": st.column_config.NumberColumn(format="localized"),
    "share": st.column_config.ProgressColumn("share of all", format="percent", min_value=0.0, max_value=1.0),
    "mean": st.column_config.NumberColumn(format="%.4f"), "std": st.column_config.NumberColumn(format="%.4f")})
ui.show_figure(ui.figure(lesson.histogram_grid, lesson.parameter_values(run.model), "The values of every parameter tensor"),
               "parameter-histograms")
with st.expander("A block made of blocks (d2l's nested Sequential)", icon=":material/account_tree:"):
    nested = lesson.nested_blocks()
    left, right = st.columns(2)
    left.code(lesson.tree_text(nested, width=44), language="text", wrap_lines=True)
    right.dataframe(lesson.parameter_table(nested)[["name", "shape", "count"]], hide_index=True, height=400)
    st.markdown("The names are paths: `0.block2.0.weight` is the weight of layer 0 of `block2` inside block `0`.")
ui.show_code(lesson.tree_code())

st.header("Initialisation")
st.markdown(init.INTRO_TEXT)
classic = LeNetConfig.classic()


@st.cache_resource
def init_figures():
    """The same for everyone (fixed seed, the first 256 test images): drawn once per server."""
    return (lesson.histogram_grid(init.scheme_weights(classic), "Weights under each scheme (rows: default, normal, xavier, "
                           "constant)", colors=init.SCHEME_COLORS), init.activation_figure(init.compare_inits(classic, batch)))


histograms, activations = init_figures()
ui.show_figure(histograms, "init-histograms")
ui.show_figure(activations, "init-activations")
st.markdown(init.READING_TEXT)
scheme = ui.choice("Show the code for", "scheme", INIT_SCHEMES, "Which initialisation the code applies.")
ui.show_code(init.init_code(scheme))

st.subheader("Which schemes let the sigmoid LeNet learn?")
st.markdown(init.trainings_text(init.INIT_TRAINING))


@st.cache_resource
def init_trainings(settings: TrainSettings) -> init.InitTrainings:
    """One set of scheme runs for the whole server: fixed seeds and images give everyone the same curves."""
    return init.InitTrainings(classic, settings)


jobs.scheme_trainings(init_trainings(init.INIT_TRAINING))

st.header("Shared parameters")
st.markdown(lesson.SHARED_TEXT)
demo = lesson.shared_parameter_demo()
a, b, c = st.columns(3)
a.metric("Named parameters", len(demo.names), help=", ".join(demo.names))
b.metric("Parameters", f"{demo.count:,}", help="The shared 8 x 8 weight and its 8 biases counted once.")
c.metric("With two separate layers", f"{demo.count_untied:,}", delta=f"{demo.count_untied - demo.count:,} more",
         delta_color="off")
st.markdown(f"`named_parameters()`: {', '.join(f'`{n}`' for n in demo.names)} (no `4.weight`: it is `2.weight`).")
grads = {"from the first use": demo.grad_first, "from the second use": demo.grad_second,
         "their sum": demo.grad_first + demo.grad_second, "net[2].weight.grad": demo.grad}
ui.show_figure(ui.figure(lesson.gradient_figure, grads, "The shared 8 x 8 weight's gradient is the sum of both uses'"), "shared-gradient")
st.success(f"Largest difference between `.grad` and the sum of the two uses: {demo.largest_difference:.2g}.")
ui.show_code(lesson.shared_code())

st.header("Save and load")
st.markdown(lesson.SAVE_LOAD_TEXT)
left, right = st.columns([3, 2], gap="large")
left.dataframe(lesson.state_dict_table(run.model), hide_index=True, width="stretch",
               column_config={"count": st.column_config.NumberColumn(format="localized")})
trip = ui.checked(lesson.round_trip, run.model, run.config, batch)
if trip is not None:
    right.metric("Saved", f"{trip.bytes / 1024:,.0f} KB", help=f"{trip.keys} tensors in the state_dict")
    right.metric("Largest difference after loading", f"{trip.max_difference:.2g}",
                 help="Between the outputs of the model and of its rebuilt copy on 256 test images.")
    if trip.same_predictions:
        right.success("Same predictions on all 256 images after the round trip.")
    else:
        right.error("The rebuilt model predicts differently.")
ui.show_code(lesson.save_load_code(run.config))
