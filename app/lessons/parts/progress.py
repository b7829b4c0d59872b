"""The course's progress store for a Streamlit session (the records live in :mod:`container_edu.progress`).

What counts (issue 21): a lesson is complete when its prediction was made before its reveal was shown, its
Verify panel ran with that prediction, and each of its check questions was answered right (first-attempt
correctness is kept apart from eventual correctness). The concept inventory's pre and post answers are kept too.
:func:`session_store` returns the running session's :class:`~container_edu.progress.records.ProgressStore`.
"""

from __future__ import annotations

from container_edu.progress.records import (Attempt, InventoryRecord, LessonRecord, MemoryStore, ProgressStore,
                                            normalised_gain)

__all__ = ["Attempt", "LessonRecord", "InventoryRecord", "ProgressStore", "MemoryStore", "normalised_gain",
           "session_store", "STORE_KEY"]

STORE_KEY = "learner_progress"


def session_store() -> ProgressStore:
    """The running session's store (a :class:`MemoryStore` kept in ``st.session_state``)."""
    import streamlit as st  # here, so that the records above stay importable without Streamlit

    if STORE_KEY not in st.session_state:
        st.session_state[STORE_KEY] = MemoryStore()
    return st.session_state[STORE_KEY]
