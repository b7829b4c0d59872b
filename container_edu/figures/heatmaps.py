"""Heatmaps of affinities: an ``N x N`` matrix, small multiples of grid maps, optionally over the picture.

The building blocks of every map figure (:mod:`container_edu.figures`).
Conventions, the same in the app and in a notebook:

- Affinities that are probabilities (attention rows, softmax) use a
  sequential scale (:data:`SEQUENTIAL`) starting at 0; signed ones (conv
  kernels, learned mixer matrices, blends) use a diverging scale
  (:data:`DIVERGING`) centred on 0, so white always means "no contribution".
- Every figure has a title naming what it shows and the paper's symbol, and
  every colour bar is titled with the quantity it encodes.
- Grids are drawn with row 0 at the top (image convention) and square cells;
  token ``i = y * W + x`` as in the core.
"""

from __future__ import annotations


import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import plotly.graph_objects as go

from container_edu.figures.colors import DIVERGING, QUERY_FILL, QUERY_HALO, SEQUENTIAL, is_signed
from container_edu.figures.describe import (
    FigureText,
    attach,
    heatmap_text,
    join_sentences,
    number,
    plain,
    top_entries,
)
from container_edu.text import N_, translate

__all__ = [
    "SEQUENTIAL",
    "DIVERGING",
    "Panel",
    "is_signed",
    "affinity_matrix",
    "panels",
    "grid_row",
    "image_figure",
    "wrap_title",
    "as_array",
    "base_layout",
    "FONT",
]

FONT = dict(family="Inter, Segoe UI, Helvetica, Arial, sans-serif", size=13)
#: The query's cross: a black one under a narrower white one, so that it reads on any colour of any scale.
QUERY_MARKERS = (dict(symbol="x-thin", size=16, color=QUERY_HALO, line=dict(width=6, color=QUERY_HALO)),
                 dict(symbol="x-thin", size=14, color=QUERY_FILL, line=dict(width=3, color=QUERY_FILL)))


def as_array(values: object) -> np.ndarray:
    """``values`` as float64: NumPy arrays, nested lists, and torch tensors (detached, on the CPU) alike."""
    if hasattr(values, "detach"):  # a torch tensor, perhaps a parameter on a GPU: a notebook passes these directly
        values = values.detach().to("cpu").double().numpy()
    return np.asarray(values, dtype=np.float64)


def _scale(values: np.ndarray, signed: bool | None) -> dict:
    """Colour-scale settings for a heatmap or a coloraxis."""
    values = as_array(values)
    signed = is_signed(values) if signed is None else signed
    if signed:
        bound = float(np.nanmax(np.abs(values))) if values.size else 1.0
        bound = bound if bound > 0 else 1.0
        return dict(colorscale=DIVERGING, cmin=-bound, cmax=bound)
    high = float(np.nanmax(values)) if values.size else 1.0
    low = min(0.0, float(np.nanmin(values))) if values.size else 0.0
    return dict(colorscale=SEQUENTIAL, cmin=low, cmax=high if high > low else low + 1.0)


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"


def _columns(text: str) -> int:
    """Display width: a wide (CJK) character takes two columns, as in a terminal."""
    return sum(2 if _is_wide(char) else 1 for char in text)


# A word of Latin letters or digits, one wide character (a line may break between two), or a run of spaces.
_NO_LINE_START = set("，。：；、）」》！？")  # Chinese punctuation stays at the end of the line before
_TITLE_TOKEN = re.compile(r" +|[\u2e80-\uffef]|[^ \u2e80-\uffef]+")


def wrap_title(text: str, width: int) -> str:
    """Break a long title into lines of at most ``width`` columns (Plotly titles do not wrap by themselves).

    Lines break at spaces, and between wide characters, since Chinese puts no spaces between words.
    """
    lines: list[str] = []
    for paragraph in text.split("<br>"):
        line = ""
        for token in _TITLE_TOKEN.findall(paragraph):
            breakable = not token.isspace() and token not in _NO_LINE_START
            if breakable and line.strip() and _columns(line) + _columns(token) > width:
                lines.append(line.rstrip())
                line = ""
            if line or not token.isspace():
                line += token
        lines.append(line.rstrip())
    return "<br>".join(lines)


def base_layout(fig: go.Figure, title: str, height: int, *, title_width: int = 115) -> go.Figure:
    """Title (wrapped to ``title_width`` characters), size, fonts and margins shared by every figure."""
    wrapped = wrap_title(title, title_width)
    lines = wrapped.count("<br>") + 1
    # A line of Chinese stands taller than a Latin one: without 8 px more per line break, the first line of a
    # translated title is cut off at the top of the chart.
    taller = 8 * (lines - 1) if any(_is_wide(char) for char in wrapped) else 0
    top = 30 + 21 * lines + taller
    fig.update_layout(
        title=dict(text=wrapped, x=0.0, xanchor="left", y=1.0, yanchor="top", yref="container",
                   pad=dict(t=10 + taller, l=4), font=dict(size=15)),
        height=height + 21 * (lines - 1) + taller,
        margin=dict(l=40, r=30, t=top + 10, b=40),
        font=FONT,
        paper_bgcolor="white",
        plot_bgcolor="white",
    )
    return fig


def _hover_cells(height: int, width: int) -> np.ndarray:
    """``(H, W, 3)`` of (token, y, x) for hover texts."""
    ys, xs = np.mgrid[0:height, 0:width]
    return np.stack([ys * width + xs, ys, xs], axis=-1)


# --------------------------------------------------------------------------
# N x N affinity matrices
# --------------------------------------------------------------------------


def affinity_matrix(
    matrix: np.ndarray,
    title: str,
    *,
    grid: tuple[int, int],
    colorbar_title: str,
    signed: bool | None = None,
    query_token: int | None = None,
    height: int = 460,
    title_width: int = 95,
) -> go.Figure:
    """One ``N x N`` affinity as a heatmap: row ``i`` = query token, column ``j`` = key token.

    ``query_token`` outlines that row, the one drawn on the grid elsewhere.
    """
    matrix = as_array(matrix)
    n = matrix.shape[0]
    grid_h, grid_w = grid
    if grid_h * grid_w != n:
        raise ValueError(f"a {n} x {n} matrix does not belong to a {grid_h} x {grid_w} grid")
    tokens = np.arange(n)
    query_yx = np.stack([tokens // grid_w, tokens % grid_w], axis=-1)
    custom = np.concatenate(
        [np.broadcast_to(query_yx[:, None, :], (n, n, 2)), np.broadcast_to(query_yx[None, :, :], (n, n, 2))], axis=-1
    )
    scale = _scale(matrix, signed)
    query_i, key_j, value = translate("query i"), translate("key j"), translate("value")
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=tokens,
            y=tokens,
            customdata=custom,
            colorscale=scale["colorscale"],
            zmin=scale["cmin"],
            zmax=scale["cmax"],
            colorbar=dict(title=dict(text=colorbar_title, side="right"), thickness=14),
            # Plotly's own %{...} fields stay outside the translated words.
            hovertemplate=f"{query_i}=%{{y}} (y=%{{customdata[0]}}, x=%{{customdata[1]}})<br>"
            f"{key_j}=%{{x}} (y=%{{customdata[2]}}, x=%{{customdata[3]}})<br>{value} %{{z:.4g}}<extra></extra>",
        )
    )
    if query_token is not None:
        for colour, width in ((QUERY_HALO, 4), (QUERY_FILL, 2)):
            fig.add_shape(type="rect", x0=-0.5, x1=n - 0.5, y0=query_token - 0.5, y1=query_token + 0.5,
                          line=dict(color=colour, width=width))
    fig.update_xaxes(title_text=translate("key token j"), constrain="domain", showgrid=False, zeroline=False)
    fig.update_yaxes(title_text=translate("query token i"), autorange="reversed", scaleanchor="x", constrain="domain",
                     showgrid=False, zeroline=False)
    fig = base_layout(fig, title, height, title_width=title_width)
    return attach(fig, _matrix_text(matrix, title, colorbar_title, scale["colorscale"] == DIVERGING, query_token))


def _matrix_text(matrix: np.ndarray, title: str, name: str, signed: bool, query_token: int | None) -> FigureText:
    """The matrix's largest entries, and those of the query's row when one is outlined."""
    text = heatmap_text([(name, matrix, signed)], title, cell_names=(N_("query token i"), N_("key token j")))
    if query_token is None:
        return text
    row = top_entries(matrix[query_token][None, :], 3, signed=signed)
    keys = translate("; ").join(f"{column} ({number(value)})" for _, column, value in row)
    sentence = translate("Row i = {i} (the query, outlined): its largest entries are at key tokens {keys}.",
                         i=query_token, keys=keys)
    return FigureText(join_sentences(text.sentence, sentence), text.columns, text.rows)


# --------------------------------------------------------------------------
# Small multiples of maps (grid rows, matrices, overlays)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """One heatmap of a multi-panel figure.

    ``z`` is ``(h, w)``: an affinity row on the token grid, or an ``N x N``
    matrix. ``signed=None`` picks the scale from the data.
    """

    z: np.ndarray
    subtitle: str
    colorbar_title: str = ""
    signed: bool | None = None
    bound: float | None = None  # fixed symmetric range ±bound (signed maps), to compare panels on one scale


def panels(
    items: Sequence[Panel],
    title: str,
    *,
    cols: int | None = None,
    shared_scale: bool = False,
    query: tuple[int, int] | None = None,
    image: np.ndarray | None = None,
    opacity: float = 0.6,
    clickable: bool = False,
    axis_titles: tuple[str, str] = (N_("x (token column)"), N_("y (token row)")),
    panel_height: int = 300,
    title_width: int = 80,
) -> go.Figure:
    """Several heatmaps side by side (wrapped into rows of ``cols``).

    Each panel gets its own colour scale and a titled colour bar below it,
    unless ``shared_scale`` puts them all on one scale with one colour bar
    (use it when the panels show the same quantity, e.g. every head's attention).

    ``image`` (``(H_img, W_img, 3)`` uint8) draws each map over the picture
    the model saw, stretched to cover it, with ``opacity``. ``query`` marks
    the query cell (grid coordinates) with a white cross edged in black. ``clickable`` adds an
    invisible point on every cell (``customdata = [y, x]``), so that a click
    can select a query with Streamlit's ``on_select``.

    Built as one plain spec and validated once (``make_subplots`` and
    per-axis updates cost ~10x more, and this runs on every widget change).
    """
    if not items:
        raise ValueError("panels() needs at least one panel")
    count = len(items)
    cols = cols or min(count, 4)
    rows = math.ceil(count / cols)
    show_axis_titles = image is None
    # Vertical space in pixels: under each row its tick labels (+ axis title) and, unless shared, the colour bars.
    axis_px = 42 if show_axis_titles else 8
    colourbar_px = 0 if shared_scale else 62
    below_px = axis_px + colourbar_px
    # Subtitles are annotations, which Plotly never wraps: wrap them to their panel's share of the width, so that
    # neighbours do not run into each other on a narrow screen (a 700 px window at 200 % zoom).
    items = [replace(p, subtitle=wrap_title(p.subtitle, max(24, 96 // cols))) if p.subtitle else p
             for p in items]
    subtitle_lines = max((p.subtitle.count("<br>") + 1 for p in items if p.subtitle), default=0)
    subtitle_px = 10 + 17 * subtitle_lines
    plot_px = rows * panel_height + (rows - 1) * (below_px + subtitle_px)
    h_space = 0.05 if shared_scale else 0.07
    width = (1 - h_space * (cols - 1)) / cols
    v_space = (below_px + subtitle_px) / plot_px
    height = panel_height / plot_px

    source = _data_uri(image) if image is not None else None
    traces: list[dict] = []
    layout: dict = {"annotations": [], "images": []}
    key_token, value, click_query = translate("key token"), translate("value"), translate("click: query")
    if shared_scale:
        joint = np.concatenate([as_array(p.z).ravel() for p in items])
        signed_values = [p.signed for p in items if p.signed is not None]
        scale = _scale(joint, signed_values[0] if signed_values else None)
        layout["coloraxis"] = dict(
            colorscale=scale["colorscale"], cmin=scale["cmin"], cmax=scale["cmax"],
            colorbar=dict(title=dict(text=items[0].colorbar_title, side="right"), thickness=14,
                          len=min(1.0, 420 / plot_px)),
        )

    for index, item in enumerate(items):
        row, col = divmod(index, cols)
        suffix = "" if index == 0 else str(index + 1)
        x_domain = [col * (width + h_space), col * (width + h_space) + width]
        top = 1 - row * (height + v_space)
        y_domain = [max(top - height, 0.0), top]
        z = as_array(item.z)
        grid_h, grid_w = z.shape
        if image is not None:
            img_h, img_w = image.shape[:2]
            cell_w, cell_h = img_w / grid_w, img_h / grid_h
            x0, y0 = cell_w / 2 - 0.5, cell_h / 2 - 0.5
            layout["images"].append(dict(
                source=source, xref=f"x{suffix}", yref=f"y{suffix}", x=-0.5, y=-0.5, sizex=img_w, sizey=img_h,
                sizing="stretch", layer="below", xanchor="left", yanchor="top",
            ))
            x_range, y_range = [-0.5, img_w - 0.5], [img_h - 0.5, -0.5]
        else:
            cell_w = cell_h = 1.0
            x0 = y0 = 0.0
            x_range, y_range = [-0.5, grid_w - 0.5], [grid_h - 0.5, -0.5]
        centres_x = x0 + cell_w * np.arange(grid_w)
        centres_y = y0 + cell_h * np.arange(grid_h)
        axes = dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}")
        heat = dict(
            type="heatmap", z=z, x=centres_x, y=centres_y, customdata=_hover_cells(grid_h, grid_w),
            hovertemplate=f"{key_token} %{{customdata[0]}} (y=%{{customdata[1]}}, x=%{{customdata[2]}})"
            f"<br>{value} %{{z:.4g}}<extra></extra>",
            opacity=opacity if image is not None else 1.0, **axes,
        )
        if shared_scale:
            heat["coloraxis"] = "coloraxis"
        else:
            scale = _scale(z, item.signed)
            if item.bound and scale["colorscale"] == DIVERGING:
                scale.update(cmin=-item.bound, cmax=item.bound)
            heat.update(
                colorscale=scale["colorscale"], zmin=scale["cmin"], zmax=scale["cmax"],
                colorbar=dict(
                    title=dict(text=item.colorbar_title, side="top", font=dict(size=12)), orientation="h",
                    thickness=10, x=(x_domain[0] + x_domain[1]) / 2, xanchor="center",
                    len=(x_domain[1] - x_domain[0]) * 0.8, y=y_domain[0] - axis_px / plot_px, yanchor="top",
                    tickfont=dict(size=10), nticks=5,
                ),
            )
        traces.append(heat)
        if clickable:
            yx = np.stack([np.repeat(np.arange(grid_h), grid_w), np.tile(np.arange(grid_w), grid_h)], axis=-1)
            traces.append(dict(
                type="scatter", x=np.tile(centres_x, grid_h), y=np.repeat(centres_y, grid_w), mode="markers",
                customdata=yx.tolist(), showlegend=False,  # plain lists: a click returns [y, x] as is
                marker=dict(size=max(6, min(28, int(320 / max(grid_w, grid_h)))), symbol="square", opacity=0,
                            color="black"),
                hovertemplate=f"{click_query} (y=%{{customdata[0]}}, x=%{{customdata[1]}})<extra></extra>", **axes,
            ))
        if query is not None:
            qy, qx = query
            traces += [dict(type="scatter", x=[x0 + cell_w * qx], y=[y0 + cell_h * qy], mode="markers",
                            marker=marker, showlegend=False, hoverinfo="skip", **axes) for marker in QUERY_MARKERS]
        layout[f"xaxis{suffix}"] = dict(
            domain=x_domain, anchor=f"y{suffix}", range=x_range, showgrid=False, zeroline=False, constrain="domain",
            showticklabels=image is None,
            title=dict(text=translate(axis_titles[0]), standoff=4) if show_axis_titles else None,
        )
        layout[f"yaxis{suffix}"] = dict(
            domain=y_domain, anchor=f"x{suffix}", range=y_range, showgrid=False, zeroline=False, constrain="domain",
            scaleanchor=f"x{suffix}", scaleratio=1, showticklabels=image is None,
            title=dict(text=translate(axis_titles[1]), standoff=10) if show_axis_titles and col == 0 else None,
        )
        if item.subtitle:
            layout["annotations"].append(dict(
                text=item.subtitle, x=(x_domain[0] + x_domain[1]) / 2, y=y_domain[1], xref="paper", yref="paper",
                xanchor="center", yanchor="bottom", yshift=4, showarrow=False, font=dict(size=12.5, color="#333"),
            ))
    fig = go.Figure(data=traces, layout=layout)
    fig = base_layout(fig, title, 100, title_width=title_width)
    top = fig.layout.margin.t + 17 * subtitle_lines
    fig.update_layout(
        height=plot_px + top + below_px + 12,
        margin=dict(l=64 if show_axis_titles else 20, r=30 if not shared_scale else 90, t=top, b=below_px + 12),
        clickmode="event+select" if clickable else None, dragmode=False,
    )
    described = [(item.subtitle or item.colorbar_title, as_array(item.z),
                  is_signed(as_array(item.z)) if item.signed is None else item.signed) for item in items]
    return attach(fig, heatmap_text(described, title, query=query, cell_names=(axis_titles[1], axis_titles[0])))


def grid_row(
    row: np.ndarray,
    title: str,
    *,
    colorbar_title: str,
    query: tuple[int, int] | None = None,
    signed: bool | None = None,
    clickable: bool = False,
    panel_height: int = 300,
    title_width: int = 95,
) -> go.Figure:
    """One query's affinity row drawn on the ``H x W`` token grid (a single panel)."""
    return panels([Panel(row, "", colorbar_title, signed)], title, cols=1, query=query, clickable=clickable,
                  panel_height=panel_height, title_width=title_width)


def _data_uri(image: np.ndarray) -> str:
    """The picture as a data URI: PNG or JPEG, whichever is smaller (one copy per panel ends up in the JSON)."""
    import base64
    import io

    from PIL import Image

    picture = Image.fromarray(np.asarray(image, dtype=np.uint8))
    best = None
    for fmt, mime, options in (("PNG", "image/png", {"optimize": True}), ("JPEG", "image/jpeg", {"quality": 88})):
        buffer = io.BytesIO()
        picture.save(buffer, format=fmt, **options)
        if best is None or buffer.tell() < len(best[1]):
            best = (mime, buffer.getvalue())
    return f"data:{best[0]};base64," + base64.b64encode(best[1]).decode("ascii")


def image_figure(image: np.ndarray, title: str, height: int = 320, title_width: int = 95,
                 size: tuple[int, int] | None = None) -> go.Figure:
    """The picture a model sees, with pixel axes.

    ``size`` (height, width) is the picture's own size when ``image`` is a copy enlarged for display (a 28×28
    input drawn at 224 px): the text alternative names the size the model sees, not the display copy's.
    """
    fig = go.Figure(go.Image(z=np.asarray(image, dtype=np.uint8), hovertemplate="x=%{x}, y=%{y}<extra></extra>"))
    fig.update_xaxes(showticklabels=False, showgrid=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, scaleanchor="x")
    fig = base_layout(fig, title, height, title_width=title_width)
    fig.update_layout(margin=dict(l=10, r=10, b=10))
    height_px, width_px = size if size is not None else np.asarray(image).shape[:2]
    return attach(fig, FigureText(translate("{title}: the picture, {w}×{h} pixels.", title=plain(title), w=width_px,
                                            h=height_px)))
