"""One colour convention for every picture of an affinity, and overlays of a map on an image. numpy + Pillow only.

The app's Plotly figures, the lessons, the app's PNG downloads and the
command line's PNGs all take their colours from here, so a map looks the
same wherever it is drawn:

- probabilities (attention rows, a softmax) use :data:`SEQUENTIAL` (viridis)
  from 0 to the map's maximum;
- signed maps (conv kernels, learned mixer matrices, blends) use
  :data:`DIVERGING` (red-white-blue, reversed so that positive is red),
  symmetric around 0, so that white always means "no contribution";
- the query token is marked with a white cross edged in black (:data:`QUERY_FILL` over :data:`QUERY_HALO`),
  readable on every colour of every scale, since one of the two always stands out (tests/test_palettes.py);
- series of a chart take :data:`CATEGORICAL` (Okabe and Ito's colours, told apart under protanopia,
  deuteranopia and tritanopia), and never by colour alone: each also has its own dash, marker or label.

Plotly takes the scales by name (``SEQUENTIAL``, ``DIVERGING``,
``MAGNITUDE``); the same scales are written out below as colour stops
(Plotly's own stops, copied so that the core needs no Plotly) for pictures
made without a browser: :func:`colourise`, :func:`overlay`,
:func:`overlay_png`.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "SEQUENTIAL",
    "DIVERGING",
    "MAGNITUDE",
    "QUERY_COLOR",
    "QUERY_FILL",
    "QUERY_HALO",
    "CATEGORICAL",
    "MARKERS",
    "OPERATOR_COLORS",
    "is_signed",
    "lookup_table",
    "colourise",
    "mark_query",
    "overlay",
    "overlay_png",
]

#: Plotly names of the scales: probabilities, signed values (zero white), magnitudes (zero white).
SEQUENTIAL = "Viridis"
DIVERGING = "RdBu_r"
MAGNITUDE = "Reds"
#: The query token's cross, in figures and pictures alike: a white cross over a wider black one. White stands out
#: on the dark ends of the scales and black on the light ones, whatever a reader's colour vision.
QUERY_FILL = "#ffffff"
QUERY_HALO = "#000000"
#: A single colour for a cross drawn without its black edge (kept for figures built by hand); prefer the pair.
QUERY_COLOR = "#ff2d2d"
#: Series of a chart, in order: Okabe & Ito's palette for colour-blind readers (blue, vermillion, bluish green,
#: reddish purple, black), each at least 3:1 against the white plot (WCAG 1.4.11) and, simulated under
#: protanopia, deuteranopia and tritanopia, at least 10 apart in CAM02-UCS (tests/test_palettes.py).
CATEGORICAL = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000")
#: Marker shapes that go with the colours, so that a series is told apart without colour too.
MARKERS = ("circle", "square", "diamond", "triangle-up", "x", "star")
#: One colour per operator family, the same in every lesson (from :data:`CATEGORICAL`).
OPERATOR_COLORS = {"attention": CATEGORICAL[1], "conv": CATEGORICAL[0], "mixer": CATEGORICAL[2]}

# Evenly spaced colour stops of each scale, as Plotly defines them (plotly.colors.sequential.Viridis,
# plotly.colors.diverging.RdBu, plotly.colors.sequential.Reds); tests hold them equal to Plotly's.
_STOPS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "Viridis": ((68, 1, 84), (72, 40, 120), (62, 73, 137), (49, 104, 142), (38, 130, 142), (31, 158, 137),
                (53, 183, 121), (110, 206, 88), (181, 222, 43), (253, 231, 37)),
    "RdBu": ((103, 0, 31), (178, 24, 43), (214, 96, 77), (244, 165, 130), (253, 219, 199), (247, 247, 247),
             (209, 229, 240), (146, 197, 222), (67, 147, 195), (33, 102, 172), (5, 48, 97)),
    "Reds": ((255, 245, 240), (254, 224, 210), (252, 187, 161), (252, 146, 114), (251, 106, 74), (239, 59, 44),
             (203, 24, 29), (165, 15, 21), (103, 0, 13)),
}


def is_signed(values: np.ndarray) -> bool:
    """True when the array has clearly negative entries (then the diverging, zero-centred scale is used)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or not np.isfinite(values).any():
        return False
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    return low < -1e-7 * max(abs(high), 1.0)


@lru_cache(maxsize=8)
def lookup_table(name: str) -> np.ndarray:
    """``(256, 3)`` uint8 colours of a scale by its Plotly name (``"RdBu_r"`` is ``"RdBu"`` reversed)."""
    reverse = name.endswith("_r")
    base = name[:-2] if reverse else name
    if base not in _STOPS:
        raise ValueError(f"unknown colour scale {name!r}; known: {', '.join(_STOPS)} (add _r to reverse)")
    stops = np.asarray(_STOPS[base], dtype=np.float64)
    positions = np.linspace(0.0, 1.0, len(stops))
    samples = np.linspace(0.0, 1.0, 256)
    table = np.stack([np.interp(samples, positions, stops[:, channel]) for channel in range(3)], axis=-1)
    table = np.clip(np.rint(table), 0, 255).astype(np.uint8)
    return table[::-1].copy() if reverse else table


def colourise(values: np.ndarray, *, signed: bool | None = None) -> np.ndarray:
    """``(h, w)`` floats -> ``(h, w, 3)`` uint8 on the convention's scale.

    ``signed`` maps are centred on 0 and scaled by their largest magnitude;
    the others run from 0 to their maximum. ``None`` decides by
    :func:`is_signed`. Entries that are not finite are drawn as 0.
    """
    values = np.asarray(values, dtype=np.float64)
    signed = is_signed(values) if signed is None else signed
    finite = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    if signed:
        bound = float(np.abs(finite).max(initial=0.0)) or 1.0
        unit = (finite / bound + 1) / 2
        table = lookup_table(DIVERGING)
    else:
        high = float(finite.max(initial=0.0)) or 1.0
        unit = np.clip(finite / high, 0, 1)
        table = lookup_table(SEQUENTIAL)
    return table[np.clip(np.rint(unit * 255), 0, 255).astype(np.int64)]


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def mark_query(image: Image.Image, query: tuple[int, int], grid: tuple[int, int]) -> Image.Image:
    """Draw the query token ``(y, x)`` of an ``H x W`` token grid on ``image`` as a white cross edged in black
    (in place; returned)."""
    (y, x), (grid_h, grid_w) = query, grid
    cell_w, cell_h = image.width / grid_w, image.height / grid_h
    cx, cy, r = (x + 0.5) * cell_w, (y + 0.5) * cell_h, max(2.0, min(cell_w, cell_h) * 0.35)
    draw = ImageDraw.Draw(image)
    width = max(1, int(r / 3))
    for colour, extra in ((QUERY_HALO, 2), (QUERY_FILL, 0)):
        draw.line((cx - r, cy - r, cx + r, cy + r), fill=_rgb(colour), width=width + extra)
        draw.line((cx - r, cy + r, cx + r, cy - r), fill=_rgb(colour), width=width + extra)
    return image


def overlay(picture: np.ndarray | Image.Image, values: np.ndarray, *, signed: bool | None = None,
            query: tuple[int, int] | None = None, opacity: float = 0.6) -> Image.Image:
    """The map ``values`` (on the token grid) coloured, enlarged and laid over ``picture``.

    Enlarged with nearest neighbour, so each token is one block of the
    picture; ``opacity`` is the map's share of each pixel. ``query`` is
    marked with :func:`mark_query`.
    """
    picture = np.asarray(picture.convert("RGB") if isinstance(picture, Image.Image) else picture, dtype=np.uint8)
    height, width = picture.shape[:2]
    grid = np.asarray(values).shape
    coloured = Image.fromarray(colourise(values, signed=signed)).resize((width, height), Image.NEAREST)
    blended = (1 - opacity) * picture.astype(np.float32) + opacity * np.asarray(coloured, dtype=np.float32)
    image = Image.fromarray(np.clip(np.rint(blended), 0, 255).astype(np.uint8))
    return image if query is None else mark_query(image, query, grid)


def overlay_png(picture: np.ndarray | Image.Image, values: np.ndarray, *, signed: bool | None = None,
                query: tuple[int, int] | None = None, opacity: float = 0.6) -> bytes:
    """:func:`overlay` as PNG bytes (the app's downloads)."""
    buffer = io.BytesIO()
    overlay(picture, values, signed=signed, query=query, opacity=opacity).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
