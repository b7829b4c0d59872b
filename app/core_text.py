"""The core's fixed English sentences on the Image inspector, Blend and Model zoo pages, in the session's language.

``container_edu`` stays English and knows nothing of the app. Some of what it returns reaches the user as it is:
the titles, panel names and axis titles of its figures, the data-size sweep's report, a model card's description
of its dataset. Each of these is one of a fixed set of sentences with fields (a block's name, a head, numbers);
:func:`translate_known` recognises them by their English template (marked with ``N_`` here, so that translators
see them) and puts the same fields into the translation. Text that matches no template stays as it is.

:func:`localize_figure` does this for a finished figure, and wraps its (no longer English) title again: the core
wraps titles at spaces, which Chinese has few of.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import plotly.graph_objects as go

from .figure_text import PHRASES as SHARED_PHRASES
from .i18n import DEFAULT_LANGUAGE, N_, _, current_language

__all__ = ["MAP_PHRASES", "BLEND_PHRASES", "ZOO_PHRASES", "REPORT_PHRASES", "translate_known", "localize_figure",
           "wrap_title"]

#: What each field of a template may match (default: a name or number without spaces).
_FIELDS = {
    "formula": r".+?",
    "query": r"\(\d+, \d+\)",
    "shown": r"[^()]+?",
    "seeds": r"\d+(?:, \d+)*",
    "variants": r"[\w]+(?:, [\w]+)*",
    "text": r".+",
    "pilot": r".+",
    "values": r".+?",
    "accuracy": r"[\d.]+%",
    "symbol": r"\S+?",  # a formula symbol such as A_c^conv
}
_DEFAULT_FIELD = r"[\w.,:×±%~−-]+?"

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


@lru_cache(maxsize=256)
def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>{_FIELDS.get(part, _DEFAULT_FIELD)})"
                    for index, part in enumerate(parts))
    if " " not in template and not parts[1:]:
        return re.compile(rf"^{regex}$")  # a single word is translated only where it is the whole text
    # A template that ends in a field takes the field up to the end of a line, a <br> or a sentence.
    lazy_end = parts[-1] == "" and _FIELDS.get(parts[-2], _DEFAULT_FIELD).endswith("?")
    ending = r"(?=$|<br>|[.;)]?(?:\s|$))" if lazy_end else ""
    starting = r"(?<!\w)" if template[:1].isalnum() else ""
    return re.compile(starting + regex + ending + (r"(?!\w)" if template[-1:].isalnum() else ""), re.MULTILINE)


def _shown_fields(match: re.Match) -> dict[str, str]:
    fields = match.groupdict()
    if "variants" in fields:  # a list of code names: Chinese enumerates with 、
        fields["variants"] = fields["variants"].replace(", ", "、")
    return fields


def translate_known(text: str, phrases: Iterable[str]) -> str:
    """``text`` with every sentence of ``phrases`` in the session's language (unchanged in English)."""
    if current_language() == DEFAULT_LANGUAGE:
        return text
    for template in sorted(set(phrases), key=len, reverse=True):
        translated = _(template)
        if translated != template:
            text = _pattern(template).sub(lambda match, t=translated: t.format(**_shown_fields(match)), text)
    return text


def _width(text: str) -> int:
    return sum(2 if ord(char) > 0x2E80 else 1 for char in text)


def wrap_title(text: str, width: int) -> str:
    """Lines of at most ``width`` columns (a Chinese character counts two); breaks at spaces and between Chinese
    characters, never inside a Latin word or a number."""
    lines = []
    for paragraph in text.split("<br>"):
        tokens = re.findall(r"[\u2e80-\uffff]|[^\s\u2e80-\uffff]+|\s+", paragraph)
        line = ""
        for token in tokens:
            if line.strip() and _width(line.rstrip()) + _width(token.rstrip()) > width and not token.isspace():
                lines.append(line.rstrip())
                line = ""
            if not (token.isspace() and not line):
                line += token
        lines.append(line.rstrip())
    return "<br>".join(lines)


def _walk(value, phrases: tuple[str, ...]):
    if isinstance(value, dict):
        return {key: (translate_known(item, phrases) if key in ("text", "name") and isinstance(item, str)
                      else _walk(item, phrases)) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, phrases) for item in value]
    return value


def localize_figure(fig: go.Figure, phrases: Iterable[str], *, title: str | None = None,
                    title_width: int = 95) -> go.Figure:
    """A core figure in the session's language (the same figure in English).

    ``title`` replaces the core's title (the page translated it itself); otherwise the core's title is translated
    when it is one of ``phrases``. Either way it is wrapped again to ``title_width`` columns and the figure grows or
    shrinks by the lines it gained or lost, as the core sizes it.
    """
    if current_language() == DEFAULT_LANGUAGE:
        return fig
    phrases = tuple(phrases) + SHARED_PHRASES
    old = fig.layout.title.text or ""
    data = fig.to_plotly_json()
    data.get("layout", {}).pop("title", None)
    out = go.Figure(_walk(data, phrases))
    if title is None:
        title = translate_known(old.replace("<br>", " "), phrases)
    new = wrap_title(title, title_width)
    out.layout.title = fig.layout.title
    out.update_layout(title_text=new)
    # Chinese lines stand taller than the core's Latin ones: more room above a title of several lines, or its
    # first line is cut off at the top of the chart.
    taller = 8 * new.count("<br>")
    out.update_layout(title_pad_t=(fig.layout.title.pad.t or 0) + taller)
    extra = 21 * (new.count("<br>") - old.count("<br>")) + taller
    if extra and fig.layout.height:
        out.update_layout(height=fig.layout.height + extra)
        if fig.layout.margin.t is not None:
            out.update_layout(margin_t=fig.layout.margin.t + extra)
    return out
