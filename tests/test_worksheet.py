"""The worksheet and answer key (``python -m app.lessons worksheet``) hold the whole course, in both languages.

Every lesson's title, goals, prediction (prompt and options) and check questions (prompt and options), and the
concept inventory's questions when it exists, are compared with the page's text, as the app shows them in each
language; the answer key marks the right option and gives its feedback, the worksheet gives neither.
"""

from __future__ import annotations

import functools
import html.parser
import subprocess
import sys
from pathlib import Path

import pytest

from app import i18n
from app.i18n import _
from app.lessons import LESSONS
from app.lessons.__main__ import main
from app.lessons.timing import inventory_questions
from app.lessons.worksheet import PdfUnavailable, build_worksheet, chromium_path, lesson_goals, write_pdf

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ("en", "zh")
ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "ul", "ol", "li", "span",
                "div", "b", "section"}


class _Page(html.parser.HTMLParser):
    """The text a reader sees, per element, and the tags used (an unescaped ``<`` in a text would add one)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.right: list[str] = []  # the text of each option marked right
        self._stack: list[tuple[str, bool]] = []
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag != "meta":
            self._stack.append((tag, ("class", "right") in attrs))
            if ("class", "right") in attrs:
                self.right.append("")

    def handle_endtag(self, tag):
        if self._stack:
            self._stack.pop()

    def handle_data(self, data):
        if self._stack and self._stack[-1][0] == "style":
            return
        self.chunks.append(data)
        if any(right for _tag, right in self._stack):
            self.right[-1] += data

    @property
    def text(self) -> str:
        return "".join(self.chunks)


@functools.cache
def page(language: str, answers: bool) -> tuple[str, _Page]:
    document = build_worksheet(language, answers=answers)
    parsed = _Page()
    parsed.feed(document)
    return document, parsed


def course_texts(language: str) -> dict[str, list[str]]:
    """What the worksheet must hold, as the app shows it in ``language``."""
    texts = {"titles": [], "goals": [], "predictions": [], "questions": [], "right": [], "feedback": []}
    questions = [question for lesson in LESSONS for question in lesson.QUESTIONS] + list(inventory_questions())
    with i18n.outside_streamlit_in(language):
        for lesson in LESSONS:
            texts["titles"].append(_(lesson.TITLE))
            texts["goals"] += lesson_goals(lesson)
            prediction = getattr(lesson, "PREDICTION", None)
            if prediction is not None:
                fields = prediction.fields or {}
                texts["predictions"] += [_(text).format(**fields) for text in (prediction.prompt, *prediction.options)]
        for question in questions:
            texts["questions"] += [question.shown(text) for text in (question.english_prompt, *question.options)]
            texts["right"].append(question.shown(question.right_option))
            texts["feedback"].append(question.shown(question.feedback(question.right_option)))
    return texts


@pytest.mark.parametrize("answers", [False, True], ids=["worksheet", "answer_key"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_worksheet_holds_every_title_goal_prediction_question_and_option(language, answers):
    _document, parsed = page(language, answers)
    texts = course_texts(language)
    assert texts["questions"] and texts["predictions"]
    for kind in ("titles", "goals", "predictions", "questions"):
        missing = [text for text in texts[kind] if text not in parsed.text]
        assert not missing, f"{language}: the worksheet lacks these {kind}: {missing[:3]}"
    assert parsed.tags <= ALLOWED_TAGS, parsed.tags - ALLOWED_TAGS  # every text escaped: no stray markup


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_answer_key_marks_each_right_option_and_gives_its_feedback(language):
    _document, parsed = page(language, True)
    texts = course_texts(language)
    assert len(parsed.right) == len(texts["right"])
    for marked, right in zip(parsed.right, texts["right"]):
        assert marked.endswith(right), (marked, right)
    missing = [feedback for feedback in texts["feedback"] if feedback not in parsed.text]
    assert not missing, missing[:3]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_worksheet_gives_no_answer(language):
    _document, parsed = page(language, False)
    assert parsed.right == []
    given = [feedback for feedback in course_texts(language)["feedback"] if feedback in parsed.text]
    assert not given, given[:3]


@pytest.mark.parametrize("language", LANGUAGES)
def test_predictions_say_their_answer_is_measured_in_the_app(language):
    with_prediction = sum(getattr(lesson, "PREDICTION", None) is not None for lesson in LESSONS)
    with i18n.outside_streamlit_in(language):
        measured = _("No stored answer: the right prediction is measured in the app when the lesson runs, and its "
                     "Verify panel checks yours.")
        missing = _("This lesson has no prediction listed for the worksheet yet: make it in the app.")
    assert with_prediction >= 1
    assert page(language, True)[1].text.count(measured) == with_prediction
    assert page(language, False)[1].text.count(measured) == 0
    for answers in (False, True):
        assert page(language, answers)[1].text.count(missing) == len(LESSONS) - with_prediction


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_goal_is_filled_in(language):
    with i18n.outside_streamlit_in(language):
        unfilled = [goal for lesson in LESSONS for goal in lesson_goals(lesson) if "{" in goal or "}" in goal]
    assert not unfilled, unfilled


def test_the_chinese_worksheet_is_chinese_and_leaves_the_language_as_it_was():
    _document, parsed = page("zh", False)
    assert "学习目标" in parsed.text and "Learning goals" not in parsed.text
    assert i18n.current_language() == "en" and _("Learning goals") == "Learning goals"
    with pytest.raises(ValueError, match="unknown language"):
        with i18n.outside_streamlit_in("fr"):
            pass


def test_the_inventory_is_in_the_worksheet_or_said_to_be_missing():
    with i18n.outside_streamlit_in("en"):
        note = _("The concept inventory is not part of this version of the course.")
    assert (note in page("en", False)[1].text) == (not inventory_questions())


def test_the_command_writes_the_answer_key_and_exits_0(tmp_path):
    out = tmp_path / "key.html"
    result = subprocess.run([sys.executable, "-m", "app.lessons", "worksheet", "--lang", "zh", "--answers",
                             "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.read_text(encoding="utf-8") == page("zh", True)[0]


def _own_lines(stderr: str) -> list[str]:
    # Importing the lessons outside a Streamlit server makes Streamlit log "No runtime found" once per cached
    # function; that is Streamlit's, not the command's.
    return [line for line in stderr.splitlines() if "No runtime found" not in line]


def test_a_wrong_argument_in_a_real_run_is_one_line_and_exit_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "app.lessons", "worksheet", "--lang", "fr", "--out",
                             str(tmp_path / "w.html")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert _own_lines(result.stderr) == [
        "python -m app.lessons worksheet: error: argument --lang: invalid choice: 'fr' (choose from 'en', 'zh')"]
    assert not (tmp_path / "w.html").exists()


@pytest.mark.parametrize("argv", [
    [],
    ["sheet"],
    ["worksheet", "--out", "w.html"],
    ["worksheet", "--lang", "en"],
    ["worksheet", "--lang", "en", "--out", "w.pdf"],
    ["worksheet", "--lang", "en", "--out", "no/such/folder/w.html"],
    ["worksheet", "--lang", "en", "--out", "w.html", "--answer-key"],
    ["times", "--lang", "en"],
], ids=lambda argv: " ".join(argv) or "nothing")
def test_bad_arguments_give_a_one_line_error_and_exit_2(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("python -m app.lessons") and ": error: " in error, error
    assert list(tmp_path.iterdir()) == []


def test_the_pdf_is_printed_by_the_headless_chromium(tmp_path):
    if chromium_path() is None:
        pytest.skip("chromium is not installed: the worksheet is HTML only (apt-get install chromium)")
    source = tmp_path / "w.html"
    source.write_text(page("en", False)[0], encoding="utf-8")
    write_pdf(source, tmp_path / "w.pdf")
    assert (tmp_path / "w.pdf").read_bytes()[:5] == b"%PDF-"


def test_without_chromium_no_pdf_is_made_and_the_reason_is_given(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium on this PATH
    source = tmp_path / "w.html"
    source.write_text("<!DOCTYPE html><p>x</p>", encoding="utf-8")
    with pytest.raises(PdfUnavailable, match="chromium is not installed"):
        write_pdf(source, tmp_path / "w.pdf")
    assert not (tmp_path / "w.pdf").exists()
