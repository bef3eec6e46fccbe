"""Streamlit helpers that every page shares (kept out of pages/, where every .py file is a page)."""

from __future__ import annotations

import streamlit as st


def setup_page(title: str, icon: str = "🧠") -> None:
    """Page config and the sidebar note; call first on every page."""
    st.set_page_config(page_title=f"{title} · LeNet Lab", page_icon=icon, layout="wide")
    st.sidebar.caption("LeNet Lab · follows d2l's chapter on convolutional networks")
