"""Driving the lessons page in AppTest: open a lesson at a step, predict, answer its questions."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from apptest_support import assert_clean, assert_no_exception
from app.lessons import LESSONS
from app.lessons.parts.steps import lesson_steps, step_key
from app.lessons.parts.widgets import PICKER_KEY, quiz_key

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "pages" / "6_Lessons.py")
TIMEOUT = 300  # seconds one AppTest run may take: a limit for a hung run, not a speed goal
BY_KEY = {lesson.KEY: lesson for lesson in LESSONS}
# Every lesson has these steps (its own steps may lie between them).
REQUIRED_STEPS = ("why", "idea", "predict", "check")


def step_ids(key: str) -> list[str]:
    return [step.id for step in lesson_steps(BY_KEY[key])]


def open_lesson(key: str, step: str | None = None) -> AppTest:
    """The lessons page showing lesson ``key`` (at step ``step``, by id), checked clean."""
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.run()
    assert_clean(at)
    at.selectbox(key=PICKER_KEY).set_value(key).run()
    assert_clean(at)
    assert at.header[0].value.endswith(BY_KEY[key].TITLE)
    if step is not None:
        go_to_step(at, key, step)
    return at


def go_to_step(at: AppTest, key: str, step: str) -> None:
    if len(step_ids(key)) > 1:
        at.segmented_control(key=step_key(key)).set_value(step).run()
    assert_no_exception(at)


def verified(at: AppTest) -> list[str]:
    return [s.value for s in at.success if s.value.startswith("Verified:")]


def not_verified(at: AppTest) -> list[str]:
    return [e.value for e in at.error if e.value.startswith("Not verified")]


def assert_verified(at: AppTest) -> None:
    failures = not_verified(at)
    assert not failures, failures
    assert len(verified(at)) == 1, [s.value for s in at.success]


def answer(at: AppTest, lesson: str, index: int, option: str) -> None:
    at.radio(key=quiz_key(lesson, index)).set_value(option)
    at.button(key=quiz_key(lesson, index) + "_button").click()
    at.run()
    assert_no_exception(at)  # a wrong answer is an error box


def make_right_prediction(at: AppTest, key: str) -> str:
    """On the predict step: try each option until the Verify panel passes; returns the right one."""
    prediction_key = BY_KEY[key].PREDICTION.key
    for option in at.radio(key=prediction_key).options:
        at.radio(key=prediction_key).set_value(option).run()
        assert_no_exception(at)
        if verified(at):
            return option
    raise AssertionError(f"no prediction of lesson {key} verifies")


def open_revealed(key: str) -> AppTest:
    """Lesson ``key`` at its predict step, with the right prediction made: everything the step reveals is drawn."""
    at = open_lesson(key, "predict")
    make_right_prediction(at, key)
    return at


def walk_steps(at: AppTest, key: str):
    """Show every step of lesson ``key`` in turn (the prediction made on its predict step); yields each step's id."""
    from app.lessons.parts.steps import lesson_steps, step_key

    lesson = BY_KEY[key]
    at.selectbox(key=PICKER_KEY).set_value(key).run()
    for step in lesson_steps(lesson):
        if len(lesson_steps(lesson)) > 1:
            at.segmented_control(key=step_key(key)).set_value(step.id).run()
        if step.id == "predict" and getattr(lesson, "PREDICTION", None) is not None:
            radios = [radio for radio in at.radio if radio.key == lesson.PREDICTION.key]
            if radios:  # a lesson may offer no prediction without its weights (the zoo needs two models)
                radios[0].set_value(radios[0].options[0]).run()
        yield step.id
