"""Exercises: the chapter's questions that the app can answer, each opening the right page with the right settings."""

import streamlit as st

import ui
from lenet.data import available_datasets
from lenet.lessons.exercises import available_exercises

ui.setup_page("Exercises")
st.title("Exercises")
st.caption("Questions from the chapter. Each link opens a page already set up; think first, then unfold the answer.")

exercises = available_exercises(available_datasets(ui.environment().data_dir))
section = None
for number, exercise in enumerate(exercises, start=1):
    if exercise.section != section:
        section = exercise.section
        st.header(section)
    st.subheader(f"{number}. {exercise.title}")
    st.markdown(exercise.question)
    with st.container(horizontal=True):
        for link in exercise.links:  # a page link keeps this session (a markdown link would open a new tab)
            ui.page_link(link.page, link.label, link.params, link.url)
    with st.expander("What the app shows", icon=":material/lightbulb:"):
        st.markdown(exercise.answer)
