"""The ``train`` lesson's numbers: the AdamW bound it uses is the true one (checked against ``torch.optim.AdamW``),
its texts count epochs in the singular and plural, and it names the ``trained`` lesson by the course order."""

from __future__ import annotations

import math

import pytest
import torch
from streamlit.testing.v1 import AppTest

from apptest_support import assert_no_exception
from app import i18n
from app.lessons.parts import course
from app.lessons.parts.adam_reach import alpha_ceiling, default_betas, step_bound, step_bound_limit
from lesson_support import PAGE, TIMEOUT, step_ids


def _last_step(gradients: list[float]) -> float:
    """How far one AdamW step (lr 1, no decay) moves a weight at the last of these gradients."""
    weight = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.AdamW([weight], lr=1.0, weight_decay=0.0)
    moved = 0.0
    for gradient in gradients:
        weight.grad = torch.tensor([gradient], dtype=torch.float64)
        before = float(weight.detach())
        optimiser.step()
        moved = abs(float(weight.detach()) - before)
    return moved


@pytest.mark.parametrize("steps", [1, 2, 10, 32, 200])
def test_the_step_bound_is_reached_and_never_exceeded(steps):
    beta1, beta2 = default_betas()
    worst = [(beta1 / beta2) ** (steps - k) for k in range(1, steps + 1)]  # grows towards the last step
    assert _last_step(worst) == pytest.approx(step_bound(steps), rel=1e-6)
    generator = torch.Generator().manual_seed(steps)
    for _trial in range(20):
        gradients = (torch.randn(steps, generator=generator, dtype=torch.float64)
                     * torch.rand(steps, generator=generator, dtype=torch.float64) * 10).tolist()
        assert _last_step(gradients) <= step_bound(steps) * (1 + 1e-9)


def test_the_bound_starts_at_one_and_grows_past_the_isolated_gradients_three():
    beta1, beta2 = default_betas()
    isolated = (1 - beta1) / math.sqrt(1 - beta2)  # one gradient after many zero ones: the often-quoted ~3
    assert step_bound(1) == 1.0
    assert step_bound(200) < step_bound(5000) < step_bound_limit()
    assert step_bound(5000) > isolated > 3
    assert _last_step([0.0] * 4999 + [1.0]) == pytest.approx(isolated * math.sqrt(1 - beta2**5000), rel=1e-6)
    assert alpha_ceiling(10, 2e-3) == pytest.approx(0.25 * 2e-3 * sum(step_bound(t) for t in range(1, 11)))


def _open_run_step(language: str) -> AppTest:
    """The train lesson at its live-run step in ``language``, its prediction made."""
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update({"lesson": "train", "lang": language,
                            "step": str(step_ids("train").index("predict") + 1)})
    at.run()
    at.radio(key="train_prediction").set_value(at.radio(key="train_prediction").options[0]).run()
    at.segmented_control(key="train_step").set_value("run").run()
    assert_no_exception(at)
    return at


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_short_run_note_names_the_trained_lesson_by_the_course_order(monkeypatch, language):
    monkeypatch.setattr(course, "ORDER", tuple(reversed(course.ORDER)))
    at = _open_run_step(language)
    at.select_slider(key="train_subset").set_value(256)
    at.slider(key="train_epochs").set_value(1).run()
    [short] = [info.value for info in at.info if "sa_weight" in info.value or "α" in info.value]
    moved = i18n.translations(language).gettext("lesson {number}").format(number=course.lesson_number("trained"))
    assert moved in short, short
    original = i18n.translations(language).gettext("lesson {number}").format(number=9)
    assert course.lesson_number("trained") != 9 and original not in short


def test_one_epoch_is_singular():
    at = _open_run_step("en")
    at.select_slider(key="train_subset").set_value(256)
    at.slider(key="train_epochs").set_value(1).run()
    shown = " ".join(str(element.value) for element in [*at.info, *at.caption])
    assert "× 1 epoch at batch" in shown and "1 epochs" not in shown
    at.slider(key="train_epochs").set_value(2).run()
    assert "× 2 epochs at batch" in " ".join(str(element.value) for element in [*at.info, *at.caption])


@pytest.mark.parametrize("key", ["train", "measured"])
def test_every_step_shows_no_english_in_chinese(key):
    """Every step of the lesson in Chinese, its prediction made (so the reveal is drawn), figure titles included."""
    from apptest_support import figure_title, figures_of
    from i18n_support import rendered_texts, untranslated_english
    from lesson_support import BY_KEY

    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update({"lesson": key, "lang": "zh"})
    at.run()
    for step in step_ids(key):
        at.segmented_control(key=f"{key}_step").set_value(step).run()
        if step == "predict":
            prediction = at.radio(key=BY_KEY[key].PREDICTION.key)
            prediction.set_value(prediction.options[0]).run()
        assert_no_exception(at)
        shown = rendered_texts(at.main) + [figure_title(figure) for figure in figures_of(at)]
        english = untranslated_english(shown)
        assert not english, (step, english)
