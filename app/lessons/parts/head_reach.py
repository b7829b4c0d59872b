"""How far and how selectively each attention head looks: the ``measured`` lesson's distance and entropy figures.

Distance alone cannot tell a selective head from an indifferent one: a uniform row reaches as far as the whole grid
on average. So every distance is drawn beside two references, a flat k×k kernel and uniform attention on the grid,
and every entropy beside ``log N``, the entropy of a uniform row (all measured or computed, none written down).
"""

from __future__ import annotations

import plotly.graph_objects as go

from app.i18n import _
from container_edu import analysis as an
from container_edu.figures import wrap_title

__all__ = ["attention_heads", "head_name", "distance_figure", "entropy_figure", "uniform_reference"]

BAR_COLOUR, KERNEL_COLOUR, UNIFORM_COLOUR, FLAT_COLOUR = "#2f6f8f", "#d08c3c", "#7a3b8f", "#555"


def attention_heads(gallery: an.Gallery) -> list[an.HeadStats]:
    return [head for head in gallery.heads if head.attention_distance is not None]


def head_name(head: an.HeadStats) -> str:
    return _("{block} · head {head}").format(block=head.block, head=head.head)


def uniform_reference(gallery: an.Gallery) -> tuple[tuple[int, int], float, float]:
    """The attention heads' grid, and uniform attention's ``(distance, entropy)`` on it (``log N``)."""
    grid = attention_heads(gallery)[0].grid
    distance, entropy = an.uniform_attention_reference(grid)
    return grid, distance, entropy


def _layout(fig: go.Figure, title: str, y_title: str, top: float) -> None:
    """A wrapped title (the figure sits in half the page), the legend inside the plot above the bars."""
    wrapped = wrap_title(title, 54)
    lines = wrapped.count("<br>") + 1
    fig.update_layout(title=dict(text=wrapped, y=1.0, yref="container", yanchor="top", pad=dict(t=12)), height=380 + 20 * lines, yaxis_title=y_title,
                      yaxis_range=[0, top * 1.45], margin=dict(l=10, r=10, t=40 + 22 * lines, b=10),
                      legend=dict(orientation="h", yanchor="top", y=1.0, xanchor="left", x=0,
                                  bgcolor="rgba(255,255,255,0.85)"))
    fig.update_xaxes(tickangle=-40)


_LABEL = {"bgcolor": "rgba(255,255,255,0.85)", "font": {"size": 11}}


def distance_figure(gallery: an.Gallery, source: str) -> go.Figure:
    heads = attention_heads(gallery)
    grid, uniform_distance, _entropy = uniform_reference(gallery)
    fig = go.Figure(go.Bar(x=[head_name(h) for h in heads], y=[h.attention_distance for h in heads],
                           error_y=dict(type="data", array=[h.attention_distance_std for h in heads]),
                           name=_("attention distance d_m"), marker_color=BAR_COLOUR))
    kernels = [h for h in gallery.heads if h.static_distance is not None]
    fig.add_trace(go.Scatter(x=[head_name(h) for h in kernels], y=[h.static_distance for h in kernels],
                             mode="markers", name=_("that head's conv kernel (|w|)"),
                             marker=dict(symbol="diamond", size=12, color=KERNEL_COLOUR)))
    fig.add_hline(y=gallery.local_threshold, line=dict(color=FLAT_COLOUR, dash="dot"),
                  annotation_text=_("flat {k}×{k} kernel: {distance:.2f} tokens").format(
                      k=gallery.threshold_kernel, distance=gallery.local_threshold),
                  annotation_position="bottom right", annotation=_LABEL)
    fig.add_hline(y=uniform_distance, line=dict(color=UNIFORM_COLOUR, dash="dash"),
                  annotation_text=_("uniform attention on {height}×{width}: {distance:.2f} tokens").format(
                      height=grid[0], width=grid[1], distance=uniform_distance),
                  annotation_position="top right", annotation=_LABEL)
    top = max([uniform_distance] + [h.attention_distance + h.attention_distance_std for h in heads])
    _layout(fig, _("Mean attention distance per head over {count} {source} (bars: sd over the images)").format(
        count=gallery.num_images, source=source), _("mean distance (tokens)"), top)
    return fig


def entropy_figure(gallery: an.Gallery) -> go.Figure:
    heads = attention_heads(gallery)
    grid, _distance, log_n = uniform_reference(gallery)
    fig = go.Figure(go.Bar(x=[head_name(h) for h in heads], y=[h.attention_entropy for h in heads],
                           error_y=dict(type="data", array=[h.attention_entropy_std for h in heads]),
                           name=_("attention entropy H_m"), marker_color=BAR_COLOUR))
    kernels = [h for h in gallery.heads if h.static_entropy is not None]
    fig.add_trace(go.Scatter(x=[head_name(h) for h in kernels], y=[h.static_entropy for h in kernels],
                             mode="markers", name=_("that head's conv kernel (|w|)"),
                             marker=dict(symbol="diamond", size=12, color=KERNEL_COLOUR)))
    fig.add_hline(y=log_n, line=dict(color=UNIFORM_COLOUR, dash="dash"),
                  annotation_text=_("uniform attention: log {count} = {entropy:.2f} nats").format(
                      count=grid[0] * grid[1], entropy=log_n),
                  annotation_position="top right", annotation=_LABEL)
    _layout(fig, _("Mean row entropy per head over the same images, against a uniform row"),
            _("mean row entropy (nats)"), log_n)
    return fig
