"""LeNet Lab home page: what it is, the map of pages, where the data comes from, which device trains."""

import streamlit as st

import ui
from lenet import LeNetConfig, build_lenet, count_parameters
from lenet.data import available_datasets, data_source
from lenet.train import available_devices

ui.setup_page("Home")
st.title("🧠 LeNet Lab")
st.markdown(
    "Learn, train and look inside a convolutional network, following the *Convolutional Neural Networks* "
    "chapter of [Dive into Deep Learning](https://d2l.ai/chapter_convolutional-neural-networks/index.html). "
    "Every page lets you **see** a concept, **change** it, and **check** it against PyTorch."
)

PAGES = [
    ("pages/1_Cross_correlation.py", "Cross-correlation", "Slide a kernel over an image, detect edges, learn a kernel."),
    ("pages/2_Padding_and_stride.py", "Padding and stride", "How kernel, padding, stride and dilation set the output size."),
    ("pages/3_Channels.py", "Channels", "Many input and output channels; 1x1 convolution as a matrix multiply."),
    ("pages/4_Pooling.py", "Pooling", "Max and average pooling, and why they tolerate small shifts."),
    ("pages/5_MLP_vs_CNN.py", "MLP vs CNN", "Parameters and memory of a dense layer against a convolution."),
    ("pages/6_Train.py", "Train", "Design a LeNet and train it on Fashion-MNIST, live."),
    ("pages/7_Inspect.py", "Inspect", "Feature maps, filters, and the mistakes of a trained model."),
]

left, right = st.columns([3, 2], gap="large")
with left:
    st.subheader("Pages")
    for path, label, blurb in PAGES:
        st.page_link(path, label=f"**{label}** — {blurb}")
with right:
    st.subheader("This machine")
    datasets = available_datasets()
    if datasets:
        st.success(f"Data: {', '.join(datasets)} found ({data_source('fashion-mnist') or 'local files'}).")
    else:
        st.warning("Fashion-MNIST is not installed. Run `sudo apt-get install dataset-fashion-mnist` "
                   "or connect to the internet once; concept pages work without it.")
    devices = available_devices()
    st.info(f"Training device: **{devices[0].upper()}** (available: {', '.join(devices)}).")
    st.metric("Parameters of d2l's LeNet", f"{count_parameters(build_lenet(LeNetConfig.classic())):,}")
