"""Guided lessons: from ``Y = A V`` to what Container's blend buys.

Each lesson is a module with ``KEY``, ``TITLE``, ``GOALS``, ``QUESTIONS`` and
``render()``; :func:`render_lessons` draws the picker, the progress, the
chosen lesson and the previous/next buttons. A lesson's ``TITLE``, ``GOALS`` and
``QUESTIONS`` are English marked with ``N_`` and translated where they are drawn
(here and in :mod:`app.lessons.widgets`); see docs/translating.md, "Lessons".
"""

from __future__ import annotations

from types import ModuleType

import streamlit as st

from app.i18n import N_, _

from app.lessons import (
    l1_matrix,
    l2_attention,
    l3_conv,
    l3b_shift,
    l4_mixer,
    l5_container,
    l6_cost,
    l6b_reach,
    l7_trained,
    l7b_zoo,
    l8_train,
    l9_measured,
)
from app.lessons.widgets import DONE_KEY, PICKER_KEY, done_lessons

# The arc: conv, then mixer, then attention each relax one constraint; cost comes before Container uses it.
# A lesson that taught two things is two lessons (its second half in the ``b`` module next to it).
LESSONS: tuple[ModuleType, ...] = (
    l1_matrix, l3_conv, l3b_shift, l4_mixer, l2_attention, l6_cost, l6b_reach, l5_container, l7_trained, l7b_zoo,
    l8_train, l9_measured,
)
LESSON_KEYS: tuple[str, ...] = tuple(lesson.KEY for lesson in LESSONS)
_BY_KEY = {lesson.KEY: lesson for lesson in LESSONS}
QUERY_PARAM = "lesson"

__all__ = ["LESSONS", "LESSON_KEYS", "DONE_KEY", "PICKER_KEY", "TITLE", "INTRO", "lesson_label", "render_lessons"]


def lesson_label(key: str) -> str:
    """The picker's label of a lesson, in the session's language: a checkmark once done, its number and title."""
    number = LESSON_KEYS.index(key) + 1
    mark = "✓" if key in done_lessons() else "○"
    return f"{mark} {number}. {_(_BY_KEY[key].TITLE)}"


def _go_to(key: str) -> None:
    st.session_state[PICKER_KEY] = key


# The page draws these two: translate them there, _(TITLE) and _(INTRO).
TITLE = N_("Lessons: one operation, three affinities")
INTRO = N_("Self-attention, depthwise convolution and MLP-Mixer all compute Y = concat(A₀V₀, …, A₍M−1₎V₍M−1₎) W_o; they "
         "differ only in how the affinity A is made, and Container blends them. Twelve short lessons, each with the "
         "math, a live figure, a numerical check and questions; answer a lesson's questions to tick it off.")


def render_lessons() -> None:
    """The picker, the progress, the chosen lesson and previous/next buttons (the page draws title and intro)."""
    if st.session_state.get(PICKER_KEY) not in LESSON_KEYS:
        # First visit in this session: a link may name the lesson (?lesson=conv).
        linked = st.query_params.get(QUERY_PARAM)
        st.session_state[PICKER_KEY] = linked if linked in LESSON_KEYS else LESSON_KEYS[0]
    picker_col, progress_col = st.columns([3, 2], vertical_alignment="bottom")
    with picker_col:
        labels = {lesson_key: lesson_label(lesson_key) for lesson_key in LESSON_KEYS}  # built in the run: rule 6
        key = st.selectbox(_("Lesson"), LESSON_KEYS, format_func=labels.__getitem__, key=PICKER_KEY)
    with progress_col:
        done = len(done_lessons() & set(LESSON_KEYS))
        st.progress(done / len(LESSONS), text=_("{done} of {total} lessons complete").format(done=done,
                                                                                             total=len(LESSONS)))

    if st.query_params.get(QUERY_PARAM) != key:
        st.query_params[QUERY_PARAM] = key  # the address names the lesson shown, so it can be shared
    index = LESSON_KEYS.index(key)
    lesson = _BY_KEY[key]
    st.header(f"{index + 1}. {_(lesson.TITLE)}")
    lesson.render()

    st.divider()
    previous_col, _spacer, next_col = st.columns([1, 2, 1])
    if index > 0:
        previous_key = LESSON_KEYS[index - 1]
        previous_col.button(f"← {index}. {_(_BY_KEY[previous_key].TITLE)}", key="lesson_previous",
                            on_click=_go_to, args=(previous_key,), width="stretch")
    if index + 1 < len(LESSONS):
        next_key = LESSON_KEYS[index + 1]
        next_col.button(_("Next lesson: {number}. {title} →").format(number=index + 2,
                                                                     title=_(_BY_KEY[next_key].TITLE)),
                        key="lesson_next",
                        on_click=_go_to, args=(next_key,), type="primary", width="stretch")
    elif set(LESSON_KEYS) <= done_lessons():
        next_col.success(_("All lessons complete."), icon=":material/school:")
