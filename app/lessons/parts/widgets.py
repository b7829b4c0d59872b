"""Shared lesson widgets: learning goals, rendered math, the "verify it" panel, check questions, progress.

Progress is written through the progress store (:mod:`app.lessons.parts.progress`): the prediction and when it
was made, the reveal, the Verify panel's run, every answer checked. A lesson is complete when its prediction came
before its reveal, its Verify panel ran with it, and every question was answered right. In ``st.session_state``:

- ``lessons_done``: the set of complete lessons, as of the last run (kept for the picker and for tests);
- ``lesson_picker``: the lesson shown (the picker's widget key; "next lesson" buttons set it in a callback);
- ``quiz_<lesson>_<i>``: the radio of question ``i``; ``quiz_<lesson>_<i>_checked`` the answer last checked.

Language (docs/translating.md, "Lessons"): a lesson's constants (``TITLE``, ``GOALS``, ``QUESTIONS``, prediction
options) are English marked with ``N_`` and translated here, where they are drawn. Every other text a lesson hands
to these helpers (captions, claims, summaries) is translated here too: ``_()`` of a text the lesson already
translated returns it unchanged, so a lesson may pass either ``N_("...")`` or ``_("... {x}").format(x=...)``.
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import streamlit as st
import torch

# The app's one tolerance for "equal": max |diff| <= 1e-5 max |ref|.
from container_edu.analysis.explore import RELATIVE_TOLERANCE
from app.i18n import _, ngettext
from app.lessons.parts.progress import session_store

DONE_KEY = "lessons_done"
PICKER_KEY = "lesson_picker"

_NOT_CHECKED = "__not_checked__"


# ----------------------------------------------------------------------------- progress


def done_lessons() -> set[str]:
    return st.session_state.setdefault(DONE_KEY, set())


def update_done(lesson_key: str, questions: int, has_prediction: bool) -> bool:
    """Recompute whether ``lesson_key`` is complete from the store; keep ``lessons_done`` in step with it."""
    complete = session_store().lesson(lesson_key).complete(questions, has_prediction)
    if complete:
        done_lessons().add(lesson_key)
    else:
        done_lessons().discard(lesson_key)
    return complete


# ----------------------------------------------------------------------------- text blocks


def goals(items: list[str]) -> None:
    """The lesson's ``GOALS`` (English, marked with ``N_``), drawn in the session's language."""
    heading = _("Learning goals")
    st.markdown(f"**{heading}**\n" + "\n".join(f"- {_(item)}" for item in items))


def math_block(*formulas: str, caption: str | None = None) -> None:
    """One ``st.latex`` per formula, in the notation of ``unified_framework.md``."""
    for formula in formulas:
        st.latex(formula)
    if caption:
        st.caption(_(caption))


def tex_words(words: str) -> str:
    """Prose inside a formula, ``\\text{...}``: pass it translated, ``tex_words(_("otherwise"))``."""
    return r"\text{" + words + "}"


def random_weights_warning(what: str, command: str) -> None:
    st.warning(_(
        "bundled weights not found — run `{command}` to make them. "
        "Showing **{what} with random weights** (untrained): the mechanics below are exact, "
        "but accuracies and learned patterns are meaningless."
    ).format(command=command, what=_(what)))


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
        return CheckResult(claim, False, detail=_("shapes differ: {actual} vs {expected}").format(
            actual=tuple(actual_t.shape), expected=tuple(expected_t.shape)))
    diff = float((actual_t - expected_t).abs().max()) if actual_t.numel() else 0.0
    scale = float(expected_t.abs().max()) if expected_t.numel() else 0.0
    relative = diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf)
    return CheckResult(claim, relative <= tol, diff, relative, _("≤ {tol:.0e} relative").format(tol=tol))


def check_differ(claim: str, actual, expected, min_relative: float = 1e-3) -> CheckResult:
    """Pass when the two clearly differ: ``max |actual - expected| > min_relative * max |expected|``."""
    result = check_close(claim, actual, expected)
    passed = result.relative is not None and result.relative > min_relative
    return CheckResult(claim, passed, result.max_abs_diff, result.relative,
                       _("> {min_relative:.0e} relative").format(min_relative=min_relative))


def check_abs(claim: str, actual, expected, atol: float, detail: str = "") -> CheckResult:
    """Pass when ``max |actual - expected| <= atol`` (for quantities stored rounded, e.g. to 5 decimals)."""
    actual_t, expected_t = _to_tensor(actual), _to_tensor(expected)
    diff = float((actual_t - expected_t).abs().max()) if actual_t.numel() else 0.0
    scale = float(expected_t.abs().max()) if expected_t.numel() else 0.0
    return CheckResult(claim, diff <= atol, diff, diff / scale if scale else None,
                       detail or _("≤ {atol:.0e} absolute").format(atol=atol))


def check_true(claim: str, passed: bool, detail: str) -> CheckResult:
    return CheckResult(claim, bool(passed), detail=detail)


def _format(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0"
    return f"{value:.2e}"


def verify_panel(checks: list[CheckResult], summary: str, lesson: str | None = None) -> bool:
    """The "Verify it" box: a table of checks, then one success (all pass) or error element.

    With ``lesson`` (its ``KEY``), the run is recorded in the progress store: completion needs it.

    The success text starts with ``Verified:`` (in English) so that tests and learners can find it. Claims,
    criteria and the summary are translated here (see the module's docstring).
    """
    with st.container(border=True):
        st.markdown(_("### :material/science: Verify it"))
        claims = [_(c.claim) for c in checks]
        # The frame's columns keep English names (stable identifiers); their headers are translated below.
        table = pd.DataFrame(
            {
                "claim": claims,
                "max |difference|": [_format(c.max_abs_diff) for c in checks],
                "relative": [_format(c.relative) for c in checks],
                "criterion": [_(c.detail) for c in checks],
                "result": [_("✓ pass") if c.passed else _("✗ fail") for c in checks],
            }
        )
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={
                         "claim": st.column_config.TextColumn(_("claim"), width="large"),
                         "max |difference|": st.column_config.TextColumn(_("max |difference|"), width="small"),
                         "relative": st.column_config.TextColumn(_("relative"), width="small"),
                         "criterion": st.column_config.TextColumn(_("criterion"), width="small"),
                         "result": st.column_config.TextColumn(_("result"), width="small"),
                     })
        failed = [claim for claim, c in zip(claims, checks) if not c.passed]
        if failed:
            st.error(_("Not verified: {claims}").format(claims=_("; ").join(failed)))
        else:
            st.success(ngettext("Verified: {summary} ({passed} of {total} check passes).",
                                "Verified: {summary} ({passed} of {total} checks pass).", len(checks)).format(
                summary=_(summary), passed=len(checks), total=len(checks)))
    if lesson is not None:
        session_store().record_verify(lesson, not failed)
    return not failed


# ----------------------------------------------------------------------------- check questions


@dataclass(frozen=True)
class Question:
    """A check question; ``choices`` are ``(answer text, feedback when chosen)``; ``answer`` the right index.

    Every text is an English template marked with ``N_``; ``fields`` are the values of its named placeholders
    (``{k}``), filled in after translation: ``Question(N_("A {k} × {k} conv ..."), ..., fields={"k": 5})``.
    ``options``, ``right_option`` and ``feedback`` give the English (the radio's values, what tests compare);
    :meth:`shown` gives any of them in the session's language.

    The options are shown in an order shuffled once per question (seeded by the English prompt, so stable across
    reruns, sessions and languages): the right answer is not always first, whatever order the source lists them in.
    """

    prompt: str
    choices: tuple[tuple[str, str], ...]
    answer: int
    fields: dict[str, object] = field(default_factory=dict, hash=False, compare=False)

    def _filled(self, template: str) -> str:
        return template.format(**self.fields) if self.fields else template

    @property
    def english_prompt(self) -> str:
        return self._filled(self.prompt)

    @property
    def options(self) -> list[str]:
        texts = [self._filled(text) for text, _feedback in self.choices]
        random.Random(zlib.crc32(self.english_prompt.encode())).shuffle(texts)
        return texts

    @property
    def right_option(self) -> str:
        return self._filled(self.choices[self.answer][0])

    def feedback(self, option: str) -> str:
        """The English feedback for the English ``option``."""
        return self._filled(self._feedback_templates()[option])

    def _feedback_templates(self) -> dict[str, str]:
        return {self._filled(text): feedback for text, feedback in self.choices}

    def _templates(self) -> dict[str, str]:
        """English text (filled in) -> its template, for the prompt, the options and the feedback."""
        templates = {self.english_prompt: self.prompt}
        for text, feedback in self.choices:
            templates[self._filled(text)] = text
            templates[self._filled(feedback)] = feedback
        return templates

    def shown(self, english: str) -> str:
        """``english`` (the prompt, an option or a feedback, filled in) in the session's language."""
        template = self._templates().get(english, english)
        return _(template).format(**self.fields) if self.fields else _(template)


def quiz_key(lesson_key: str, index: int) -> str:
    return f"quiz_{lesson_key}_{index}"


def _on_check(lesson_key: str, index: int, questions: tuple[Question, ...], has_prediction: bool) -> None:
    # A callback runs before the script, so the picker's checkmark is right in the same rerun.
    key = quiz_key(lesson_key, index)
    choice = st.session_state.get(key)
    st.session_state[key + "_checked"] = choice
    if choice is not None:
        session_store().record_answer(lesson_key, index, choice, choice == questions[index].right_option)
    update_done(lesson_key, len(questions), has_prediction)


def quiz(lesson_key: str, questions: tuple[Question, ...], has_prediction: bool = True) -> None:
    """Each question: a radio (no default), a Check button, and feedback for the answer checked.

    Every check is recorded in the progress store (first-attempt correctness is kept apart from eventual).

    The radio's values are the English options (what is checked and stored); only their labels are translated,
    built in the run (a ``format_func`` may be called outside it, where the language is English).
    """
    st.markdown(_("### :material/quiz: Check your understanding"))
    for index, question in enumerate(questions):
        key = quiz_key(lesson_key, index)
        with st.container(border=True):
            labels = {option: question.shown(option) for option in question.options}
            choice = st.radio(question.shown(question.english_prompt), question.options, index=None, key=key,
                              format_func=labels.__getitem__)
            st.button(_("Check"), key=key + "_button", on_click=_on_check,
                      args=(lesson_key, index, questions, has_prediction))
            checked = st.session_state.get(key + "_checked", _NOT_CHECKED)
            if checked == _NOT_CHECKED or checked != choice:
                continue  # nothing checked yet, or the learner picked another answer since
            if choice is None:
                st.warning(_("Pick an answer first, then press Check."))
            elif choice == question.right_option:
                st.success(_("Correct. {feedback}").format(feedback=question.shown(question.feedback(choice))))
            else:
                st.error(_("Not quite. {feedback}").format(feedback=question.shown(question.feedback(choice))))
    record = session_store().lesson(lesson_key)
    if update_done(lesson_key, len(questions), has_prediction):
        st.success(_("Lesson complete: prediction made before the reveal, Verify panel run, every check question "
                     "answered correctly."), icon=":material/task_alt:")
    elif all(record.eventually_correct(i) for i in range(len(questions))):
        st.info(_("Every question answered correctly. To complete the lesson, make its prediction before the "
                  "reveal and run its Verify panel."), icon=":material/pending:")


# ----------------------------------------------------------------------------- predict, then reveal


@dataclass(frozen=True)
class Prediction:
    """A lesson's prediction, declared at module level as ``PREDICTION`` (the worksheet and tests read it).

    ``prompt`` and ``options`` are English marked with ``N_``; ``fields`` fill their named placeholders after
    translation. Which option is right is measured when the lesson runs, never stored here.
    """

    key: str
    prompt: str
    options: tuple[str, ...]
    fields: dict[str, object] = field(default_factory=dict, hash=False, compare=False)

    def ask(self, lesson: str) -> str | None:
        """Draw the prediction radio (see :func:`predict`); the chosen English option, or None."""
        prompt = _(self.prompt).format(**self.fields) if self.fields else self.prompt
        return predict(self.key, prompt, self.options, lesson=lesson, fields=self.fields)


def _on_predict(lesson_key: str, key: str) -> None:
    session_store().record_prediction(lesson_key, st.session_state.get(key))


def predict(key: str, prompt: str, options: tuple[str, ...], lesson: str | None = None,
            fields: dict[str, object] | None = None) -> str | None:
    """A radio with no default: the learner commits to an answer before the figure that settles it is shown.

    ``options`` are the values returned and compared with what is measured (:func:`check_prediction`): mark them
    with ``N_`` (English); they are shown translated. The prompt may be ``N_``-marked or already translated.
    The choice is recorded in the progress store under ``lesson`` (default: ``key`` up to its first "_").
    Draw what answers it only after :func:`revealed` says so.
    """
    lesson_key = lesson or key.split("_", 1)[0]
    with st.container(border=True):
        st.markdown(_("**:material/psychology: Your prediction**"))
        labels = {option: _(option).format(**fields) if fields else _(option) for option in options}
        return st.radio(_(prompt), options, index=None, key=key, format_func=labels.__getitem__,
                        on_change=_on_predict, args=(lesson_key, key))


def revealed(lesson: str, prediction: str | None) -> bool:
    """True once the learner has predicted (the reveal is recorded then); else a note to predict first.

    Use as ``if not revealed(KEY, choice): return`` before the figure or number that answers the prediction.
    """
    if prediction is None:
        st.info(_("Make your prediction above: the figure and the numbers that settle it appear once you have."),
                icon=":material/lock:")
        return False
    store = session_store()
    if store.lesson(lesson).prediction != prediction:  # set by a link or a test, not by the radio's callback
        store.record_prediction(lesson, prediction)
    store.record_reveal(lesson)
    return True


def check_prediction(prediction: str, measured: str) -> CheckResult:
    """A Verify row that fails when the learner's prediction disagrees with what was just measured."""
    holds = prediction == measured
    return CheckResult(_("your prediction: {prediction}").format(prediction=_(prediction)), holds,
                       detail=_("holds") if holds else _("measured: {measured}").format(measured=_(measured)))
