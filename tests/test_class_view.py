"""The Class view page (``pages/8_Class_view.py``) and joining a class on the Lessons page, under AppTest.

The class's learners are written straight into the app's database (the one ``conftest.py`` names), with known
predictions and answers; the page must show exactly those, to the holder of the key only.
"""

from __future__ import annotations

import csv
import io

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from apptest_support import assert_clean, assert_errors, figures_of, start
from lesson_support import PAGE as LESSONS_PAGE, TIMEOUT
from app.class_view import OTHER, REFUSAL, RIGHT
from app.learner import CLASS_PARAM, STORE_KEY
from app.lessons.matrix import PREDICTION, QUESTIONS
from container_edu.progress.database import SqlStore, create_class, default_url, new_learner, open_database

CLASS_VIEW = "pages/8_Class_view.py"
LEFT, OWN, ZERO, AVERAGE = PREDICTION.options


@pytest.fixture(scope="module")
def engine():
    engine = open_database(default_url())
    yield engine
    engine.dispose()


@pytest.fixture
def lab(engine):
    """A class of four: three predicted LEFT (two then passed Verify, the measured answer), one OWN (failed)."""
    code, key = create_class(engine, "Lab 3 secret name")
    stores = [SqlStore(engine, new_learner(engine, class_code=code)) for _ in range(4)]
    for store, option, passed in zip(stores, (LEFT, LEFT, OWN, LEFT), (True, True, False, None)):
        store.record_prediction("matrix", option)
        store.record_reveal("matrix")
        if passed is not None:
            store.record_verify("matrix", passed)
    right = QUESTIONS[1].right_option
    stores[0].record_answer("matrix", 1, "wrong", False)
    stores[0].record_answer("matrix", 1, right, True)
    stores[1].record_answer("matrix", 1, right, True)
    for store in stores[:2]:
        store.record_answer("matrix", 0, QUESTIONS[0].right_option, True)
    stores[0].record_inventory("pre", {0: "a"}, 40.0)
    stores[0].record_inventory("post", {0: "b"}, 70.0)
    stores[1].record_inventory("pre", {0: "a"}, 60.0)
    return code, key


def drawn(at: AppTest) -> str:
    """Everything the page sent to the browser, as text."""
    parts: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def prediction_bars(at: AppTest) -> dict:
    (figure,) = [f for f in figures_of(at) if f["data"][0]["type"] == "bar"]
    bar = figure["data"][0]
    return {"counts": dict(zip(bar["y"], bar["x"])), "colours": dict(zip(bar["y"], bar["marker"]["color"]))}


def test_without_the_key_the_page_asks_for_it_and_a_wrong_key_says_one_sentence_about_nothing(lab):
    code, key = lab
    at = start(CLASS_VIEW)
    assert at.text_input(key="cv_key_input") is not None and not figures_of(at)
    wrong = start(CLASS_VIEW, query={"class": code, "key": key[:-1] + ("A" if key[-1] != "A" else "B")}, clean=False)
    assert_errors(wrong, REFUSAL)
    unknown = start(CLASS_VIEW, query={"class": "ZZZZZZ" if code != "ZZZZZZ" else "YYYYYY", "key": key}, clean=False)
    malformed = start(CLASS_VIEW, query={"class": "no!", "key": key}, clean=False)
    for refused in (wrong, unknown, malformed):
        assert [e.value for e in refused.error] == [REFUSAL]  # the same sentence whether the class exists or not
        text = drawn(refused)
        assert "secret name" not in text and "learners in the class" not in text and not figures_of(refused)
    # the form refuses the same way
    at.text_input(key="cv_code_input").set_value(code)
    at.text_input(key="cv_key_input").set_value("guess")
    at.button[0].click().run()
    assert [e.value for e in at.error] == [REFUSAL] and "secret name" not in drawn(at)


def test_the_right_key_shows_the_distribution_and_the_answer_only_after_reveal(lab):
    code, key = lab
    at = start(CLASS_VIEW, query={"class": code, "key": key})
    assert key not in drawn(at), "the teacher key is never drawn"
    assert any("Lab 3 secret name" in m.value for m in at.markdown)
    assert any(c.value.startswith("4 learners in the class") for c in at.caption)
    bars = prediction_bars(at)
    assert bars["counts"] == {LEFT: 3, OWN: 1, ZERO: 0, AVERAGE: 0}
    assert set(bars["colours"].values()) == {OTHER}, "nothing marks the right answer before Reveal"
    assert not at.success and "Right answer" not in drawn(at)

    at.button(key="cv_reveal_matrix").click().run()
    assert_clean(at)
    bars = prediction_bars(at)
    assert bars["colours"] == {LEFT: RIGHT, OWN: OTHER, ZERO: OTHER, AVERAGE: OTHER}
    (success,) = at.success
    assert LEFT in success.value and "2 learners' Verify panels passed" in success.value
    assert key not in drawn(at)


def test_the_form_opens_the_view_and_the_other_sections_show_the_known_answers(lab):
    code, key = lab
    at = start(CLASS_VIEW)
    at.text_input(key="cv_code_input").set_value(code.lower())
    at.text_input(key="cv_key_input").set_value(key)
    at.button[0].click().run()
    assert_clean(at)
    assert "cv_key_input" not in [box.key for box in at.text_input], "the form is gone once the class is open"
    assert key not in drawn(at)
    first = at.dataframe[0].value  # the sections in page order: first attempts, completion
    # question 2 (index 1): 1 of 2 missed at the first attempt; question 1: none of 2; most missed first
    assert list(first.iloc[:, 1]) == [QUESTIONS[1].english_prompt, QUESTIONS[0].english_prompt]
    assert list(first.iloc[:, 2]) == [2, 2] and list(first.iloc[:, 3]) == [1, 2]
    assert any("⟨g⟩ = 0.50 over the 1 learners" in m.value for m in at.markdown)
    completion = at.dataframe[1].value
    assert completion.iloc[0, 1] == 4  # four started lesson 1; none answered all three questions
    assert completion.iloc[0, 2] == 0


def test_the_csv_holds_what_is_shown_and_the_right_answer_only_once_revealed(lab, monkeypatch):
    code, key = lab
    saved: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        if mimetype == "text/csv":
            saved["csv"] = path_or_data if isinstance(path_or_data, bytes) else bytes(path_or_data)
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)

    def rows() -> list[list[str]]:
        return list(csv.reader(io.StringIO(saved.pop("csv").decode("utf-8"))))

    at = start(CLASS_VIEW, query={"class": code, "key": key})
    before = rows()
    assert before[0] == ["section", "lesson", "item", "measure", "value"]
    section = "prediction before the reveal"
    # every lesson's prediction has its rows (zero counts too); lesson 1's are those in the row of its option LEFT
    matrix = next(row[1] for row in before if row[0] == section and row[2] == LEFT)
    predictions = {row[2]: int(row[4]) for row in before if row[0] == section and row[1] == matrix}
    assert predictions == {LEFT: 3, OWN: 1, ZERO: 0, AVERAGE: 0}
    assert all(int(row[4]) == 0 for row in before if row[0] == section and row[1] != matrix)
    assert not any(row[0].startswith("right answer") for row in before)
    firsts = [(row[2], row[3], row[4]) for row in before if row[0] == "first attempt"]
    assert (QUESTIONS[1].english_prompt, "right at the first attempt", "1") in firsts
    assert sorted(float(row[4]) for row in before if row[2] == "before (pre)") == [40.0, 60.0]
    assert ["Concept inventory", "", "average normalised gain", "value", "0.5"] in before
    at.button(key="cv_reveal_matrix").click().run()
    after = rows()
    assert [row[2] for row in after if row[0].startswith("right answer")] == [LEFT]


def test_a_learner_joins_from_the_address_or_the_panel_and_an_unknown_class_is_refused(lab, engine):
    code, _key = lab
    at = AppTest.from_file(LESSONS_PAGE, default_timeout=TIMEOUT)
    at.query_params[CLASS_PARAM] = code
    at.run()
    assert_clean(at)
    assert at.session_state[STORE_KEY].primary.export()["learner"]["class_code"] == code
    assert CLASS_PARAM not in at.query_params

    unknown = AppTest.from_file(LESSONS_PAGE, default_timeout=TIMEOUT)
    unknown.query_params[CLASS_PARAM] = "ZZZZZZ" if code != "ZZZZZZ" else "YYYYYY"
    unknown.run()
    assert_errors(unknown, "No class has that code.")
    assert len(unknown.error) == 1
    store = unknown.session_state[STORE_KEY]
    assert store.primary.export()["learner"]["class_code"] is None, "the learner is made, in no class"

    unknown.text_input(key="learner_class_input").set_value(code)
    unknown.text_input(key="learner_nickname_input").set_value("Ada")
    next(b for b in unknown.button if b.label == "Join a class").click().run()
    assert_clean(unknown)
    learner = store.primary.export()["learner"]
    assert (learner["class_code"], learner["nickname"]) == (code, "Ada")
    assert any("You joined the class" in s.value for s in unknown.success)


def test_the_class_view_in_chinese_shows_no_english(lab):
    from i18n_support import DEFAULT_ALLOW, rendered_texts, untranslated_english

    code, key = lab
    refused = start(CLASS_VIEW, query={"class": code, "key": "wrong", "lang": "zh"}, clean=False)
    assert len(refused.error) == 1 and not untranslated_english([refused.error[0].value])
    at = start(CLASS_VIEW, query={"class": code, "key": key, "lang": "zh"})
    at.button(key="cv_reveal_matrix").click().run()
    shown = rendered_texts(at.main)
    english = untranslated_english(shown, DEFAULT_ALLOW + ("Lab 3 secret name",))
    assert not english, english
    assert any("测得的正确答案" in s.value for s in at.success)
