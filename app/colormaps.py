"""Affinity maps as PNG files (for downloads), with the same colour scales as the figures. No Streamlit here.

Plotly draws the interactive figures; a download needs a plain image
without a browser, so this module colours a map with a lookup table built
from the same Plotly colour scale, enlarges it to the picture's size
(nearest neighbour: one block per token) and blends it over the picture.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw
from plotly.colors import get_colorscale, sample_colorscale

from .figures import DIVERGING, SEQUENTIAL

__all__ = ["lookup_table", "colourise", "overlay_png"]


@lru_cache(maxsize=8)
def lookup_table(name: str) -> np.ndarray:
    """``(256, 3)`` uint8 colours of a Plotly colour scale (``"RdBu_r"`` reversed as in Plotly)."""
    reverse = name.endswith("_r")
    scale = get_colorscale(name[:-2] if reverse else name)
    colours = sample_colorscale(scale, list(np.linspace(0, 1, 256)), colortype="tuple")
    table = np.array([[round(c * 255) if c <= 1 else round(c) for c in colour] for colour in colours], dtype=np.uint8)
    return table[::-1].copy() if reverse else table


def colourise(values: np.ndarray, *, signed: bool) -> np.ndarray:
    """``(h, w)`` floats -> ``(h, w, 3)`` uint8; signed maps centred on 0, others from 0 to their maximum."""
    values = np.asarray(values, dtype=np.float64)
    if signed:
        bound = float(np.abs(values).max()) or 1.0
        unit = (values / bound + 1) / 2
        table = lookup_table(DIVERGING)
    else:
        high = float(values.max()) or 1.0
        unit = np.clip(values / high, 0, 1)
        table = lookup_table(SEQUENTIAL)
    return table[np.clip(np.rint(unit * 255), 0, 255).astype(np.int64)]


def overlay_png(picture: np.ndarray, values: np.ndarray, *, signed: bool, query: tuple[int, int] | None = None,
                opacity: float = 0.6) -> bytes:
    """The map ``values`` (on the token grid) over ``picture`` (``(H, W, 3)`` uint8), as PNG bytes."""
    picture = np.asarray(picture, dtype=np.uint8)
    height, width = picture.shape[:2]
    grid_h, grid_w = np.asarray(values).shape
    coloured = Image.fromarray(colourise(values, signed=signed)).resize((width, height), Image.NEAREST)
    blended = (1 - opacity) * picture.astype(np.float32) + opacity * np.asarray(coloured, dtype=np.float32)
    image = Image.fromarray(np.clip(np.rint(blended), 0, 255).astype(np.uint8))
    if query is not None:
        y, x = query
        cell_w, cell_h = width / grid_w, height / grid_h
        cx, cy, r = (x + 0.5) * cell_w, (y + 0.5) * cell_h, max(2.0, min(cell_w, cell_h) * 0.35)
        draw = ImageDraw.Draw(image)
        draw.line((cx - r, cy - r, cx + r, cy + r), fill=(255, 45, 45), width=max(1, int(r / 3)))
        draw.line((cx - r, cy + r, cx + r, cy - r), fill=(255, 45, 45), width=max(1, int(r / 3)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
