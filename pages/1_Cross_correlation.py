"""Cross-correlation: slide a kernel over an input, edge detection, and learning a kernel back."""

import streamlit as st

import ui
from ui import as_matrix
from lenet import EDGE_KERNEL, conv_output_shape, convolve2d, corr2d, edge_image, learn_kernel
from lenet.lessons import cross_correlation as lesson
from lenet.lessons.grids import format_matrix, matrix_grid_figure, parse_matrix, sliding_window_figure, step_to_cell

ui.setup_page("Cross-correlation")
st.title("Cross-correlation")
st.markdown(
    "What deep learning calls a *convolution* is a **cross-correlation**: put the kernel $K$ on the "
    "input $X$, multiply the numbers that lie on top of each other, add them up, and move the kernel "
    "one step. Every output value comes from one window."
)
st.latex(
    r"Y[i, j] = \sum_{a} \sum_{b} X[i + a,\, j + b]\; K[a, b]"
    r"\qquad \text{output size} = (n_h - k_h + 1) \times (n_w - k_w + 1)"
)

st.header("Slide the window")
OPERATIONS = ("cross-correlation", "convolution")
flip = ui.choice(
    "Operation", "op", OPERATIONS,
    "Convolution proper reads the kernel backwards: it is cross-correlation with K flipped up-down and "
    "left-right. A learned kernel simply learns the flipped values, so deep learning uses cross-correlation.",
) == OPERATIONS[1]
if flip:
    st.latex(r"\begin{gathered}(f * g)(m, n) = \sum_{h} \sum_{k} f(h, k)\, g(m - h, n - k) \\"
             r"Y[i, j] = \sum_{a} \sum_{b} X[i + a,\, j + b]\; K[k_h - 1 - a,\, k_w - 1 - b]\end{gathered}")
left, right = st.columns(2)
with left:
    x_text = ui.text("Input X", "X", "0 1 2; 3 4 5; 6 7 8", "Numbers separated by spaces, rows by ';' (at most 10 x 10).")
with right:
    k_text = ui.text("Kernel K", "K", "0 1; 2 3", "Numbers separated by spaces, rows by ';' (at most 10 x 10).")
X, K = ui.checked(parse_matrix, x_text, "Input X"), ui.checked(parse_matrix, k_text, "Kernel K")
out_hw = ui.checked(conv_output_shape, tuple(X.shape), tuple(K.shape)) if X is not None and K is not None else None
if out_hw is not None:
    Y = convolve2d(X, K) if flip else corr2d(X, K)
    kernel = K.flip(0, 1) if flip else K
    left, right = st.columns([3, 1])
    with left:
        step = ui.step_slider("Window position", "step", out_hw[0] * out_hw[1], "Which output value to build, row by row.")
    right.metric("Output shape", f"{out_hw[0]} × {out_hw[1]}")
    cell = step_to_cell(step, out_hw)
    if flip:
        st.markdown(f"**Y[{cell[0]}, {cell[1]}]** = {lesson.convolution_terms(tuple(K.shape), cell)}")
        st.markdown(f"= {lesson.window_arithmetic(X, kernel, cell)}")
    else:
        st.markdown(f"**Y[{cell[0]}, {cell[1]}]** = {lesson.window_arithmetic(X, K, cell)}")
    name = "convolve2d" if flip else "corr2d"
    fig = ui.figure(sliding_window_figure, X, Y, cell, tuple(K.shape), K=kernel, title=f"Y = {name}(X, K), window {step} of {Y.numel()}",
                                kernel_title="K flipped" if flip else "kernel")
    ui.show_figure(fig, "convolution" if flip else "cross_correlation")
    st.markdown(f"Output Y = `{format_matrix(Y)}`")
    ui.show_check(lesson.torch_corr2d_check(X, K, Y, flip))
    ui.show_code(lesson.corr2d_code(X, K, flip=flip))

st.header("Edge detection")
st.markdown(
    "A white-black-white image and the kernel $K = [1, -1]$: the output is 1 where white turns to "
    "black, -1 where black turns to white, and 0 on flat areas. On the transposed image (horizontal "
    "stripes) the same kernel finds nothing: it only sees **vertical** edges."
)
edges = edge_image()
ui.show_figure(
    ui.figure(matrix_grid_figure, [[("image X (6×8)", edges, "gray"), ("corr2d(X, [1, -1])", corr2d(edges, EDGE_KERNEL)), ("corr2d(Xᵀ, [1, -1])", corr2d(edges.t(), EDGE_KERNEL))]],
        "Edge detection with K = [1, -1]",),
    "edge_detection",
)
ui.show_code(lesson.edge_code())

st.header("Learn the kernel")
st.markdown(
    "Given only X and the edge output Y, can gradient descent find $K$? Start from a random $1 \\times 2$ "
    "kernel and take plain gradient steps on the summed squared error $\\sum (\\hat Y - Y)^2$."
)
left, right = st.columns(2)
with left:
    lr = ui.real("Learning rate", "lr", 0.001, 0.1, 0.03, "d2l uses 0.03. Above 1/30 ≈ 0.033 every step overshoots and the loss explodes.")
with right:
    iterations = ui.number("Iterations", "iterations", 1, 100, 10, "Gradient steps; d2l takes 10.")
learned, losses = learn_kernel(edges, corr2d(edges, EDGE_KERNEL), lr=lr, iterations=iterations)
a, b, c = st.columns(3)
a.metric("Final loss", f"{losses[-1]:.4g}")
b.metric("Learned kernel", f"[{learned[0, 0]:.3f}, {learned[0, 1]:.3f}]")
c.metric("True kernel", "[1, -1]")
if lesson.diverged(losses):
    st.warning("The loss grew: the learning rate is too large, so every step overshoots. Try 0.03.")
left, right = st.columns(2)
with left:
    ui.show_figure(ui.figure(lesson.loss_figure, losses), "learn_kernel_loss")
with right:
    ui.show_figure(ui.figure(lesson.kernel_comparison_figure, learned, EDGE_KERNEL), "learned_kernel")
ui.show_code(lesson.learn_kernel_code(lr, iterations))

st.header("Convolution in mathematics: two dice")
st.markdown(
    "In probability, convolution adds random numbers: if one die shows $t$ with chance $f(t)$ and the other "
    "$n - t$ with chance $g(n - t)$, the chance that they sum to $n$ is $(f * g)(n) = \\sum_t f(t)\\, g(n - t)$. "
    "As $t$ goes up, $n - t$ goes down: one of the two is read backwards, which is the flip."
)
total = ui.number("Sum of the two dice", "dice_sum", 2, 12, 4, "Which sum to compute (2 to 12); the notes take 4.")
distribution = lesson.dice_sum_distribution()
left, right = st.columns([1, 3])
left.metric(f"P(sum = {total})", f"{round(36 * float(distribution[total - 2]))}/36")
right.markdown(lesson.dice_arithmetic(total))
ui.show_figure(ui.figure(lesson.dice_figure, distribution, total), "dice_convolution")
ui.show_code(lesson.dice_code(total))

if out_hw is not None:
    as_matrix.show(X, kernel)
