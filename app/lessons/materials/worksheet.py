"""A printable worksheet, or its answer key, made from the lessons' own data, so it never drifts from the app.

Per lesson (in course order, one printed page or more each): its number and title, its learning goals, its
prediction (``PREDICTION``: prompt and options, with a box for the reason) and its check questions (``QUESTIONS``)
with boxes to tick; then the concept inventory (``app.lessons.inventory.QUESTIONS``) when it exists. The answer key
marks each question's right option and gives its feedback; a prediction has no stored answer (it is measured when
the lesson runs), and the key says so. ``python -m app.lessons worksheet --lang zh --answers --out key.html``.
"""

from __future__ import annotations

import html
import shutil
import string
import subprocess
import tempfile
from pathlib import Path
from types import ModuleType

from app import i18n
from app.i18n import N_, _
from app.lessons.parts.course import lesson_refs
from app.lessons.materials.timing import inventory_questions

__all__ = ["build_worksheet", "write_pdf", "chromium_path", "PdfUnavailable", "lesson_goals"]

_CHROMIUM_NAMES = ("chromium", "chromium-browser")
_LETTERS = "ABCDEFGHIJ"

_STYLE = """
body { font-family: "Noto Sans", "Noto Sans CJK SC", "Source Han Sans SC", sans-serif; font-size: 11pt;
       line-height: 1.45; max-width: 46em; margin: 2em auto; color: #111; }
h1 { font-size: 18pt; margin-bottom: 0.2em; }
h2 { font-size: 14pt; border-bottom: 1px solid #888; padding-bottom: 0.2em; }
h3 { font-size: 11.5pt; margin: 1.2em 0 0.4em; }
.meta, .note { color: #444; }
.note { border-left: 3px solid #999; padding-left: 0.6em; font-style: italic; }
ol.options { list-style: none; padding-left: 1em; }
ol.options li { margin: 0.25em 0; }
.box { display: inline-block; width: 0.9em; height: 0.9em; border: 1px solid #333; margin-right: 0.4em;
       vertical-align: -0.1em; text-align: center; line-height: 0.9em; font-weight: bold; }
li.right { font-weight: bold; }
.feedback { margin: 0.3em 0 0 1em; padding: 0.3em 0.6em; background: #eef6ee; border: 1px solid #9c9; }
.lines { margin: 0.4em 0 0 1em; }
.lines div { border-bottom: 1px solid #999; height: 1.7em; }
.question { break-inside: avoid; page-break-inside: avoid; }
@media print {
  body { margin: 0; max-width: none; }
  section.lesson, section.inventory { break-before: page; page-break-before: always; }
  .feedback { background: none; }
}
@page { size: A4; margin: 16mm 16mm 18mm; }
"""


class _KeepUnknown(dict):
    """Fields for a template: an unknown one stays ``{name}``, visible, instead of stopping the whole worksheet."""

    def __missing__(self, name: str) -> str:
        return "{" + name + "}"


def _fill(template: str, fields: dict) -> str:
    return string.Formatter().vformat(template, (), _KeepUnknown(fields))


def lesson_goals(lesson: ModuleType) -> list[str]:
    """The lesson's goals in the current language, with the fields the lesson fills in where it draws them."""
    fields = {**lesson_refs(), **getattr(lesson, "GOAL_FIELDS", {})}
    return [_fill(_(goal), fields) for goal in getattr(lesson, "GOALS", ())]


def _lines(count: int) -> str:
    return '<div class="lines">' + "<div></div>" * count + "</div>"


def _element(tag: str, text: str, css_class: str | None = None) -> str:
    """``text`` (translated, filled in) escaped inside one element."""
    attribute = f' class="{css_class}"' if css_class else ""
    return f"<{tag}{attribute}>{html.escape(text)}</{tag}>"


def _options(shown: list[str], right: int | None) -> str:
    items = []
    for index, text in enumerate(shown):
        mark = "✓" if index == right else ""
        attribute = ' class="right"' if index == right else ""
        items.append(f'<li{attribute}><span class="box">{mark}</span>{_LETTERS[index]}. {html.escape(text)}</li>')
    return '<ol class="options">' + "".join(items) + "</ol>"


def _prediction(lesson: ModuleType, answers: bool) -> str:
    prediction = getattr(lesson, "PREDICTION", None)
    parts = [_element("h3", _("Your prediction"))]
    if prediction is None:
        parts.append(_element("p", _("This lesson has no prediction listed for the worksheet yet: make it in the "
                                     "app."), "note"))
        return "".join(parts)
    fields = prediction.fields or {}
    parts.append(_element("p", _fill(_(prediction.prompt), fields)))
    parts.append(_options([_fill(_(option), fields) for option in prediction.options], None))
    if answers:
        parts.append(_element("p", _("No stored answer: the right prediction is measured in the app when the lesson "
                                     "runs, and its Verify panel checks yours."), "feedback"))
    else:
        parts.append(_element("p", _("Why do you expect it?")) + _lines(2))
    return "".join(parts)


def _question(number: int, question, answers: bool) -> str:
    options = question.options
    right = options.index(question.right_option) if answers else None
    parts = [f'<div class="question"><p><b>{number}.</b> {html.escape(question.shown(question.english_prompt))}</p>',
             _options([question.shown(option) for option in options], right)]
    if answers:
        feedback = question.shown(question.feedback(question.right_option))
        parts.append(_element("p", _("Answer: {letter}. {feedback}").format(letter=_LETTERS[right],
                                                                              feedback=feedback), "feedback"))
    return "".join(parts) + "</div>"


def _questions(questions, answers: bool) -> str:
    return "".join(_question(number, question, answers) for number, question in enumerate(questions, start=1))


def _lesson(number: int, lesson: ModuleType, answers: bool) -> str:
    heading = _("Lesson {number}: {title}").format(number=number, title=_(lesson.TITLE))
    goals = "".join(_element("li", goal) for goal in lesson_goals(lesson))
    return (f'<section class="lesson" id="lesson-{html.escape(lesson.KEY)}">' + _element("h2", heading)
            + _element("h3", _("Learning goals")) + f"<ul>{goals}</ul>" + _prediction(lesson, answers)
            + _element("h3", _("Check your understanding")) + _questions(lesson.QUESTIONS, answers) + "</section>")


def _inventory(answers: bool) -> str:
    questions = inventory_questions()
    heading = _element("h2", _("Concept inventory"))
    if not questions:
        note = _("The concept inventory is not part of this version of the course.")
        return f'<section class="inventory">{heading}' + _element("p", note, "note") + "</section>"
    intro = _("Answer these before the first lesson and again after the last one; compare the two scores.")
    return (f'<section class="inventory">{heading}' + _element("p", intro, "meta")
            + _questions(questions, answers) + "</section>")


TITLE = N_("Container: Context Aggregation Network — lessons worksheet")
KEY_TITLE = N_("Container: Context Aggregation Network — lessons answer key")


def build_worksheet(language: str, answers: bool = False) -> str:
    """The whole worksheet (or answer key) as one HTML page in ``language`` (``"en"`` or ``"zh"``)."""
    from app.lessons import LESSONS

    with i18n.outside_streamlit_in(language):
        title = _(KEY_TITLE if answers else TITLE)
        name, date = _("Name:"), _("Date:")
        header = _element("h1", title) + _element("p", f"{name} ________________________ {date} ____________", "meta")
        if answers:
            header += _element("p", _("For the instructor: each question marks its right option and gives its "
                                      "feedback."), "note")
        body = header + "".join(_lesson(number, lesson, answers) for number, lesson in enumerate(LESSONS, start=1))
        body += _inventory(answers)
    html_lang = "zh-Hans" if language == "zh" else language
    return (f'<!DOCTYPE html>\n<html lang="{html_lang}"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


class PdfUnavailable(RuntimeError):
    """No PDF could be made (no headless Chromium on this machine, or it failed); the reason is the message."""


def chromium_path() -> str | None:
    return next((found for name in _CHROMIUM_NAMES if (found := shutil.which(name))), None)


def write_pdf(html_file: Path, pdf_file: Path, timeout_s: float = 180) -> None:
    """Print ``html_file`` to ``pdf_file`` with the headless Chromium, offline (the page loads nothing else)."""
    chromium = chromium_path()
    if chromium is None:
        raise PdfUnavailable("no PDF: chromium is not installed (Debian's package chromium); the HTML prints too")
    with tempfile.TemporaryDirectory(prefix="worksheet-chromium-") as profile:
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                   f"--user-data-dir={profile}", "--no-pdf-header-footer", f"--print-to-pdf={pdf_file.resolve()}",
                   html_file.resolve().as_uri()]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as slow:
            raise PdfUnavailable(f"no PDF: chromium did not finish in {timeout_s:.0f} s") from slow
    if not pdf_file.exists() or pdf_file.read_bytes()[:5] != b"%PDF-":
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise PdfUnavailable(f"no PDF: chromium exited with {result.returncode} ({last})")
