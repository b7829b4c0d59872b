"""Bar and line charts: predictions, blend weights, training histories (no Streamlit).

Their text alternative (:func:`container_edu.figures.describe.describe`) is read from the bars and lines
themselves, so that a line added to a chart afterwards (the app's β lines) is described too; the prediction
bars attach their own, which ranks the classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from container_edu.figures.colors import CATEGORICAL, MARKERS
from container_edu.figures.describe import FigureText, attach, number, plain
from container_edu.figures.heatmaps import base_layout
from container_edu.text import N_, translate

__all__ = ["topk_bar", "probability_comparison", "blend_bars", "history_accuracy", "history_blend"]


# --------------------------------------------------------------------------
# Predictions and blend weights
# --------------------------------------------------------------------------


def topk_bar(probabilities: np.ndarray, class_names: Sequence[str], title: str, k: int = 5,
             title_width: int = 95) -> go.Figure:
    """The ``k`` most probable classes as horizontal bars (softmax of the logits, in percent)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    order = np.argsort(-probabilities)[:k]
    labels = [f"{class_names[i]} ({i})" if len(class_names) > 20 else class_names[i] for i in order]
    values = 100 * probabilities[order]
    fig = go.Figure(go.Bar(
        x=values[::-1], y=labels[::-1], orientation="h", marker_color=CATEGORICAL[0],
        text=[f"{v:.1f}%" for v in values[::-1]], textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{x:.2f}%<extra></extra>",
    ))
    fig.update_xaxes(title_text=translate("probability p(class | image), %"),
                     range=[0, max(100.0, float(values.max()) + 5)])
    fig = base_layout(fig, title, 70 + 42 * len(order) + 60, title_width=title_width)
    fig.update_layout(margin=dict(l=10, r=40, b=40))
    ranked = translate("; ").join(f"{label} {value:.1f}%" for label, value in zip(labels, values, strict=True))
    sentence = translate("{title}: the {k} most probable classes, from the most probable: {ranked}.",
                         title=plain(title), k=len(labels), ranked=ranked)
    rows = tuple((rank + 1, label, number(value)) for rank, (label, value) in enumerate(zip(labels, values, strict=True)))
    return attach(fig, FigureText(sentence, (translate("rank"), translate("class"), translate("probability, %")), rows))


def probability_comparison(
    learned: np.ndarray, changed: np.ndarray, class_names: Sequence[str], title: str, k: int = 10,
    title_width: int = 70,
) -> go.Figure:
    """Class probabilities with the learned blend and with the overridden one, for the classes that matter most."""
    learned = np.asarray(learned, dtype=np.float64)
    changed = np.asarray(changed, dtype=np.float64)
    order = np.argsort(-np.maximum(learned, changed))[:k]
    labels = [class_names[i] for i in order]
    learned_blend, your_blend, learned_word = translate("learned blend"), translate("your blend"), translate("learned")
    fig = go.Figure([
        # Hatched against solid, besides the two colours: the pair reads in grey too.
        go.Bar(name=learned_blend, x=labels, y=100 * learned[order],
               marker=dict(color="white", line=dict(color=CATEGORICAL[0], width=1.5),
                           pattern=dict(shape="/", fgcolor=CATEGORICAL[0], solidity=0.4)),
               hovertemplate=f"%{{x}}: %{{y:.2f}}%<extra>{learned_word}</extra>"),
        go.Bar(name=your_blend, x=labels, y=100 * changed[order], marker_color=CATEGORICAL[1],
               hovertemplate=f"%{{x}}: %{{y:.2f}}%<extra>{your_blend}</extra>"),
    ])
    fig.update_layout(barmode="group", legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"))
    fig.update_yaxes(title_text=translate("p(class | image), %"), rangemode="tozero")
    return base_layout(fig, title, 380, title_width=title_width)


def blend_bars(blend: Mapping[str, tuple[float, float]], title: str, *, show_beta: bool,
               title_width: int = 95) -> go.Figure:
    """One bar per mixed block: ``α`` (and ``β`` when it is learned separately)."""
    names = list(blend)
    alphas = [float(blend[n][0]) for n in names]
    traces = [go.Bar(name=translate("α (dynamic: attention)"), x=names, y=alphas, marker_color=CATEGORICAL[0],
                     text=[f"α = {a:.3f}" for a in alphas], textposition="inside", insidetextanchor="middle",
                     textfont=dict(color="white"),
                     hovertemplate="%{x}: α = %{y:.4f}<extra></extra>")]
    if show_beta:
        betas = [float(blend[n][1]) for n in names]
        # Black on vermillion: white text on it would fall short of 4.5:1.
        traces.append(go.Bar(name=translate("β (static)"), x=names, y=betas, marker_color=CATEGORICAL[1],
                             text=[f"β = {b:.3f}" for b in betas], textposition="inside", insidetextanchor="middle",
                             textfont=dict(color="black"),
                             hovertemplate="%{x}: β = %{y:.4f}<extra></extra>"))
    fig = go.Figure(traces)
    fig.add_hline(y=0.5, line=dict(color="#555", dash="dot"))
    fig.add_annotation(xref="paper", x=1.0, xanchor="left", y=0.5, yref="y",
                       text=translate("0.5: value at<br>initialisation"),
                       showarrow=False, font=dict(size=11, color="#555"), align="left")
    top = max([1.0] + [abs(v) for t in traces for v in t.y]) * 1.15
    bottom = min([0.0] + [v for t in traces for v in t.y]) * 1.15
    fig.update_yaxes(title_text=translate("blend weight"), range=[bottom, top])
    fig.update_xaxes(title_text=translate("mixed block (module path)"))
    fig.update_layout(barmode="group", showlegend=show_beta, bargap=0.45,
                      legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"))
    fig = base_layout(fig, title, 380, title_width=title_width)
    fig.update_layout(margin=dict(r=100))
    return fig


# --------------------------------------------------------------------------
# Training histories
# --------------------------------------------------------------------------


def history_accuracy(histories: Mapping[str, Sequence[Mapping]], title: str, title_width: int = 60) -> go.Figure:
    """Test (solid) and validation (dotted) accuracy per epoch, one colour and one marker shape per model."""
    fig = go.Figure()
    epoch = translate("epoch")
    for index, (name, history) in enumerate(histories.items()):
        colour, symbol = CATEGORICAL[index % len(CATEGORICAL)], MARKERS[index % len(MARKERS)]
        epochs = [entry["epoch"] for entry in history]
        for key, dash, label, legend in (("test_accuracy", "solid", N_("test"), N_("{name} (test)")),
                                         ("val_accuracy", "dot", N_("validation"), N_("{name} (validation)"))):
            values = [entry.get(key) for entry in history]
            if all(v is None for v in values):
                continue
            fig.add_trace(go.Scatter(
                x=epochs, y=values, mode="lines+markers", name=translate(legend, name=name), legendgroup=name,
                line=dict(color=colour, dash=dash), marker=dict(symbol=symbol, size=7),
                hovertemplate=f"{name}<br>{epoch} %{{x}}: {translate(label)} %{{y:.2f}}%<extra></extra>",
            ))
    fig.update_xaxes(title_text=translate("epoch"), dtick=1)
    fig.update_yaxes(title_text=translate("top-1 accuracy, %"))
    return base_layout(fig, title, 420, title_width=title_width)


def history_blend(histories: Mapping[str, Sequence[Mapping]], title: str, title_width: int = 60) -> go.Figure:
    """α of every mixed block per epoch, one line per (model, block): colour and marker per model, dash per block."""
    fig = go.Figure()
    dashes = ["solid", "dash", "dot", "dashdot"]
    epoch = translate("epoch")
    for index, (name, history) in enumerate(histories.items()):
        blocks = sorted({block for entry in history for block in (entry.get("blend") or {})})
        for b_index, block in enumerate(blocks):
            epochs = [entry["epoch"] for entry in history if block in (entry.get("blend") or {})]
            alphas = [entry["blend"][block][0] for entry in history if block in (entry.get("blend") or {})]
            fig.add_trace(go.Scatter(
                x=epochs, y=alphas, mode="lines+markers", name=f"{name} · {block}", legendgroup=name,
                line=dict(color=CATEGORICAL[index % len(CATEGORICAL)], dash=dashes[b_index % len(dashes)]),
                marker=dict(symbol=MARKERS[index % len(MARKERS)], size=7),
                hovertemplate=f"{name} {block}<br>{epoch} %{{x}}: α = %{{y:.4f}}<extra></extra>",
            ))
    fig.add_hline(y=0.5, line=dict(color="#888", dash="dot"))
    fig.update_xaxes(title_text=translate("epoch"), dtick=1)
    fig.update_yaxes(title_text=translate("α (weight of the dynamic affinity A(X))"))
    return base_layout(fig, title, 420, title_width=title_width)
