"""Pieces of page that more than one page draws: the model's view of an image, and a block's maps.

Streamlit on the outside, :mod:`app.figures` and :mod:`app.inspection` inside.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import streamlit as st
import torch
from torch import nn

from container_edu.colors import overlay_png
from container_edu.kinds import KINDS, get_kind, part_kind, part_rows_are_probabilities

from . import caching, figures, registry
from .inspection import BlockMaps, Inspection
from .registry import ModelRef
from .widgets import CurrentImage, query_click_handler, query_keys

__all__ = ["Prepared", "prepare", "map_panels", "maps_figure", "maps_png", "symbols", "part_symbols", "PART_TITLES",
           "is_signed", "prediction_title"]


class Prepared:
    """A model and an image made ready for it: ``x`` (batch of one) and ``seen`` (RGB uint8)."""

    def __init__(self, ref: ModelRef, model: nn.Module, current: CurrentImage, x: torch.Tensor, seen: np.ndarray,
                 class_names: list[str]) -> None:
        self.ref, self.model, self.current, self.x, self.seen, self.class_names = ref, model, current, x, seen, class_names

    def inspect(self, overrides=None) -> Inspection:
        return caching.get_inspection(self.ref, self.model, self.current.digest, self.x, overrides, st.session_state)


def prepare(ref: ModelRef, current: CurrentImage, input_size: int | None = None) -> Prepared:
    """The model and the image made ready for it; ``input_size`` (ImageNet models only) other than 224
    resizes and crops to that side (``container_edu.input_size``)."""
    model = caching.get_model(ref, st.session_state)
    card = registry.card_of(ref, model)
    if card.architecture == "container_light" and input_size not in (None, 224):
        # Every cache downstream is keyed by the digest: one per input size.
        current = dataclasses.replace(current, digest=f"{current.digest}@{input_size}")
        x, seen = caching.get_imagenet_input(current.digest, int(input_size), current.image)
    else:
        x, seen = caching.get_input(current.digest, card.preprocessing, current.image)
    return Prepared(ref, model, current, x, seen, list(card.class_names))


#: What each part of a block's affinity is called in titles.
PART_TITLES = {"attention": "dynamic", "static": "static", "blended": "blended"}


def _static_symbols(maps: BlockMaps, m: int | str) -> tuple[str, str]:
    """``(symbol, text)`` of the block's static part at head ``m`` (the head view averages per-channel matrices)."""
    kind = get_kind(maps.kind)
    static = part_kind(maps.kind, "static")
    if static is None:
        return f"A_{m}^static", f"A_{m}^static"
    if static.affinity_per != "channel":
        return static.symbol_for(m), static.symbol_for(m)
    symbol = static.averaged_symbol(m if kind.uses_heads else None)
    over = f"head {m}'s channels" if kind.uses_heads else "all channels"
    return symbol, f"{symbol} (mean of {static.symbol} over {over})"


def part_symbols(maps: BlockMaps, head: int | str | None = None) -> dict[str, str]:
    """The short symbol of each part at ``head`` (default: the chosen head), e.g. for a picker."""
    m = maps.head if head is None else head
    dynamic = part_kind(maps.kind, "attention") or KINDS["attention"]
    static, _ = _static_symbols(maps, m)
    return {"attention": dynamic.symbol_for(m), "static": static, "blended": f"α {dynamic.symbol_for(m)} + β {static}"}


def symbols(maps: BlockMaps, head: int | str | None = None) -> dict[str, str]:
    """The paper's formula of each part of this block's affinity at ``head``, for titles and colour bars."""
    m = maps.head if head is None else head
    dynamic = part_kind(maps.kind, "attention") or KINDS["attention"]
    _, static_text = _static_symbols(maps, m)
    blended = part_symbols(maps, m)["blended"]
    return {
        "attention": dynamic.formula_for(m),
        "static": static_text,
        "blended": f"A_{m} = {blended}<br>α = {maps.alpha:.3f}, β = {maps.beta:.3f}"
                   + (f"<br>({averaged_note(maps, m).lstrip(', ')})" if averaged_note(maps, m) else ""),
    }


def averaged_note(maps: BlockMaps, head: int | str = "m") -> str:
    """``", conv kernels averaged over head m's channels"`` when the static part is per channel, else ``""``.

    A per-channel blend (Container-Light) has one affinity per channel; its head view, drawn and exported,
    averages the conv kernels of the head's channels, so a blended map is not any one channel's affinity.
    """
    static = part_kind(maps.kind, "static")
    if static is None or static.affinity_per != "channel" or maps.attention_heads is None:
        return ""
    return f", conv kernels averaged over head {head}'s channels" if get_kind(maps.kind).uses_heads else \
        ", conv kernels averaged over all channels"


def is_signed(maps: BlockMaps, part: str) -> bool:
    """Whether ``part`` of this block is drawn centred on 0 (everything but probability rows)."""
    return not part_rows_are_probabilities(maps.kind, part)


def map_panels(maps: BlockMaps, *, head: int | None = None) -> list[figures.Panel]:
    """The attention, static and blended maps of one head as figure panels (missing parts left out)."""
    names = symbols(maps)
    items = []
    if maps.attention_heads is not None:
        items.append(figures.Panel(maps.attention if head is None else maps.attention_heads[head],
                                   f"dynamic<br>{names['attention']}", "A(X)[i, j] (attention weight)",
                                   is_signed(maps, "attention")))
    if maps.static_heads is not None:
        items.append(figures.Panel(maps.static if head is None else maps.static_heads[head],
                                   f"static<br>{names['static']}", "A_static[i, j]", is_signed(maps, "static")))
    if maps.attention_heads is not None and maps.static_heads is not None:
        items.append(figures.Panel(maps.blended if head is None else maps.blended_heads[head],
                                   f"blended: {names['blended']}", "α A(X) + β A_static", is_signed(maps, "blended")))
    return items


def maps_figure(maps: BlockMaps, seen: np.ndarray, prefix: str, *, title_prefix: str = "", opacity: float = 0.6):
    """The chosen head's maps over the picture, with a clickable grid that moves the query."""
    y, x = maps.query
    title = (f"{title_prefix}Block {maps.block}, head {maps.head}, query ({y}, {x}) on the {maps.grid[0]}×{maps.grid[1]} "
             f"grid: row i = {y * maps.grid[1] + x} of each affinity, over the image the model sees")
    fig = figures.panels(map_panels(maps), title, cols=3, query=maps.query, image=seen, opacity=opacity,
                         clickable=True, panel_height=330)
    y_key, x_key = query_keys(prefix, maps.grid)
    chart_key = f"{prefix}_maps_{maps.grid[0]}x{maps.grid[1]}"
    st.plotly_chart(fig, key=chart_key, on_select=query_click_handler(chart_key, y_key, x_key), selection_mode="points")
    return fig


def maps_png(maps: BlockMaps, seen: np.ndarray, part: str) -> bytes:
    """One map of the chosen head over the picture, as PNG bytes."""
    values = {"attention": maps.attention, "static": maps.static, "blended": maps.blended}[part]
    return overlay_png(seen, values, signed=is_signed(maps, part), query=maps.query)


def prediction_title(ref: ModelRef) -> str:
    state = "trained" if ref.trained else "untrained (random weights)"
    return f"Prediction p(class | image), top 5 — {ref.name}, {state}"
