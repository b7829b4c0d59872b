"""Entry point: ``streamlit run streamlit_app.py``.

Streamlit's multipage pattern: the page config, then ``st.navigation`` over
the pages listed in ``app/navigation.py`` (files in ``pages/``).
"""

from __future__ import annotations

import logging

import streamlit as st

from app.navigation import pages, set_page_config

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
set_page_config()
st.navigation(pages(), position="sidebar").run()
