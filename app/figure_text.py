"""The core's figures in the session's language: their fixed English phrases, translated after drawing.

``container_edu.figures`` is the core and stays English (it never imports the app). Its figures carry
fixed phrases (a kind's name in a panel title, an axis title, ``head 2`` under a panel); the app replaces
them in a finished figure::

    fig = figures.operator_comparison(...)
    st.plotly_chart(figure_text.localize(fig))

A phrase is marked here with ``N_`` (so that it is extracted and translated). A phrase with fields
(``head {m}``) matches any value of the field: a name or a number (letters, digits, ``._:^-``), or, for a
field named ``{formula}``, any text (a formula, perhaps with English phrases of its own, which are translated
in turn). A space of a phrase also matches the line break ``<br>`` that :func:`container_edu.figures.wrap_title`
puts into long titles; a translated title is wrapped again. Titles the page passes in itself (``title=``,
``labels=``) are translated by the page with ``_()`` before the call.
Translators extend :data:`PHRASES` when they translate a page that draws a core figure.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import plotly.graph_objects as go

from .i18n import DEFAULT_LANGUAGE, N_, _, current_language
from .registry import KIND_LABELS

__all__ = ["PHRASES", "HOVER_PHRASES", "localize", "localize_text"]

#: The core figures' fixed English phrases (longest are replaced first): titles, axis, colour-bar and
#: panel titles, legend names, notes (container_edu/figures/*.py).
PHRASES: tuple[str, ...] = KIND_LABELS + (
    N_("key token j"),
    N_("query token i"),
    N_("shared by all channels"),
    N_("head {m}"),
    N_("channel {c}"),
    # heatmaps.py
    N_("x (token column)"),
    N_("y (token row)"),
    # charts.py
    N_("probability p(class | image), %"),
    N_("p(class | image), %"),
    N_("learned blend"),
    N_("your blend"),
    N_("α (dynamic: attention)"),
    N_("β (static)"),
    N_("0.5: value at<br>initialisation"),
    N_("blend weight"),
    N_("mixed block (module path)"),
    N_("(test)"),
    N_("(validation)"),
    N_("epoch"),
    N_("top-1 accuracy, %"),
    N_("α (weight of the dynamic affinity A(X))"),
    # maps.py: panel titles and colour bars
    N_("dynamic<br>{formula}"),
    N_("static<br>{formula}"),
    N_("blended: {formula}"),
    N_("A(X)[i, j] (attention weight)"),
    N_("attention weight"),
    N_("static weight"),
    N_("blended weight"),
    N_("attention[i, j]"),
    N_("static[i, j]"),
    N_("blended[i, j]"),
    N_("(mean of {symbol} over head {m}'s channels)"),
    N_("(mean of {symbol} over all channels)"),
    N_(", conv kernels averaged over head {m}'s channels"),
    N_(", conv kernels averaged over all channels"),
    N_("conv kernels averaged over head {m}'s channels"),
    N_("conv kernels averaged over all channels"),
    N_("learned: α={alpha}, β={beta}"),
    N_("yours: α={alpha}, β={beta}"),
    N_("yours − learned"),
    N_("difference"),
    # maps.py: titles
    N_("Block {block}, head {m}, query ({y}, {x}) on the {h}×{w} grid: row i = {i} of each affinity, "
       "over the image the model sees"),
    N_("Block {block}, head {m}, query ({y}, {x}) on the {h}×{w} grid: row i = {i} of each affinity"),
    N_("All {n} head(s) m of block {block}: {formula}, row of query ({y}, {x}), one colour scale"),
    N_("attention: {formula}, head {m}"),
    N_("static: {formula}, head {m}"),
    N_("blended: {formula}, head {m}"),
    N_("Blended row {formula} of block {block}, head {m}, query ({y}, {x})"),
    N_("{n} affinity matrices A (N×N, N = {h}×{w} = {count} tokens): row i = query, column j = key"),
    N_("Row of query ({y}, {x}) per operator: A[i = {i}, :] on the {h}×{w} grid"),
)

#: Words of the core figures' hover texts (only looked for there: some are single common words).
HOVER_PHRASES: tuple[str, ...] = (
    N_("query i"),
    N_("key j"),
    N_("key token"),
    N_("value"),
    N_("click: query"),
    N_("learned"),
    N_("test"),
    N_("validation"),
)

_TEXT_KEYS = {"text", "title", "hovertemplate", "name"}  # where a figure keeps words (not data, not styles)
_NAME = r"[\w.:^-]+"
_ANY = r".+"  # a {formula} field: any text, up to what the phrase says comes next
_LETTER = r"A-Za-z0-9_"


@lru_cache(maxsize=256)
def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(
        r"(?: |<br>)".join(map(re.escape, part.split(" "))) if index % 2 == 0
        else rf"(?P<{part}>{_ANY if part == 'formula' else _NAME})"
        for index, part in enumerate(parts))
    return re.compile(rf"(?<![{_LETTER}]){regex}(?![{_LETTER}])")


def _fields(match: re.Match, phrases: tuple[str, ...]) -> dict[str, str]:
    return {name: localize_text(value, phrases) if name == "formula" else value
            for name, value in match.groupdict().items()}


def localize_text(text: str, phrases: Iterable[str] = PHRASES) -> str:
    """``text`` with every known phrase in the session's language (unchanged in English)."""
    phrases = tuple(phrases)
    for template in sorted(phrases, key=len, reverse=True):
        translated = _(template)
        if translated != template:
            text = _pattern(template).sub(lambda match, t=translated: t.format(**_fields(match, phrases)), text)
    return text


def _width(char: str) -> float:
    """A character's width in Latin letters (a CJK character is about two)."""
    return 1.8 if unicodedata.east_asian_width(char) in "WF" else 1.0


def wrap_cjk(text: str, width: float) -> str:
    """``text`` broken into lines of at most ``width`` letters' width: at a space or before a CJK character."""
    lines, line, size, last_break = [], "", 0.0, -1
    for char in text.replace("<br>", " "):
        if char == " " or _width(char) > 1:
            last_break = len(line)
        line += char
        size += _width(char)
        if size > width and last_break > 0:
            lines.append(line[:last_break].rstrip())
            line = line[last_break:].lstrip()
            size, last_break = sum(map(_width, line)), -1
    lines.append(line)
    return "<br>".join(lines)


def _localize_title(layout: dict, phrases: tuple[str, ...]) -> None:
    """The figure's own title, translated and wrapped again to the width the core wrapped it to."""
    title = layout.get("title")
    original = title.get("text") if isinstance(title, dict) else None
    if not isinstance(original, str):
        return
    translated = localize_text(original, phrases)
    if translated == original:
        return
    old_lines = original.split("<br>")
    if len(old_lines) > 1:
        translated = wrap_cjk(translated, max(map(len, old_lines)))
    title["text"] = translated
    extra = translated.count("<br>") + 1 - len(old_lines)
    margin = layout.get("margin") or {}
    if extra > 0 and isinstance(margin.get("t"), (int, float)) and isinstance(layout.get("height"), (int, float)):
        margin["t"] += 21 * extra  # the core gives each title line 21 px (container_edu.figures.base_layout)
        layout["height"] += 21 * extra


def _walk(value, phrases: tuple[str, ...], hover: tuple[str, ...]):
    if isinstance(value, dict):
        return {key: (localize_text(item, hover if key == "hovertemplate" else phrases)
                      if key in _TEXT_KEYS and isinstance(item, str) else _walk(item, phrases, hover))
                for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, phrases, hover) for item in value]
    return value


def localize(fig: go.Figure, phrases: Iterable[str] = PHRASES) -> go.Figure:
    """The figure with its phrases translated (the same figure, untouched, in English)."""
    if current_language() == DEFAULT_LANGUAGE:
        return fig
    phrases = tuple(phrases)
    spec = fig.to_plotly_json()
    _localize_title(spec.get("layout", {}), phrases)
    return go.Figure(_walk(spec, phrases, phrases + HOVER_PHRASES))
