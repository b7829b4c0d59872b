"""The class view's numbers (container_edu.progress.class_report), joining a class, and ``class create``: on SQLite
and on a real PostgreSQL server, with several learners whose answers are known."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from container_edu.__main__ import main  # noqa: E402
from container_edu.progress import class_report as report  # noqa: E402
from container_edu.progress.codes import CodeError  # noqa: E402
from clocks import TickingClock  # noqa: E402
from container_edu.progress.database import (DATABASE_URL_ENV, SqlStore, create_class, join_class,  # noqa: E402
                                             new_learner, open_database, teacher_key_matches)


def learners(engine, class_code: str, count: int) -> list[SqlStore]:
    return [SqlStore(engine, new_learner(engine, class_code=class_code), clock=TickingClock()) for _ in range(count)]


def predict_then_reveal(store: SqlStore, lesson: str, option: str, verify_passed: bool | None = None) -> None:
    store.record_prediction(lesson, option)
    store.record_reveal(lesson)
    if verify_passed is not None:
        store.record_verify(lesson, verify_passed)


def test_prediction_counts_count_only_the_class_and_only_before_the_reveal(engine):
    code, _key = create_class(engine, "Lab 3")
    other, _other_key = create_class(engine, "Lab 4")
    a, b, c, d, e = learners(engine, code, 5)
    predict_then_reveal(a, "matrix", "V_0", verify_passed=True)
    predict_then_reveal(b, "matrix", "V_0", verify_passed=True)
    predict_then_reveal(c, "matrix", "V_1", verify_passed=False)
    predict_then_reveal(d, "matrix", "V_1")  # revealed, Verify not run yet
    e.record_reveal("matrix")  # saw the answer first: a prediction after it is not one before it
    e.record_prediction("matrix", "V_1")
    predict_then_reveal(a, "conv", "3")
    (outsider,) = learners(engine, other, 1)
    predict_then_reveal(outsider, "matrix", "V_1", verify_passed=True)

    counts = report.prediction_counts(engine, code)
    assert [(x.lesson, x.option, x.count, x.verified) for x in counts] == [
        ("conv", "3", 1, 0), ("matrix", "V_0", 2, 2), ("matrix", "V_1", 2, 0)]
    assert report.measured_right_option(counts, "matrix") == "V_0"
    assert report.measured_right_option(counts, "conv") is None
    assert report.class_size(engine, code) == 5
    assert report.prediction_counts(engine, other)[0].option == "V_1"


def test_a_prediction_changed_after_the_reveal_leaves_the_distribution(engine):
    code, _key = create_class(engine, "Lab 3")
    (learner,) = learners(engine, code, 1)
    predict_then_reveal(learner, "matrix", "V_1")
    assert [x.option for x in report.prediction_counts(engine, code)] == ["V_1"]
    learner.record_prediction("matrix", "V_0")  # the answer is on screen now
    assert report.prediction_counts(engine, code) == []


def test_first_attempts_per_learner_sorted_by_the_most_missed(engine):
    code, _key = create_class(engine, "Lab 3")
    a, b, c = learners(engine, code, 3)
    # question 0: all right first time; question 1: one of three wrong first; question 2: two of two wrong first
    for store in (a, b, c):
        store.record_answer("matrix", 0, "right", True)
    a.record_answer("matrix", 1, "wrong", False)
    a.record_answer("matrix", 1, "right", True)  # a later right attempt does not change the first
    b.record_answer("matrix", 1, "right", True)
    b.record_answer("matrix", 1, "wrong", False)  # nor does a later wrong one
    c.record_answer("matrix", 1, "right", True)
    a.record_answer("conv", 2, "wrong", False)
    b.record_answer("conv", 2, "wrong", False)
    b.record_answer("conv", 2, "right", True)
    rows = report.first_attempts(engine, code)
    assert [(r.lesson, r.question, r.learners, r.right) for r in rows] == [
        ("conv", 2, 2, 0), ("matrix", 1, 3, 2), ("matrix", 0, 3, 3)]
    assert [r.missed_share for r in rows] == pytest.approx([1.0, 1 / 3, 0.0])


def test_inventory_scores_and_the_average_normalised_gain_of_those_with_both(engine):
    code, _key = create_class(engine, "Lab 3")
    a, b, c, d = learners(engine, code, 4)
    a.record_inventory("pre", {0: "x"}, 40.0)
    a.record_inventory("post", {0: "y"}, 70.0)   # g = 30 / 60 = 0.5
    b.record_inventory("pre", {0: "x"}, 20.0)
    b.record_inventory("post", {0: "y"}, 100.0)  # g = 80 / 80 = 1.0
    c.record_inventory("pre", {0: "x"}, 50.0)    # no post: counted in pre only
    d.record_inventory("pre", {0: "x"}, 100.0)
    d.record_inventory("post", {0: "x"}, 90.0)   # pre at 100: no gain defined, left out of the average
    summary = report.inventory_summary(engine, code)
    assert summary.pre == [20.0, 40.0, 50.0, 100.0]
    assert summary.post == [70.0, 90.0, 100.0]
    assert sorted(summary.gains) == pytest.approx([0.5, 1.0])
    assert summary.average_gain == pytest.approx(0.75)
    assert report.inventory_summary(engine, create_class(engine, "empty")[0]).average_gain is None


def test_completion_per_lesson(engine):
    code, _key = create_class(engine, "Lab 3")
    done, half = learners(engine, code, 2)
    predict_then_reveal(done, "matrix", "V_0", verify_passed=True)
    done.record_answer("matrix", 0, "right", True)
    predict_then_reveal(half, "matrix", "V_0", verify_passed=True)  # no question answered
    half.record_answer("conv", 0, "right", True)
    half.record_verify("conv", True)
    rows = report.completion(engine, code, {"matrix": (1, True), "conv": (1, False), "shift": (2, False)})
    assert [(r.lesson, r.started, r.complete) for r in rows] == [("matrix", 2, 1), ("conv", 1, 1), ("shift", 0, 0)]


def test_joining_a_class_checks_the_codes(engine):
    code, key = create_class(engine, "Lab 3")
    learner = new_learner(engine)
    with pytest.raises(CodeError, match="valid code"):
        join_class(engine, learner, "no!")
    unused = "".join("2" if ch != "2" else "3" for ch in code)
    with pytest.raises(CodeError, match="No class"):
        join_class(engine, learner, unused)
    join_class(engine, learner, code.lower(), nickname="  Ada " + "x" * 60)
    exported = SqlStore(engine, learner).export()["learner"]
    assert exported["class_code"] == code and exported["nickname"] == ("Ada " + "x" * 60)[:40]
    assert report.class_size(engine, code) == 1
    assert teacher_key_matches(engine, code, key) and not teacher_key_matches(engine, code, key + "x")


def test_class_create_prints_the_code_and_key_once_and_stores_only_its_hash(monkeypatch, tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    assert main(["class", "create", "Lab 3"]) == 0
    out = capsys.readouterr().out
    fields = {line.split(":", 1)[0]: line.split(":", 1)[1].split()[0] for line in out.splitlines() if ":" in line}
    code, key = fields["class code"], fields["teacher key"]
    engine = open_database(url)
    try:
        assert teacher_key_matches(engine, code, key)
        with engine.connect() as connection:
            stored = connection.exec_driver_sql("SELECT name, teacher_key_hash FROM classes").all()
        assert stored[0][0] == "Lab 3" and key not in stored[0][1]
    finally:
        engine.dispose()
    assert main(["class", "create", "  "]) == 2
