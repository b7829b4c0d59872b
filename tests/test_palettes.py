"""Colour for every reader (issue 23): the palettes stay apart under colour-vision deficiencies, and the query's
cross reads on every colour of every scale.

Colour-vision deficiencies are simulated with ``colorspacious`` (Machado et al. 2009, at severity 100, i.e.
protanopia, deuteranopia and tritanopia) and distances measured in CAM02-UCS, where a ΔE of about 1 is a just
noticeable difference between large patches; thin lines and small markers need far more, hence the thresholds.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

colorspacious = pytest.importorskip("colorspacious", reason="colorspacious (requirements-dev.txt) is not installed")

from container_edu.figures import colors  # noqa: E402

DEFICIENCIES = ("protanomaly", "deuteranomaly", "tritanomaly")
#: Least CAM02-UCS distance between two series' colours, as seen with each deficiency.
MIN_SERIES_DELTA_E = 10.0
#: Least distance between the two ends of the diverging scale (negative against positive).
MIN_DIVERGING_DELTA_E = 20.0
#: WCAG 2.2 non-text contrast (1.4.11): graphical objects against what is next to them.
MIN_CONTRAST = 3.0


def _rgb1(colour) -> np.ndarray:
    if isinstance(colour, str):
        colour = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return np.asarray(colour, dtype=np.float64) / 255


def seen(colour, deficiency: str | None) -> np.ndarray:
    """``colour`` (hex or 0-255 RGB) as a reader with ``deficiency`` sees it, in sRGB from 0 to 1."""
    rgb = _rgb1(colour)
    if deficiency is None:
        return rgb
    space = {"name": "sRGB1+CVD", "cvd_type": deficiency, "severity": 100}
    return np.clip(colorspacious.cspace_convert(rgb, space, "sRGB1"), 0, 1)


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    return float(colorspacious.deltaE(a, b, input_space="sRGB1", uniform_space="CAM02-UCS"))


def lightness(rgb: np.ndarray) -> np.ndarray:
    """CAM02-UCS J' of each colour (rows of sRGB from 0 to 1)."""
    return colorspacious.cspace_convert(rgb, "sRGB1", "CAM02-UCS")[..., 0]


def luminance(rgb: np.ndarray) -> float:
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(linear @ [0.2126, 0.7152, 0.0722])


def contrast(a: np.ndarray, b: np.ndarray) -> float:
    low, high = sorted((luminance(a), luminance(b)))
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("deficiency", (None, *DEFICIENCIES))
def test_the_series_colours_stay_apart(deficiency):
    shown = [seen(c, deficiency) for c in colors.CATEGORICAL]
    distances = {(a, b): delta_e(shown[i], shown[j])
                 for (i, a), (j, b) in itertools.combinations(enumerate(colors.CATEGORICAL), 2)}
    closest = min(distances, key=distances.get)
    assert distances[closest] >= MIN_SERIES_DELTA_E, (deficiency, closest, distances[closest])


@pytest.mark.parametrize("deficiency", (None, *DEFICIENCIES))
def test_the_operator_colours_stay_apart(deficiency):
    shown = [seen(c, deficiency) for c in colors.OPERATOR_COLORS.values()]
    assert min(delta_e(a, b) for a, b in itertools.combinations(shown, 2)) >= MIN_SERIES_DELTA_E


def test_every_series_colour_stands_out_on_the_white_plot():
    white = np.ones(3)
    assert all(contrast(_rgb1(c), white) >= MIN_CONTRAST for c in colors.CATEGORICAL), [
        (c, round(contrast(_rgb1(c), white), 2)) for c in colors.CATEGORICAL]


def test_series_have_a_marker_shape_each_as_well_as_a_colour():
    assert len(set(colors.MARKERS)) == len(colors.MARKERS) >= len(colors.CATEGORICAL)


@pytest.mark.parametrize("deficiency", (None, *DEFICIENCIES))
@pytest.mark.parametrize("scale", [colors.SEQUENTIAL, colors.MAGNITUDE])
def test_sequential_scales_stay_monotonic_in_lightness(scale, deficiency):
    """Over 16 evenly spaced colours (256 rounded to whole RGB values wobble by a fraction of a JND)."""
    table = np.stack([seen(c, deficiency) for c in colors.lookup_table(scale)[::17]])
    steps = np.diff(lightness(table))
    assert (steps > 0).all() or (steps < 0).all(), (scale, deficiency, steps.min(), steps.max())


@pytest.mark.parametrize("deficiency", (None, *DEFICIENCIES))
def test_the_diverging_scale_rises_to_white_from_both_ends_and_its_ends_differ(deficiency):
    table = np.stack([seen(c, deficiency) for c in colors.lookup_table(colors.DIVERGING)])
    j = lightness(table[::17])  # 16 colours, the middle one (index 8 × 17 = 136) near white
    assert (np.diff(j[:8]) > 0).all() and (np.diff(j[8:]) < 0).all(), (deficiency, j.round(1))
    # Equal magnitudes of opposite sign must not look alike: the quarter points and the ends.
    for low, high in ((0, 255), (64, 191)):
        assert delta_e(table[low], table[high]) >= MIN_DIVERGING_DELTA_E, (deficiency, low, high)


@pytest.mark.parametrize("deficiency", (None, *DEFICIENCIES))
@pytest.mark.parametrize("scale", [colors.SEQUENTIAL, colors.DIVERGING, colors.MAGNITUDE])
def test_the_query_cross_reads_on_every_colour_of_every_scale(scale, deficiency):
    """The white cross or its black edge stands out 3:1 from each of the scale's 256 colours, as seen."""
    fill, halo = seen(colors.QUERY_FILL, deficiency), seen(colors.QUERY_HALO, deficiency)
    worst = min((max(contrast(fill, seen(c, deficiency)), contrast(halo, seen(c, deficiency))), tuple(c))
                for c in colors.lookup_table(scale))
    assert worst[0] >= MIN_CONTRAST, (scale, deficiency, worst)


def test_the_query_cross_is_drawn_in_both_colours():
    from PIL import Image

    image = colors.mark_query(Image.new("RGB", (70, 70), (128, 128, 128)), (3, 3), (7, 7))
    drawn = {tuple(p) for p in np.asarray(image).reshape(-1, 3)}
    assert {colors._rgb(colors.QUERY_FILL), colors._rgb(colors.QUERY_HALO)} <= drawn
