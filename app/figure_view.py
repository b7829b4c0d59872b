"""Drawing a figure in the app: the chart, and (issue 23) its text alternative and its data as a table.

Every chart the app draws goes through :func:`show_figure`, so that what a screen reader hears of it is decided
in one place: the chart, then the figure's sentence as a caption (visible small text, read in order after the
chart) and beside it a "Table" button that opens the numbers as an HTML table. The sentence and the table come
from the core (:func:`container_edu.figures.describe.describe`): the builder's own, or one read from the traces
of a figure a lesson built by hand.
"""

from __future__ import annotations

import re

import streamlit as st

from app.i18n import _
from container_edu.figures.describe import FigureText, describe

__all__ = ["show_figure", "show_text_alternative", "table_label", "escape_markdown"]

_MARKDOWN = re.compile(r"([\\`*_\[\]$~<>|#])")


def escape_markdown(text: str) -> str:
    """``text`` shown as written: a formula's ``A_static`` or ``*`` must not turn into emphasis or math."""
    return _MARKDOWN.sub(r"\\\1", text)


def table_label() -> str:
    """The table button's label in the session's language (tests look for it next to every chart); short, so that
    it fits beside the sentence under a chart in a narrow column."""
    return _("Table")


def show_text_alternative(text: FigureText) -> None:
    """The sentence as a caption, and beside it (if there is data) a button that opens the table.

    Side by side, so that a chart's text alternative costs a lesson step one line of height, not two.
    """
    if not text.columns:
        st.caption(escape_markdown(text.sentence))
        return
    sentence_col, table_col = st.columns([3, 1], vertical_alignment="top")
    sentence_col.caption(escape_markdown(text.sentence))
    columns = _unique(text.columns)
    with table_col.popover(table_label(), icon=":material/table:", width="stretch",
                           help=_("The numbers behind this figure, as a table")):
        st.table({name: [str(row[index]) if index < len(row) else "" for row in text.rows]
                  for index, name in enumerate(columns)}, hide_index=True, alt=text.sentence)


def show_figure(figure, key: str, **plotly_kwargs):
    """Draw ``figure`` (a Plotly figure) under widget key ``key``, then its text alternative.

    Returns what ``st.plotly_chart`` returns (the selection, with ``on_select``).
    """
    event = st.plotly_chart(figure, key=key, **plotly_kwargs)
    show_text_alternative(describe(figure))
    return event


def _unique(names) -> list[str]:
    """Column names made unique (a table cannot have two columns of one name; two axes may share a title)."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        name = str(name) or "–"
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique
