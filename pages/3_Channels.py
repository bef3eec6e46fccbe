"""Channels: one kernel slice per input channel, one kernel stack per output channel, and 1x1 convolution."""

import streamlit as st

import ui
from ui import as_matrix
from lenet import conv_output_shape, conv_parameter_count, corr2d_1x1, corr2d_multi_in
from lenet.lessons.channels import (
    channels_code,
    channels_figure,
    example_channels,
    matmul_difference,
    one_by_one_code,
    one_by_one_figure,
    one_by_one_kernel,
    per_channel_correlations,
    STAR_TEXT,
    torch_difference,
)

ui.setup_page("Channels")
st.title("Channels")
st.markdown(
    "A colour image has 3 channels and every conv layer makes many. With $c_i$ input channels the kernel "
    "has one $k_h \\times k_w$ slice per input channel: correlate each channel with its slice and **add the "
    "results**. For $c_o$ output channels, stack $c_o$ such kernels: the kernel tensor is "
    "$c_o \\times c_i \\times k_h \\times k_w$, plus one bias per output channel."
)
st.latex(r"Y[o] = \sum_{c=1}^{c_i} X[c] \star K[o, c] \qquad \text{parameters} = c_o\, c_i\, k_h\, k_w + c_o")
st.caption(STAR_TEXT)

columns = st.columns(4)
with columns[0]:
    c_i = ui.number("Input channels", "c_i", 1, 4, 2, "c_i: channels of the input (1 to 4).")
with columns[1]:
    c_o = ui.number("Output channels", "c_o", 1, 4, 1, "c_o: channels the layer makes, one kernel stack each (1 to 4).")
with columns[2]:
    n = ui.number("Input size", "n", 2, 5, 3, "Height and width of each input channel (2 to 5).")
with columns[3]:
    k = ui.number("Kernel size", "k", 1, 5, 2, "Height and width of each kernel slice (1 to 5).")
st.caption("The example holds small whole numbers, as in d2l: X[c] = 0, 1, 2, ... + c and K[o, c] = 0, 1, 2, ... + c + o.")

X, K = example_channels(c_i, c_o, n, k)
a, b, c = st.columns(3)
a.metric("Kernel tensor shape", " × ".join(map(str, K.shape)), help="output channels × input channels × kernel height × kernel width")
b.metric("Parameters", f"{conv_parameter_count(c_i, c_o, k):,}", help="weights plus one bias per output channel")
out_hw = ui.checked(conv_output_shape, n, k)
if out_hw is not None:
    c.metric("Output shape", f"{c_o} × {out_hw[0]} × {out_hw[1]}")
    st.latex(rf"\text{{parameters}} = {c_o} \cdot {c_i} \cdot {k} \cdot {k} + {c_o} = {conv_parameter_count(c_i, c_o, k):,}")

    st.header("The sum over input channels")
    with st.columns(4)[0]:
        o = ui.number("Output channel to explain", "o", 0, c_o - 1, 0, "Which output channel to build, channel by channel.")
    figure = ui.figure(channels_figure, X, K, o, per_channel_correlations(X, K[o]), corr2d_multi_in(X, K[o]))
    ui.show_figure(figure, "channels_sum")
    ui.show_check(torch_difference(X, K))
    ui.show_code(channels_code(c_i, c_o, n, k))

st.header("1×1 convolution is a matrix multiply")
st.markdown(
    "A $1 \\times 1$ kernel sees one pixel, so it finds no spatial pattern: it only **mixes channels**, "
    "the same way at every pixel. That is a fully connected layer applied pixel by pixel: reshape X to "
    "$c_i \\times (h \\cdot w)$ and multiply by the $c_o \\times c_i$ weight matrix."
)
K1 = one_by_one_kernel(c_i, c_o)
Y1 = corr2d_1x1(X, K1)
ui.show_figure(ui.figure(one_by_one_figure, X, K1, Y1), "one_by_one_convolution")
ui.show_check(matmul_difference(X, K1))
ui.show_code(one_by_one_code(c_i, c_o, n))

if out_hw is not None:
    as_matrix.show(X, K)
