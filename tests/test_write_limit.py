"""The per-learner write limit: a token bucket per learner code, refused writes stored nowhere, one notice."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app.write_limit import WriteLimiter
from container_edu.progress.database import SqlStore, open_database


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_allowed_then_writes_refill_at_the_rate_and_a_refusal_takes_nothing():
    clock = FakeClock()
    limiter = WriteLimiter(rate=2.0, burst=3, clock=clock)
    assert [limiter.allow("A") for _ in range(5)] == [True, True, True, False, False]
    clock.now += 0.4  # 0.8 of a write refilled: still none
    assert not limiter.allow("A")
    clock.now += 0.1  # one whole write, though two refusals came in between
    assert limiter.allow("A") and not limiter.allow("A")
    clock.now += 60  # the bucket fills up to the burst, never beyond
    assert [limiter.allow("A") for _ in range(4)] == [True, True, True, False]


def test_each_learner_has_their_own_bucket():
    clock = FakeClock()
    limiter = WriteLimiter(rate=1.0, burst=2, clock=clock)
    assert limiter.allow("A") and limiter.allow("A") and not limiter.allow("A")
    assert limiter.allow("B"), "another learner is not held back by A's writes"


def test_learners_not_seen_for_long_are_forgotten():
    clock = FakeClock()
    limiter = WriteLimiter(rate=1.0, burst=2, clock=clock)
    for index in range(1023):
        limiter.allow(f"L{index}")
    clock.now += 3600
    limiter.allow("new")  # the 1024th call sweeps
    assert limiter.learners_tracked() == 1


@pytest.mark.parametrize("rate, burst", [(0, 5), (-1, 5), (1, 0)])
def test_a_limit_that_allows_nothing_is_refused(rate, burst):
    with pytest.raises(ValueError):
        WriteLimiter(rate=rate, burst=burst)


def _writer(url: str) -> None:
    import streamlit as st

    from app.learner import FallbackStore
    from app.write_limit import WriteLimiter
    from container_edu.progress.database import SqlStore, new_learner, open_database

    if "store" not in st.session_state:
        engine = open_database(url)
        frozen = WriteLimiter(rate=1.0, burst=3, clock=lambda: 0.0)  # time stands still: no refill
        st.session_state.store = FallbackStore(SqlStore(engine, new_learner(engine)), frozen)
    store = st.session_state.store
    runs = st.session_state.get("runs", 0)
    for question in range(2):
        store.record_answer("matrix", 10 * runs + question, "a", True)
    st.session_state.runs = runs + 1


def test_writes_beyond_the_limit_are_stored_nowhere_and_the_learner_is_told_once(tmp_path):
    url = f"sqlite:///{tmp_path}/progress.sqlite3"
    at = AppTest.from_function(_writer, args=(url,), default_timeout=30).run()
    assert not at.exception and not at.toast  # two writes of three allowed
    at.run()  # two more: the second is refused
    assert not at.exception
    assert len(at.toast) == 1 and "not saved" in at.toast[0].value
    at.run()  # both refused; the notice is not repeated
    assert not at.exception and not at.toast
    store = at.session_state.store
    assert store.refused == 3 and store.saved, "a refused write is no database failure"
    stored = SqlStore(open_database(url), store.learner).export()["answers"]
    assert sorted(row["question"] for row in stored) == [0, 1, 10]
    assert not store.memory.lesson("matrix").attempts, "nor is it kept in memory instead"


def test_the_default_limit_lets_a_fast_learner_through():
    clock = FakeClock()
    limiter = WriteLimiter(clock=clock)
    # A learner answering a whole quiz and the inventory in two seconds: far faster than anyone reads.
    allowed = 0
    for write in range(40):
        clock.now += 0.05
        allowed += limiter.allow("A")
    assert allowed == 40
