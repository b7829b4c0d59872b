"""Guided lessons: from ``Y = A V`` to what Container's blend buys.

Each lesson is a module named by its ``KEY`` (``app/lessons/<KEY>.py``) with ``TITLE``, ``GOALS``, ``QUESTIONS``
and ``render()``; what lessons share lives in ``app/lessons/parts/``. :func:`render_lessons` draws the picker, the
progress, the chosen lesson and the previous/next buttons, numbered by the course order (``parts/course.py``,
which also names one lesson in another's text). A lesson's ``TITLE``, ``GOALS`` and
``QUESTIONS`` are English marked with ``N_`` and translated where they are drawn
(here and in :mod:`app.lessons.parts.widgets`); see docs/translating.md, "Lessons".
"""

from __future__ import annotations

from types import ModuleType

import streamlit as st

from app.i18n import N_, _

from app.lessons import (attention, container, conv, cost, matrix, measured, mixer, paper, reach, shift, train, trained,
                         zoo)
from app.learner import learner_panel
from app.lessons.inventory import render_pre_check
from app.lessons.parts import course
from app.lessons.parts.steps import STEP_PARAM, render_steps
from app.lessons.parts.widgets import DONE_KEY, PICKER_KEY, done_lessons, update_done

_BY_KEY: dict[str, ModuleType] = {lesson.KEY: lesson for lesson in (
    matrix, conv, shift, mixer, attention, cost, reach, container, trained, zoo, train, measured, paper)}
if sorted(_BY_KEY) != sorted(course.ORDER):
    raise ImportError(f"the course order {course.ORDER} must name every lesson module {sorted(_BY_KEY)} once")

# The course as imported, for callers that list the lessons; drawing reads course.ORDER at run time (see course.py).
LESSON_KEYS: tuple[str, ...] = course.ORDER
LESSONS: tuple[ModuleType, ...] = tuple(_BY_KEY[key] for key in LESSON_KEYS)
QUERY_PARAM = "lesson"
_DONE_LOADED_KEY = "_lessons_done_loaded"

__all__ = ["LESSONS", "LESSON_KEYS", "DONE_KEY", "PICKER_KEY", "TITLE", "INTRO", "lesson_label", "render_lessons"]


def lesson_label(key: str) -> str:
    """The picker's label of a lesson, in the session's language: a checkmark once done, its number and title."""
    number = course.lesson_number(key)
    mark = "✓" if key in done_lessons() else "○"
    return f"{mark} {number}. {_(_BY_KEY[key].TITLE)}"


def _go_to(key: str) -> None:
    st.session_state[PICKER_KEY] = key
    _forget_step()


def _forget_step() -> None:
    # The address's step belongs to the lesson it was written for: a new lesson opens at its own first step.
    st.query_params.pop(STEP_PARAM, None)


# The page draws these two: translate them there, _(TITLE) and _(INTRO).
TITLE = N_("Lessons: one operation, three affinities")
INTRO = N_("Self-attention, depthwise convolution and MLP-Mixer all compute "
         "$Y = \\operatorname{concat}(A_0V_0, \\dots, A_{M-1}V_{M-1})\\,W_o$ and differ only in how the affinity A is "
         "made; Container blends them. In each lesson: predict, see, verify, answer.")


def _load_done() -> None:
    """Once per session: tick the lessons the learner's stored record completes (after a reload, on a new device)."""
    if st.session_state.get(_DONE_LOADED_KEY):
        return
    for key, lesson in _BY_KEY.items():
        update_done(key, len(lesson.QUESTIONS), getattr(lesson, "PREDICTION", None) is not None)
    st.session_state[_DONE_LOADED_KEY] = True


def render_lessons() -> None:
    """The picker, the progress, the chosen lesson and previous/next buttons (the page draws title and intro)."""
    _load_done()
    order = course.ORDER
    # Side by side, so that every step keeps its screen: where progress is kept, and the optional concept check.
    learner_col, check_col = st.columns(2)
    with learner_col:
        learner_panel()
    with check_col:
        render_pre_check()
    if st.session_state.get(PICKER_KEY) not in order:
        # First visit in this session: a link may name the lesson (?lesson=conv).
        linked = st.query_params.get(QUERY_PARAM)
        st.session_state[PICKER_KEY] = linked if linked in order else order[0]
    picker_col, progress_col = st.columns([3, 2], vertical_alignment="bottom")
    with picker_col:
        labels = {lesson_key: lesson_label(lesson_key) for lesson_key in order}  # built in the run: rule 6
        key = st.selectbox(_("Lesson"), order, format_func=labels.__getitem__, key=PICKER_KEY,
                           on_change=_forget_step)
    with progress_col:
        done = len(done_lessons() & set(order))
        st.progress(done / len(order), text=_("{done} of {total} lessons complete").format(done=done,
                                                                                           total=len(order)))

    if st.query_params.get(QUERY_PARAM) != key:
        st.query_params[QUERY_PARAM] = key  # the address names the lesson shown, so it can be shared
    index = order.index(key)
    lesson = _BY_KEY[key]
    st.header(f"{index + 1}. {_(lesson.TITLE)}")
    step, steps = render_steps(lesson)
    if step + 1 < steps:
        return  # the lesson's own Continue leads on; the way to the next lesson is on its last step

    st.divider()
    previous_col, _spacer, next_col = st.columns([1, 2, 1])
    if index > 0:
        previous_key = order[index - 1]
        previous_col.button(f"← {index}. {_(_BY_KEY[previous_key].TITLE)}", key="lesson_previous",
                            on_click=_go_to, args=(previous_key,), width="stretch")
    if index + 1 < len(order):
        next_key = order[index + 1]
        next_col.button(_("Next lesson: {number}. {title} →").format(number=index + 2,
                                                                     title=_(_BY_KEY[next_key].TITLE)),
                        key="lesson_next",
                        on_click=_go_to, args=(next_key,), type="primary", width="stretch")
    elif set(order) <= done_lessons():
        next_col.success(_("All lessons complete."), icon=":material/school:")
