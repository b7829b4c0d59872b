"""Every figure's text alternative: one sentence saying what it shows, and the data behind it as a table.

A screen reader hears nothing of a chart, and a learner who cannot tell two colours apart reads nothing in a
heatmap, so every figure of :mod:`container_edu.figures` carries a :class:`FigureText`: a sentence (what is
shown, the query if any, where the weight concentrates, the largest entries) and a small table (a map's
largest tokens with their weights, the numbers behind a chart). The builders attach it to the figure
(:func:`attach`, kept in ``figure.layout.meta``, so it travels with the figure into the app, a notebook or
its JSON); :func:`describe` reads it back, and for a figure built elsewhere makes a generic one from the
figure's own traces (title, trace kind, axis titles, value range, largest entries), so every chart speaks.

The sentences are translated where they are made, like the figures' titles (:mod:`container_edu.text`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from container_edu.text import N_, translate

__all__ = ["FigureText", "attach", "describe", "describe_figure", "plain", "heatmap_text", "top_entries",
           "number", "join_sentences"]

_META_KEY = "container_edu_text"
#: How many entries of a map the sentence names, and how many rows a map's table lists per panel.
SENTENCE_ENTRIES = 3
TABLE_ENTRIES = 8
#: A generic chart's table stops here (a training history of many models may have hundreds of points).
TABLE_ROWS = 60


@dataclass(frozen=True)
class FigureText:
    """What a figure shows in words (``sentence``) and as a table (``columns``, ``rows``; empty for a picture)."""

    sentence: str
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[object, ...], ...] = ()

    def as_dict(self) -> dict:
        return {"sentence": self.sentence, "columns": list(self.columns), "rows": [list(row) for row in self.rows]}

    @classmethod
    def from_dict(cls, data: dict) -> FigureText:
        return cls(str(data.get("sentence", "")), tuple(data.get("columns", ())),
                   tuple(tuple(row) for row in data.get("rows", ())))

    def markdown_table(self) -> str:
        """The table as Markdown (a notebook's ``display(Markdown(...))``, a report)."""
        if not self.columns:
            return ""
        lines = ["| " + " | ".join(self.columns) + " |", "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in self.rows]
        return "\n".join(lines)


def attach(figure, text: FigureText):
    """Keep ``text`` with ``figure`` (in ``layout.meta``, which Plotly carries along and never draws); returns it."""
    meta = figure.layout.meta
    meta = dict(meta) if isinstance(meta, dict) else {}
    meta[_META_KEY] = text.as_dict()
    figure.update_layout(meta=meta)
    return figure


def describe(figure) -> FigureText:
    """The figure's text alternative: the one its builder attached, else one read from its traces."""
    meta = figure.layout.meta
    if isinstance(meta, dict) and isinstance(meta.get(_META_KEY), dict):
        return FigureText.from_dict(meta[_META_KEY])
    return describe_figure(figure)


_TAGS = re.compile(r"<[^>]+>")


def plain(text: object) -> str:
    """A figure's title or label without its markup: line breaks become spaces."""
    return re.sub(r"\s+", " ", _TAGS.sub(" ", str(text or ""))).strip()


def join_sentences(*sentences: str) -> str:
    """Sentences one after the other: a space after a Latin full stop, none after a Chinese one (。 is wide)."""
    text = ""
    for sentence in filter(None, sentences):
        text += sentence if not text or text.endswith(("。", "！", "？")) else " " + sentence
    return text


def number(value: float) -> str:
    """A weight as read aloud: 4 significant digits, no exponent for the values a map holds."""
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


# --------------------------------------------------------------------------
# Maps
# --------------------------------------------------------------------------


def top_entries(z: np.ndarray, k: int, *, signed: bool) -> list[tuple[int, int, float]]:
    """The ``k`` largest entries of a 2-D map as ``(row, column, value)``: by magnitude when ``signed``."""
    z = np.nan_to_num(np.asarray(z, dtype=np.float64), nan=0.0)
    key = np.abs(z) if signed else z
    order = np.argsort(-key, axis=None, kind="stable")[:k]
    rows, cols = np.unravel_index(order, z.shape)
    return [(int(r), int(c), float(z[r, c])) for r, c in zip(rows, cols, strict=True)]


def _cells(entries: Sequence[tuple[int, int, float]]) -> str:
    return translate("; ").join(f"({r}, {c}) {number(v)}" for r, c, v in entries)


def heatmap_text(maps: Sequence[tuple[str, np.ndarray, bool]], title: str, *, query: tuple[int, int] | None = None,
                 cell_names: tuple[str, str] = (N_("y (token row)"), N_("x (token column)"))) -> FigureText:
    """The text of one or several maps: ``maps`` holds ``(name, z, signed)`` per panel.

    Per map the sentence names its largest entries and how much of the map's total weight (sum of absolute
    values) the largest :data:`TABLE_ENTRIES` hold, and, with a ``query`` (``(row, column)``), how far the
    largest lies from it; the table lists each map's largest entries.
    """
    parts = []
    title = plain(title).rstrip(".。")
    if query is not None:
        parts.append(translate("{title}. {count} map(s), query at ({y}, {x}).", title=title, count=len(maps),
                               y=query[0], x=query[1]))
    else:
        parts.append(translate("{title}. {count} map(s).", title=title, count=len(maps)))
    rows = []
    for name, z, signed in maps:
        z = np.atleast_2d(np.asarray(z, dtype=np.float64))
        entries = top_entries(z, TABLE_ENTRIES, signed=signed)
        total = float(np.abs(np.nan_to_num(z)).sum())
        share = 100 * sum(abs(v) for _, _, v in entries) / total if total > 0 else 0.0
        label = plain(name) or translate("map")
        fields = dict(map=label, top=_cells(entries[:SENTENCE_ENTRIES]), k=len(entries), n=z.size,
                      share=format(share, ".0f"))
        if query is not None and entries:
            distance = max(abs(entries[0][0] - query[0]), abs(entries[0][1] - query[1]))
            parts.append(translate("{map}: largest at {top}; the top {k} of {n} entries hold {share}% of the weight; "
                                   "the largest lies {d} cell(s) from the query.", d=distance, **fields))
        else:
            parts.append(translate("{map}: largest at {top}; the top {k} of {n} entries hold {share}% of the "
                                   "weight.", **fields))
        rows += [(label, rank + 1, r, c, number(v)) for rank, (r, c, v) in enumerate(entries)]
    columns = (translate("map"), translate("rank"), translate(cell_names[0]), translate(cell_names[1]),
               translate("value"))
    return FigureText(join_sentences(*parts), columns, tuple(rows))


# --------------------------------------------------------------------------
# Any figure: read from its traces
# --------------------------------------------------------------------------


def _axis_title(figure, axis: str) -> str:
    title = getattr(getattr(figure.layout, axis, None), "title", None)
    return plain(getattr(title, "text", None) or "")


def _shown(trace) -> bool:
    """False for the invisible helpers a chart draws (the clickable grid, the query marker without hover)."""
    if getattr(trace, "visible", None) is False or getattr(trace, "hoverinfo", None) == "skip":
        return False
    marker = getattr(trace, "marker", None)
    return getattr(marker, "opacity", None) != 0


def _values(data) -> list:
    """A trace's array as a list: plain, NumPy, or the typed array Plotly writes into JSON (``bdata``)."""
    if data is None:
        return []
    if isinstance(data, dict) and "bdata" in data:
        import base64

        array = np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
        shape = [int(n) for n in str(data.get("shape", len(array))).split(",")]
        return array.reshape(shape).tolist()
    return np.asarray(data).tolist() if isinstance(data, np.ndarray) else list(data)


def _series_rows(trace, index: int) -> list[tuple[object, ...]]:
    name = plain(trace.name) or translate("series {n}", n=index + 1)
    ys = _values(trace.y)
    xs = _values(trace.x) or list(range(len(ys)))
    if getattr(trace, "orientation", None) == "h":
        xs, ys = ys, xs
    return [(name, _cell(x), _cell(y))
            for x, y in zip(xs, ys, strict=False) if y is not None]


def describe_figure(figure) -> FigureText:
    """A generic text alternative from the figure's traces: for figures no builder described (a lesson's own)."""
    title = plain(getattr(getattr(figure.layout, "title", None), "text", None)) or translate("Chart")
    traces = [trace for trace in figure.data if _shown(trace)]
    heatmaps = [t for t in traces if t.type == "heatmap" and t.z is not None]
    if heatmaps and len(heatmaps) == len([t for t in traces if t.type != "scatter"]):
        # Subplots titled by annotations, one per panel (make_subplots' subplot_titles): the panels' names.
        titles = [plain(a.text) for a in (figure.layout.annotations or ())]
        titles = titles if len(titles) == len(heatmaps) else [""] * len(heatmaps)
        maps = []
        for index, trace in enumerate(heatmaps):
            z = np.asarray(_values(trace.z), dtype=np.float64)
            name = plain(trace.name) or titles[index] or translate("map {n}", n=index + 1)
            maps.append((name, z, bool(np.nanmin(z) < 0)))
        return heatmap_text(maps, title, cell_names=(N_("row"), N_("column")))
    if not any(_has_data(t) for t in traces):
        return _diagram_text(figure, title)
    if traces and all(t.type == "image" for t in traces):
        return FigureText(translate("{title}: a picture.", title=title))
    rows: list[tuple[object, ...]] = []
    values: list[tuple[float, str, str]] = []
    for index, trace in enumerate(traces):
        series = _series_rows(trace, index) if trace.type in ("bar", "scatter") else []
        rows += series
        values += [(float(v), name, x) for name, x, v in series if _is_number(v)]
    x_title, y_title = _axis_title(figure, "xaxis"), _axis_title(figure, "yaxis")
    kinds = translate(", ").join(sorted({translate(_TRACE_KINDS.get(t.type, N_("chart"))) for t in traces}))
    sentence = translate("{title}: {kinds}; x axis: {x}; y axis: {y}.", title=title, kinds=kinds or translate("chart"),
                         x=x_title or "–", y=y_title or "–")
    if values:
        low, high = min(values), max(values)
        sentence = join_sentences(sentence, translate("Values from {low} to {high}; the largest at {x} ({series}).",
                                    low=number(low[0]), high=number(high[0]), x=high[2], series=high[1]))
    columns = (translate("series"), x_title or "x", y_title or "y")
    return FigureText(sentence, columns if rows else (), tuple(rows[:TABLE_ROWS]))


def _has_data(trace) -> bool:
    return any(getattr(trace, name, None) is not None and len(_values(getattr(trace, name))) > 0
               for name in ("x", "y", "z") if hasattr(trace, name))


def _diagram_text(figure, title: str) -> FigureText:
    """A figure of shapes and labels only (a block diagram): its labels, in the order they were written."""
    labels = [plain(a.text) for a in (figure.layout.annotations or ()) if plain(a.text)]
    if not labels:
        return FigureText(translate("{title}: a drawing without data.", title=title))
    return FigureText(translate("{title}: a diagram labelled {labels}.", title=title,
                                labels=translate("; ").join(labels)))


def _cell(value: object) -> str:
    return number(value) if isinstance(value, (int, float, np.number)) and not isinstance(value, bool) else plain(value)


def _is_number(text: object) -> bool:
    try:
        float(str(text))
    except ValueError:
        return False
    return True


_TRACE_KINDS = {"bar": N_("bars"), "scatter": N_("lines or points"), "heatmap": N_("heatmap"), "image": N_("picture")}
