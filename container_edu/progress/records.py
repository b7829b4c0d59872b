"""A learner's progress through the course: the records, and the one small interface they are written through.

What counts (issue 21): a lesson is complete when its prediction was made before its reveal was shown, its
Verify panel ran with that prediction, and each of its check questions was answered right (first-attempt
correctness is kept apart from eventual correctness). The concept inventory's pre and post answers are kept too.

:class:`ProgressStore` is the interface the lessons write through and read back; :class:`MemoryStore` keeps it in
memory (one Streamlit session); :class:`container_edu.progress.database.SqlStore` keeps it in SQLite or
PostgreSQL. No Streamlit here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Attempt", "LessonRecord", "InventoryRecord", "ProgressStore", "MemoryStore", "normalised_gain",
           "INVENTORY_PHASES"]

INVENTORY_PHASES = ("pre", "post")


@dataclass
class Attempt:
    """One check of one question: the option chosen (English), whether it was right, when."""

    option: str
    correct: bool
    at: float


@dataclass
class LessonRecord:
    """Everything recorded of one lesson for one learner."""

    prediction: str | None = None
    predicted_at: float | None = None
    predicted_before_reveal: bool | None = None
    revealed_at: float | None = None
    verified_at: float | None = None
    verify_passed: bool | None = None
    attempts: dict[int, list[Attempt]] = field(default_factory=dict)

    def first_attempt_correct(self, question: int) -> bool | None:
        tries = self.attempts.get(question)
        return tries[0].correct if tries else None

    def eventually_correct(self, question: int) -> bool:
        return any(attempt.correct for attempt in self.attempts.get(question, ()))

    def predict(self, option: str | None, now: float) -> None:
        self.prediction = option
        if option is None:
            self.predicted_at = None
            return
        self.predicted_at = now
        # Changing one's mind after seeing the answer does not make the prediction one made before it.
        if self.predicted_before_reveal is None or self.revealed_at is None:
            self.predicted_before_reveal = self.revealed_at is None

    def reveal(self, now: float) -> None:
        if self.revealed_at is None:
            self.revealed_at = now

    def verify(self, passed: bool, now: float) -> None:
        self.verified_at = now
        self.verify_passed = passed

    def complete(self, questions: int, has_prediction: bool = True) -> bool:
        """Prediction made before the reveal, Verify ran with it, every question answered right."""
        predicted = not has_prediction or (self.prediction is not None and bool(self.predicted_before_reveal))
        verified = self.verified_at is not None and (not has_prediction or
                                                     (self.predicted_at or 0) <= self.verified_at)
        return predicted and verified and all(self.eventually_correct(i) for i in range(questions))


@dataclass
class InventoryRecord:
    """The concept inventory taken once before the course ("pre") or after it ("post")."""

    answers: dict[int, str]
    score: float  # percent right, 0-100
    at: float


def normalised_gain(pre: float, post: float) -> float | None:
    """Hake's normalised gain (post - pre) / (100 - pre), in scores out of 100; None when pre is already 100."""
    if pre >= 100:
        return None
    return (post - pre) / (100 - pre)


class ProgressStore(Protocol):
    """The interface the course writes a learner's progress through."""

    def lesson(self, lesson_key: str) -> LessonRecord: ...

    def record_prediction(self, lesson_key: str, option: str | None) -> None: ...

    def record_reveal(self, lesson_key: str) -> None: ...

    def record_verify(self, lesson_key: str, passed: bool) -> None: ...

    def record_answer(self, lesson_key: str, question: int, option: str, correct: bool) -> None: ...

    def record_inventory(self, phase: str, answers: dict[int, str], score: float) -> None: ...

    def inventory(self, phase: str) -> InventoryRecord | None: ...


class MemoryStore:
    """A :class:`ProgressStore` in memory: one per Streamlit session, lost with it."""

    def __init__(self, clock=time.time):
        self._clock = clock
        self._lessons: dict[str, LessonRecord] = {}
        self._inventory: dict[str, InventoryRecord] = {}

    def lesson(self, lesson_key: str) -> LessonRecord:
        return self._lessons.setdefault(lesson_key, LessonRecord())

    def record_prediction(self, lesson_key: str, option: str | None) -> None:
        self.lesson(lesson_key).predict(option, self._clock())

    def record_reveal(self, lesson_key: str) -> None:
        self.lesson(lesson_key).reveal(self._clock())

    def record_verify(self, lesson_key: str, passed: bool) -> None:
        self.lesson(lesson_key).verify(passed, self._clock())

    def record_answer(self, lesson_key: str, question: int, option: str, correct: bool) -> None:
        self.lesson(lesson_key).attempts.setdefault(question, []).append(Attempt(option, correct, self._clock()))

    def record_inventory(self, phase: str, answers: dict[int, str], score: float) -> None:
        if phase not in INVENTORY_PHASES:
            raise ValueError(f"phase must be 'pre' or 'post', not {phase!r}")
        self._inventory[phase] = InventoryRecord(dict(answers), float(score), self._clock())

    def inventory(self, phase: str) -> InventoryRecord | None:
        return self._inventory.get(phase)
