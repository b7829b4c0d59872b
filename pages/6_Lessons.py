"""Lessons: why attention, depthwise conv and MLP-Mixer are one operation, and what Container's blend buys."""

import sys
from pathlib import Path

# `streamlit run pages/6_Lessons.py` puts only pages/ on sys.path; the lessons import `app` and `container_edu`.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from app.lessons import INTRO, TITLE, render_lessons  # noqa: E402

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
