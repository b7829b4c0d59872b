"""What the lecturer's class view shows, aggregated from the progress database: plain data, no Streamlit.

Every function takes an engine and a class code (validated here) and reads only that class's learners. Queries
are SQLAlchemy Core expressions with bound parameters.

The right answer of a prediction is never stored (each lesson measures it when it runs). The class view learns
it from the class itself: a learner's Verify panel passes only when their prediction agrees with what the lesson
measured, so the option whose learners' Verify passed is the measured right one (:func:`measured_right_option`).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from container_edu.progress.codes import CLASS_CODE_LENGTH, normalise_code
from container_edu.progress.database import ANSWERS, INVENTORY, LEARNERS, LESSONS
from container_edu.progress.records import Attempt, LessonRecord, normalised_gain

__all__ = ["PredictionCount", "FirstAttempts", "InventorySummary", "Completion", "class_size", "prediction_counts",
           "measured_right_option", "first_attempts", "inventory_summary", "completion"]


@dataclass(frozen=True)
class PredictionCount:
    """How many of the class chose ``option`` in ``lesson`` before its reveal; ``verified``: of them, how many
    then passed the lesson's Verify panel with that prediction."""

    lesson: str
    option: str
    count: int
    verified: int


@dataclass(frozen=True)
class FirstAttempts:
    """One check question: of the ``learners`` who answered it, how many were right at their first attempt."""

    lesson: str
    question: int
    learners: int
    right: int

    @property
    def missed(self) -> int:
        return self.learners - self.right

    @property
    def missed_share(self) -> float:
        return self.missed / self.learners if self.learners else 0.0


@dataclass(frozen=True)
class InventorySummary:
    """Concept-inventory scores (percent right) of the class, before and after; the gain of those with both."""

    pre: list[float]
    post: list[float]
    gains: list[float]

    @property
    def average_gain(self) -> float | None:
        return statistics.fmean(self.gains) if self.gains else None


@dataclass(frozen=True)
class Completion:
    lesson: str
    started: int
    complete: int


def _class_code(class_code: str) -> str:
    return normalise_code(class_code, CLASS_CODE_LENGTH)


def _members(code: str):
    """The learner codes of class ``code`` (a subquery)."""
    return sa.select(LEARNERS.c.code).where(LEARNERS.c.class_code == code).scalar_subquery()


def class_size(engine: Engine, class_code: str) -> int:
    code = _class_code(class_code)
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(LEARNERS)
                                  .where(LEARNERS.c.class_code == code)).scalar_one()


def prediction_counts(engine: Engine, class_code: str) -> list[PredictionCount]:
    """Per lesson and option, the class's predictions made before the reveal (sorted by lesson, then option).

    The store keeps a learner's latest choice; one changed after the reveal is left out (the choice made before
    it is not kept), so a learner who changed their mind drops out of the count rather than counting twice.
    """
    code = _class_code(class_code)
    verified = sa.case((sa.and_(LESSONS.c.verify_passed.is_(True), LESSONS.c.verified_at >= LESSONS.c.predicted_at),
                        1), else_=0)
    query = (sa.select(LESSONS.c.lesson, LESSONS.c.prediction, sa.func.count().label("count"),
                       sa.func.sum(verified).label("verified"))
             .where(LESSONS.c.learner.in_(_members(code)), LESSONS.c.prediction.is_not(None),
                    LESSONS.c.predicted_before_reveal.is_(True),
                    # a choice changed once the answer was on screen is not the prediction made before it
                    sa.or_(LESSONS.c.revealed_at.is_(None), LESSONS.c.predicted_at <= LESSONS.c.revealed_at))
             .group_by(LESSONS.c.lesson, LESSONS.c.prediction)
             .order_by(LESSONS.c.lesson, LESSONS.c.prediction))
    with engine.connect() as connection:
        return [PredictionCount(row.lesson, row.prediction, int(row.count), int(row.verified or 0))
                for row in connection.execute(query)]


def measured_right_option(counts: Iterable[PredictionCount], lesson: str) -> str | None:
    """The option the class's passed Verify panels point to in ``lesson`` (the most passes), or None if none
    passed yet."""
    passed = [(count.verified, count.option) for count in counts if count.lesson == lesson and count.verified]
    return max(passed)[1] if passed else None


def first_attempts(engine: Engine, class_code: str) -> list[FirstAttempts]:
    """First-attempt correctness per check question, the most missed (by share, then count) first."""
    code = _class_code(class_code)
    first_ids = (sa.select(sa.func.min(ANSWERS.c.id))
                 .where(ANSWERS.c.learner.in_(_members(code)))
                 .group_by(ANSWERS.c.learner, ANSWERS.c.lesson, ANSWERS.c.question))
    right = sa.func.sum(sa.case((ANSWERS.c.correct.is_(True), 1), else_=0))
    query = (sa.select(ANSWERS.c.lesson, ANSWERS.c.question, sa.func.count().label("learners"), right.label("right"))
             .where(ANSWERS.c.id.in_(first_ids))
             .group_by(ANSWERS.c.lesson, ANSWERS.c.question))
    with engine.connect() as connection:
        rows = [FirstAttempts(row.lesson, int(row.question), int(row.learners), int(row.right or 0))
                for row in connection.execute(query)]
    return sorted(rows, key=lambda row: (-row.missed_share, -row.missed, row.lesson, row.question))


def inventory_summary(engine: Engine, class_code: str) -> InventorySummary:
    """The class's pre and post scores, and the normalised gain of each learner who took both."""
    code = _class_code(class_code)
    query = (sa.select(INVENTORY.c.learner, INVENTORY.c.phase, INVENTORY.c.score)
             .where(INVENTORY.c.learner.in_(_members(code))).order_by(INVENTORY.c.learner))
    scores: dict[str, dict[str, float]] = {}
    with engine.connect() as connection:
        for row in connection.execute(query):
            scores.setdefault(row.learner, {})[row.phase] = float(row.score)
    gains = [normalised_gain(both["pre"], both["post"]) for both in scores.values() if {"pre", "post"} <= set(both)]
    return InventorySummary(pre=sorted(s["pre"] for s in scores.values() if "pre" in s),
                            post=sorted(s["post"] for s in scores.values() if "post" in s),
                            gains=[gain for gain in gains if gain is not None])


def _records(connection: Connection, code: str) -> dict[tuple[str, str], LessonRecord]:
    records: dict[tuple[str, str], LessonRecord] = {}
    fields = ("prediction", "predicted_at", "predicted_before_reveal", "revealed_at", "verified_at", "verify_passed")
    for row in connection.execute(sa.select(LESSONS).where(LESSONS.c.learner.in_(_members(code)))).mappings():
        records[row["learner"], row["lesson"]] = LessonRecord(**{name: row[name] for name in fields})
    answers = (sa.select(ANSWERS).where(ANSWERS.c.learner.in_(_members(code))).order_by(ANSWERS.c.id))
    for row in connection.execute(answers).mappings():
        record = records.setdefault((row["learner"], row["lesson"]), LessonRecord())
        record.attempts.setdefault(row["question"], []).append(Attempt(row["option"], bool(row["correct"]), row["at"]))
    return records


def completion(engine: Engine, class_code: str, lessons: Mapping[str, tuple[int, bool]]) -> list[Completion]:
    """Per lesson (``{key: (number of questions, has a prediction)}``, in that order), how many of the class
    started it and how many completed it (:meth:`LessonRecord.complete`)."""
    code = _class_code(class_code)
    with engine.connect() as connection:
        records = _records(connection, code)
    started: Counter[str] = Counter()
    complete: Counter[str] = Counter()
    for (_learner, lesson), record in records.items():
        if lesson not in lessons:
            continue
        started[lesson] += 1
        questions, has_prediction = lessons[lesson]
        complete[lesson] += record.complete(questions, has_prediction)
    return [Completion(lesson, started[lesson], complete[lesson]) for lesson in lessons]
