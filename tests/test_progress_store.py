"""The learner-progress store, the same tests on SQLite (the default) and on a real PostgreSQL server."""

from __future__ import annotations

import queue
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from container_edu.progress import MemoryStore, normalised_gain  # noqa: E402
from container_edu.progress.codes import (ALPHABET, CLASS_CODE_LENGTH, LEARNER_CODE_LENGTH, CodeError,  # noqa: E402
                                          new_learner_code, normalise_code)
from clocks import TickingClock  # noqa: E402
from container_edu.progress.database import (DATABASE_URL_ENV, SqlStore, create_class, default_url,  # noqa: E402
                                             new_learner, open_database, teacher_key_matches)


def stores(engine):
    """A database store and a memory store with the same clock: every behaviour is checked on both."""
    learner = new_learner(engine)
    return SqlStore(engine, learner, clock=TickingClock()), MemoryStore(clock=TickingClock())


def test_a_lesson_completes_only_when_predicted_before_the_reveal_verified_and_answered(engine):
    for store in stores(engine):
        store.record_answer("conv", 0, "wrong", False)
        store.record_answer("conv", 0, "right", True)
        assert not store.lesson("conv").complete(1), "answers alone do not complete a lesson"
        store.record_prediction("conv", "banded")
        store.record_reveal("conv")
        store.record_verify("conv", True)
        record = store.lesson("conv")
        assert record.complete(1)
        assert record.first_attempt_correct(0) is False and record.eventually_correct(0)
        assert record.prediction == "banded" and record.predicted_before_reveal


def test_a_prediction_changed_after_the_reveal_is_not_one_made_before_it(engine):
    for store in stores(engine):
        store.record_reveal("mixer")
        store.record_prediction("mixer", "after")
        store.record_verify("mixer", True)
        store.record_answer("mixer", 0, "x", True)
        assert store.lesson("mixer").predicted_before_reveal is False
        assert not store.lesson("mixer").complete(1)


def test_inventory_scores_and_gain_survive_a_new_connection(engine, tmp_path):
    sql, _memory = stores(engine)
    sql.record_inventory("pre", {0: "a", 1: "b"}, 30.0)
    sql.record_inventory("post", {0: "a", 1: "c"}, 80.0)
    again = SqlStore(open_database(str(engine.url.render_as_string(hide_password=False))), sql.learner)
    pre, post = again.inventory("pre"), again.inventory("post")
    assert pre.answers == {0: "a", 1: "b"} and pre.score == 30.0 and post.score == 80.0
    assert normalised_gain(pre.score, post.score) == pytest.approx(50 / 70)
    with pytest.raises(ValueError):
        again.record_inventory("mid", {}, 0.0)


def test_a_learner_reads_only_their_own_record_exports_it_and_deletes_it(engine):
    first, _ = stores(engine)
    second, _ = stores(engine)
    first.record_prediction("attention", "mine")
    first.record_answer("attention", 1, "a", True)
    assert second.lesson("attention").prediction is None and not second.lesson("attention").attempts
    exported = first.export()
    assert exported["learner"]["code"] == first.learner
    assert [row["prediction"] for row in exported["lessons"]] == ["mine"]
    assert [row["option"] for row in exported["answers"]] == ["a"]
    first.delete()
    assert not first.exists() and second.exists()
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM answers WHERE learner = :l"),
                                  {"l": first.learner}).scalar() == 0


def test_classes_keep_only_a_hash_of_the_teacher_key(engine):
    code, key = create_class(engine, "Lab 3")
    assert len(code) == CLASS_CODE_LENGTH and set(code) <= set(ALPHABET)
    assert teacher_key_matches(engine, code, key)
    assert not teacher_key_matches(engine, code, key + "x")
    other_code = "".join(reversed(code)) if "".join(reversed(code)) != code else "ZZZZZZ"
    assert not teacher_key_matches(engine, other_code, key), "an unknown class opens nothing"
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT teacher_key_hash FROM classes WHERE code = :c"),
                                    {"c": code}).scalar()
    assert key not in stored
    learner = new_learner(engine, class_code=code.lower())  # codes are forgiving about case
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT class_code FROM learners WHERE code = :l"),
                                  {"l": learner}).scalar() == code
    with pytest.raises(CodeError):
        new_learner(engine, class_code="ZZZZZ2" if code != "ZZZZZ2" else "ZZZZZ3")


@pytest.mark.parametrize("text", ["", "abc", "0O1IL0O1IL", "'; DROP TABLE learners; --", "A" * 500, None, 12])
def test_codes_outside_the_alphabet_or_length_are_refused_before_any_query(text):
    with pytest.raises(CodeError):
        normalise_code(text, LEARNER_CODE_LENGTH)


def test_codes_are_random_over_the_alphabet():
    codes = {new_learner_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(code) == LEARNER_CODE_LENGTH and set(code) <= set(ALPHABET) for code in codes)
    assert normalise_code(" " + "-".join([next(iter(codes))[:5], next(iter(codes))[5:]]).lower() + " ",
                          LEARNER_CODE_LENGTH) == next(iter(codes))


def test_the_default_database_is_sqlite_in_the_user_data_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    url = default_url()
    assert url.startswith("sqlite:///") and str(tmp_path) in url
    engine = open_database()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    monkeypatch.setenv(DATABASE_URL_ENV, "postgresql://someone@db.example/course")
    assert default_url() == "postgresql://someone@db.example/course"


def _open_and_write(url: str, results) -> None:
    try:
        engine = open_database(url)  # its own engine: its own connections, as a replica has
        store = SqlStore(engine, new_learner(engine))
        for index in range(20):
            store.record_answer("matrix", index % 3, f"o{index}", index % 2 == 0)
        results.put(sum(len(v) for v in store.lesson("matrix").attempts.values()))
    except Exception as error:  # noqa: BLE001 - reported to the parent, which fails the test
        results.put(repr(error))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_replicas_opening_one_fresh_database_together_migrate_once_and_lose_no_write(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}" if backend == "sqlite" else None
    if url is None:
        base = request.getfixturevalue("postgres_url")
        admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
        name = f"race_{tmp_path.name[-8:].lower()}".replace("-", "_")
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        admin.dispose()
        url = base.rsplit("/", 1)[0] + "/" + name
    # Threads with one engine each (processes would spend their time importing torch): the race is in the database.
    results = queue.Queue()
    workers = [threading.Thread(target=_open_and_write, args=(url, results)) for _ in range(3)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert outcomes == [20, 20, 20], outcomes
