"""A training run in a background thread that a Streamlit session can watch and stop (no Streamlit here).

Why a thread: ``container_edu.train.train`` runs the whole loop in one call,
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

A process-wide semaphore lets one run train at a time: training is
CPU-bound, and two runs at once would each take twice as long.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field

from container_edu.train import TrainResult, TrainSettings, train

#: At most this many live training runs at once in this process (all sessions together).
MAX_CONCURRENT_RUNS = 1
#: Models a session keeps from live training; the oldest goes first (each holds its weights in memory).
MAX_KEPT_MODELS = 3


def keep_trained(destination: dict, name: str, entry: dict, limit: int = MAX_KEPT_MODELS) -> None:
    """Store ``entry`` under ``name`` as the newest run, dropping the oldest beyond ``limit``."""
    destination.pop(name, None)
    destination[name] = entry
    while len(destination) > limit:
        destination.pop(next(iter(destination)))
_RUN_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_RUNS)


@dataclass
class Snapshot:
    status: str
    steps: list[int]
    losses: list[float]
    blends: list[dict[str, list[float]]]
    total_steps: int
    elapsed: float
    error: str | None


@dataclass
class TrainingJob:
    """One live training run. States: ``waiting`` -> ``running`` -> ``done`` | ``stopped`` | ``failed``."""

    name: str
    settings: TrainSettings
    #: Where the finished run is stored: the session's ``trained_models`` dict (a plain dict, so the thread may write
    #: to it without Streamlit), so that the other pages see the run even if the learner left the lesson.
    destination: dict | None = None
    #: The folder to train from (``None``: the full set's usual folder); the lesson passes the shipped subset's
    #: folder when the full set is absent.
    data_dir: str | None = None
    status: str = "waiting"
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

    @classmethod
    def start(cls, name: str, settings: TrainSettings, destination: dict | None = None,
              data_dir: str | None = None) -> "TrainingJob | None":
        """Start a run, or return ``None`` when another run holds the CPU."""
        if not _RUN_SLOTS.acquire(blocking=False):
            return None
        job = cls(name, settings, destination, None if data_dir is None else str(data_dir))
        job._started = time.perf_counter()
        job._thread = threading.Thread(target=job._run, name=f"lesson-training-{name}", daemon=True)
        job._thread.start()
        return job

    def _run(self) -> None:
        try:
            with self._lock:
                self.status = "running"
            result = train(self.settings, data_dir=self.data_dir, evaluate_test=False, on_step=self._on_step, should_stop=self._stop.is_set)
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
            _RUN_SLOTS.release()

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
        return self.status in ("done", "stopped", "failed")

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.finished

    def snapshot(self) -> Snapshot:
        with self._lock:
            end = self._finished if self._finished is not None else time.perf_counter()
            return Snapshot(self.status, list(self._steps), list(self._losses), list(self._blends),
                            self._total_steps, end - self._started, self.error)

    def stored_entry(self) -> dict:
        """What the Inspector and Blend pages read: ``{"model", "history", "settings"}``."""
        if self.result is None:
            raise RuntimeError(f"run {self.name!r} has no result ({self.status})")
        return {
            "model": self.result.model,
            "history": [asdict(log) for log in self.result.history],
            "settings": asdict(self.result.settings),
        }
