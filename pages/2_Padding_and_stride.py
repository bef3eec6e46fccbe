"""Padding, stride and dilation: what they do to the output size, on a grid and on a real image."""

import streamlit as st

import ui
from lenet import conv_output_shape
from lenet.core.shapes import total_padding_output_shape
from lenet.lessons.images import sample_image
from lenet.lessons.padding import (
    EXAMPLE_KERNELS,
    apply_conv,
    conv_shape_code,
    example_kernel,
    image_pair_figure,
    other_padding_convention,
    output_size_formulas,
    padding_figure,
    torch_shape_check,
)

ui.setup_page("Padding and stride")
st.title("Padding, stride and dilation")
st.markdown(
    "Without padding every convolution shrinks the image and the border pixels are seen by few windows. "
    "**Padding** adds $p$ rows (and columns) of zeros on each side, as PyTorch's `padding=` does. "
    "**Stride** $s$ moves the window $s$ steps at a time, which shrinks the output fast. "
    "**Dilation** $d$ spreads the kernel's cells $d$ apart, so it sees further without more weights. "
    "An odd kernel with $p = (k - 1) / 2$ and $s = 1$ keeps the size."
)
CONVENTIONS = ("per side", "both sides together")
convention = ui.choice(
    "Padding p counts rows (columns) of zeros", "convention", CONVENTIONS,
    "Per side: PyTorch's padding=p adds p on each side, 2p in all. Both sides together: d2l's book counts p_h "
    "rows in all, about half on top and half at the bottom.",
)
total = convention == CONVENTIONS[1]
if total:
    st.latex(r"\text{output} = \left\lfloor \frac{n - k + p + s}{s} \right\rfloor"
             r"\qquad (p \text{ rows in all: } \lceil p/2 \rceil \text{ on top, } \lfloor p/2 \rfloor \text{ at the bottom})")
else:
    st.latex(r"\text{output} = \left\lfloor \frac{n + 2p - d(k - 1) - 1}{s} \right\rfloor + 1"
             r"\qquad \left(d = 1:\ \left\lfloor \frac{n - k + 2p}{s} \right\rfloor + 1\right)")

ui.presets(
    {
        "k=3, p=1, s=2 → 4×4": dict(convention="per side", n_h=8, n_w=8, k_h=3, k_w=3, p_h=1, p_w=1, s_h=2, s_w=2, d_h=1, d_w=1),
        "k=(3,5), p=(0,1), s=(3,4) → 2×2": dict(convention="per side", n_h=8, n_w=8, k_h=3, k_w=5, p_h=0, p_w=1, s_h=3, s_w=4, d_h=1, d_w=1),
        "same size: k=5, p=2": dict(convention="per side", n_h=8, n_w=8, k_h=5, k_w=5, p_h=2, p_w=2, s_h=1, s_w=1, d_h=1, d_w=1),
        "dilation 2": dict(convention="per side", n_h=8, n_w=8, k_h=3, k_w=3, p_h=0, p_w=0, s_h=1, s_w=1, d_h=2, d_w=2),
        "odd total: k=4, p=3 → same size": dict(convention="both sides together", n_h=8, n_w=8, k_h=4, k_w=4, pt_h=3,
                                                   pt_w=3, s_h=1, s_w=1, d_h=1, d_w=1),
    }
)
per_axis = []
for axis, unit in (("height", "rows"), ("width", "columns")):
    a = axis[0]
    columns = st.columns(5)
    with columns[0]:
        n = ui.number(f"Input {axis}", f"n_{a}", 1, 16, 8, f"n: input {unit} (1 to 16).")
    with columns[1]:
        k = ui.number(f"Kernel {axis}", f"k_{a}", 1, 9, 3, f"k: kernel {unit} (1 to 9).")
    with columns[2]:
        if total:
            p = ui.number(f"Total padding {axis}", f"pt_{a}", 0, 12, 2, f"p: {unit} of zeros over BOTH sides together, as the book counts (0 to 12).")
        else:
            p = ui.number(f"Padding {axis}", f"p_{a}", 0, 6, 1, f"p: {unit} of zeros added on EACH side, as PyTorch's padding= (0 to 6).")
    with columns[3]:
        s = ui.number(f"Stride {axis}", f"s_{a}", 1, 6, 2, f"s: how many {unit} the window moves each step (1 to 6).")
    with columns[4]:
        d = ui.number(f"Dilation {axis}", f"d_{a}", 1, 4, 1, "d: spacing of the kernel's cells; 1 means side by side (1 to 4).")
    per_axis.append((n, k, p, s, d))
n, k, p, s, d = zip(*per_axis)

st.header("Every kernel position")
out_hw = ui.checked(total_padding_output_shape if total else conv_output_shape, n, k, p, s, d)
if out_hw is not None:
    a, b = st.columns(2)
    a.metric("Output shape", f"{out_hw[0]} × {out_hw[1]}")
    b.metric("Window positions", out_hw[0] * out_hw[1])
    for line in output_size_formulas(n, k, p, s, d, total=total):
        st.latex(line)
    st.markdown(other_padding_convention(n, k, p, s, d, total))
    ui.show_check(torch_shape_check(n, k, p, s, d, out_hw, total=total))
    step = ui.step_slider("Window position", "step", out_hw[0] * out_hw[1], "Which window to show, row by row.")
    ui.show_figure(ui.figure(padding_figure, n, k, p, s, d, step, total=total), "padding_and_stride")
    ui.show_code(conv_shape_code(n, k, p, s, d, total=total))

st.header("On a real image")
left, right = st.columns(2)
with left:
    kernel_name = ui.choice("Kernel", "kernel", EXAMPLE_KERNELS, "What the kernel computes; its size, padding, stride and dilation are the ones above.")
with right:
    index = ui.number("Test image", "image", 0, 9999, 0, "Which Fashion-MNIST test image (0 to 9999).")
image, caption = sample_image(index, ui.environment().data_dir)
output = ui.checked(apply_conv, image, example_kernel(kernel_name, k), p, s, d, total=total)
if output is not None:
    st.caption(caption)
    title = f"A {kernel_name} kernel {k[0]}×{k[1]}, {'total padding' if total else 'padding'} {p}, stride {s}, dilation {d}"
    ui.show_figure(ui.figure(image_pair_figure, image, output, title, f"output {output.shape[0]}×{output.shape[1]}"), "padding_on_image")
