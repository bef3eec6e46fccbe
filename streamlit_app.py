"""LeNet Lab home page."""

import streamlit as st

import ui
from lenet import LeNetConfig, count_parameters, build_lenet

ui.setup_page("Home")
st.title("LeNet Lab")
st.write(
    "Learn, train and look inside a convolutional network, following the convolution chapter of "
    "*Dive into Deep Learning*."
)
st.metric("Parameters of d2l's LeNet", f"{count_parameters(build_lenet(LeNetConfig.classic())):,}")
