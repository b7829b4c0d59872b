"""A training run in a background thread that a Streamlit session can watch and stop (no Streamlit here).

Why a thread: ``container_edu.training.train.train`` runs the whole loop in one call,
and Streamlit re-executes the page on every click. Running ``train`` inside
the script would block the session (the Stop click would only be seen after
training ends). Training in chunks of steps per rerun would need the core to
resume mid-epoch. So each session owns one :class:`TrainingJob` (kept in
``st.session_state``): its thread calls ``train`` with ``on_step`` writing
progress into the job under a lock and ``should_stop`` polling a
``threading.Event``. The page reads :meth:`TrainingJob.snapshot` in a
fragment that reruns every second while the job runs, and the Stop button's
callback sets the event; the thread sees it after the current step and
``train`` returns the model as it is. The thread never touches Streamlit.

Runs wait their turn in one process-wide FIFO queue (:data:`TRAINING_QUEUE`):
training is CPU-bound, so on a server shared by a class only
:data:`MAX_CONCURRENT_RUNS` train at once (one per two CPU cores, at least
one: each run's matrix products use several threads, and the other half of
the cores keeps the pages responsive for everyone else; the environment
variable ``CONTAINER_EDU_TRAINING_SLOTS`` overrides it), and at most
:data:`MAX_WAITING_RUNS` wait behind them. A waiting job knows its place in
the line (:meth:`TrainingJob.queue_position`), which the lesson shows.

A run belongs to a session (its ``owner``): one session has at most one run
waiting or training, and a run whose session has gone (the tab was closed)
leaves the line, or stops training, after :data:`ORPHAN_CHECKS` checks in a
row find its session gone, so abandoned runs do not make the living wait.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from container_edu.training.train import TrainResult, TrainSettings, train

logger = logging.getLogger("container_edu.app")
SLOTS_ENV = "CONTAINER_EDU_TRAINING_SLOTS"


def _slots_from_environment() -> int:
    value = os.environ.get(SLOTS_ENV, "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            logger.warning("%s=%r is not a whole number; using the default", SLOTS_ENV, value)
    return max(1, (os.cpu_count() or 1) // 2)


#: At most this many live training runs at once in this process (all sessions together).
MAX_CONCURRENT_RUNS = _slots_from_environment()
#: At most this many runs wait for a slot; a session that asks beyond it is told the queue is full. (A run of the
#: lesson's defaults trains in about a minute, so the last in a full line waits about 16 / slots minutes.)
MAX_WAITING_RUNS = 16
#: Checks in a row that must find a run's session gone before the run is cancelled (one check a second at most:
#: a tab whose connection drops and comes back within a few seconds keeps its run).
ORPHAN_CHECKS = 5
ORPHAN_CHECK_SECONDS = 1.0
#: Models a session keeps from live training; the oldest goes first (each holds its weights in memory).
MAX_KEPT_MODELS = 3


def keep_trained(destination: dict, name: str, entry: dict, limit: int = MAX_KEPT_MODELS) -> None:
    """Store ``entry`` under ``name`` as the newest run, dropping the oldest beyond ``limit``."""
    destination.pop(name, None)
    destination[name] = entry
    while len(destination) > limit:
        destination.pop(next(iter(destination)))


class TrainingQueue:
    """A first-come, first-served line in front of ``slots`` training slots (thread-safe, no Streamlit).

    A job is anything hashable. :meth:`enqueue` puts it at the back (or refuses when the line is full),
    :meth:`wait_turn` blocks until it is first in line and a slot is free, :meth:`done` frees the slot.
    """

    def __init__(self, slots: int, max_waiting: int) -> None:
        self.slots = slots
        self.max_waiting = max_waiting
        self._waiting: deque = deque()
        self._running: set = set()
        self._owners: dict = {}  # job -> owner, for the jobs waiting or running that have one
        self._changed = threading.Condition(threading.RLock())

    def enqueue(self, job, owner: object = None) -> bool:
        """Put ``job`` at the back of the line; ``False`` when the line is full or ``owner`` has a run already.

        ``owner`` (any hashable, e.g. a session id; ``None``: nobody in particular) may have one job waiting or
        running at a time.
        """
        with self._changed:
            if len(self._waiting) >= self.max_waiting:
                return False
            if owner is not None and self.owner_busy(owner):
                return False
            self._waiting.append(job)
            if owner is not None:
                self._owners[job] = owner
            return True

    def owner_busy(self, owner: object) -> bool:
        """Whether ``owner`` has a job waiting or running."""
        with self._changed:
            return any(self._owners.get(job) == owner for job in (*self._waiting, *self._running))

    def wait_turn(self, job, should_stop: Callable[[], bool], timeout: float | None = None) -> bool:
        """Block until ``job`` may run (then it holds a slot: ``True``), or ``should_stop()`` (``False``, and the job
        leaves the line), or ``timeout`` seconds pass (``False``, the job keeps its place)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while True:
                if should_stop():
                    self._remove(job)
                    return False
                if self._waiting and self._waiting[0] is job and len(self._running) < self.slots:
                    self._waiting.popleft()
                    self._running.add(job)
                    self._changed.notify_all()
                    return True
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                # Woken by done/cancel/notify; the periodic wake-up also notices a stop request.
                self._changed.wait(0.5 if remaining is None else min(0.5, remaining))

    def done(self, job) -> None:
        with self._changed:
            self._running.discard(job)
            self._owners.pop(job, None)
            self._changed.notify_all()

    def cancel(self, job) -> None:
        with self._changed:
            self._remove(job)

    def _remove(self, job) -> None:
        if job in self._waiting:
            self._waiting.remove(job)
            self._owners.pop(job, None)
            self._changed.notify_all()

    def position(self, job) -> int | None:
        """0 while ``job`` runs, 1 for the first in line, ...; ``None`` when it is neither running nor waiting."""
        with self._changed:
            if job in self._running:
                return 0
            for index, waiting in enumerate(self._waiting):
                if waiting is job:
                    return index + 1
            return None

    def snapshot(self) -> tuple[int, int]:
        """``(running, waiting)``."""
        with self._changed:
            return len(self._running), len(self._waiting)


#: The one queue of this server process.
TRAINING_QUEUE = TrainingQueue(MAX_CONCURRENT_RUNS, MAX_WAITING_RUNS)


@dataclass
class Snapshot:
    status: str
    steps: list[int]
    losses: list[float]
    blends: list[dict[str, list[float]]]
    total_steps: int
    elapsed: float
    error: str | None
    #: 0 while training, k while k-th in the line for a slot, None when finished.
    queue_position: int | None = None


@dataclass(eq=False)  # identity, not field equality: the queue finds a job by ``is``/hash
class TrainingJob:
    """One live training run. States: ``queued`` -> ``running`` -> ``done`` | ``stopped`` | ``failed``, or
    ``queued`` -> ``cancelled`` when stopped before its turn came."""

    name: str
    settings: TrainSettings
    #: Where the finished run is stored: the session's ``trained_models`` dict (a plain dict, so the thread may write
    #: to it without Streamlit), so that the other pages see the run even if the learner left the lesson.
    destination: dict | None = None
    #: The folder to train from (``None``: the full set's usual folder); the lesson passes the shipped subset's
    #: folder when the full set is absent.
    data_dir: str | None = None
    status: str = "queued"
    error: str | None = None
    result: TrainResult | None = None
    collected: bool = False
    _steps: list[int] = field(default_factory=list)
    _losses: list[float] = field(default_factory=list)
    _blends: list[dict[str, list[float]]] = field(default_factory=list)
    _total_steps: int = 0
    _started: float = 0.0
    _finished: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None
    _queue: TrainingQueue | None = None
    #: Whether the session that started the run is still there (``None``: not tied to a session).
    owner_alive: Callable[[], bool] | None = None
    #: The least time between two checks of ``owner_alive``.
    check_seconds: float = ORPHAN_CHECK_SECONDS
    #: Set when the run was cancelled or stopped because its session had gone.
    abandoned: bool = False
    _owner_gone_checks: int = 0
    _last_check: float | None = None

    @classmethod
    def start(cls, name: str, settings: TrainSettings, destination: dict | None = None,
              queue: TrainingQueue | None = None, data_dir: str | None = None, *, owner: object = None,
              owner_alive: Callable[[], bool] | None = None,
              check_seconds: float = ORPHAN_CHECK_SECONDS) -> "TrainingJob | None":
        """Queue a run (it starts when a slot is free), or return ``None`` when the queue is full or ``owner``
        (the session) has a run waiting or training already.

        ``owner_alive`` says whether that session is still there; see :data:`ORPHAN_CHECKS`.
        """
        queue = TRAINING_QUEUE if queue is None else queue
        job = cls(name, settings, destination, None if data_dir is None else str(data_dir))
        job._queue = queue
        job.owner_alive = owner_alive
        job.check_seconds = check_seconds
        if not queue.enqueue(job, owner):
            return None
        job._started = time.perf_counter()
        job._thread = threading.Thread(target=job._run, name=f"lesson-training-{name}", daemon=True)
        job._thread.start()
        return job

    def _should_stop(self) -> bool:
        return self._stop.is_set() or self._owner_gone()

    def _owner_gone(self) -> bool:
        """Whether :data:`ORPHAN_CHECKS` checks in a row found the owner gone (then the run stops)."""
        if self.owner_alive is None:
            return False
        now = time.monotonic()
        if self._last_check is not None and now - self._last_check < self.check_seconds:
            return False
        self._last_check = now
        try:
            alive = bool(self.owner_alive())
        except Exception:  # noqa: BLE001 - a failing check must not kill the run; it counts as "still there"
            logger.exception("checking whether the session of training run %r is alive failed", self.name)
            alive = True
        self._owner_gone_checks = 0 if alive else self._owner_gone_checks + 1
        if self._owner_gone_checks >= ORPHAN_CHECKS:
            logger.info("training run %r: its session has gone, so it stops", self.name)
            self.abandoned = True
            self._stop.set()
            return True
        return False

    def _run(self) -> None:
        if not self._queue.wait_turn(self, self._should_stop):
            with self._lock:
                self.status = "cancelled"
                self._finished = time.perf_counter()
            return
        try:
            with self._lock:
                self.status = "running"
                self._started = time.perf_counter()  # the time shown is training time, not time in the queue
            result = train(self.settings, data_dir=self.data_dir, evaluate_test=False, on_step=self._on_step,
                           should_stop=self._should_stop)
            with self._lock:
                self.result = result
                if self.destination is not None:
                    keep_trained(self.destination, self.name, self.stored_entry())
                self.status = "stopped" if result.stopped_early else "done"
        except Exception as error:  # noqa: BLE001 - shown to the learner, the thread must not die silently
            with self._lock:
                self.error = f"{type(error).__name__}: {error}"
                self.status = "failed"
        finally:
            with self._lock:
                self._finished = time.perf_counter()
            self._queue.done(self)

    def _on_step(self, step: int, total_steps: int, loss: float, blend: dict[str, list[float]]) -> None:
        with self._lock:
            self._steps.append(step)
            self._losses.append(loss)
            self._blends.append(blend)
            self._total_steps = total_steps

    def request_stop(self) -> None:
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def finished(self) -> bool:
        return self.status in ("done", "stopped", "failed", "cancelled")

    def queue_position(self) -> int | None:
        """0 while training, k while k-th in line, ``None`` once finished."""
        return None if self._queue is None else self._queue.position(self)

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.finished

    def snapshot(self) -> Snapshot:
        with self._lock:
            end = self._finished if self._finished is not None else time.perf_counter()
            elapsed = end - self._started if self.status != "queued" else 0.0
            snapshot = Snapshot(self.status, list(self._steps), list(self._losses), list(self._blends),
                                self._total_steps, elapsed, self.error)
        snapshot.queue_position = self.queue_position()
        return snapshot

    def stored_entry(self) -> dict:
        """What the Inspector and Blend pages read: ``{"model", "history", "settings"}``."""
        if self.result is None:
            raise RuntimeError(f"run {self.name!r} has no result ({self.status})")
        return {
            "model": self.result.model,
            "history": [asdict(log) for log in self.result.history],
            "settings": asdict(self.result.settings),
        }
