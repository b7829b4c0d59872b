"""The core's fixed English text in the session's language: phrases in its figures, a few sentences outside them.

``container_edu`` is the core and stays English (it never imports the app). What it returns carries fixed
phrases and sentences with fields (a kind's name in a panel title, ``head 2`` under a panel, a block's name and
a query in a title; the data-size sweep's report; a model card's description of its dataset). The app
recognises each by its English template (marked with ``N_`` here, so that it is extracted and translated) and
puts the same fields into the translation::

    st.plotly_chart(figure_text.localize(figures.operator_comparison(...)))
    st.markdown(figure_text.translate_known(report_markdown(), figure_text.REPORT_PHRASES))

One matcher serves all of them, and ``app.core_messages`` (the core's error messages) too:
:func:`template_pattern`. A field matches a name or a number (letters, digits, ``.:^×±%~−-``, a thousands
separator) unless :data:`_FIELDS` says otherwise; a ``{formula}`` is any text, with the phrases inside it
translated in turn. A space of a phrase also matches the ``<br>`` that the core's
:func:`container_edu.figures.wrap_title` puts into long titles. Text that matches no phrase stays as it is.

Titles a page writes itself are translated by the page with ``_()`` before it passes them to the core, which
wraps them by display width; :func:`localize` re-wraps a title only where a translation changed it. Translators
extend the phrase tuples when they translate a page that shows a core figure or sentence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import plotly.graph_objects as go

from container_edu.figures import wrap_title

from app.i18n import DEFAULT_LANGUAGE, N_, _, current_language
from app.registry import KIND_LABELS

__all__ = ["PHRASES", "HOVER_PHRASES", "MAP_PHRASES", "BLEND_PHRASES", "ZOO_PHRASES", "REPORT_PHRASES",
           "template_pattern", "match_whole", "shown_fields", "translate_known", "localize"]

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

#: The maps of one block (core ``figures.maps``): titles, panel names, averaged-kernel notes.
MAP_PHRASES: tuple[str, ...] = (
    N_("All {count} head(s) m of block {block}: {formula}, row of query {query}, one colour scale"),
    N_("Blended row {formula} of block {block}, head {head}, query {query}"),
    N_("{part}: {formula}, head {head}"),
    N_(", conv kernels averaged over head {head}'s channels"),
    N_(", conv kernels averaged over all channels"),
    N_("conv kernels averaged over head {head}'s channels"),
    N_("conv kernels averaged over all channels"),
    N_("(mean of {symbol} over head {head}'s channels)"),
    N_("(mean of {symbol} over all channels)"),
    N_("attention weight"),
    N_("static weight"),
    N_("blended weight"),
    N_("learned: {values}"),
    N_("yours: {values}"),
    N_("yours − learned"),
    N_("difference"),
    N_("(attention weight)"),
)

#: The Blend page's charts (core ``figures.charts``).
BLEND_PHRASES: tuple[str, ...] = (
    N_("α (dynamic: attention)"),
    N_("β (static)"),
    N_("0.5: value at<br>initialisation"),
    N_("blend weight"),
    N_("mixed block (module path)"),
    N_("learned blend"),
    N_("your blend"),
    N_("probability p(class | image), %"),
)

#: The Model zoo's training curves (core ``figures.charts``) and its cards.
ZOO_PHRASES: tuple[str, ...] = (
    N_("{name} (test)"),
    N_("{name} (validation)"),
    N_("epoch"),
    N_("top-1 accuracy, %"),
    N_("α (weight of the dynamic affinity A(X))"),
    N_("Fashion-MNIST (Debian package dataset-fashion-mnist): {count} training images ({share} of the training "
       "split held out for validation), 10,000 test images"),
)

#: The data-size sweep's report (core ``sweep_report.report_markdown``), line by line.
REPORT_PHRASES: tuple[str, ...] = (
    N_("Test accuracy (%) on the 10,000 test images, mean ± sample std over seeds (n = seeds finished)."),
    N_("| variant | block |"),
    N_("| variant |"),
    N_("{size} images |"),
    N_("- {size} images, ranking where mean ± std intervals separate: {text}"),
    N_("no two variants' intervals separate"),
    N_("- runs finished: {done} of {planned}"),
    N_("; still to train: "),
    N_("{size} images, seeds {seeds}: {variants}"),
    N_("{size} images, seed {seeds}: {variants}"),
    N_("- estimated rest: {steps} steps, about {hours} h of wall time with two runs at once, at the seconds per "
       "step measured so far on this machine (shared, so a rough figure)"),
    N_("Final blend of each mixed block (α = weight of the dynamic A(X), β of the static part; container_light: "
       "α = σ(s), β = 1 - α), mean over seeds:"),
    N_("Step rule: max(10 epochs, {steps} steps) at batch 128, chosen by the validation-only pilot ({pilot})."),
    N_("{variant} {steps} steps: val {accuracy}"),
)


_WORD_CHAR = r"[\w:^×±%~−-]"
#: A field's text by default: a name or number (blocks2.0, A_m^static, 0.565, −0.1, 54,000), no trailing dot.
_DEFAULT_FIELD = rf"{_WORD_CHAR}+(?:[.,]{_WORD_CHAR}+)*"
#: Fields that match something else than a name or a number.
_FIELDS = {
    "formula": r".+",  # any text, up to what the template says comes next; its own phrases are translated too
    "text": r".+",
    "pilot": r".+",
    "values": r".+?",
    "symbol": r"\S+?",  # a formula symbol such as A_c^conv
    "query": r"\(\d+, \d+\)",
    "seeds": r"\d+(?:, \d+)*",
    "variants": r"\w+(?:, \w+)*",
    "accuracy": r"[\d.]+%",
}
_LIST_FIELDS = ("variants", "formats")  # lists of code names: Chinese enumerates with 、
_LETTER = "[A-Za-z0-9_]"
_TEXT_KEYS = {"text", "title", "hovertemplate", "name"}  # where a figure keeps words (not data, not styles)


@lru_cache(maxsize=512)
def template_pattern(template: str, *, whole: bool = False) -> re.Pattern:
    """The regular expression that finds ``template``'s English text, its fields as named groups.

    ``whole``: the text is one message of the template, nothing around it, and a field is any text (an error
    message's path or a library's own words). Otherwise the template is found inside a longer text: not inside a
    word, its spaces also matching ``<br>``, and a template that ends in a lazy field takes it up to the end of a
    line, a ``<br>`` or a sentence.
    """
    parts = re.split(r"\{(\w+)\}", template)
    if whole:
        regex = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)" for index, part in enumerate(parts))
        return re.compile(rf"\A{regex}\Z", re.DOTALL)
    regex = "".join(
        r"(?: |<br>)".join(map(re.escape, part.split(" "))) if index % 2 == 0
        else f"(?P<{part}>{_FIELDS.get(part, _DEFAULT_FIELD)})"
        for index, part in enumerate(parts))
    starts_in_word = parts[0][:1].isalnum() or (parts[0] == "" and len(parts) > 1)
    ends_in_word = parts[-1][-1:].isalnum() or (parts[-1] == "" and len(parts) > 1)
    if ends_in_word and parts[-1] == "" and _FIELDS.get(parts[-2], _DEFAULT_FIELD).endswith("?"):
        regex += r"(?=$|<br>|[.;)]?(?:\s|$))"
    return re.compile((rf"(?<!{_LETTER})" if starts_in_word else "") + regex +
                      (rf"(?!{_LETTER})" if ends_in_word else ""), re.MULTILINE)


def match_whole(text: str, templates: Iterable[str]) -> tuple[str, dict[str, str]] | None:
    """The template ``text`` was made from and its fields (the longest template wins), or ``None``."""
    for template in sorted(templates, key=len, reverse=True):
        match = template_pattern(template, whole=True).match(text)
        if match:
            return template, match.groupdict()
    return None


def shown_fields(fields: dict[str, str]) -> dict[str, str]:
    """The fields as the translation shows them (a list of names enumerated the translation's way)."""
    return {name: value.replace(", ", "、") if name in _LIST_FIELDS else value for name, value in fields.items()}


def _is_kept_term(match: re.Match) -> bool:
    """The English term a translation keeps in full-width parentheses after its own (轮（epoch）): a page's Chinese
    title passes through the core, and its term must not be translated twice."""
    text, start, end = match.string, match.start(), match.end()
    return text[start - 1:start] == "（" and text[end:end + 1] == "）"


def _translate(text: str, phrases: tuple[str, ...]) -> str:
    # Longest first, so that a phrase inside a longer one is not translated alone; of two of the same length, the
    # one given first (a page's own set, before PHRASES).
    for template in sorted(phrases, key=len, reverse=True):
        translated = _(template)
        if translated == template:
            continue

        def filled(match: re.Match, translated: str = translated) -> str:
            if _is_kept_term(match):
                return match.group(0)
            fields = {name: _translate(value, phrases) if name == "formula" else value
                      for name, value in match.groupdict().items()}
            return translated.format(**shown_fields(fields))

        text = template_pattern(template).sub(filled, text)
    return text


def translate_known(text: str, phrases: Iterable[str] = PHRASES) -> str:
    """``text`` with every phrase of ``phrases`` in the session's language (unchanged in English)."""
    if current_language() == DEFAULT_LANGUAGE:
        return text
    return _translate(text, tuple(dict.fromkeys(phrases)))


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"


def _columns(text: str) -> int:
    """Display width, as the core's ``wrap_title`` counts it (a CJK character is two columns)."""
    return sum(2 if _is_wide(char) else 1 for char in text)


def _unwrapped(title: str) -> str:
    """The title before the core wrapped it: a ``<br>`` between two Chinese characters was no space."""
    lines = title.split("<br>")
    out = lines[0]
    for line in lines[1:]:
        joint = "" if out[-1:] and line[:1] and _is_wide(out[-1]) and _is_wide(line[0]) else " "
        out += joint + line
    return out


def _walk(value, phrases: tuple[str, ...], hover: tuple[str, ...]):
    if isinstance(value, dict):
        return {key: (_translate(item, hover if key == "hovertemplate" else phrases)
                      if key in _TEXT_KEYS and isinstance(item, str) else _walk(item, phrases, hover))
                for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, phrases, hover) for item in value]
    return value


def _localize_title(layout: dict, phrases: tuple[str, ...], title: str | None, width: int | None) -> None:
    """The figure's own title in the session's language, wrapped again where its text changed, and the room for it.

    ``width`` is the one the core wrapped the title to; without it, the widest line of the core's title (the core
    wrapped to at least that). The core gives each title line 21 px (``container_edu.figures.base_layout``); a
    Chinese line stands taller than a Latin one, so a title of several Chinese lines gets 8 px more per line
    break, or its first line is cut off at the top of the chart.
    """
    entry = layout.get("title")
    old = entry.get("text") if isinstance(entry, dict) else None
    if not isinstance(old, str):
        return
    flat = _unwrapped(old)
    new = _translate(flat, phrases) if title is None else title
    if new != flat:
        new = wrap_title(new, width or max(map(_columns, old.split("<br>"))))
    else:
        new = old  # as the core wrapped it
    breaks = new.count("<br>")
    taller = 8 * breaks if any(map(_is_wide, new)) else 0
    extra = 21 * (breaks - old.count("<br>")) + taller
    entry["text"] = new
    if taller:
        pad = entry.setdefault("pad", {})
        pad["t"] = (pad.get("t") or 0) + taller
    margin = layout.get("margin") or {}
    if extra and isinstance(layout.get("height"), (int, float)):
        layout["height"] += extra
        if isinstance(margin.get("t"), (int, float)):
            margin["t"] += extra


def localize(fig: go.Figure, phrases: Iterable[str] = (), *, title: str | None = None,
             title_width: int | None = None) -> go.Figure:
    """A core figure in the session's language (the same figure, untouched, in English).

    ``phrases``: the page's phrase set, besides :data:`PHRASES` (which every core figure may carry); hover texts
    also get :data:`HOVER_PHRASES`. ``title`` replaces the core's title where the core wrote one of its own and
    the page has it in the session's language; ``title_width`` is the width the core wrapped the title to.
    """
    if current_language() == DEFAULT_LANGUAGE:
        return fig
    phrases = tuple(dict.fromkeys((*phrases, *PHRASES)))
    spec = fig.to_plotly_json()
    layout = spec.setdefault("layout", {})
    entry = layout.pop("title", None)
    out = _walk(spec, phrases, tuple(dict.fromkeys((*phrases, *HOVER_PHRASES))))
    if entry is not None:
        out["layout"]["title"] = entry
        _localize_title(out["layout"], phrases, title, title_width)
    return go.Figure(out)
