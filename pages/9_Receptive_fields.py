"""Receptive fields: which input pixels one unit of a LeNet layer can see, and how the field grows layer by layer."""

import streamlit as st

import ui
from lenet import LeNetConfig
from lenet.core.receptive import receptive_field_table, receptive_fields, unit_field
from lenet.lessons.images import sample_image
from lenet.lessons.receptive_fields import pad_to, receptive_field_code, receptive_field_figure, torch_field_check

ui.setup_page("Receptive fields")
st.title("Receptive fields")
st.markdown(
    "A unit's **receptive field** is the set of input pixels that can change its value. A conv or pooling "
    "layer with a $k \\times k$ window sees $k$ units of the layer before; those are $j$ pixels apart "
    "(the *jump*, the product of the strides so far), so every layer adds $(k - 1)\\,j$ pixels. "
    "In d2l's LeNet a unit of the second conv layer sees 14 × 14 pixels and one of the second pooling "
    "layer 16 × 16: enough to tell a sleeve from a collar, not yet a whole shirt."
)
st.latex(r"r_\ell = r_{\ell-1} + (k_\ell - 1)\, j_{\ell-1} \qquad j_\ell = j_{\ell-1}\, s_\ell \qquad r_0 = j_0 = 1")

ui.presets(
    {
        "d2l's LeNet (28×28)": dict(size="28", k1=5, p1=2, s1=1, k2=5, p2=0, s2=1, pool="avg", pool_k=2, pool_s=2),
        "the notes' LeNet (32×32)": dict(size="32", k1=5, p1=0, s1=1, k2=5, p2=0, s2=1, pool="max", pool_k=2, pool_s=2),
        "3×3 kernels": dict(size="28", k1=3, p1=1, s1=1, k2=3, p2=1, s2=1, pool="max", pool_k=2, pool_s=2),
        "stride 2, no pooling": dict(size="28", k1=5, p1=2, s1=2, k2=5, p2=2, s2=2, pool="none", pool_k=2, pool_s=2),
    }
)
left, middle, right = st.columns([2, 3, 3])
with left:
    size = int(ui.choice("Input size", "size", ["28", "32"], "32: the 28×28 image on a 2-pixel zero border, as LeCun's LeNet read digits."))
    pool = ui.choice("Pooling", "pool", ["avg", "max", "none"], "Average and max pooling windows see the same pixels.")
convs = []
for column, i in ((middle, 1), (right, 2)):
    with column:
        st.caption(f"Conv layer {i}")
        a, b, c = st.columns(3)
        with a:
            k = ui.number("kernel", f"k{i}", 1, 9, 5, "Kernel height and width.")
        with b:
            p = ui.number("padding", f"p{i}", 0, 4, 2 if i == 1 else 0, "Zeros added on each side.")
        with c:
            s = ui.number("stride", f"s{i}", 1, 4, 1, "Step between kernel positions.")
        convs.append((k, p, s))
with left:
    a, b = st.columns(2)
    with a:
        pool_k = ui.number("pool size", "pool_k", 1, 4, 2, "Pooling window height and width.")
    with b:
        pool_s = ui.number("pool stride", "pool_s", 1, 4, 2, "Step between pooling windows.")

config = LeNetConfig(image_size=size, kernel_sizes=[k for k, _, _ in convs], paddings=[p for _, p, _ in convs],
                     strides=[s for _, _, s in convs], pool=pool, pool_size=pool_k, pool_stride=pool_s)
fields = ui.checked(receptive_fields, config)
if fields is not None:
    st.header("Layer by layer")
    for column, field in zip(st.columns(len(fields)), fields):
        column.metric(f"{field.layer} sees", f"{field.size} × {field.size}", help=f"{field.layer}: {field.out_hw[0]}×{field.out_hw[1]} units, {field.jump} pixel(s) apart")
    st.dataframe(receptive_field_table(config), hide_index=True, width="stretch")
    st.caption("Dense layers are joined to every unit of the last layer above, so each of their units sees all "
               "the pixels those units see together.")

    st.header("Pick a unit")
    names = [f.layer for f in fields]
    a, b, c, d = st.columns([3, 1, 1, 2])
    with a:
        layer = ui.choice("Layer", "layer", names[::-1], "Which layer's unit to look at.")
    out_h, out_w = fields[names.index(layer)].out_hw
    with b:
        row = ui.number("row", "row", 0, out_h - 1, out_h // 2, f"Unit row, 0 to {out_h - 1}.")
    with c:
        col = ui.number("column", "col", 0, out_w - 1, out_w // 2, f"Unit column, 0 to {out_w - 1}.")
    with d:
        index = ui.number("Test image", "image", 0, 9999, 0, "Which Fashion-MNIST test image (0 to 9999).")
    field = unit_field(config, layer, (row, col))
    image, caption = sample_image(index, ui.environment().data_dir)
    top, left_col, bottom, right_col = field.box
    square = (bottom - top + 1) * (right_col - left_col + 1)
    st.markdown(
        f"Unit **({row}, {col})** of **{layer}** spans rows {top} to {bottom} and columns {left_col} to {right_col}, "
        f"a {bottom - top + 1} × {right_col - left_col + 1} square, and sees **{field.pixels} pixels** in every input channel"
        + ("." if field.pixels == square else ": the rest of the square is zero padding, or gaps left by a stride larger than a kernel.")
    )
    st.caption(caption + (", on a 2-pixel zero border" if size == 32 else ""))
    title = f"What {layer} unit ({row}, {col}) sees (the rest greyed out), its whole field outlined"
    ui.show_figure(ui.figure(receptive_field_figure, pad_to(image, size), field, (out_h, out_w), title), "receptive_field")
    ui.show_check(torch_field_check(config, field))
    ui.show_code(receptive_field_code(config, layer, (row, col)))
