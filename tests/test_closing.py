"""The closing lesson (``paper``) and the concept inventory: the synthesis table says what the registry says and
what is measured, the paper's figures are labelled as reported, and the inventory's score and gain come from the
learner's answers. (The generic lesson tests in tests/test_lessons.py cover ``paper`` too.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from apptest_support import LESSONS_PAGE, assert_clean, open_link  # noqa: E402
from i18n_support import rendered_texts, untranslated_english  # noqa: E402
from lesson_support import go_to_step, open_lesson, step_ids  # noqa: E402
from app.lessons import LESSONS, inventory, paper  # noqa: E402
from app.lessons.parts.progress import normalised_gain  # noqa: E402
from container_edu.analysis.properties import measure_all, registry_claims  # noqa: E402
from container_edu.ops.kinds import KINDS  # noqa: E402
from container_edu.reported import REPORTED, reported  # noqa: E402

QUESTIONS = inventory.QUESTIONS


def _answers(right: int) -> dict[int, str]:
    """The first ``right`` questions answered right, the others wrong (English options by index)."""
    return {index: (question.right_option if index < right else
                    next(option for option in question.options if option != question.right_option))
            for index, question in enumerate(QUESTIONS)}


def _submit(at, phase: str, answers: dict[int, str]) -> None:
    for index, option in answers.items():
        at.radio(key=inventory.answer_key(phase, index)).set_value(option)
    at.button(key=inventory.submit_key(phase)).click().run()
    assert_clean(at)


# ----------------------------------------------------------------------------- the inventory's questions


def test_the_inventory_has_eight_to_ten_questions_each_with_one_right_answer():
    assert 8 <= len(QUESTIONS) <= 10
    for question in QUESTIONS:
        assert 3 <= len(question.choices) and 0 <= question.answer < len(question.choices)
        assert len(set(question.options)) == len(question.options)


def test_the_inventory_asks_what_no_lesson_asks():
    asked = {question.english_prompt for lesson in LESSONS for question in lesson.QUESTIONS}
    options = {text for lesson in LESSONS for question in lesson.QUESTIONS for text, _feedback in question.choices}
    for question in QUESTIONS:
        assert question.english_prompt not in asked
        assert not {text for text, _feedback in question.choices} & options


def test_the_inventorys_right_option_is_not_given_away_by_its_length_or_place():
    lengths = [[len(text) for text, _feedback in question.choices] for question in QUESTIONS]
    longest = sum(lens[q.answer] == max(lens) for q, lens in zip(QUESTIONS, lengths))
    shortest = sum(lens[q.answer] == min(lens) for q, lens in zip(QUESTIONS, lengths))
    assert longest <= len(QUESTIONS) / 3, f"{longest} of {len(QUESTIONS)} right options are the longest"
    assert shortest <= len(QUESTIONS) / 2, f"{shortest} of {len(QUESTIONS)} right options are the shortest"
    shown_first = sum(q.options[0] == q.right_option for q in QUESTIONS)
    assert shown_first <= len(QUESTIONS) / 2, "the shuffled order puts the right option first too often"


def test_the_score_counts_right_answers_and_a_blank_as_wrong():
    assert inventory.score(_answers(3)) == 30
    assert inventory.score(_answers(len(QUESTIONS))) == 100
    partial = {index: option for index, option in _answers(len(QUESTIONS)).items() if index < 4}
    assert inventory.score(partial) == 40


# ----------------------------------------------------------------------------- before and after, on the page


def test_pre_three_right_and_post_eight_right_give_30_80_and_the_gain_5_7ths(no_weights):
    at = open_lesson("matrix")
    [offer] = [e for e in at.expander if e.label.startswith("Before you start: a 10-question concept check")]
    shown = " ".join(rendered_texts(at.main))
    assert "Right answer:" not in shown and "Your score" not in shown, "no feedback before submitting"
    _submit(at, "pre", _answers(3))
    assert not [e for e in at.expander if e.label.startswith("Before you start")], "offered only until taken"
    assert any(e.label == "Your concept check before the course: 30 %" for e in at.expander)
    assert any(m.value == "**Your score: 3 of 10 right (30 %).**" for m in at.markdown)
    assert not [button for button in at.button if button.key == inventory.submit_key("pre")], "one submission only"
    store = at.session_state["learner_progress"]
    assert store.inventory("pre").score == 30

    at.selectbox(key="lesson_picker").set_value("paper").run()
    go_to_step(at, "paper", "inventory")
    assert_clean(at)
    assert not any("Normalised gain" in s.value for s in at.success), "no gain before the post test"
    _submit(at, "post", _answers(8))
    assert store.inventory("post").score == 80
    assert any(m.value == "**Your score: 8 of 10 right (80 %).**" for m in at.markdown)
    gain = normalised_gain(30, 80)
    assert gain == pytest.approx(50 / 70)
    assert any(s.value == "Normalised gain (post − pre) / (100 − pre) = (80 − 30) / (100 − 30) = 0.71"
               for s in at.success), [s.value for s in at.success]
    marks = [m.value for m in at.markdown if m.value.startswith("- ")]
    assert marks and marks[-1].count("✓") == 8 and marks[-1].count("✗") == 2


def test_the_post_test_without_a_pre_test_says_there_is_no_gain(no_weights):
    at = open_lesson("paper", "inventory")
    _submit(at, "post", _answers(len(QUESTIONS)))
    assert any("no gain to compute" in info.value for info in at.info)
    assert at.session_state["learner_progress"].inventory("pre") is None


# ----------------------------------------------------------------------------- the synthesis table


def test_every_measured_column_agrees_with_the_registry():
    measured = measure_all()
    assert list(measured) == list(KINDS)
    for key, kind in KINDS.items():
        found, claims = measured[key], registry_claims(kind)
        assert (found.dynamic, found.dense, found.cost, found.tied_to_grid, found.shift_equivariant) == (
            claims["dynamic"], claims["dense"], claims["cost"], claims["tied_to_grid"], claims["shift_equivariant"]), key
    # Parameters: a learned N × N matrix grows 16× with the side doubled; attention's A has none of its own.
    assert measured["attention"].parameters == (0, 0)
    assert measured["mixer"].parameters[1] == 16 * measured["mixer"].parameters[0]
    assert measured["conv"].parameters[0] == measured["conv"].parameters[1] > 0


def test_the_table_on_the_page_has_one_row_per_kind_with_the_registrys_cells(no_weights):
    at = open_lesson("paper", "idea")
    [table] = [frame.value for frame in at.table if "dynamic?" in frame.value.columns]
    assert list(table["operator"]) == [kind.label for kind in KINDS.values()]
    for (_index, row), kind in zip(table.iterrows(), KINDS.values()):
        claims = registry_claims(kind)
        assert row["dynamic?"] == ("yes" if kind.dynamic else "no")
        assert row["dense?"] == ("yes" if kind.dense else "no")
        assert row["tied to the grid?"] == ("yes" if claims["tied_to_grid"] else "no")
        assert row["shift-equivariant?"] == ("yes" if claims["shift_equivariant"] else "no")
        assert row["cost in N"].startswith(claims["cost"] + " (×")
        assert row["how A is made"] == kind.formula


def test_a_wrong_registry_claim_fails_the_verify_panel(monkeypatch):
    from dataclasses import replace

    rows = paper.synthesis_rows()
    assert all(check.passed for check in paper.table_checks(rows))
    monkeypatch.setitem(KINDS, "conv", replace(KINDS["conv"], dense=True))
    failed = [check.claim for check in paper.table_checks(rows) if not check.passed]
    assert any(claim.startswith("dense?") for claim in failed) and any(claim.startswith("cost in N") for claim in
                                                                        failed)


# ----------------------------------------------------------------------------- the paper's evidence


def test_the_papers_figures_are_written_once_and_labelled_as_reported(no_weights):
    texts = {figure.key: figure.text() for figure in REPORTED}
    assert texts["imagenet_top1"] == "82.7 % with 22 M parameters: +2.8 points over DeiT-S"
    assert texts["imagenet_200_epochs"].startswith("79.9 % in 200 epochs")
    assert texts["light_imagenet"] == "82.3 % / 96.2 %"
    for number in ("38.9", "43.8", "45.1", "41.3"):
        assert number in texts["light_detection"]
    at = open_lesson("paper", "evidence")
    [table] = [frame.value for frame in at.table if "reported by the authors" in frame.value.columns]
    assert list(table["reported by the authors"]) == list(texts.values())
    assert list(table["reproduced here?"][2:]) == ["not tested here", "not tested here"]
    # The zoo lesson reads the same source.
    at = open_lesson("zoo", "paper")
    zoo_tables = [frame.value for frame in at.dataframe if "reported" in frame.value.columns]
    assert zoo_tables and list(zoo_tables[0]["reported"]) == list(texts.values())


def test_the_evidence_reads_the_sweep_and_the_cards():
    from container_edu.training.sweep_report import summary
    from container_edu.training.zoo_report import sweep_runs

    cells = summary(sweep_runs())
    hybrid, baseline = cells.get(("container", paper.LARGEST)), cells.get(("attention", paper.LARGEST))
    if hybrid is None or baseline is None:
        pytest.skip("the package's sweep results have no full-size runs")
    rows = {row["key"]: row for row in paper.evidence_rows()}
    assert f"Container {hybrid['mean']:.2f} %, attention {baseline['mean']:.2f} %" in rows["imagenet_top1"]["this project"]
    assert rows["imagenet_top1"]["reported by the authors"] is reported("imagenet_top1")


def test_the_prediction_is_read_from_the_sweep():
    from container_edu.training.sweep_report import summary
    from container_edu.training.zoo_report import sweep_runs

    cells = {("container", 10): {"mean": 80.0, "std": 0.5, "n": 3}, ("attention", 10): {"mean": 78.0, "std": 0.5,
                                                                                         "n": 3}}
    assert paper.hybrid_against_baseline(cells, 10) == paper.HYBRID_AHEAD
    cells[("attention", 10)]["mean"] = 79.5
    assert paper.hybrid_against_baseline(cells, 10) == paper.OVERLAP
    cells[("attention", 10)]["mean"] = 82.0
    assert paper.hybrid_against_baseline(cells, 10) == paper.BASELINE_AHEAD
    assert paper.hybrid_against_baseline({}, 10) is None
    assert paper.hybrid_against_baseline(summary(sweep_runs()), paper.SMALLEST) in paper.PREDICTION.options


# ----------------------------------------------------------------------------- in Chinese


def test_every_step_of_the_closing_lesson_and_both_checks_show_no_english_in_chinese(no_weights):
    at = open_link(LESSONS_PAGE, {"lesson": "paper", "lang": "zh"})
    for step in step_ids("paper"):
        go_to_step(at, "paper", step)
        if step == "predict":  # the right option, read from the sweep (the page's texts are Chinese)
            at.radio(key=paper.PREDICTION.key).set_value(_measured_prediction()).run()
            assert any(s.value.startswith("已验证") for s in at.success), [e.value for e in at.error]
        if step == "inventory":
            shown = rendered_texts(at.main)
            assert not untranslated_english(shown), untranslated_english(shown)
            _submit_any(at, "post")
        shown = rendered_texts(at.main)
        assert len(shown) >= 5, (step, shown)
        english = untranslated_english(shown)
        assert not english, (step, english)
    _submit_any(at, "pre")
    english = untranslated_english(rendered_texts(at.main))
    assert not english, english


def _measured_prediction() -> str:
    from container_edu.training.sweep_report import summary
    from container_edu.training.zoo_report import sweep_runs

    return paper.hybrid_against_baseline(summary(sweep_runs()), paper.SMALLEST)


def _submit_any(at, phase: str) -> None:
    for index in range(len(QUESTIONS)):
        radio = at.radio(key=inventory.answer_key(phase, index))
        radio.set_value(radio.options[index % len(radio.options)])
    at.button(key=inventory.submit_key(phase)).click().run()
    assert_clean(at)
