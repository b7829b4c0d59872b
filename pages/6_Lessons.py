"""Lessons: why attention, depthwise conv and MLP-Mixer are one operation, and what Container's blend buys."""

import streamlit as st

from app.lessons import INTRO, TITLE, render_lessons

try:  # the app's shared frame (sidebar, friendly errors) when it is there; the lessons also stand alone
    from app.page import run_page
except ImportError:
    run_page = None

st.set_page_config(page_title="Lessons · Container", layout="wide")
if run_page is None:
    st.title(TITLE)
    st.caption(INTRO)
    render_lessons()
else:
    run_page(TITLE, lambda ctx: render_lessons(), intro=INTRO)
