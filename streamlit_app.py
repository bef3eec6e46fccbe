"""LeNet Lab home page: what it is, the map of pages, where the data comes from, which device trains."""

import streamlit as st

import ui
import ui.jobs
from lenet import LeNetConfig, build_lenet, count_parameters
from lenet.data import available_datasets, data_source
from lenet.training import available_devices

ui.setup_page("Home")
st.title("LeNet Lab")
st.markdown(
    "Learn, train and look inside a convolutional network, following the *Convolutional Neural Networks* "
    "chapter of [Dive into Deep Learning](https://d2l.ai/chapter_convolutional-neural-networks/index.html). "
    "Every concept page lets you **see** a concept, **change** it, and **check** it against PyTorch: its result "
    "recomputed with torch's own operator, the difference shown. Train and Inspect show the torch code they run."
)

left, right = st.columns([2, 1], gap="large")
with left:
    st.subheader("Pages")
    pages = ui.PAGES[1:]
    for first in range(0, len(pages), 2):  # a row of two cards at a time, as tall as each other
        for column, (path, label, icon, blurb) in zip(st.columns(2), pages[first:first + 2]):
            with column.container(border=True, height="stretch"):
                st.page_link(path, label=f"**{label}**", icon=icon)
                st.caption(blurb)
with right:
    st.subheader("This machine")
    data_dir = ui.environment().data_dir
    datasets = available_datasets(data_dir)
    if datasets:
        st.success(f"Data: {', '.join(datasets)}, read from `{data_source(datasets[0], data_dir)}`.")
    else:
        st.warning("Fashion-MNIST is not installed. Run `sudo apt-get install dataset-fashion-mnist` "
                   "or connect to the internet once; concept pages work without it.")
    devices = available_devices()
    st.info(f"Training device: **{devices[0].upper()}** (available: {', '.join(devices)}).")
    ui.jobs.executor_note()  # where trainings run, when LENET_RAY_ADDRESS is set
    st.metric("Parameters of d2l's LeNet", f"{count_parameters(build_lenet(LeNetConfig.classic())):,}")
