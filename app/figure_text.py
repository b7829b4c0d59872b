"""The core's figures in the session's language: their fixed English phrases, translated after drawing.

``container_edu.figures`` is the core and stays English (it never imports the app). Its figures carry
fixed phrases (a kind's name in a panel title, an axis title, ``head 2`` under a panel); the app replaces
them in a finished figure::

    fig = figures.operator_comparison(...)
    st.plotly_chart(figure_text.localize(fig))

A phrase is marked here with ``N_`` (so that it is extracted and translated); a phrase with fields
(``head {m}``) matches any value of the field (letters, digits, ``._:-``). Titles the page passes in
itself (``title=``, ``labels=``) are translated by the page with ``_()`` before the call.
Translators extend :data:`PHRASES` when they translate a page that draws a core figure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import plotly.graph_objects as go

from .i18n import DEFAULT_LANGUAGE, N_, _, current_language
from .registry import KIND_LABELS

__all__ = ["PHRASES", "localize", "localize_text"]

#: The core figures' fixed English phrases (longest are replaced first).
PHRASES: tuple[str, ...] = KIND_LABELS + (
    N_("key token j"),
    N_("query token i"),
    N_("shared by all channels"),
    N_("head {m}"),
    N_("channel {c}"),
)
_TEXT_KEYS = {"text", "title", "hovertemplate", "name"}  # where a figure keeps words (not data, not styles)


@lru_cache(maxsize=64)
def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(part) if index % 2 == 0 else rf"(?P<{part}>[\w.:-]+)"
                    for index, part in enumerate(parts))
    return re.compile(rf"(?<![A-Za-z]){regex}(?![A-Za-z])")


def localize_text(text: str, phrases: Iterable[str] = PHRASES) -> str:
    """``text`` with every known phrase in the session's language (unchanged in English)."""
    for template in sorted(phrases, key=len, reverse=True):
        translated = _(template)
        if translated != template:
            text = _pattern(template).sub(lambda match, t=translated: t.format(**match.groupdict()), text)
    return text


def _walk(value, phrases: tuple[str, ...]):
    if isinstance(value, dict):
        return {key: (localize_text(item, phrases) if key in _TEXT_KEYS and isinstance(item, str)
                      else _walk(item, phrases)) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, phrases) for item in value]
    return value


def localize(fig: go.Figure, phrases: Iterable[str] = PHRASES) -> go.Figure:
    """The figure with its phrases translated (the same figure, untouched, in English)."""
    if current_language() == DEFAULT_LANGUAGE:
        return fig
    return go.Figure(_walk(fig.to_plotly_json(), tuple(phrases)))
