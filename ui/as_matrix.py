"""The 'Convolution as a matrix' section at the end of the Cross-correlation and Channels pages."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st
import torch

import ui
from lenet.lessons.as_matrix import ConvolutionMatrices, as_matrix_code, convolution_matrices
from lenet.lessons.matrix_plots import im2col_figure, weight_matrix_figure


# A resource, not cache_data: unpickling a figure costs 12-34 ms, as much as building it, and nobody changes
# them (ui.show_figure and st.plotly_chart copy a figure before they touch it). Keyed by the numbers of X and K.
@st.cache_resource(max_entries=64, show_spinner=False)
def _prepared(x: list, k: list) -> tuple[ConvolutionMatrices, go.Figure, go.Figure, str]:
    X, K = torch.tensor(x), torch.tensor(k)
    m = convolution_matrices(X, K)
    return m, im2col_figure(m), weight_matrix_figure(m), as_matrix_code(X, K)


def show(X: torch.Tensor, K: torch.Tensor) -> None:
    """The convolution of X with K (stride 1, no padding) as im2col's product and as a dense weight matrix W."""
    st.header("Convolution as a matrix")
    st.caption("The X and K from the top of the page again, and the same output as one matrix product: the windows "
               "side by side (im2col), or the kernel written into the weight matrix of a dense layer.")
    m, im2col_fig, weights_fig, code = _prepared(X.tolist(), K.tolist())
    st.subheader("im2col: the windows as columns")
    st.markdown(
        "im2col (`F.unfold`) copies every window of X into one column, the input channels one under the "
        "other. The kernel, flattened to a row per output channel, times that matrix is every output value at "
        "once: this is how libraries turn a convolution into one fast matrix multiply."
    )
    ui.show_figure(im2col_fig, "im2col")
    ui.show_check(m.im2col_check)
    st.subheader("The weight matrix W of a dense layer")
    st.markdown(
        "A convolution is a fully connected layer, $y = W x$ with $x$ and $y$ the flattened input and output, whose "
        "$W$ holds a 0 wherever a pixel lies outside an output's window and the same few kernel weights everywhere "
        "else, moved along from row to row (a doubly block-Toeplitz matrix). Hover over an entry to see which "
        "weight it is."
    )
    a, b, c = st.columns(3)
    a.metric("W's shape", f"{m.counts.rows} × {m.counts.columns}", help="output values × input pixels")
    b.metric("Zeros in W", f"{m.counts.sparsity:.0%}", help="entries that are 0 whatever the kernel holds")
    c.metric("Distinct weights", f"{m.counts.weights:,} vs {m.counts.entries:,}",
             help="kernel weights in W, against a dense layer of the same shape, whose every entry is its own")
    st.markdown(m.counts.summary)
    ui.show_figure(weights_fig, "weight_matrix")
    ui.show_check(m.toeplitz_check)
    ui.show_code(code)
