"""The course's progress store for a Streamlit session (the records live in :mod:`container_edu.progress`).

What counts (issue 21): a lesson is complete when its prediction was made before its reveal was shown, its
Verify panel ran with that prediction, and each of its check questions was answered right (first-attempt
correctness is kept apart from eventual correctness). The concept inventory's pre and post answers are kept too.
:func:`session_store` returns the running session's :class:`~container_edu.progress.records.ProgressStore`.
"""

from __future__ import annotations

from container_edu.progress.records import (Attempt, InventoryRecord, LessonRecord, MemoryStore, ProgressStore,
                                            normalised_gain)

from app.learner import STORE_KEY, progress_store

__all__ = ["Attempt", "LessonRecord", "InventoryRecord", "ProgressStore", "MemoryStore", "normalised_gain",
           "session_store", "STORE_KEY"]


def session_store() -> ProgressStore:
    """The running session's store: the learner's record in the database (see :mod:`app.learner`), else memory."""
    return progress_store()
