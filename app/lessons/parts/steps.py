"""A lesson as a short sequence of steps that each fit a screen, with Back/Continue and the step in the address.

A lesson module lists its steps in ``STEPS`` (a tuple of :class:`Step`): for example why it matters → idea and
math → predict, then reveal and verify → check your understanding. :func:`render_steps` draws a step picker,
the chosen step and the Back/Continue buttons; ``?lesson=conv&step=3`` opens step 3 (numbered from 1).

Streamlit forgets the state of a widget that a run does not draw, so a value that one step sets and a later
step reads must be named in the lesson's ``KEPT`` (widget keys): they are carried over every run. Predictions
and question answers live in the progress store (:mod:`app.lessons.parts.progress`), not in widgets.
"""

from __future__ import annotations

import html

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import streamlit as st

from app.i18n import _

__all__ = ["Step", "STEP_PARAM", "lesson_steps", "step_key", "current_step", "go_to_step", "render_steps",
           "keep_widgets"]

STEP_PARAM = "step"


@dataclass(frozen=True)
class Step:
    """One screen of a lesson: a stable ``id`` (tests, links), a ``title`` marked with ``N_``, and ``draw()``."""

    id: str
    title: str
    draw: Callable[[], None]


def lesson_steps(lesson: ModuleType) -> tuple[Step, ...]:
    """The lesson's ``STEPS``; a lesson without them is one step drawn by its ``render()``."""
    steps = getattr(lesson, "STEPS", None)
    if steps:
        return tuple(steps)
    return (Step("lesson", lesson.TITLE, lesson.render),)


def step_key(lesson_key: str) -> str:
    """The session key of the step shown in a lesson (the step picker's widget key)."""
    return f"{lesson_key}_step"


def current_step(lesson: ModuleType) -> int:
    """The index (from 0) of the step shown in ``lesson``: the picker's, else the address's, else the first."""
    steps = lesson_steps(lesson)
    ids = [step.id for step in steps]
    chosen = st.session_state.get(step_key(lesson.KEY))
    if chosen in ids:
        return ids.index(chosen)
    linked = st.query_params.get(STEP_PARAM)
    if linked and linked.isdigit() and 1 <= int(linked) <= len(steps):
        return int(linked) - 1
    return 0


def go_to_step(lesson_key: str, step_id: str) -> None:
    """A callback: show ``step_id`` of the lesson in the next run."""
    st.session_state[step_key(lesson_key)] = step_id


def keep_widgets(keys) -> None:
    """Carry these widgets' values over a run that does not draw them (Streamlit drops them otherwise)."""
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def render_steps(lesson: ModuleType, kept: tuple[str, ...] = ()) -> tuple[int, int]:
    """The step picker, the chosen step, and Back/Continue; the address names the step shown.

    Returns the index of the step shown (from 0) and the number of steps.
    """
    steps = lesson_steps(lesson)
    prediction = getattr(lesson, "PREDICTION", None)
    # The prediction radio is kept too: back on its step, the learner finds the choice they made.
    keep_widgets(tuple(getattr(lesson, "KEPT", ())) + kept + ((prediction.key,) if prediction is not None else ()))
    index = current_step(lesson)
    key = step_key(lesson.KEY)
    if len(steps) > 1:
        ids = [step.id for step in steps]
        st.session_state[key] = ids[index]
        titles = {step.id: f"{number}. {_(step.title)}" for number, step in enumerate(steps, start=1)}
        st.segmented_control(_("Step"), ids, key=key, format_func=titles.__getitem__, selection_mode="single",
                             label_visibility="collapsed")
        index = ids.index(st.session_state.get(key) or ids[index])
    if st.query_params.get(STEP_PARAM) != str(index + 1):
        st.query_params[STEP_PARAM] = str(index + 1)
    step = steps[index]
    if len(steps) > 1:
        # The step picker above shows where the learner is; the heading is for screen readers (it would cost every
        # step a line of its screen), kept out of sight by the app's style sheet (app/style.py, .ce-sr-only).
        heading = _("Step {number} of {total}: {title}").format(number=index + 1, total=len(steps), title=_(step.title))
        st.html(f'<h3 class="ce-sr-only">{html.escape(heading)}</h3>')
    step.draw()
    if len(steps) > 1:
        back_col, _spacer, next_col = st.columns([1, 2, 1])
        if index > 0:
            back_col.button(_("← Back"), key=f"{lesson.KEY}_step_back", on_click=go_to_step,
                            args=(lesson.KEY, steps[index - 1].id), width="stretch")
        if index + 1 < len(steps):
            next_col.button(_("Continue →"), key=f"{lesson.KEY}_step_next", on_click=go_to_step,
                            args=(lesson.KEY, steps[index + 1].id), type="primary", width="stretch")
    return index, len(steps)
