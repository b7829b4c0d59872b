"""The Blend page's arithmetic, in the core (no Streamlit): blended kinds, ranges, blends as text, the moved mass."""

from __future__ import annotations

import numpy as np
import pytest

from container_edu.analysis.blend import (BlendTextError, blend_kinds, blend_range, blend_text, learns_beta,
                                          parse_blend, probability_moved)
from container_edu.models import create_model

LIGHT = {"blocks2.0": (0.62, 0.38), "blocks2.1": (0.5, 0.5)}
FREE = {"blocks2.0": (1.2, -0.1)}  # Container's weights are free and may leave [0, 1]


def test_the_blended_kinds_of_a_model_and_whether_beta_is_free():
    light = blend_kinds(create_model("fmnist_container_light"))
    general = blend_kinds(create_model("fmnist_container"))
    assert [k.key for k in light] == ["container_light"] and not learns_beta(light)
    assert [k.key for k in general] == ["container"] and learns_beta(general)
    assert blend_kinds(create_model("fmnist_conv")) == []


def test_a_blend_may_move_from_0_to_1_and_as_far_as_the_learned_value():
    assert blend_range(0.3) == (0.0, 1.0)
    assert blend_range(1.234) == (0.0, 1.23)
    assert blend_range(-0.2) == (-0.2, 1.0)


@pytest.mark.parametrize("blend, free", [({"blocks2.0": (0.3, 0.7)}, False),
                                         ({"blocks2.0": (0.3, 0.7), "blocks2.1": (0.91, 0.09)}, False),
                                         ({"blocks2.0": (1.1, -0.05)}, True), ({}, False)])
def test_a_blend_written_as_text_reads_back_the_same(blend, free):
    learned = FREE if free else LIGHT
    text = blend_text(blend, free)
    assert parse_blend(text or "", learned, free) == blend


@pytest.mark.parametrize("text, free, message", [
    ("blocks7.0:0.5", False, "no blended block 'blocks7.0' in this model"),
    ("blocks2.0:0.5:0.5", False, r"write block:α \(β = 1 − α\)"),
    ("blocks2.0:0.5", True, "write block:α:β"),
    ("blocks2.0:lots", False, "'blocks2.0:lots' is not block:number"),
    ("blocks2.0:1.5", False, "1.5 is outside the slider's range"),
    ("blocks2.0:1.25:0", True, "1.25 is outside the slider's range"),
])
def test_a_bad_blend_says_what_is_wrong_as_a_template_the_app_can_translate(text, free, message):
    with pytest.raises(BlendTextError, match=message) as caught:
        parse_blend(text, FREE if free else LIGHT, free)
    assert isinstance(caught.value, ValueError)
    assert caught.value.template in BlendTextError.TEMPLATES.values()  # a core template the catalogue holds
    assert caught.value.shown(lambda template: "» " + template).startswith("» ")  # shown through a translator


def test_a_value_within_a_step_of_the_range_is_taken_as_the_slider_would():
    assert parse_blend("blocks2.0:1.2:-0.1", FREE, True) == {"blocks2.0": (1.2, -0.1)}
    assert parse_blend("blocks2.0:1.005", LIGHT, False) == {"blocks2.0": (1.0, 0.0)}  # rounded to the step


def test_probability_moved_is_the_total_variation_distance():
    p = np.array([0.7, 0.2, 0.1])
    assert probability_moved(p, p) == 0.0
    assert probability_moved(p, np.array([0.1, 0.2, 0.7])) == pytest.approx(0.6)
    assert probability_moved(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
