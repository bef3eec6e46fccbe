"""MLP vs CNN: how many parameters a dense layer needs for an image, against a conv layer and LeNet."""

import streamlit as st

import ui
from lenet import LeNetConfig, layer_table
from lenet.core.units import human_bytes, human_count
from lenet.lessons.mlp_vs_cnn import (
    LAYER_COLUMNS_HELP,
    LAYER_TABLE_TEXT,
    lenet_parameter_count,
    parameter_comparison,
    parameter_count_code,
    parameter_figure,
    torch_parameter_check,
)

ui.setup_page("MLP vs CNN")
st.title("Why not an MLP?")
st.markdown(
    "A fully connected layer gives every hidden unit its own weight for every input value. For a photo "
    "that is billions of weights before the network has learned anything. A convolution uses two "
    "priors instead: **translation invariance** (the same detector everywhere, so weights are shared) "
    "and **locality** (each unit looks at a small window). Its parameter count does not depend on the "
    "image size at all."
)
st.latex(
    r"\text{dense: } (c \cdot h \cdot w) \cdot n_{\text{hidden}} + n_{\text{hidden}}"
    r"\qquad \text{conv: } c_o \cdot c \cdot k^2 + c_o \qquad \text{float32: 4 bytes per parameter}"
)

ui.presets(
    {
        "12-megapixel photo (4000×3000 RGB)": dict(height=3000, width=4000, channels=3, hidden=100),
        "ImageNet size (224×224 RGB)": dict(height=224, width=224, channels=3, hidden=100),
        "Fashion-MNIST (28×28 grey)": dict(height=28, width=28, channels=1, hidden=100),
    }
)
columns = st.columns(6)
with columns[0]:
    height = ui.number("Image height", "height", 1, 10_000, 3000, "Pixels (1 to 10,000).")
with columns[1]:
    width = ui.number("Image width", "width", 1, 10_000, 4000, "Pixels (1 to 10,000).")
with columns[2]:
    channels = ui.number("Channels", "channels", 1, 4, 3, "1 for grey, 3 for RGB (1 to 4).")
with columns[3]:
    hidden = ui.number("Hidden units", "hidden", 1, 10_000, 100, "Width of the one dense hidden layer (1 to 10,000).")
with columns[4]:
    conv_channels = ui.number("Conv channels", "conv_channels", 1, 64, 6, "Output channels of the conv layer (1 to 64).")
with columns[5]:
    kernel = ui.number("Kernel size", "kernel", 1, 11, 5, "k × k kernel with 'same' padding (1 to 11).")

table = ui.checked(parameter_comparison, height, width, channels, hidden, conv_channels, kernel)
if table is not None:
    dense, conv = int(table["parameters"][0]), int(table["parameters"][2])
    a, b, c = st.columns(3)
    a.metric("Dense layer parameters", human_count(dense), help=f"{dense:,} weights and biases")
    b.metric("Dense layer memory (float32)", human_bytes(4 * dense))
    c.metric("Conv layer parameters", f"{conv:,}", help="the same for any image size")
    st.latex(
        rf"\text{{dense: }} ({channels} \cdot {height} \cdot {width}) \cdot {hidden} + {hidden} = {dense:,}"
        rf"\qquad \text{{conv: }} {conv_channels} \cdot {channels} \cdot {kernel}^2 + {conv_channels} = {conv:,}"
    )
    ui.show_figure(ui.figure(parameter_figure, table), "mlp_vs_cnn_parameters")
    st.dataframe(table, hide_index=True, column_config=ui.COUNT_COLUMNS, column_order=("layer", "parameters", "float32 memory"))
    ui.show_check(torch_parameter_check(table, height, width, channels, hidden, conv_channels, kernel))
    ui.show_code(parameter_count_code(height, width, channels, hidden, conv_channels, kernel))

st.header("LeNet, layer by layer")
st.markdown(
    "d2l's LeNet reads a 28×28 image with two conv layers and three dense ones. Most of its parameters "
    "sit in the first dense layer, which sees the 16×5×5 = 400 values the conv part leaves."
)
st.metric("LeNet parameters", f"{lenet_parameter_count():,}")
st.dataframe(layer_table(LeNetConfig.classic()), hide_index=True, height="content", column_config={
    name: st.column_config.NumberColumn(format="localized", help=text) for name, text in LAYER_COLUMNS_HELP.items()})
st.caption(LAYER_TABLE_TEXT)
