"""Lessons: why attention, depthwise conv and MLP-Mixer are one operation, and what Container's blend buys."""

import streamlit as st

from app.i18n import _
from app.lessons import INTRO, TITLE, render_lessons

try:  # the app's shared frame (sidebar, friendly errors) when it is there; the lessons also stand alone
    from app.page import run_page
except ImportError:
    run_page = None

st.set_page_config(page_title="Lessons · Container", layout="wide")
if run_page is None:
    st.title(_(TITLE))
    st.caption(_(INTRO))
    render_lessons()
else:
    run_page(_(TITLE), lambda ctx: render_lessons(), intro=_(INTRO))
