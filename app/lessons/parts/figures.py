"""Plotly figures for the lessons: tensors in, figures out (no Streamlit here).

Every figure is titled with what it shows and the paper's symbol; every
colour scale has a titled colorbar. Signed quantities (kernels, values,
differences of signed maps) use a diverging scale centred on 0; affinities
that are probabilities use a sequential one.

Titles and labels passed in come translated from the lesson; the texts made here are translated here
(``app.i18n._``: English outside a Streamlit run).
"""

from __future__ import annotations

import html

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from app.i18n import N_, _
from container_edu.figures.colors import DIVERGING, SEQUENTIAL
from container_edu.figures.heatmaps import QUERY_MARKERS

from app.lessons.parts.course import lesson_ref, lesson_span

_MARGIN = dict(l=10, r=10, t=60, b=10)


def as_array(values: torch.Tensor | np.ndarray | Sequence) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=float)


def _symmetric_range(z: np.ndarray) -> tuple[float, float]:
    bound = float(np.abs(z).max()) if z.size else 1.0
    bound = bound if bound > 0 else 1.0
    return -bound, bound


def _hover(x_title: str, y_title: str, value_format: str) -> str:
    row, column, value = y_title or _("row"), x_title or _("column"), _("value")
    return f"{row} %{{y}}<br>{column} %{{x}}<br>{value} %{{z:{value_format}}}<extra></extra>"


def heatmap(
    z: torch.Tensor | np.ndarray,
    title: str,
    colorbar_title: str,
    *,
    x_title: str = "",
    y_title: str = "",
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    diverging: bool = False,
    colorscale: str | None = None,
    show_values: bool = False,
    zmin: float | None = None,
    zmax: float | None = None,
    height: int = 360,
    value_format: str = ".2f",
) -> go.Figure:
    """A matrix as a heatmap with row 0 at the top (the way a matrix is written)."""
    array = as_array(z)
    if diverging and zmin is None and zmax is None:
        zmin, zmax = _symmetric_range(array)
    trace = go.Heatmap(
        z=array,
        x=list(x_labels) if x_labels is not None else None,
        y=list(y_labels) if y_labels is not None else None,
        colorscale=colorscale or (DIVERGING if diverging else SEQUENTIAL),
        zmin=zmin,
        zmax=zmax,
        colorbar=dict(title=dict(text=colorbar_title, side="right")),
        hovertemplate=_hover(x_title, y_title, value_format),
    )
    if show_values:
        trace.update(texttemplate=f"%{{z:{value_format}}}", textfont=dict(size=12))
    fig = go.Figure(trace)
    fig.update_layout(title=dict(text=title), height=height, margin=_MARGIN)
    fig.update_xaxes(title_text=x_title, side="bottom", type="category" if x_labels is not None else None)
    fig.update_yaxes(title_text=y_title, autorange="reversed", type="category" if y_labels is not None else None)
    return fig


def grid_map(
    z: torch.Tensor | np.ndarray,
    title: str,
    colorbar_title: str,
    *,
    query: tuple[int, int] | None = None,
    diverging: bool = False,
    colorscale: str | None = None,
    zmin: float | None = None,
    zmax: float | None = None,
    box: tuple[int, int, int, int] | None = None,
    box_label: str = "",
    height: int = 340,
) -> go.Figure:
    """An ``H x W`` map on the token grid (y down, x right); ``query`` marked with a cross.

    ``box = (y0, y1, x0, x1)`` (inclusive) outlines a region, e.g. the interior away from the border.
    """
    array = as_array(z)
    fig = heatmap(
        array, title, colorbar_title, x_title=_("x (token column)"), y_title=_("y (token row)"),
        diverging=diverging, colorscale=colorscale, zmin=zmin, zmax=zmax, height=height, value_format=".3f",
    )
    if query is not None:
        for marker in QUERY_MARKERS:  # a white cross edged in black: readable on every colour map
            fig.add_trace(go.Scatter(
                x=[query[1]], y=[query[0]], mode="markers", name=_("query token i"), showlegend=False,
                marker=marker, hovertemplate=_("query token i") + "<extra></extra>",
            ))
    if box is not None:
        y0, y1, x0, x1 = box
        fig.add_shape(type="rect", x0=x0 - 0.5, x1=x1 + 0.5, y0=y0 - 0.5, y1=y1 + 0.5,
                      line=dict(color="#00c853", width=3, dash="dash"))
        if box_label:
            fig.add_annotation(x=(x0 + x1) / 2, y=y0 - 0.5, text=box_label, showarrow=False, yshift=10,
                               font=dict(color="#00c853"))
    fig.update_layout(showlegend=False)
    fig.update_yaxes(scaleanchor="x", constrain="domain")
    fig.update_xaxes(constrain="domain")
    return fig


def heatmaps_side_by_side(
    panels: Sequence[tuple[torch.Tensor | np.ndarray, str]],
    title: str,
    colorbar_title: str,
    *,
    x_title: str = "",
    y_title: str = "",
    diverging: bool = False,
    colorscale: str | None = None,
    shared_scale: bool = True,
    grid: bool = False,
    query: tuple[int, int] | None = None,
    height: int = 380,
) -> go.Figure:
    """Several matrices or grid maps in one row, on one colour scale (one colorbar)."""
    arrays = [as_array(z) for z, _name in panels]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[name for _matrix, name in panels],
                        horizontal_spacing=0.06)
    if shared_scale:
        if diverging:
            bound = max(float(np.abs(a).max()) for a in arrays) or 1.0
            zmin, zmax = -bound, bound
        else:
            zmin = min(float(a.min()) for a in arrays)
            zmax = max(float(a.max()) for a in arrays)
            if zmax <= zmin:
                zmax = zmin + 1.0
    for col, array in enumerate(arrays, start=1):
        kwargs = dict(zmin=zmin, zmax=zmax) if shared_scale else {}
        fig.add_trace(go.Heatmap(
            z=array, colorscale=colorscale or (DIVERGING if diverging else SEQUENTIAL),
            showscale=(col == len(arrays)) or not shared_scale,
            colorbar=dict(title=dict(text=colorbar_title, side="right")),
            hovertemplate=_hover(x_title, y_title, ".4f"),
            **kwargs,
        ), row=1, col=col)
        fig.update_xaxes(title_text=x_title, row=1, col=col)
        fig.update_yaxes(autorange="reversed", row=1, col=col, title_text=y_title if col == 1 else "")
        if grid:
            fig.update_yaxes(scaleanchor=f"x{col if col > 1 else ''}", constrain="domain", row=1, col=col)
            fig.update_xaxes(constrain="domain", row=1, col=col)
        if query is not None:
            for marker in QUERY_MARKERS:
                fig.add_trace(go.Scatter(
                    x=[query[1]], y=[query[0]], mode="markers", showlegend=False, marker=marker,
                    hovertemplate=_("query token i") + "<extra></extra>",
                ), row=1, col=col)
    fig.update_layout(title=dict(text=title), height=height, margin=dict(l=10, r=10, t=80, b=10))
    return fig


def lines(
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    title: str,
    x_title: str,
    y_title: str,
    *,
    log_x: bool = False,
    log_y: bool = False,
    markers: bool = True,
    y_range: tuple[float, float] | None = None,
    colors: Sequence[str] | None = None,
    height: int = 380,
) -> go.Figure:
    """One line per ``(name, x, y)``; ``colors`` fixes each line's colour (else the theme's palette)."""
    fig = go.Figure()
    for index, (name, x, y) in enumerate(series):
        line = dict(color=colors[index]) if colors is not None and index < len(colors) else None
        fig.add_trace(go.Scatter(x=list(x), y=list(y), name=name, mode="lines+markers" if markers else "lines",
                                 line=line))
    fig.update_layout(title=dict(text=title), height=height, margin=dict(l=10, r=10, t=60, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0))
    fig.update_xaxes(title_text=x_title, type="log" if log_x else None)
    fig.update_yaxes(title_text=y_title, type="log" if log_y else None, range=y_range)
    return fig


def bars(
    labels: Sequence[str], values: Sequence[float], title: str, y_title: str, *,
    text_format: str = "{:.2f}", height: int = 340,
) -> go.Figure:
    fig = go.Figure(go.Bar(x=list(labels), y=list(values), text=[text_format.format(v) for v in values],
                           textposition="outside"))
    fig.update_layout(title=dict(text=title), height=height, margin=_MARGIN)
    fig.update_yaxes(title_text=y_title)
    return fig


def add_vertical_markers(fig: go.Figure, xs: Sequence[float], labels: Sequence[str]) -> go.Figure:
    """Dotted vertical lines with a label at the top, drawn as traces so that they work on log axes too."""
    ys = [y for trace in fig.data for y in (trace.y or ()) if y is not None]
    if not ys:
        return fig
    low, high = min(ys), max(ys)
    for x, label in zip(xs, labels):
        fig.add_trace(go.Scatter(
            x=[x, x], y=[low, high], mode="lines+text", text=["", label], textposition="top center",
            line=dict(color="gray", dash="dot", width=1), showlegend=False, hoverinfo="skip",
            textfont=dict(color="gray"),
        ))
    return fig


class BlockPart(NamedTuple):
    """One part of the Container block: its code name, what it computes (English, ``N_``) and where it is explained:
    the key of the lesson, the first and last key of a run of lessons, or no lesson and a note (``N_``)."""

    name: str
    what: str
    lessons: tuple[str, ...] = ()
    note: str = ""

    def explained_in(self) -> str:
        """The part's caption in the diagram, in the session's language, numbered by the course order."""
        if len(self.lessons) == 1:
            return lesson_ref(self.lessons[0])
        if self.lessons:
            return lesson_span(*self.lessons)
        return _(self.note) if self.note else ""


#: The Container block, input to output, each part with the lesson that explains it (:meth:`BlockPart.explained_in`).
BLOCK_PARTS: tuple[BlockPart, ...] = (
    BlockPart("pos_embed", N_("3×3 depthwise conv<br>added to x"), ("conv",)),
    BlockPart("norm1", N_("BatchNorm"), ("container",)),
    BlockPart("conv1", N_("1×1 conv:<br>W_q | W_k | W_v"), ("attention",)),
    BlockPart("aggregate", N_("Y_m = A_m V_m<br>A: attention, conv,<br>mixer or blend"), ("matrix", "container")),
    BlockPart("conv2", N_("1×1 conv: W_o"), ("matrix",)),
    BlockPart("+", N_("residual")),
    BlockPart("norm2", N_("BatchNorm"), ("container",)),
    BlockPart("mlp", N_("1×1 conv → GELU<br>→ 1×1 conv"), note=N_("per token")),
    BlockPart("+", N_("residual")),
)


def block_diagram_html() -> str:
    """The Container block as HTML: one box per part in data order, each naming the lesson that explains it.

    HTML, not a chart: the boxes wrap onto more lines on a narrow screen instead of their text spilling out, and a
    screen reader reads the parts as an ordered list.
    """
    title = html.escape(_("One Container block, input to output"))
    items = []
    for index, part in enumerate(BLOCK_PARTS):
        what = "<br>".join(html.escape(line) for line in _(part.what).split("<br>"))
        explained_in = part.explained_in()
        highlight = " ce-block-aggregate" if part.name == "aggregate" else ""
        caption = f'<span class="ce-block-lesson">{html.escape(explained_in)}</span>' if explained_in else ""
        arrow = '<span class="ce-block-arrow" aria-hidden="true">→</span>' if index else ""
        items.append(f'<li>{arrow}<span class="ce-block-part{highlight}"><b>{html.escape(part.name)}</b>'
                     f"<br>{what}{caption}</span></li>")
    residual = html.escape(_("Each + adds back what entered the branch before it (a residual connection): the first "
                             "sum the input of norm1, the second the input of norm2."))
    return (
        "<style>"
        ".ce-block ol{display:flex;flex-wrap:wrap;gap:.4rem 0;list-style:none;padding:0;margin:.3rem 0;}"
        ".ce-block li{display:flex;align-items:center;}"
        ".ce-block-part{display:inline-block;border:1px solid #555;border-radius:.3rem;padding:.3rem .5rem;"
        "background:#eef3fb;color:#1b1b1b;font-size:.85rem;line-height:1.25;text-align:center;min-width:6.5rem;}"
        ".ce-block-aggregate{background:#fff3cd;}"
        ".ce-block-lesson{display:block;font-style:italic;color:#1a4f8c;font-size:.8rem;margin-top:.15rem;}"
        ".ce-block-arrow{padding:0 .35rem;color:#333;}"
        ".ce-block p{font-size:.85rem;color:#333;margin:.2rem 0;}"
        "</style>"
        f'<figure class="ce-block" aria-label="{title}"><figcaption><b>{title}</b></figcaption>'
        f"<ol>{''.join(items)}</ol><p>{residual}</p></figure>"
    )
