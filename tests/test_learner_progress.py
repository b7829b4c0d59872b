"""A learner's progress in the app: kept under a learner code in the address, across reloads and restarts."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from apptest_support import assert_clean
from lesson_support import PAGE, TIMEOUT, answer, make_right_prediction, open_lesson
from app.learner import LEARNER_PARAM, STORE_KEY
from app.lessons.matrix import QUESTIONS
from container_edu.progress.database import DATABASE_URL_ENV


def reopen(code: str, key: str = "matrix") -> AppTest:
    """A new session (a reload, another device, a restarted server) on the address that names the learner."""
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params[LEARNER_PARAM] = code
    at.query_params["lesson"] = key
    at.run()
    assert_clean(at)
    return at


def test_progress_survives_a_new_session_on_the_same_address():
    at = open_lesson("matrix", "predict")
    code = at.query_params[LEARNER_PARAM]
    assert isinstance(code, str) and len(code) == 10
    right = make_right_prediction(at, "matrix")
    at.segmented_control(key="matrix_step").set_value("check").run()
    for index, question in enumerate(QUESTIONS):
        answer(at, "matrix", index, question.right_option)
    assert "matrix" in at.session_state["lessons_done"]

    again = reopen(code)
    record = again.session_state[STORE_KEY].lesson("matrix")
    assert record.prediction == right and record.predicted_before_reveal
    assert all(record.eventually_correct(i) for i in range(len(QUESTIONS)))
    assert again.selectbox(key="lesson_picker").options[0].startswith("✓"), "the tick is back after the reload"
    assert again.query_params[LEARNER_PARAM] == code


def test_another_device_continues_by_typing_the_code_and_a_bad_code_is_refused():
    first = open_lesson("matrix", "predict")
    make_right_prediction(first, "matrix")
    code = first.query_params[LEARNER_PARAM]
    other = open_lesson("matrix")
    assert other.query_params[LEARNER_PARAM] != code
    other.text_input(key="learner_code_input").set_value("not a code").run()
    assert any("not a valid code" in e.value for e in other.error)
    other.text_input(key="learner_code_input").set_value(f"{code[:5].lower()}-{code[5:]}").run()
    assert_clean(other)
    assert other.query_params[LEARNER_PARAM] == code
    assert other.session_state[STORE_KEY].lesson("matrix").prediction is not None


def test_a_learner_downloads_and_deletes_their_record():
    at = open_lesson("matrix", "predict")
    make_right_prediction(at, "matrix")
    code = at.query_params[LEARNER_PARAM]
    store = at.session_state[STORE_KEY]
    exported = json.loads(json.dumps(store.primary.export()))
    assert exported["learner"]["code"] == code and exported["lessons"][0]["lesson"] == "matrix"
    at.button(key="learner_delete").click().run()
    assert_clean(at)
    assert any("record was deleted" in s.value for s in at.success)
    assert at.query_params[LEARNER_PARAM] != code
    assert not store.primary.exists()


def test_a_database_that_is_down_leaves_the_lessons_usable_and_says_so_once(monkeypatch):
    # A PostgreSQL address nothing listens on: connecting fails at once.
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2")
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.run()
    assert_clean(at)
    warnings = [w.value for w in at.warning if "cannot be saved" in w.value]
    assert len(warnings) == 1
    shown = " ".join(element.value for element in [*at.warning, *at.markdown, *at.caption])
    assert "127.0.0.1" not in shown and "psycopg" not in shown, "no database detail on the page"
    at.selectbox(key="lesson_picker").set_value("matrix").run()
    at.segmented_control(key="matrix_step").set_value("predict").run()
    make_right_prediction(at, "matrix")
    assert not [w.value for w in at.warning if "cannot be saved" in w.value], "said once"
    assert at.session_state[STORE_KEY].lesson("matrix").prediction is not None
