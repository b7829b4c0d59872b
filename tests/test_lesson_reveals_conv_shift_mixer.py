"""Lessons ``conv``, ``shift`` and ``mixer``: the figure or number that answers each prediction is absent before the
prediction and drawn after it (issue 21: lesson 2's answer could be read off a figure above its question)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from apptest_support import assert_clean, figure_title, figures_of  # noqa: E402
from lesson_support import (assert_verified, go_to_step, make_right_prediction, not_verified, open_lesson,  # noqa: E402
                            verified)


def chart_keys(at) -> set[str]:
    return {chart.key for chart in at.get("plotly_chart")}


def captions(at) -> str:
    return "\n".join(caption.value for caption in at.caption)


def test_conv_row_and_its_count_appear_only_after_the_prediction():
    at = open_lesson("conv", "predict")
    at.slider(key="conv_size").set_value(7).run()
    answers = {"conv_fig_row", "conv_fig_kernel"}
    assert not answers & chart_keys(at)
    assert "non-zero entries out of" not in captions(at)
    assert not verified(at) and not not_verified(at)
    make_right_prediction(at, "conv")
    assert answers <= chart_keys(at)
    # The default query (row 1, column 0) sits on the border: a 3 × 3 kernel keeps 2 × 3 of its 9 elements.
    assert re.search(r"Row t7 has 6 non-zero entries out of 49; a full kernel has 9", captions(at))
    assert at.radio(key="conv_row_prediction").value == "fewer than k² (elements cut at the border)"


def test_conv_whole_matrix_waits_for_the_prediction_and_keeps_the_chosen_grid():
    at = open_lesson("conv", "matrix")
    assert "conv_fig_matrix" not in chart_keys(at)
    assert any("Make the prediction of the previous step first" in info.value for info in at.info)
    go_to_step(at, "conv", "predict")
    at.slider(key="conv_size").set_value(7).run()
    make_right_prediction(at, "conv")
    go_to_step(at, "conv", "matrix")
    assert_clean(at)
    assert "conv_fig_matrix" in chart_keys(at)
    assert any(figure_title(figure).startswith("Affinity A_0 (N × N = 49 × 49)") for figure in figures_of(at))
    go_to_step(at, "conv", "predict")
    assert at.slider(key="conv_size").value == 7, "the grid chosen in the predict step is kept"
    assert_verified(at)


def test_shift_gap_maps_appear_only_after_the_prediction():
    at = open_lesson("shift", "predict")
    answers = {"shift_fig_conv_eq", "shift_fig_mix_eq"}
    assert not answers & chart_keys(at)
    assert "largest gap" not in captions(at)
    assert not verified(at) and not not_verified(at)
    right = make_right_prediction(at, "shift")
    assert right == "the conv's only"
    assert answers <= chart_keys(at)
    assert "Inside the dashed interior the conv's largest gap" in captions(at)


def test_mixer_outcome_on_another_grid_appears_only_after_the_prediction():
    at = open_lesson("mixer", "predict")
    at.selectbox(key="mixer_grid").set_value("8 × 8").run()
    assert not [w for w in at.warning if w.value.startswith("The Mixer cannot run")]
    assert not [s for s in at.success if s.value.startswith("Runs:")]
    assert not verified(at) and not not_verified(at)
    assert make_right_prediction(at, "mixer") == "no, it stops with an error"
    assert [w for w in at.warning if w.value.startswith("The Mixer cannot run on this grid")]
    at.selectbox(key="mixer_grid").set_value("7 × 7 (the grid it was built for)").run()
    assert [s for s in at.success if s.value.startswith("Runs:")]
    assert any(e.value.startswith("Not verified: your prediction") for e in at.error)


def test_mixer_learned_matrix_is_titled_by_its_block_not_its_module_path():
    at = open_lesson("mixer", "learned")
    titles = [figure_title(figure) for figure in figures_of(at)]
    matrix = next(title for title in titles if title.startswith("Learned affinity A_0"))
    assert matrix.startswith("Learned affinity A_0 of mixed block 1 (49 × 49)"), matrix
    assert ".mix" not in matrix
    at.selectbox(key="mixer_block").set_value("blocks2.1.mix").run()
    go_to_step(at, "mixer", "predict")
    assert any("mixed block 2 (blocks2.1)" in m.value for m in at.markdown), "the block picked is the one run"


# The right prediction at each lesson's default settings (conv: the query at y = 1, x = 0 touches the border;
# mixer: the grid it was built for).
RIGHT_AT_DEFAULTS = {"conv": "fewer than k² (elements cut at the border)", "shift": "the conv's only",
                     "mixer": "yes, it runs"}


@pytest.mark.parametrize("key", sorted(RIGHT_AT_DEFAULTS))
def test_every_step_shows_no_english_in_chinese_with_the_answer_revealed(key):
    from apptest_support import LESSONS_PAGE, open_link
    from i18n_support import rendered_texts, untranslated_english
    from app.lessons import LESSONS
    from app.lessons.parts.steps import lesson_steps, step_key

    lesson = next(lesson for lesson in LESSONS if lesson.KEY == key)
    at = open_link(LESSONS_PAGE, {"lesson": key, "lang": "zh"})
    for step in lesson_steps(lesson):
        at.segmented_control(key=step_key(key)).set_value(step.id).run()
        if step.id == "predict":
            at.radio(key=lesson.PREDICTION.key).set_value(RIGHT_AT_DEFAULTS[key]).run()
            assert any(s.value.startswith("已验证：") for s in at.success), "the right prediction verifies"
        assert_clean(at)
        shown = rendered_texts(at.main)
        english = untranslated_english(shown)
        assert not english, f"untranslated English in step {step.id!r} of lesson {key!r}: {english}"


def test_no_option_of_these_lessons_is_given_away_by_a_leading_word_only_some_options_share():
    """Issue 21: lesson 3's wrong options alone began with "Because" (因为), and lesson 2's Chinese question said 最多
    (at most), which only its right option echoed. A leading word is now on every option of a question or on none."""
    from app import i18n
    from app.lessons import LESSONS

    for language in ("en", "zh"):
        gettext = i18n.translations(language).gettext
        for lesson in (lesson for lesson in LESSONS if lesson.KEY in ("conv", "shift", "mixer")):
            for question in lesson.QUESTIONS:
                options = [gettext(text).format(**question.fields) for text, _feedback in question.choices]
                for marker in ("Because", "因为", "At most", "Up to", "最多"):
                    leading = [option.startswith(marker) for option in options]
                    assert all(leading) or not any(leading), (language, lesson.KEY, marker, options)
    conv_question = next(lesson for lesson in LESSONS if lesson.KEY == "conv").QUESTIONS[0]
    assert "最多" not in i18n.translations("zh").gettext(conv_question.prompt)
