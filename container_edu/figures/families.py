"""The "Three families" figures: one model's rows for one query over the photo, one colour scale per kind.

Each figure is a row of small maps over the picture the model saw (:func:`container_edu.figures.panels` with
one shared scale): DeiT's heads (probabilities, sequential from 0), ConvNeXt's kernels, the Mixer's linear part
beside its Jacobian, and Container-Light's blended heads (signed, diverging around 0). Its text alternative
names the largest entries of every map and adds what a map cannot show: DeiT's weight on the class token,
the Mixer's measured gap, Container-Light's blend.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from container_edu.analysis.families import FamilyRows
from container_edu.figures.describe import FigureText, attach, describe, join_sentences, number
from container_edu.figures.heatmaps import Panel, panels
from container_edu.text import translate

__all__ = ["family_figure", "MAX_PANELS"]

#: The most maps one figure draws (Container-Light has 16 heads at stage 4; the two-image check covers all).
MAX_PANELS = 8


def _subtitle(rows: FamilyRows, part: str, index: int, position: int) -> str:
    if part == "attention":
        # Short: six of these share a row of a half-width column (the full weights are in the text alternative).
        return translate("head {head}<br>[CLS] {weight}", head=index,
                         weight=format(rows.class_weight[position], ".2g") if rows.class_weight else "–")
    if part == "kernel":
        return translate("channel {channel}", channel=index)
    if part == "linear":
        return translate("linear part (W₂W₁)[i]<br>static: weights only")
    if part == "jacobian":
        return translate("Jacobian ∂y_i/∂x_j, channel {channel}<br>at this image", channel=index)
    return translate("head {head}", head=index)


def _colorbar(rows: FamilyRows) -> str:
    return {"deit_small": translate("attention weight"), "convnext_tiny": translate("kernel weight"),
            "mixer_b16": translate("token-mixing weight"), "container_light": translate("blended weight")}[rows.family]


def _note(rows: FamilyRows) -> str:
    """What the maps do not show, as a sentence of the text alternative."""
    if rows.class_weight is not None:
        return translate("Each head's row also puts weight on the class token ([CLS]): {weights} (heads 0–{last}); "
                         "the maps show the rest, over the 14×14 patches.",
                         weights=translate("; ").join(number(w) for w in rows.class_weight),
                         last=len(rows.class_weight) - 1)
    if rows.gap is not None:
        return translate("Measured gap between the Jacobian row and the linear part's row: max |J − W₂W₁| = {gap} "
                         "against a largest |W₂W₁| entry of {scale} (relative L2 gap {relative}).",
                         gap=number(rows.gap.max_abs), scale=number(rows.gap.scale),
                         relative=number(rows.gap.relative))
    if rows.blend is not None:
        heads = len(rows.parts[0].index)
        return translate("Each map is a head's blended row α A(X)[i] + β A_static[i], with this block's α = {alpha} "
                         "and β = {beta}; heads 0–{last} of {count} are drawn; query ({y}, {x}) on its {height}×"
                         "{width} grid.", alpha=number(rows.blend[0]), beta=number(rows.blend[1]), y=rows.query[0],
                         x=rows.query[1], height=rows.grid[0], width=rows.grid[1],
                         last=min(heads, MAX_PANELS) - 1, count=heads)
    part = rows.parts[0]
    return translate("{shown} of the block's {count} channels are drawn (the largest kernels); every kernel is the "
                     "same on every image.", shown=len(rows.shown or part.index), count=len(part.index))


def family_figure(rows: FamilyRows, title: str, *, image: np.ndarray | None = None, clickable: bool = False,
                  cols: int = 3, panel_height: int | None = None) -> go.Figure:
    """One model's rows for its query, one map per head, channel or part, on one colour scale (``image``: the
    ``(H_img, W_img, 3)`` uint8 picture the maps are drawn over)."""
    items = []
    for part in rows.parts:
        positions = range(len(part.index))
        if rows.shown is not None and len(rows.parts) == 1:
            positions = [part.index.index(i) for i in rows.shown]
        for position in list(positions)[:MAX_PANELS]:
            items.append(Panel(part.rows[position], _subtitle(rows, part.part, part.index[position], position),
                               _colorbar(rows), part.signed))
    signed = any(part.signed for part in rows.parts)
    # One row of two maps (the Mixer) gets taller panels, so that its colour bar has room for its title.
    panel_height = panel_height or (150 if len(items) > 2 else 210)
    fig = panels(items, title, cols=min(cols, len(items)), shared_scale=True, query=rows.query, image=image,
                 clickable=clickable, panel_height=panel_height, title_width=60)
    if not signed:  # probabilities: the scale starts at 0, as everywhere in the app
        fig.layout.coloraxis.cmin = 0.0
    text = describe(fig)
    return attach(fig, FigureText(join_sentences(text.sentence, _note(rows)), text.columns, text.rows))
