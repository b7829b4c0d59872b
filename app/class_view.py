"""The lecturer's class view: the class's predictions live, first-attempt correctness, the inventory, completion.

Opened with the class code and its teacher key (typed into the form, or ``?class=...&key=...`` in the address,
handy in the lecturer's own browser); the key is never drawn on the page. Without a matching pair the page says
one sentence and nothing about the class, not even whether it exists.

The numbers come from :mod:`container_edu.progress.class_report`; this module draws them. The report is a
fragment that reruns every :data:`REFRESH_S` seconds, so the prediction counts move while learners answer,
without reloading the page. A prediction's right answer is hidden until the lecturer presses Reveal.
"""

from __future__ import annotations

import logging

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from container_edu.progress import class_report as report
from container_edu.progress.codes import CLASS_CODE_LENGTH, CodeError, normalise_code
from container_edu.progress.database import class_of, teacher_key_matches

from app.figure_view import show_figure
from app.i18n import N_, _
from app.learner import DATABASE_ERRORS, database_engine

__all__ = ["CLASS_PARAM", "KEY_PARAM", "ACCESS_KEY", "REVEALED_KEY", "REFRESH_S", "render_class_view", "csv_table"]

logger = logging.getLogger(__name__)

CLASS_PARAM = "class"
KEY_PARAM = "key"
ACCESS_KEY = "class_view_access"
REVEALED_KEY = "class_view_revealed"
LESSON_KEY = "cv_lesson"
#: Seconds between refreshes: quick enough to watch a class answer, slow enough to cost the server little.
REFRESH_S = 3
REFUSAL = N_("The class view opens with a class code and its teacher key, and these two do not match.")
UNREACHABLE = N_("The class view cannot reach the progress database right now; try again in a moment.")
RIGHT = "#2e7d32"
OTHER = "#90a4ae"


def _lessons():
    from app.lessons import LESSONS  # the course, read at run time: lessons may be added while this module lives

    return LESSONS


def _check(class_code: str, key: str) -> str | None:
    """The class code if ``key`` opens it, else None (an unknown class and a wrong key look the same)."""
    try:
        if teacher_key_matches(database_engine(), class_code, key):
            return normalise_code(class_code, CLASS_CODE_LENGTH)
    except CodeError:
        return None
    return None


def _access() -> str | None:
    """The class this session may view, after checking the address's or the form's code and key."""
    code, key = st.query_params.get(CLASS_PARAM), st.query_params.get(KEY_PARAM)
    granted = st.session_state.get(ACCESS_KEY)
    refused = False
    if code and key and (granted is None or code.strip().upper().replace("-", "") != granted):
        granted = _check(code, key)
        refused = granted is None
    if granted is None:
        with st.form("cv_open", border=True):
            st.text_input(_("Class code"), key="cv_code_input", max_chars=24, placeholder="ABC234")
            st.text_input(_("Teacher key"), key="cv_key_input", type="password", max_chars=64)
            submitted = st.form_submit_button(_("Open the class view"), icon=":material/lock_open:")
        if submitted:
            granted = _check(st.session_state.get("cv_code_input", ""), st.session_state.get("cv_key_input", ""))
            refused = granted is None
        if refused:
            st.error(_(REFUSAL), icon=":material/lock:")
    if granted is not None and st.session_state.get(ACCESS_KEY) != granted:
        st.session_state[ACCESS_KEY] = granted
        st.session_state[REVEALED_KEY] = set()
        st.rerun()  # draw the class without the form
    return granted


def render_class_view() -> None:
    try:
        code = _access()
    except DATABASE_ERRORS:
        logger.exception("class view: progress database unavailable")
        st.error(_(UNREACHABLE), icon=":material/cloud_off:")
        return
    if code is None:
        return
    with database_engine().connect() as connection:
        found = class_of(connection, code)
    st.markdown(_("Class **{name}** · class code **{code}** · learners join on the Lessons page with this code "
                  "(or open the Lessons page with `?class={code}` in the address).").format(
        name=found["name"] if found else "", code=code))
    _live_report(code)


@st.fragment(run_every=REFRESH_S)
def _live_report(code: str) -> None:
    try:
        data = ClassData.load(code)
    except DATABASE_ERRORS:
        logger.exception("class view: reading the class failed")
        st.warning(_(UNREACHABLE), icon=":material/cloud_off:")
        return
    st.caption(_("{learners} learners in the class. Refreshed every {seconds} s while this page is open.").format(
        learners=data.size, seconds=REFRESH_S))
    _predictions(data)
    _first_attempts(data)
    _inventory(data)
    _completion(data)
    st.download_button(_("Download everything shown (CSV)"), csv_table(data).to_csv(index=False).encode("utf-8"),
                       file_name=f"class_{code}.csv", mime="text/csv", key="cv_csv", on_click="ignore",
                       icon=":material/download:")


class ClassData:
    """One read of the class: what every section and the CSV show in the same refresh."""

    def __init__(self, code: str, size: int, counts, attempts, inventory, completion):
        self.code, self.size, self.counts, self.attempts = code, size, counts, attempts
        self.inventory, self.completion = inventory, completion

    @classmethod
    def load(cls, code: str) -> ClassData:
        engine = database_engine()
        lessons = {lesson.KEY: (len(lesson.QUESTIONS), getattr(lesson, "PREDICTION", None) is not None)
                   for lesson in _lessons()}
        return cls(code, report.class_size(engine, code), report.prediction_counts(engine, code),
                   report.first_attempts(engine, code), report.inventory_summary(engine, code),
                   report.completion(engine, code, lessons))


def _title(key: str) -> str:
    for number, lesson in enumerate(_lessons(), start=1):
        if lesson.KEY == key:
            return f"{number}. {_(lesson.TITLE)}"
    return key


def _option_label(prediction, option: str) -> str:
    return _(option).format(**prediction.fields) if prediction.fields else _(option)


def _prediction_rows(data: ClassData, lesson) -> list[tuple[str, int]]:
    """(English option, count) for every option of ``lesson``'s prediction, in its order, zero counts too."""
    counted = {count.option: count.count for count in data.counts if count.lesson == lesson.KEY}
    options = list(lesson.PREDICTION.options) + [option for option in counted if option not in lesson.PREDICTION.options]
    return [(option, counted.get(option, 0)) for option in options]


def _revealed(key: str) -> bool:
    return key in st.session_state.get(REVEALED_KEY, set())


def _reveal(key: str) -> None:
    st.session_state.setdefault(REVEALED_KEY, set()).add(key)


def _predictions(data: ClassData) -> None:
    st.subheader(_("Predictions before the reveal"), anchor=False)
    with_prediction = [lesson for lesson in _lessons() if getattr(lesson, "PREDICTION", None) is not None]
    if not with_prediction:
        return
    keys = [lesson.KEY for lesson in with_prediction]
    titles = {key: _title(key) for key in keys}  # built in the run: a format_func may be called outside it
    key = st.selectbox(_("Lesson"), keys, format_func=titles.__getitem__, key=LESSON_KEY)
    lesson = with_prediction[keys.index(key)]
    rows = _prediction_rows(data, lesson)
    total = sum(count for _option, count in rows)
    right = report.measured_right_option(data.counts, key) if _revealed(key) else None
    labels = [_option_label(lesson.PREDICTION, option) for option, _count in rows]
    colours = [RIGHT if option == right else OTHER for option, _count in rows]
    figure = go.Figure(go.Bar(x=[count for _option, count in rows], y=labels, orientation="h", marker_color=colours,
                              text=[str(count) for _option, count in rows], textposition="auto"))
    prompt = _(lesson.PREDICTION.prompt).format(**lesson.PREDICTION.fields) if lesson.PREDICTION.fields \
        else _(lesson.PREDICTION.prompt)
    figure.update_layout(title=_("{prompt} ({count} predictions)").format(prompt=prompt, count=total),
                         yaxis={"autorange": "reversed"},
                         xaxis={"title": _("learners"), "rangemode": "tozero", "tick0": 0,  # whole learners only
                                "dtick": max(1, -(-max(total, 1) // 5))},
                         height=120 + 45 * len(rows), margin={"l": 10, "r": 10, "t": 60, "b": 40})
    show_figure(figure, key=f"cv_predictions_{key}")
    st.caption(_("Counts: {counts}").format(counts=_("; ").join(
        _("{option}: {count}").format(option=label, count=count) for label, (_option, count) in zip(labels, rows))))
    if not _revealed(key):
        st.button(_("Reveal the right answer"), key=f"cv_reveal_{key}", on_click=_reveal, args=(key,),
                  icon=":material/visibility:")
    elif right is None:
        st.info(_("No learner's Verify panel has passed in this lesson yet, so the measured answer is not known "
                  "here yet; it shows as soon as one passes."), icon=":material/hourglass_top:")
    else:
        verified = next(count.verified for count in data.counts if count.lesson == key and count.option == right)
        st.success(_("Right answer, as measured: **{answer}**. The lesson measures it when it runs; it is the "
                     "option with which {verified} learners' Verify panels passed.").format(
            answer=_option_label(lesson.PREDICTION, right), verified=verified), icon=":material/check_circle:")


def _question_text(lesson_key: str, index: int) -> str:
    for lesson in _lessons():
        if lesson.KEY == lesson_key and index < len(lesson.QUESTIONS):
            question = lesson.QUESTIONS[index]
            return question.shown(question.english_prompt)
    return _("question {number}").format(number=index + 1)


def _first_attempt_table(data: ClassData) -> pd.DataFrame:
    return pd.DataFrame({
        _("lesson"): [_title(row.lesson) for row in data.attempts],
        _("question"): [_question_text(row.lesson, row.question) for row in data.attempts],
        _("answered"): [row.learners for row in data.attempts],
        _("right at the first attempt"): [row.right for row in data.attempts],
        _("missed (%)"): [round(100 * row.missed_share, 1) for row in data.attempts],
    })


def _first_attempts(data: ClassData) -> None:
    st.subheader(_("Check questions: first attempts, the most missed first"), anchor=False)
    if not data.attempts:
        st.caption(_("No check question answered yet."))
        return
    st.dataframe(_first_attempt_table(data), hide_index=True, key="cv_first_attempts")


def _inventory(data: ClassData) -> None:
    st.subheader(_("Concept inventory"), anchor=False)
    summary = data.inventory
    if not summary.pre and not summary.post:
        st.caption(_("No learner of the class has taken the concept inventory yet."))
        return
    figure = go.Figure()
    bins = {"start": 0, "end": 100.001, "size": 10}
    figure.add_trace(go.Histogram(x=summary.pre, name=_("before (pre)"), xbins=bins, opacity=0.7))
    figure.add_trace(go.Histogram(x=summary.post, name=_("after (post)"), xbins=bins, opacity=0.7))
    figure.update_layout(barmode="overlay", title=_("Concept inventory scores"),
                         xaxis={"title": _("score (% right)"), "range": [0, 100]}, yaxis={"title": _("learners")},
                         height=320, margin={"l": 10, "r": 10, "t": 60, "b": 40})
    show_figure(figure, key="cv_inventory")
    gain = summary.average_gain
    st.markdown(_("{pre} learners took it before, {post} after.").format(pre=len(summary.pre), post=len(summary.post))
                + " " + (_("Average normalised gain ⟨g⟩ = {gain:.2f} over the {count} learners who took both "
                           "(g = (post − pre) / (100 − pre)).").format(gain=gain, count=len(summary.gains))
                         if gain is not None else _("No learner has both scores yet, so there is no gain to show.")))


def _completion_table(data: ClassData) -> pd.DataFrame:
    return pd.DataFrame({
        _("lesson"): [_title(row.lesson) for row in data.completion],
        _("started"): [row.started for row in data.completion],
        _("complete"): [row.complete for row in data.completion],
        _("complete (% of the class)"): [round(100 * row.complete / data.size, 1) if data.size else 0.0
                                          for row in data.completion],
    })


def _completion(data: ClassData) -> None:
    st.subheader(_("Completion per lesson"), anchor=False)
    st.dataframe(_completion_table(data), hide_index=True, key="cv_completion")


def csv_table(data: ClassData) -> pd.DataFrame:
    """Everything the page shows, one row per number: section, lesson, item, value (right answers only once
    revealed)."""
    rows: list[tuple[str, str, str, str, object]] = []
    for lesson in _lessons():
        prediction = getattr(lesson, "PREDICTION", None)
        if prediction is None:
            continue
        right = report.measured_right_option(data.counts, lesson.KEY) if _revealed(lesson.KEY) else None
        for option, count in _prediction_rows(data, lesson):
            rows.append((_("prediction before the reveal"), _title(lesson.KEY), _option_label(prediction, option),
                         _("learners"), count))
            if right == option:
                rows.append((_("right answer, as measured"), _title(lesson.KEY), _option_label(prediction, option),
                             _("learners whose Verify passed"), next(c.verified for c in data.counts
                                                                    if c.lesson == lesson.KEY and c.option == option)))
    for row in data.attempts:
        item = _question_text(row.lesson, row.question)
        rows.append((_("first attempt"), _title(row.lesson), item, _("answered"), row.learners))
        rows.append((_("first attempt"), _title(row.lesson), item, _("right at the first attempt"), row.right))
    for phase, scores in ((_("before (pre)"), data.inventory.pre), (_("after (post)"), data.inventory.post)):
        for score in scores:
            rows.append((_("Concept inventory"), "", phase, _("score (% right)"), score))
    if data.inventory.average_gain is not None:
        rows.append((_("Concept inventory"), "", _("average normalised gain"), _("learners who took both"),
                     len(data.inventory.gains)))
        rows.append((_("Concept inventory"), "", _("average normalised gain"), _("value"),
                     round(data.inventory.average_gain, 4)))
    for row in data.completion:
        rows.append((_("completion"), _title(row.lesson), _("started"), _("learners"), row.started))
        rows.append((_("completion"), _title(row.lesson), _("complete"), _("learners"), row.complete))
    # object: counts stay integers beside scores and the gain
    return pd.DataFrame(rows, columns=[_("section"), _("lesson"), _("item"), _("measure"), _("value")], dtype=object)
