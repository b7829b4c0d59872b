"""A per-learner limit on progress writes: a token bucket per learner code, shared by that learner's sessions.

Real use writes a few times a minute (a prediction, a reveal, an answer); a script or a stuck key could write
hundreds of times a second into a database shared by a class. The limit is generous enough that nobody clicking
ever meets it. A refused write is refused whole, before it reaches any store, so nothing is half-written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["WRITES_PER_SECOND", "WRITE_BURST", "WriteLimiter", "shared_limiter"]

WRITES_PER_SECOND = 20.0
WRITE_BURST = 60
#: Learners not seen for this long are forgotten (their bucket would be full again anyway).
_FORGET_AFTER_S = 600.0
_SWEEP_EVERY = 1024


class WriteLimiter:
    """Token buckets keyed by learner: ``burst`` writes at once, refilled at ``rate`` per second."""

    def __init__(self, rate: float = WRITES_PER_SECOND, burst: int = WRITE_BURST,
                 clock: Callable[[], float] = time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # learner -> (tokens, when they were counted)
        self._lock = threading.Lock()  # sessions run in threads of one process
        self._calls = 0

    def allow(self, learner: str) -> bool:
        """Take one write from ``learner``'s bucket; ``False`` (and nothing taken) when it is empty."""
        now = self._clock()
        with self._lock:
            self._calls += 1
            if self._calls % _SWEEP_EVERY == 0:
                self._forget_idle(now)
            tokens, then = self._buckets.get(learner, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[learner] = (tokens - 1.0 if allowed else tokens, now)
            return allowed

    def _forget_idle(self, now: float) -> None:
        for learner in [name for name, (_tokens, then) in self._buckets.items() if now - then > _FORGET_AFTER_S]:
            del self._buckets[learner]

    def learners_tracked(self) -> int:
        return len(self._buckets)


_SHARED = WriteLimiter()


def shared_limiter() -> WriteLimiter:
    """The server process's limiter: one learner's tabs share one bucket."""
    return _SHARED
