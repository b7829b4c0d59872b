"""Reading and writing the page address (``st.query_params``) without messages, so that ``app.i18n`` can use it.

:class:`app.url_state.UrlState` builds on these two functions (and adds parsing and notes, which are translated);
the language selector uses them directly, which keeps ``app.i18n`` below every module that shows text.
"""

from __future__ import annotations

import streamlit as st

__all__ = ["incoming", "publish", "text"]

_LAST_KEY = "_url_state_last"  # {page: {name: text last written or applied}}
_WRITTEN_KEY = "_url_state_written"  # {page: {name: [texts this session wrote lately]}}
#: How many of a parameter's recent values count as this session's own (a burst of key presses writes one each).
RECENT_WRITES = 16


def _record(page: str) -> dict[str, str | None]:
    return st.session_state.setdefault(_LAST_KEY, {}).setdefault(page, {})


def text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _written(page: str, name: str) -> list[str]:
    return st.session_state.setdefault(_WRITTEN_KEY, {}).setdefault(page, {}).setdefault(name, [])


def incoming(page: str, name: str) -> str | None:
    """The address's text for ``name`` when it came from outside (not what ``page`` wrote), else ``None``.

    Only a change of the address counts: a widget whose state is new (the query of another grid size, a block's
    default after the model changed) keeps its own default rather than an old value of the address. A value this
    session wrote itself a little earlier is not from outside either: when keys are pressed quickly, a rerun can
    start from an address the browser has not yet updated, and taking that address for a link would move the
    widget back (two ArrowRight presses were lost that way while the address had moved on).
    """
    raw = st.query_params.get(name)
    record = _record(page)
    if raw is None or raw == record.get(name) or raw in _written(page, name):
        return None
    record[name] = raw  # handled once: an ignored value is not noted again on the next run
    return raw


def publish(page: str, name: str, value: object | None) -> None:
    """Make the address say ``name=value`` (``None``: drop ``name``); writing triggers no rerun."""
    shown = None if value is None else text(value)
    _record(page)[name] = shown
    if shown is not None:
        written = _written(page, name)
        if shown in written:
            written.remove(shown)
        written.append(shown)
        del written[:-RECENT_WRITES]
    if shown is None:
        if name in st.query_params:
            del st.query_params[name]
    elif st.query_params.get(name) != shown:
        st.query_params[name] = shown
