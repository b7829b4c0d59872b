"""Lesson numbers come from the course order only: no text in the app writes one, and moving a lesson renumbers
the picker, the header, the previous/next buttons and every cross-reference inside the lessons, in both languages.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import i18n  # noqa: E402
from app.lessons import LESSONS, QUERY_PARAM  # noqa: E402
from app.lessons.parts import course  # noqa: E402
from app.lessons.parts.steps import lesson_steps, step_key  # noqa: E402
from app.lessons.parts.widgets import PICKER_KEY  # noqa: E402

ENTRY = str(ROOT / "streamlit_app.py")
LESSONS_PAGE = "pages/6_Lessons.py"
TIMEOUT = 300  # seconds one AppTest run may take: a limit for a hung run, not a speed goal

#: A lesson number written into a text: "lesson 4", "Lessons 2-5", "第 4 课", "第 2-5 课".
LESSON_NUMBER = re.compile(r"[Ll]essons?\s*\d|第\s*\d[\d\s\-–]*课")
#: A widget or session key named after a lesson's old number ("l5_moved", "l3b_size").
NUMBERED_KEY = re.compile(r"^l\d+b?_")
TITLES = {lesson.KEY: lesson.TITLE for lesson in LESSONS}
BY_KEY = {lesson.KEY: lesson for lesson in LESSONS}


def _moved(order: tuple[str, ...]) -> tuple[str, ...]:
    """The course backwards, with the middle lesson of an odd count swapped with its neighbour: none stays in place."""
    moved = list(reversed(order))
    for index, key in enumerate(moved):
        if key == order[index]:
            other = index + 1 if index + 1 < len(moved) else index - 1
            moved[index], moved[other] = moved[other], moved[index]
    return tuple(moved)


#: The course backwards (every lesson gets a new number).
REVERSED = _moved(course.ORDER)
assert all(a != b for a, b in zip(REVERSED, course.ORDER)), REVERSED


def numbered_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string constant in ``source`` (docstrings and f-string parts included) that writes a
    lesson number or is a key named after one."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if LESSON_NUMBER.search(node.value) or NUMBERED_KEY.match(node.value):
                found.append((node.lineno, node.value))
    return found


def test_the_scan_finds_a_lesson_number_in_every_kind_of_literal():
    source = ('"""Lesson 9: a docstring."""\n'
              'a = _("as lesson 4\'s Mixer learns")\n'
              'b = f"see lesson 8 and {x}"\n'
              'c = "见第 4 课"\n'
              'd = st.slider("n", key="l3b_size")\n'
              'e = _("see {mixer_lesson}; lesson plan; key conv_size")\n')
    assert sorted(line for line, _text in numbered_literals(source)) == [1, 2, 3, 4, 5]


def test_no_string_in_the_app_writes_a_lesson_number():
    files = sorted((ROOT / "app").rglob("*.py")) + sorted((ROOT / "pages").rglob("*.py")) + [ROOT / "streamlit_app.py"]
    assert len(files) > 50
    found = [f"{path.relative_to(ROOT)}:{line}: {text[:80]!r}"
             for path in files for line, text in numbered_literals(path.read_text(encoding="utf-8"))]
    assert not found, "\n".join(found)


def test_no_translation_writes_a_lesson_number():
    locale = ROOT / "app" / "locale"
    catalogues = [locale / "messages.pot", *sorted(locale.glob("*/LC_MESSAGES/*.po"))]
    found = [f"{path.name}: {line.strip()[:80]}" for path in catalogues
             for line in path.read_text(encoding="utf-8").splitlines()
             if line.startswith(("msgid", "msgstr")) and LESSON_NUMBER.search(line)]
    assert not found, "\n".join(found)


def test_every_lesson_named_in_code_is_in_the_course():
    """A reference by key (``lesson_ref("mixer")``, ``lesson_span(...)``, a figure part's lessons) names a lesson."""
    from app.lessons.parts.figures import BLOCK_PARTS

    named = {key for part in BLOCK_PARTS for key in part.lessons}
    for path in sorted((ROOT / "app").rglob("*.py")) + sorted((ROOT / "pages").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("lesson_ref", "lesson_number", "lesson_span")):
                named |= {arg.value for arg in node.args if isinstance(arg, ast.Constant)}
    assert named and named <= set(course.ORDER), named - set(course.ORDER)
    not_lessons = {"__init__", "__main__", "inventory"}  # the package, its command, the concept inventory
    assert {module.stem for module in (ROOT / "app" / "lessons").glob("*.py")} - not_lessons == set(course.ORDER)


def test_the_helpers_number_the_lessons_by_the_order(monkeypatch):
    assert [course.lesson_number(key) for key in course.ORDER] == list(range(1, len(course.ORDER) + 1))
    monkeypatch.setattr(course, "ORDER", REVERSED)

    def moved(key: str) -> int:
        return REVERSED.index(key) + 1

    assert course.lesson_ref(REVERSED[0]) == "lesson 1"
    assert course.lesson_ref("matrix") == f"lesson {len(REVERSED)}"
    assert moved("attention") < moved("conv")
    # the lower number first
    assert course.lesson_span("conv", "attention") == f"lessons {moved('attention')}-{moved('conv')}"
    assert course.lesson_refs()["trained_lesson"] == f"lesson {moved('trained')}"


def test_the_block_diagram_and_the_recap_follow_the_order(monkeypatch):
    import re

    from app.lessons.parts.figures import BLOCK_PARTS, block_diagram_html
    from app.lessons.parts.symmetry import RECAP, _translated_frame

    def drawn() -> tuple[list[str], str]:
        captions = [f"<i>{text}</i>" for text in re.findall(r'class="ce-block-lesson">([^<]*)<', block_diagram_html())]
        return captions, " ".join(str(cell) for cell in _translated_frame(RECAP).to_numpy().ravel())

    for order in (course.ORDER, REVERSED):
        monkeypatch.setattr(course, "ORDER", order)
        number = course.lesson_number
        captions, recap = drawn()
        explained = {part.name: part.explained_in() for part in BLOCK_PARTS}
        assert explained["pos_embed"] == f"lesson {number('conv')}"
        assert explained["conv1"] == f"lesson {number('attention')}"
        assert explained["norm1"] == explained["norm2"] == f"lesson {number('container')}"
        assert explained["conv2"] == f"lesson {number('matrix')}"
        low, high = sorted((number("matrix"), number("container")))
        assert explained["aggregate"] == f"lessons {low}-{high}"
        assert f"<i>lesson {number('conv')}</i>" in captions
        for key, word in (("attention", "attention"), ("mixer", "Mixer"), ("conv", "depthwise conv")):
            assert f"{word} (lesson {number(key)})" in recap, (key, recap)


# ---------------------------------------------------------------------------- the page, with a lesson moved


def open_lesson(key: str, language: str) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=TIMEOUT)
    at.query_params.update({QUERY_PARAM: key, "lang": language})
    at.switch_page(LESSONS_PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key=PICKER_KEY).value == key  # the address opened this lesson
    return at


def shown_texts(at: AppTest) -> str:
    parts = [element.value for kind in ("markdown", "caption", "info", "header") for element in getattr(at.main, kind)]
    parts += [button.label for button in at.main.button]
    return "\n".join(str(part) for part in parts)


def shown_texts_of_every_step(at: AppTest, key: str) -> str:
    """What the lesson shows, step after step (a lesson drawn in steps names its references in several of them)."""
    steps = [step.id for step in lesson_steps(BY_KEY[key])]
    shown = [shown_texts(at)]
    for step in steps[1:]:
        at.segmented_control(key=step_key(key)).set_value(step).run()
        assert not at.exception, [e.value for e in at.exception]
        shown.append(shown_texts(at))
    return "\n".join(shown)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_moving_lessons_renumbers_the_frame_and_the_references_inside_the_lessons(monkeypatch, language):
    """With the course reversed, the frame and the texts of ``shift``, ``cost`` and ``reach`` name every lesson by its
    new number, in English and in Chinese (the texts compared are the catalogue's, filled with the new numbers)."""
    catalogue = i18n.translations(language)

    def ref(key: str) -> str:
        return catalogue.gettext("lesson {number}").format(number=REVERSED.index(key) + 1)

    def title(key: str) -> str:
        return catalogue.gettext(TITLES[key])

    monkeypatch.setattr(course, "ORDER", REVERSED)
    for key, referenced in (("shift", ("conv", "matrix", "mixer")), ("cost", ("reach",)), ("reach", ("cost",))):
        number = REVERSED.index(key) + 1
        at = open_lesson(key, language)
        picker = at.selectbox(key=PICKER_KEY)
        assert list(picker.options) == [f"○ {n}. {title(k)}" for n, k in enumerate(REVERSED, start=1)]
        assert at.header[0].value == f"{number}. {title(key)}"
        last_step = lesson_steps(BY_KEY[key])[-1].id  # the way to the other lessons is on a lesson's last step
        at.segmented_control(key=step_key(key)).set_value(last_step).run()
        labels = [button.label for button in at.main.button]
        assert f"← {number - 1}. {title(REVERSED[number - 2])}" in labels, labels
        next_label = catalogue.gettext("Next lesson: {number}. {title} →").format(number=number + 1,
                                                                                   title=title(REVERSED[number]))
        assert next_label in labels, labels
        shown = shown_texts_of_every_step(at, key)
        for other in referenced:
            assert ref(other) in shown, (key, other, ref(other))
        shown_numbers = {english or chinese for english, chinese in re.findall(r"lesson (\d+)|第 (\d+) 课", shown)}
        assert shown_numbers == {str(REVERSED.index(other) + 1) for other in referenced}, (key, shown_numbers)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_model_zoo_page_names_the_mixer_lesson_by_its_moved_number(monkeypatch, language):
    monkeypatch.setattr(course, "ORDER", REVERSED)
    at = AppTest.from_file(ENTRY, default_timeout=TIMEOUT)
    at.query_params["lang"] = language
    at.switch_page("pages/5_Model_zoo.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    moved = i18n.translations(language).gettext("lesson {number}").format(number=REVERSED.index("mixer") + 1)
    assert moved in shown_texts(at)
