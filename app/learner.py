"""Which progress store a session writes to: the learner's record in the database, else memory.

A learner is named by a learner code kept in the address (``?learner=...``), so a reload, a server restart or a
replica that dies loses nothing, and the code can be typed on another device (:func:`learner_panel`). A first
visit to the lessons makes a new learner. If the database cannot be reached, the lessons keep working on a memory
store for the session, and say so once; the details go to the server log, never to the page.
"""

from __future__ import annotations

import json
import logging

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from container_edu.errors import ContainerEduError
from container_edu.progress import InventoryRecord, LessonRecord, MemoryStore, ProgressStore
from container_edu.progress.codes import LEARNER_CODE_LENGTH, CodeError, normalise_code
from container_edu.progress.database import SqlStore, default_url, new_learner, open_database

from app.i18n import N_, _

__all__ = ["LEARNER_PARAM", "STORE_KEY", "progress_store", "learner_panel", "DatabaseUnavailable"]

logger = logging.getLogger(__name__)

LEARNER_PARAM = "learner"
STORE_KEY = "learner_progress"
_NOTICE_KEY = "_learner_store_notice"
_DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


class DatabaseUnavailable(ContainerEduError, RuntimeError):
    """The progress database could not be reached (details in the server log)."""


@st.cache_resource(show_spinner=False)
def _engine(url: str):
    return open_database(url)


class FallbackStore:
    """A learner's database store that falls back to memory, for the rest of the session, when the database fails.

    A write that fails is rolled back by its transaction (nothing half-written) and kept in memory instead.
    """

    def __init__(self, primary: SqlStore):
        self.primary: SqlStore | None = primary
        self.memory = MemoryStore()
        self.learner = primary.learner

    def _call(self, name: str, *args):
        if self.primary is not None:
            try:
                return getattr(self.primary, name)(*args)
            except _DATABASE_ERRORS:
                logger.exception("progress database failed; this session continues in memory")
                self._fall_back()
        return getattr(self.memory, name)(*args)

    def _fall_back(self) -> None:
        primary, self.primary = self.primary, None
        try:  # what was stored so far stays visible in this session
            for lesson in _lessons_of(primary):
                self.memory._lessons[lesson] = primary.lesson(lesson)
        except _DATABASE_ERRORS:
            pass
        st.session_state[_NOTICE_KEY] = True

    @property
    def saved(self) -> bool:
        return self.primary is not None

    def lesson(self, lesson_key: str) -> LessonRecord:
        return self._call("lesson", lesson_key)

    def record_prediction(self, lesson_key: str, option: str | None) -> None:
        self._call("record_prediction", lesson_key, option)

    def record_reveal(self, lesson_key: str) -> None:
        self._call("record_reveal", lesson_key)

    def record_verify(self, lesson_key: str, passed: bool) -> None:
        self._call("record_verify", lesson_key, passed)

    def record_answer(self, lesson_key: str, question: int, option: str, correct: bool) -> None:
        self._call("record_answer", lesson_key, question, option, correct)

    def record_inventory(self, phase: str, answers: dict[int, str], score: float) -> None:
        self._call("record_inventory", phase, answers, score)

    def inventory(self, phase: str) -> InventoryRecord | None:
        return self._call("inventory", phase)


def _lessons_of(store: SqlStore) -> list[str]:
    return [row["lesson"] for row in store.export()["lessons"]]


def _open_learner(code: str | None) -> FallbackStore:
    engine = _engine(default_url())
    if code is not None:
        store = SqlStore(engine, code)
        if store.exists():
            return FallbackStore(store)
    return FallbackStore(SqlStore(engine, new_learner(engine)))


def progress_store() -> ProgressStore:
    """The session's store: the learner named in the address (a new one on a first visit), else memory."""
    store = st.session_state.get(STORE_KEY)
    if store is not None:
        return store
    raw = st.query_params.get(LEARNER_PARAM)
    try:
        code = normalise_code(raw, LEARNER_CODE_LENGTH) if raw else None
    except CodeError:
        code = None
    try:
        store = _open_learner(code)
    except _DATABASE_ERRORS:
        logger.exception("progress database unavailable; this session keeps its progress in memory")
        st.session_state[_NOTICE_KEY] = True
        store = MemoryStore()
    st.session_state[STORE_KEY] = store
    return store


def publish_learner() -> None:
    """Keep the learner's code in the address (page switches drop the query string)."""
    store = st.session_state.get(STORE_KEY)
    code = getattr(store, "learner", None)
    if code is not None and st.query_params.get(LEARNER_PARAM) != code:
        st.query_params[LEARNER_PARAM] = code


def _switch_learner() -> None:
    typed = st.session_state.get("learner_code_input", "")
    try:
        code = normalise_code(typed, LEARNER_CODE_LENGTH)
    except CodeError as error:
        st.session_state["_learner_code_error"] = error
        return
    try:
        store = SqlStore(_engine(default_url()), code)
        known = store.exists()
    except _DATABASE_ERRORS:
        logger.exception("progress database unavailable while switching learner")
        st.session_state[_NOTICE_KEY] = True
        return
    if not known:
        st.session_state["_learner_code_error"] = CodeError(
            N_("No learner has that code here: check it, or keep the one shown."))
        return
    st.session_state[STORE_KEY] = FallbackStore(store)
    st.query_params[LEARNER_PARAM] = code


def _delete_record() -> None:
    store = st.session_state.get(STORE_KEY)
    if isinstance(store, FallbackStore) and store.primary is not None:
        try:
            store.primary.delete()
        except _DATABASE_ERRORS:
            logger.exception("deleting a learner's record failed")
            st.session_state[_NOTICE_KEY] = True
            return
    st.session_state.pop(STORE_KEY, None)
    st.query_params.pop(LEARNER_PARAM, None)
    st.session_state["_learner_deleted"] = True


def learner_panel() -> None:
    """Where the progress is kept, the learner code, continue with another code, download or delete the record."""
    store = progress_store()
    publish_learner()
    if st.session_state.pop(_NOTICE_KEY, False):
        st.warning(_("Your progress cannot be saved right now: the lessons work as usual, but what you do is kept "
                     "only in this browser tab until it is closed."), icon=":material/cloud_off:")
    if st.session_state.pop("_learner_deleted", False):
        st.success(_("Your record was deleted. A new, empty one starts now."), icon=":material/delete:")
    saved = isinstance(store, FallbackStore) and store.saved
    title = (_("Progress saved · learner code {code}").format(code=_spaced(store.learner)) if saved
             else _("Progress kept in this tab only"))
    with st.expander(title, icon=":material/badge:", key="learner_panel"):
        if saved:
            st.markdown(_("Your progress is saved under the learner code **{code}**. It is in this page's address; "
                          "to continue on another device, type it there. No name, e-mail or IP address is "
                          "stored.").format(code=_spaced(store.learner)))
        st.text_input(_("Continue with a learner code"), key="learner_code_input", max_chars=4 * LEARNER_CODE_LENGTH,
                      on_change=_switch_learner, placeholder="ABCDE-FGHJK")
        error = st.session_state.pop("_learner_code_error", None)
        if error is not None:
            st.error(error.shown(_))
        if saved:
            record = json.dumps(store.primary.export(), indent=2, ensure_ascii=False)
            left, right = st.columns(2)
            left.download_button(_("Download my record (JSON)"), record, file_name=f"learner_{store.learner}.json",
                                 mime="application/json", key="learner_download", on_click="ignore")
            right.button(_("Delete my record"), key="learner_delete", on_click=_delete_record)


def _spaced(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"
