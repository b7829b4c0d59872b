"""Learner progress in a database: SQLite by default, PostgreSQL across replicas, one schema for both.

``CONTAINER_EDU_DATABASE_URL`` names the database (``postgresql://user@host/db`` for replicas behind a load
balancer); without it, a SQLite file in the per-user data folder (``platformdirs``) in WAL mode, so that a
learner's laptop or a one-machine classroom needs nothing installed or started. The schema is made and upgraded
by Alembic migrations (``container_edu/progress/migrations``) when a database is opened, under a lock, so that
replicas starting together migrate once.

Every write is one transaction: a lesson's record is read, changed and written back under a row lock, so a
prediction, a reveal or an answer is stored whole or not at all. Queries are SQLAlchemy Core expressions (bound
parameters only); codes are validated (:mod:`container_edu.progress.codes`) before they reach one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from container_edu.progress.codes import (CLASS_CODE_LENGTH, LEARNER_CODE_LENGTH, CodeError, hash_key, key_matches,
                                          new_class_code, new_learner_code, new_teacher_key, normalise_code)
from container_edu.progress.records import INVENTORY_PHASES, Attempt, InventoryRecord, LessonRecord
from container_edu.text import N_

__all__ = ["DATABASE_URL_ENV", "default_url", "open_database", "SqlStore", "create_class", "new_learner",
           "class_of", "join_class", "teacher_key_matches", "METADATA"]

DATABASE_URL_ENV = "CONTAINER_EDU_DATABASE_URL"
MIGRATIONS = Path(__file__).with_name("migrations")
# A fixed number: pg_advisory_xact_lock takes a bigint, the same for every replica of this app.
_MIGRATION_LOCK_ID = 0x0C0E_ED00

METADATA = sa.MetaData()
CLASSES = sa.Table(
    "classes", METADATA,
    sa.Column("code", sa.String(CLASS_CODE_LENGTH), primary_key=True),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("teacher_key_hash", sa.String(100), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)
LEARNERS = sa.Table(
    "learners", METADATA,
    sa.Column("code", sa.String(LEARNER_CODE_LENGTH), primary_key=True),
    sa.Column("class_code", sa.String(CLASS_CODE_LENGTH), sa.ForeignKey("classes.code"), nullable=True),
    sa.Column("nickname", sa.String(40), nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)
LESSONS = sa.Table(
    "lessons", METADATA,
    sa.Column("learner", sa.String(LEARNER_CODE_LENGTH), sa.ForeignKey("learners.code", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("lesson", sa.String(40), primary_key=True),
    sa.Column("prediction", sa.String(400), nullable=True),
    sa.Column("predicted_at", sa.Float, nullable=True),
    sa.Column("predicted_before_reveal", sa.Boolean, nullable=True),
    sa.Column("revealed_at", sa.Float, nullable=True),
    sa.Column("verified_at", sa.Float, nullable=True),
    sa.Column("verify_passed", sa.Boolean, nullable=True),
)
ANSWERS = sa.Table(
    "answers", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("learner", sa.String(LEARNER_CODE_LENGTH), sa.ForeignKey("learners.code", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("lesson", sa.String(40), nullable=False),
    sa.Column("question", sa.Integer, nullable=False),
    sa.Column("option", sa.String(400), nullable=False),
    sa.Column("correct", sa.Boolean, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)
INVENTORY = sa.Table(
    "inventory", METADATA,
    sa.Column("learner", sa.String(LEARNER_CODE_LENGTH), sa.ForeignKey("learners.code", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("phase", sa.String(4), primary_key=True),
    sa.Column("answers", sa.Text, nullable=False),  # JSON {question index: English option}
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)
_LESSON_FIELDS = ("prediction", "predicted_at", "predicted_before_reveal", "revealed_at", "verified_at",
                  "verify_passed")


def default_url() -> str:
    """``CONTAINER_EDU_DATABASE_URL``, else a SQLite file in the per-user data folder."""
    url = os.environ.get(DATABASE_URL_ENV, "").strip()
    if url:
        return url
    import platformdirs

    folder = Path(platformdirs.user_data_dir("container_edu", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'progress.sqlite3'}"


def _driver_url(url: str) -> str:
    # psycopg 3 is the driver installed; SQLAlchemy's bare "postgresql://" would look for psycopg2.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not wait for a writer: one file, several replicas
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def open_database(url: str | None = None) -> Engine:
    """An engine on ``url`` (default: :func:`default_url`) with the schema migrated to the newest version."""
    url = _driver_url(url or default_url())
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 10})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    _migrate(engine)
    return engine


def _migrate(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        from filelock import FileLock

        lock = FileLock(str(engine.url.database) + ".migrate.lock")
    else:
        lock = None
    if lock is not None:
        lock.acquire(timeout=120)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        if lock is not None:
            lock.release()


# ----------------------------------------------------------------------------- learners and classes


def new_learner(engine: Engine, class_code: str | None = None, nickname: str | None = None,
                clock: Callable[[], float] = time.time) -> str:
    """A new learner (optionally in a class); returns their code. No names, e-mails or addresses are stored."""
    if class_code is not None:
        class_code = normalise_code(class_code, CLASS_CODE_LENGTH)
    nickname = (nickname or "").strip()[:40] or None
    with engine.begin() as connection:
        if class_code is not None and class_of(connection, class_code) is None:
            raise CodeError(N_("No class has that code."))
        code = new_learner_code()
        connection.execute(LEARNERS.insert().values(code=code, class_code=class_code, nickname=nickname,
                                                    created_at=clock()))
    return code


def create_class(engine: Engine, name: str, clock: Callable[[], float] = time.time) -> tuple[str, str]:
    """A new class: ``(class code, teacher key)``; only the key's salted hash is stored."""
    key = new_teacher_key()
    with engine.begin() as connection:
        code = new_class_code()
        connection.execute(CLASSES.insert().values(code=code, name=name.strip()[:120] or "class",
                                                   teacher_key_hash=hash_key(key), created_at=clock()))
    return code, key


def class_of(connection: Connection, class_code: str) -> dict | None:
    row = connection.execute(sa.select(CLASSES).where(CLASSES.c.code == class_code)).mappings().first()
    return dict(row) if row else None


def join_class(engine: Engine, learner_code: str, class_code: str, nickname: str | None = None) -> None:
    """Put learner ``learner_code`` in class ``class_code`` (optionally with a nickname of at most 40 characters).

    :class:`CodeError` for a code that is not well formed, an unknown class or an unknown learner.
    """
    learner = normalise_code(learner_code, LEARNER_CODE_LENGTH)
    code = normalise_code(class_code, CLASS_CODE_LENGTH)
    nickname = (nickname or "").strip()[:40] or None
    with engine.begin() as connection:
        if class_of(connection, code) is None:
            raise CodeError(N_("No class has that code."))
        changed = connection.execute(LEARNERS.update().where(LEARNERS.c.code == learner)
                                     .values(class_code=code, nickname=nickname)).rowcount
        if changed != 1:
            raise CodeError(N_("No learner has that code here: check it, or keep the one shown."))


def teacher_key_matches(engine: Engine, class_code: str, key: str) -> bool:
    """Whether ``key`` opens class ``class_code``'s view (False for an unknown class: no hint either way)."""
    code = normalise_code(class_code, CLASS_CODE_LENGTH)
    with engine.connect() as connection:
        found = class_of(connection, code)
    return found is not None and key_matches(key, found["teacher_key_hash"])


# ----------------------------------------------------------------------------- one learner's store


class SqlStore:
    """A :class:`~container_edu.progress.records.ProgressStore` for the learner ``learner_code``."""

    def __init__(self, engine: Engine, learner_code: str, clock: Callable[[], float] = time.time):
        self.engine = engine
        self.learner = normalise_code(learner_code, LEARNER_CODE_LENGTH)
        self._clock = clock

    def exists(self) -> bool:
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(LEARNERS.c.code).where(LEARNERS.c.code == self.learner)).first() is not None

    def _read_row(self, connection: Connection, lesson_key: str, *, lock: bool = False) -> tuple[LessonRecord, bool]:
        """The lesson's own fields (no answers) and whether its row exists; ``lock`` holds the row till commit."""
        query = sa.select(LESSONS).where(LESSONS.c.learner == self.learner, LESSONS.c.lesson == lesson_key)
        if lock:
            query = query.with_for_update()
        row = connection.execute(query).mappings().first()
        record = LessonRecord(**{name: row[name] for name in _LESSON_FIELDS}) if row else LessonRecord()
        return record, row is not None

    def _write(self, connection: Connection, lesson_key: str, record: LessonRecord, existed: bool) -> None:
        values = {name: getattr(record, name) for name in _LESSON_FIELDS}
        if existed:
            connection.execute(LESSONS.update().where(LESSONS.c.learner == self.learner,
                                                      LESSONS.c.lesson == lesson_key).values(**values))
        else:
            connection.execute(LESSONS.insert().values(learner=self.learner, lesson=lesson_key, **values))

    def _change(self, lesson_key: str, change: Callable[[LessonRecord], None]) -> None:
        with self.engine.begin() as connection:
            # The changes touch the lesson's own fields only: its answers need not be read.
            record, existed = self._read_row(connection, lesson_key, lock=True)
            change(record)
            self._write(connection, lesson_key, record, existed)

    def lesson(self, lesson_key: str) -> LessonRecord:
        with self.engine.connect() as connection:
            record, _existed = self._read_row(connection, lesson_key)
            answers = connection.execute(
                sa.select(ANSWERS).where(ANSWERS.c.learner == self.learner, ANSWERS.c.lesson == lesson_key)
                .order_by(ANSWERS.c.id)).mappings()
            for answer in answers:
                record.attempts.setdefault(answer["question"], []).append(
                    Attempt(answer["option"], bool(answer["correct"]), answer["at"]))
        return record

    def record_prediction(self, lesson_key: str, option: str | None) -> None:
        now = self._clock()
        self._change(lesson_key, lambda record: record.predict(option, now))

    def record_reveal(self, lesson_key: str) -> None:
        now = self._clock()
        self._change(lesson_key, lambda record: record.reveal(now))

    def record_verify(self, lesson_key: str, passed: bool) -> None:
        now = self._clock()
        self._change(lesson_key, lambda record: record.verify(passed, now))

    def record_answer(self, lesson_key: str, question: int, option: str, correct: bool) -> None:
        with self.engine.begin() as connection:
            connection.execute(ANSWERS.insert().values(learner=self.learner, lesson=lesson_key, question=question,
                                                       option=option, correct=correct, at=self._clock()))

    def record_inventory(self, phase: str, answers: dict[int, str], score: float) -> None:
        if phase not in INVENTORY_PHASES:
            raise ValueError(f"phase must be 'pre' or 'post', not {phase!r}")
        values = {"answers": json.dumps({str(k): v for k, v in answers.items()}), "score": float(score),
                  "at": self._clock()}
        with self.engine.begin() as connection:
            where = (INVENTORY.c.learner == self.learner) & (INVENTORY.c.phase == phase)
            if connection.execute(sa.select(INVENTORY.c.phase).where(where).with_for_update()).first():
                connection.execute(INVENTORY.update().where(where).values(**values))
            else:
                connection.execute(INVENTORY.insert().values(learner=self.learner, phase=phase, **values))

    def inventory(self, phase: str) -> InventoryRecord | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(INVENTORY).where(
                INVENTORY.c.learner == self.learner, INVENTORY.c.phase == phase)).mappings().first()
        if row is None:
            return None
        return InventoryRecord({int(k): v for k, v in json.loads(row["answers"]).items()}, row["score"], row["at"])

    def export(self) -> dict:
        """Everything stored about this learner, as plain data (their download)."""
        with self.engine.connect() as connection:
            learner = connection.execute(sa.select(LEARNERS).where(LEARNERS.c.code == self.learner)).mappings().first()
            lessons = [dict(row) for row in connection.execute(
                sa.select(LESSONS).where(LESSONS.c.learner == self.learner).order_by(LESSONS.c.lesson)).mappings()]
            answers = [dict(row) for row in connection.execute(
                sa.select(ANSWERS).where(ANSWERS.c.learner == self.learner).order_by(ANSWERS.c.id)).mappings()]
            inventory = [dict(row) for row in connection.execute(
                sa.select(INVENTORY).where(INVENTORY.c.learner == self.learner)).mappings()]
        for answer in answers:
            answer.pop("id")
        return {"learner": dict(learner) if learner else None, "lessons": lessons, "answers": answers,
                "inventory": inventory}

    def delete(self) -> None:
        """Remove every row of this learner (their right to delete their record)."""
        with self.engine.begin() as connection:
            for table in (ANSWERS, INVENTORY, LESSONS):
                connection.execute(table.delete().where(table.c.learner == self.learner))
            connection.execute(LEARNERS.delete().where(LEARNERS.c.code == self.learner))
