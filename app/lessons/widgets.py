"""Shared lesson widgets: learning goals, rendered math, the "verify it" panel, check questions, progress.

Progress lives in ``st.session_state`` only (per browser session):

- ``lessons_done``: the set of lesson keys whose check questions were all answered correctly;
- ``lesson_picker``: the lesson shown (the picker's widget key; "next lesson" buttons set it in a callback);
- ``quiz_<lesson>_<i>``: the radio of question ``i``; ``quiz_<lesson>_<i>_checked`` the answer last checked.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st
import torch

from app.explorer import RELATIVE_TOLERANCE  # the app's one tolerance for "equal": max |diff| <= 1e-5 max |ref|

DONE_KEY = "lessons_done"
PICKER_KEY = "lesson_picker"

_NOT_CHECKED = "__not_checked__"


# ----------------------------------------------------------------------------- progress


def done_lessons() -> set[str]:
    return st.session_state.setdefault(DONE_KEY, set())


def mark_done(lesson_key: str) -> None:
    done_lessons().add(lesson_key)


# ----------------------------------------------------------------------------- text blocks


def goals(items: list[str]) -> None:
    st.markdown("**Learning goals**\n" + "\n".join(f"- {item}" for item in items))


def math_block(*formulas: str, caption: str | None = None) -> None:
    """One ``st.latex`` per formula, in the notation of ``unified_framework.md``."""
    for formula in formulas:
        st.latex(formula)
    if caption:
        st.caption(caption)


def random_weights_warning(what: str, command: str) -> None:
    st.warning(
        f"bundled weights not found — run `{command}` to make them. "
        f"Showing **{what} with random weights** (untrained): the mechanics below are exact, "
        "but accuracies and learned patterns are meaningless."
    )


# ----------------------------------------------------------------------------- verify it


@dataclass(frozen=True)
class CheckResult:
    """One numerical check of a claim."""

    claim: str
    passed: bool
    max_abs_diff: float | None = None
    relative: float | None = None
    detail: str = ""


def _to_tensor(value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().double()
    return torch.as_tensor(np.asarray(value, dtype=float), dtype=torch.float64)


def check_close(claim: str, actual, expected, tol: float = RELATIVE_TOLERANCE) -> CheckResult:
    """Pass when ``max |actual - expected| <= tol * max |expected|`` (relative to the reference's largest entry)."""
    actual_t, expected_t = _to_tensor(actual), _to_tensor(expected)
    if actual_t.shape != expected_t.shape:
        return CheckResult(claim, False, detail=f"shapes differ: {tuple(actual_t.shape)} vs {tuple(expected_t.shape)}")
    diff = float((actual_t - expected_t).abs().max()) if actual_t.numel() else 0.0
    scale = float(expected_t.abs().max()) if expected_t.numel() else 0.0
    relative = diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf)
    return CheckResult(claim, relative <= tol, diff, relative, f"≤ {tol:.0e} relative")


def check_differ(claim: str, actual, expected, min_relative: float = 1e-3) -> CheckResult:
    """Pass when the two clearly differ: ``max |actual - expected| > min_relative * max |expected|``."""
    result = check_close(claim, actual, expected)
    passed = result.relative is not None and result.relative > min_relative
    return CheckResult(claim, passed, result.max_abs_diff, result.relative, f"> {min_relative:.0e} relative")


def check_abs(claim: str, actual, expected, atol: float, detail: str = "") -> CheckResult:
    """Pass when ``max |actual - expected| <= atol`` (for quantities stored rounded, e.g. to 5 decimals)."""
    actual_t, expected_t = _to_tensor(actual), _to_tensor(expected)
    diff = float((actual_t - expected_t).abs().max()) if actual_t.numel() else 0.0
    scale = float(expected_t.abs().max()) if expected_t.numel() else 0.0
    return CheckResult(claim, diff <= atol, diff, diff / scale if scale else None, detail or f"≤ {atol:.0e} absolute")


def check_true(claim: str, passed: bool, detail: str) -> CheckResult:
    return CheckResult(claim, bool(passed), detail=detail)


def _format(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0"
    return f"{value:.2e}"


def verify_panel(checks: list[CheckResult], summary: str) -> bool:
    """The "Verify it" box: a table of checks, then one success (all pass) or error element.

    The success text starts with ``Verified:`` so that tests and learners can find it.
    """
    with st.container(border=True):
        st.markdown("#### :material/science: Verify it")
        table = pd.DataFrame(
            {
                "claim": [c.claim for c in checks],
                "max |difference|": [_format(c.max_abs_diff) for c in checks],
                "relative": [_format(c.relative) for c in checks],
                "criterion": [c.detail for c in checks],
                "result": ["✓ pass" if c.passed else "✗ fail" for c in checks],
            }
        )
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={
                         "claim": st.column_config.TextColumn("claim", width="large"),
                         "max |difference|": st.column_config.TextColumn("max |difference|", width="small"),
                         "relative": st.column_config.TextColumn("relative", width="small"),
                         "criterion": st.column_config.TextColumn("criterion", width="small"),
                         "result": st.column_config.TextColumn("result", width="small"),
                     })
        failed = [c.claim for c in checks if not c.passed]
        if failed:
            st.error("Not verified: " + "; ".join(failed))
        else:
            st.success(f"Verified: {summary} ({len(checks)} of {len(checks)} checks pass).")
    return not failed


# ----------------------------------------------------------------------------- check questions


@dataclass(frozen=True)
class Question:
    """A check question; ``choices`` are ``(answer text, feedback when chosen)``; ``answer`` the right index.

    The options are shown in an order shuffled once per question (seeded by the prompt, so stable across
    reruns and sessions): the right answer is not always first, whatever order the source lists them in.
    """

    prompt: str
    choices: tuple[tuple[str, str], ...]
    answer: int

    @property
    def options(self) -> list[str]:
        texts = [text for text, _ in self.choices]
        random.Random(zlib.crc32(self.prompt.encode())).shuffle(texts)
        return texts

    @property
    def right_option(self) -> str:
        return self.choices[self.answer][0]

    def feedback(self, option: str) -> str:
        return dict(self.choices)[option]


def quiz_key(lesson_key: str, index: int) -> str:
    return f"quiz_{lesson_key}_{index}"


def _on_check(lesson_key: str, index: int, questions: tuple[Question, ...]) -> None:
    # A callback runs before the script, so the picker's checkmark is right in the same rerun.
    key = quiz_key(lesson_key, index)
    st.session_state[key + "_checked"] = st.session_state.get(key)
    correct = [
        st.session_state.get(quiz_key(lesson_key, i) + "_checked") == q.right_option for i, q in enumerate(questions)
    ]
    for i, ok in enumerate(correct):
        if ok:
            st.session_state[quiz_key(lesson_key, i) + "_solved"] = True
    if all(st.session_state.get(quiz_key(lesson_key, i) + "_solved") for i in range(len(questions))):
        mark_done(lesson_key)


def quiz(lesson_key: str, questions: tuple[Question, ...]) -> None:
    """Each question: a radio (no default), a Check button, and feedback for the answer checked."""
    st.markdown("#### :material/quiz: Check your understanding")
    for index, question in enumerate(questions):
        key = quiz_key(lesson_key, index)
        with st.container(border=True):
            choice = st.radio(question.prompt, question.options, index=None, key=key)
            st.button("Check", key=key + "_button", on_click=_on_check, args=(lesson_key, index, questions))
            checked = st.session_state.get(key + "_checked", _NOT_CHECKED)
            if checked == _NOT_CHECKED or checked != choice:
                continue  # nothing checked yet, or the learner picked another answer since
            if choice is None:
                st.warning("Pick an answer first, then press Check.")
            elif choice == question.right_option:
                st.success("Correct. " + question.feedback(choice))
            else:
                st.error("Not quite. " + question.feedback(choice))
    if lesson_key in done_lessons():
        st.success("Lesson complete: every check question answered correctly.", icon=":material/task_alt:")


# ----------------------------------------------------------------------------- predict, then reveal


def predict(key: str, prompt: str, options: tuple[str, ...]) -> str | None:
    """A radio with no default: the learner commits to an answer before the figure that settles it is shown."""
    with st.container(border=True):
        st.markdown("**:material/psychology: Your prediction**")
        return st.radio(prompt, options, index=None, key=key)


def check_prediction(prediction: str, measured: str) -> CheckResult:
    """A Verify row that fails when the learner's prediction disagrees with what was just measured."""
    return CheckResult(f"your prediction: {prediction}", prediction == measured,
                       detail="holds" if prediction == measured else f"measured: {measured}")
