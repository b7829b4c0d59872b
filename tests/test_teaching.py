"""The instructor guides (docs/teaching/) name every lesson in both languages, and their timed paths hold.

The time table's step counts are the lessons' own, and each path's lessons fit its budget as the estimator
(:mod:`app.lessons.materials.timing`) computes it from the lessons' steps, words, controls and questions now. After a lesson
changes, ``python -m app.lessons guide`` rewrites the generated parts.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from pathlib import Path

import pytest

from app import i18n
from app.i18n import _
from app.lessons import LESSON_KEYS, LESSONS
from app.lessons.__main__ import build_parser
from app.lessons.materials import timing
from app.lessons.parts.steps import lesson_steps
from app.lessons.materials.teaching_guide import GUIDES, PATHS, generated_blocks
from tests.test_docs import fenced_blocks, links

ROOT = Path(__file__).resolve().parents[1]
TEXTS = {language: path.read_text(encoding="utf-8") for language, path in GUIDES.items()}


def hand_written(text: str) -> str:
    return re.sub(r"<!-- generated:(\w+) -->.*?<!-- /generated:\1 -->", "", text, flags=re.DOTALL)


@pytest.mark.parametrize("language", sorted(GUIDES))
def test_every_lesson_is_named_in_both_guides(language):
    text = TEXTS[language]
    with i18n.outside_streamlit_in(language):
        titles = {lesson.KEY: _(lesson.TITLE) for lesson in LESSONS}
    missing_titles = [title for title in titles.values() if title not in text]
    # The misconceptions and prompts are written by hand: a new lesson needs its own section there.
    missing_sections = [key for key in LESSON_KEYS if f"（`{key}`）" not in hand_written(text)
                        and f"(`{key}`)" not in hand_written(text)]
    assert not missing_titles, f"{GUIDES[language].name} does not name {missing_titles}: python -m app.lessons guide"
    assert not missing_sections, f"{GUIDES[language].name} has no misconceptions section for {missing_sections}"


@pytest.mark.parametrize("language", sorted(GUIDES))
def test_the_time_table_gives_each_lessons_own_step_count(language):
    rows = dict(re.findall(r"\(`(\w+)`\) \| (\d+) \|", TEXTS[language]))
    assert rows == {lesson.KEY: str(len(lesson_steps(lesson))) for lesson in LESSONS}, \
        "stale: python -m app.lessons guide"


def listed_paths(text: str) -> dict[int, list[str]]:
    return {int(budget): keys.split() for budget, keys in re.findall(r"<!-- path:(\d+) ([\w ]+?) -->", text)}


@pytest.mark.parametrize("language", sorted(GUIDES))
def test_each_path_in_the_guide_fits_its_budget_by_the_lessons_own_estimates(language):
    paths = listed_paths(TEXTS[language])
    assert sorted(paths) == [budget for budget, _inventory in PATHS]
    estimates = {estimate.key: estimate for estimate in timing.estimate_course()}
    for budget, with_inventory in PATHS:
        keys = paths[budget]
        assert keys and set(keys) <= set(LESSON_KEYS)
        assert keys == sorted(keys, key=LESSON_KEYS.index), "a path keeps the course order"
        inventory = 2 * timing.inventory_minutes() if with_inventory else 0
        total = sum(estimates[key].minutes for key in keys) + inventory
        assert total <= budget, f"the {budget}-minute path is estimated at {total} min: python -m app.lessons guide"
    assert listed_paths(TEXTS["en"]) == paths  # both languages plan the same lessons


def test_a_path_fits_its_budget_and_no_lesson_left_out_would_still_fit():
    estimates = timing.estimate_course()
    for budget in (30, 45, 90, 200):
        chosen = timing.course_path(budget, estimates)
        total = sum(e.minutes for e in chosen)
        assert total <= budget
        assert [e.number for e in chosen] == sorted(e.number for e in chosen)
        keys = {e.key for e in chosen}
        present = {e.key for e in estimates}
        for e in chosen:  # a lesson comes with what it builds on
            assert set(timing.PREREQUISITES.get(e.key, ())) & present <= keys, e.key  # not a timing
        for e in estimates:  # one left out did not fit, or what it builds on was left out
            if e not in chosen:
                assert e.minutes > budget - total or not set(timing.PREREQUISITES.get(e.key, ())) <= keys, e.key  # not a timing: estimated minutes
    assert timing.course_path(10_000, estimates) == estimates


SYNTHETIC = '''
import streamlit as st
from app.i18n import N_, _
from app.lessons.parts.steps import Step
from app.lessons.parts.widgets import Question, goals, quiz

KEY = "synthetic"
TITLE = N_("A synthetic lesson")
GOALS = [N_("one two three")]
QUESTIONS = (Question(N_("four five"), ((N_("six"), N_("seven eight")), (N_("nine"), N_("ten eleven twelve"))), 0),)


def _helper():
    st.caption(_("thirteen fourteen"))
    st.slider(_("fifteen"), 0, 1)


def _why():
    goals(GOALS)
    _helper()
    st.markdown("not marked, not counted")


def _check():
    st.plotly_chart(None)
    quiz(KEY, QUESTIONS)


STEPS = (Step("why", N_("Why"), _why), Step("check", N_("Check"), _check))
'''


def test_the_estimate_counts_the_words_and_controls_each_step_draws(tmp_path, monkeypatch):
    source = tmp_path / "synthetic.py"
    source.write_text(SYNTHETIC, encoding="utf-8")
    name = "app.lessons._synthetic_lesson"
    spec = importlib.util.spec_from_file_location(name, source)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)

    estimate = timing.estimate_lesson(module, 1)
    why, check = estimate.steps
    assert (why.words, why.controls) == (3 + 2 + 1, 1)  # goals, the helper's caption and slider label
    # the prompt, both options and the right option's feedback: 2 + 1 + 1 + 2
    assert (check.words, check.controls) == (6, 1)
    exact = ((why.words + check.words) / timing.READING_WORDS_PER_MINUTE + 2 * timing.MINUTES_PER_STEP
             + 2 * timing.MINUTES_PER_CONTROL + timing.MINUTES_PER_QUESTION)
    assert estimate.minutes == -int(-exact // 1) and not estimate.has_prediction


@pytest.mark.parametrize("language", sorted(GUIDES))
def test_the_generated_blocks_name_every_lesson(language):
    blocks = generated_blocks(language)
    with i18n.outside_streamlit_in(language):
        titles = [_(lesson.TITLE) for lesson in LESSONS]
    for name in ("objectives", "times"):
        assert all(title in blocks[name] for title in titles), name


@pytest.mark.parametrize("language", sorted(GUIDES))
def test_the_guides_links_resolve_and_their_commands_parse(language, monkeypatch):
    monkeypatch.chdir(ROOT)
    path = GUIDES[language]
    text = TEXTS[language]
    assert [target for target in links(text) if not (path.parent / target).exists()] == []
    commands = [shlex.split(line, comments=True) for block in fenced_blocks(text) for line in block.splitlines()]
    lessons_commands = [words[3:] for words in commands if words[:3] == ["python", "-m", "app.lessons"]]
    assert len(lessons_commands) >= 5
    for words in lessons_commands:
        build_parser().parse_args(words)  # a wrong one exits 2 (relative --out files: the folder is this one)


def test_the_readme_links_both_guides():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/teaching/README.md)" in readme and "(docs/teaching/README_zh.md)" in readme


def test_the_guide_command_rewrites_stale_blocks_once_and_check_reports_them(tmp_path, monkeypatch, capsys):
    from app.lessons.materials import teaching_guide
    from app.lessons.__main__ import main

    copies = {}
    for language, path in GUIDES.items():
        stale = re.sub(r"(<!-- generated:times -->\n).*?(<!-- /generated:times -->)", r"\1\2", TEXTS[language],
                       flags=re.DOTALL)
        copies[language] = tmp_path / path.name
        copies[language].write_text(stale, encoding="utf-8")
    monkeypatch.setattr(teaching_guide, "GUIDES", copies)
    assert main(["guide", "--check"]) == 1
    assert all("generated:times -->\n<!--" in path.read_text(encoding="utf-8") for path in copies.values())
    assert main(["guide"]) == 0
    assert main(["guide", "--check"]) == 0
    assert "out of date" in capsys.readouterr().out
    for language, path in copies.items():
        assert generated_blocks(language)["times"] in path.read_text(encoding="utf-8")
