"""Pieces of page that more than one page draws: the model's view of an image, and a block's maps.

Streamlit glue only: the figures are the core's (:mod:`container_edu.figures`),
the inspection too (:mod:`container_edu.record.inspection`); this module prepares
the inputs, caches, and wires a figure's clicks to the query widgets.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import streamlit as st
import torch
from torch import nn

from container_edu.figures.colors import overlay_png
from container_edu.figures.maps import part_is_signed, query_maps_figure
from container_edu.record.inspection import BlockMaps, Inspection

from app import caching, registry
from app.figure_view import show_figure
from app.i18n import _
from app.registry import ModelRef
from app.widgets import CurrentImage, query_click_handler, query_keys

__all__ = ["Prepared", "prepare", "maps_figure", "maps_png", "prediction_title", "shown_class_names"]


class Prepared:
    """A model and an image made ready for it: ``x`` (batch of one) and ``seen`` (RGB uint8)."""

    def __init__(self, ref: ModelRef, model: nn.Module, current: CurrentImage, x: torch.Tensor, seen: np.ndarray,
                 class_names: list[str]) -> None:
        self.ref, self.model, self.current, self.x, self.seen, self.class_names = ref, model, current, x, seen, class_names

    def inspect(self, overrides=None) -> Inspection:
        return caching.get_inspection(self.ref, self.model, self.current.digest, self.x, overrides, st.session_state)


def prepare(ref: ModelRef, current: CurrentImage, input_size: int | None = None) -> Prepared:
    """The model and the image made ready for it; ``input_size`` (ImageNet models only) other than 224
    resizes and crops to that side (``container_edu.data.input_size``)."""
    model = caching.get_model(ref, st.session_state)
    card = registry.card_of(ref, model)
    if card.architecture == "container_light" and input_size not in (None, 224):
        # Every cache downstream is keyed by the digest: one per input size.
        current = dataclasses.replace(current, digest=f"{current.digest}@{input_size}")
        x, seen = caching.get_imagenet_input(current.digest, int(input_size), current.image)
    else:
        x, seen = caching.get_input(current.digest, card.preprocessing, current.image)
    return Prepared(ref, model, current, x, seen, list(card.class_names))


def maps_figure(maps: BlockMaps, seen: np.ndarray, prefix: str, *, title_prefix: str = "", opacity: float = 0.6):
    """The chosen head's maps over the picture, drawn with a clickable grid that moves the query."""
    fig = query_maps_figure(maps, seen, title_prefix=title_prefix, opacity=opacity, clickable=True)
    y_key, x_key = query_keys(prefix, maps.grid)
    chart_key = f"{prefix}_maps_{maps.grid[0]}x{maps.grid[1]}"
    show_figure(fig, chart_key, on_select=query_click_handler(chart_key, y_key, x_key), selection_mode="points")
    return fig


def maps_png(maps: BlockMaps, seen: np.ndarray, part: str) -> bytes:
    """One map of the chosen head over the picture, as PNG bytes."""
    values = {"attention": maps.attention, "static": maps.static, "blended": maps.blended}[part]
    return overlay_png(seen, values, signed=part_is_signed(maps, part), query=maps.query)


def shown_class_names(prepared: Prepared) -> list[str]:
    """The model's class names in the session's language (Fashion-MNIST's are translated; ImageNet's stay English)."""
    return [_(name) for name in prepared.class_names]


def prediction_title(ref: ModelRef) -> str:
    if ref.trained:
        return _("Prediction p(class | image), top 5 — {name}, trained").format(name=ref.name)
    return _("Prediction p(class | image), top 5 — {name}, untrained (random weights)").format(name=ref.name)
