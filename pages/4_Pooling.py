"""Pooling: max and average over a window, with padding and stride, and why it tolerates small shifts."""

import streamlit as st

import ui
from lenet import EDGE_KERNEL, edge_image, pool2d, pool_output_shape
from lenet.lessons.grids import format_matrix, parse_matrix, sliding_window_figure, step_to_cell
from lenet.lessons.pooling import pool_arithmetic, pooling_code, shift_code, shift_demo, shift_figure, torch_pool_check

ui.setup_page("Pooling")
st.title("Pooling")
st.markdown(
    "A pooling layer slides a window like a convolution but has **no parameters**: it takes the "
    "**maximum** or the **average** of the window. It works on each channel on its own, so it keeps the "
    "number of channels. Padding and stride work as for convolution; padding counts as $-\\infty$ for "
    "max pooling and as 0 for average pooling. Careful: d2l's `pool2d` moves one step at a time, while "
    "PyTorch's `nn.MaxPool2d(3)` moves by the window size unless you give `stride=`."
)

FOUR_BY_FOUR = "0 1 2 3; 4 5 6 7; 8 9 10 11; 12 13 14 15"
ui.presets(
    {
        "2×2 max, stride 1 (d2l)": dict(X="0 1 2; 3 4 5; 6 7 8", mode="max", k_h=2, k_w=2, p_h=0, p_w=0, s_h=1, s_w=1),
        "2×2 average, stride 1 (d2l)": dict(X="0 1 2; 3 4 5; 6 7 8", mode="avg", k_h=2, k_w=2, p_h=0, p_w=0, s_h=1, s_w=1),
        "MaxPool2d(3)": dict(X=FOUR_BY_FOUR, mode="max", k_h=3, k_w=3, p_h=0, p_w=0, s_h=3, s_w=3),
        "MaxPool2d(3, padding=1, stride=2)": dict(X=FOUR_BY_FOUR, mode="max", k_h=3, k_w=3, p_h=1, p_w=1, s_h=2, s_w=2),
        "MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))": dict(X=FOUR_BY_FOUR, mode="max", k_h=2, k_w=3, p_h=0, p_w=1, s_h=2, s_w=3),
    },
    "The curriculum's examples",
)
left, right = st.columns([3, 1])
with left:
    x_text = ui.text("Input X", "X", "0 1 2; 3 4 5; 6 7 8", "Numbers separated by spaces, rows by ';' (at most 10 x 10).")
with right:
    mode = ui.choice("Pooling", "mode", ("max", "avg"), "max takes the largest value in the window, avg the mean.")
per_axis = []
for axis in ("height", "width"):
    a = axis[0]
    columns = st.columns(3)
    with columns[0]:
        k = ui.number(f"Window {axis}", f"k_{a}", 1, 4, 2, "Size of the pooling window (1 to 4).")
    with columns[1]:
        p = ui.number(f"Padding {axis}", f"p_{a}", 0, 2, 0, "Added on each side; at most half the window (0 to 2).")
    with columns[2]:
        s = ui.number(f"Stride {axis}", f"s_{a}", 1, 4, 1, "How far the window moves each step (1 to 4).")
    per_axis.append((k, p, s))
k, p, s = zip(*per_axis)

X = ui.checked(parse_matrix, x_text, "Input X")
out_hw = ui.checked(pool_output_shape, tuple(X.shape), k, p, s) if X is not None else None
if out_hw is not None:
    Y = pool2d(X, k, mode, p, s)
    left, right = st.columns([3, 1])
    with left:
        step = ui.step_slider("Window position", "step", out_hw[0] * out_hw[1], "Which output value to build, row by row.")
    right.metric("Output shape", f"{out_hw[0]} × {out_hw[1]}")
    cell = step_to_cell(step, out_hw)
    st.markdown(f"**Y[{cell[0]}, {cell[1]}]** = {pool_arithmetic(X, k, mode, p, s, cell)}")
    figure = ui.figure(
        sliding_window_figure,
        X, Y, cell, k, p, s, title=f"{'Max' if mode == 'max' else 'Average'} pooling, window {step} of {Y.numel()}",
        padding_label="-∞" if mode == "max" else "0",
    )
    ui.show_figure(figure, "pooling")
    st.markdown(f"Output Y = `{format_matrix(Y)}`")
    ui.show_check(torch_pool_check(X, Y, k, mode, p, s))
    ui.show_code(pooling_code(X, k, mode, p, s))

st.header("Pooling tolerates small shifts")
st.markdown(
    "Take the edge image (white, black, white), find its vertical edges with $K = [1, -1]$, and move the "
    "image a pixel to the right. Every edge in the conv output moves with it. After pooling (max or "
    "average, as chosen above), a value only changes when the edge leaves its window, so fewer outputs change."
)
columns = st.columns(3)
with columns[0]:
    shift = ui.number("Shift (pixels)", "shift", 0, 3, 1, "How far the image moves to the right; the last columns wrap round to the front.")
with columns[1]:
    window = ui.number("Pooling window", "demo_k", 1, 4, 2, "Square window of the pooling after the conv (1 to 4).")
with columns[2]:
    stride = ui.number("Pooling stride", "demo_s", 1, 4, 1, "1 as in d2l's pool2d; the window size as in nn.MaxPool2d's default.")
demo = ui.checked(shift_demo, edge_image(), EDGE_KERNEL, window, mode, stride, shift)
if demo is not None:
    a, b = st.columns(2)
    a.metric("Conv outputs that changed", f"{len(demo.conv_changed)} of {demo.conv.numel()}")
    b.metric("Pooled outputs that changed", f"{len(demo.pooled_changed)} of {demo.pooled.numel()}")
    ui.show_figure(ui.figure(shift_figure, demo, shift), "pooling_shift")
    ui.show_code(shift_code(window, mode, stride, shift))
