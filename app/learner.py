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
from container_edu.progress.codes import CLASS_CODE_LENGTH, LEARNER_CODE_LENGTH, CodeError, normalise_code
from container_edu.progress.database import SqlStore, default_url, join_class, new_learner, open_database

from app.i18n import N_, _
from app.write_limit import WriteLimiter, shared_limiter

__all__ = ["LEARNER_PARAM", "CLASS_PARAM", "STORE_KEY", "DATABASE_ERRORS", "progress_store", "learner_panel",
           "database_engine", "DatabaseUnavailable"]

logger = logging.getLogger(__name__)

LEARNER_PARAM = "learner"
#: ``?class=CODE`` on the Lessons page: a new learner made from this address joins that class.
CLASS_PARAM = "class"
STORE_KEY = "learner_progress"
_NOTICE_KEY = "_learner_store_notice"
_DATABASE_ERRORS = (SQLAlchemyError, OSError, TimeoutError)
DATABASE_ERRORS = _DATABASE_ERRORS
_CLASS_ERROR_KEY = "_learner_class_error"
_RATE_NOTICE_KEY = "_learner_rate_notice_shown"


class DatabaseUnavailable(ContainerEduError, RuntimeError):
    """The progress database could not be reached (details in the server log)."""


@st.cache_resource(show_spinner=False)
def _engine(url: str):
    return open_database(url)


def database_engine():
    """The progress database's engine, one per server process (its connection pool is shared by the sessions)."""
    return _engine(default_url())


class FallbackStore:
    """A learner's database store that falls back to memory, for the rest of the session, when the database fails.

    A write that fails is rolled back by its transaction (nothing half-written) and kept in memory instead.
    Writes beyond the learner's rate limit (:mod:`app.write_limit`) are refused whole, with one short notice.
    """

    def __init__(self, primary: SqlStore, limiter: WriteLimiter | None = None):
        self.primary: SqlStore | None = primary
        self.memory = MemoryStore()
        self.learner = primary.learner
        self.limiter = limiter if limiter is not None else shared_limiter()
        self.refused = 0

    def _write(self, name: str, *args) -> None:
        if not self.limiter.allow(self.learner):
            self.refused += 1
            logger.warning("learner write refused by the rate limit (%d refused in this session)", self.refused)
            if not st.session_state.get(_RATE_NOTICE_KEY):
                st.session_state[_RATE_NOTICE_KEY] = True
                st.toast(_("Too many saves at once: the last ones were not saved. Slow down a little."),
                         icon=":material/speed:")
            return
        self._call(name, *args)

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
        self._write("record_prediction", lesson_key, option)

    def record_reveal(self, lesson_key: str) -> None:
        self._write("record_reveal", lesson_key)

    def record_verify(self, lesson_key: str, passed: bool) -> None:
        self._write("record_verify", lesson_key, passed)

    def record_answer(self, lesson_key: str, question: int, option: str, correct: bool) -> None:
        self._write("record_answer", lesson_key, question, option, correct)

    def record_inventory(self, phase: str, answers: dict[int, str], score: float) -> None:
        self._write("record_inventory", phase, answers, score)

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
    return FallbackStore(SqlStore(engine, _new_learner(engine)))


def _new_learner(engine) -> str:
    """A new learner, in the class the address names (``?class=``) if there is one; else in none, and why."""
    raw = st.query_params.get(CLASS_PARAM)
    if raw:
        try:
            return new_learner(engine, class_code=raw)
        except CodeError as error:
            st.session_state[_CLASS_ERROR_KEY] = error
        finally:
            st.query_params.pop(CLASS_PARAM, None)  # joined or refused once; the address keeps the learner code
    return new_learner(engine)


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


def _join_class() -> None:
    store = st.session_state.get(STORE_KEY)
    if not isinstance(store, FallbackStore) or store.primary is None:
        return
    try:
        join_class(store.primary.engine, store.learner, st.session_state.get("learner_class_input", ""),
                   st.session_state.get("learner_nickname_input", ""))
    except CodeError as error:
        st.session_state[_CLASS_ERROR_KEY] = error
    except _DATABASE_ERRORS:
        logger.exception("progress database unavailable while joining a class")
        st.session_state[_NOTICE_KEY] = True
    else:
        st.session_state["_learner_joined"] = True


def _class_part(store: FallbackStore) -> None:
    """The class this learner is in, or a form to join one with its class code (and an optional nickname)."""
    learner = store.primary.export()["learner"] or {}
    if learner.get("class_code"):
        st.markdown(_("You are in the class **{code}**: your lecturer sees the class's answers together, not who "
                      "gave them.").format(code=learner["class_code"]))
    with st.form("learner_join", border=False, enter_to_submit=True):
        left, right = st.columns(2)
        left.text_input(_("Join a class: class code"), key="learner_class_input", max_chars=4 * CLASS_CODE_LENGTH,
                        placeholder="ABC234")
        right.text_input(_("Nickname (optional)"), key="learner_nickname_input", max_chars=40)
        st.form_submit_button(_("Join a class"), on_click=_join_class, icon=":material/group_add:")


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
    class_error = st.session_state.pop(_CLASS_ERROR_KEY, None)
    if class_error is not None:  # outside the expander: a refused class code must be seen
        st.error(class_error.shown(_), icon=":material/group_off:")
    if st.session_state.pop("_learner_joined", None):
        st.success(_("You joined the class."), icon=":material/group:")
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
            _class_part(store)
            record = json.dumps(store.primary.export(), indent=2, ensure_ascii=False)
            left, right = st.columns(2)
            left.download_button(_("Download my record (JSON)"), record, file_name=f"learner_{store.learner}.json",
                                 mime="application/json", key="learner_download", on_click="ignore")
            right.button(_("Delete my record"), key="learner_delete", on_click=_delete_record)


def _spaced(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"
