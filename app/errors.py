"""Turning exceptions into messages a learner can act on; tracebacks go to the server log only."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

import streamlit as st

from container_edu.errors import ContainerEduError

from app.i18n import _

__all__ = ["EXPECTED_ERRORS", "RAISE_UNEXPECTED_ENV", "friendly_message", "friendly_errors", "logger",
           "raise_if_unexpected_under_tests"]

logger = logging.getLogger("container_edu.app")

#: The project's own errors (one base class): their messages are written for the user and shown translated.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (ContainerEduError,)

#: Set to 1 by the test suite (tests/conftest.py) so that a page that crashes fails its test: an unexpected
#: exception is still drawn as a friendly message, then raised again for Streamlit (and AppTest) to see.
RAISE_UNEXPECTED_ENV = "CONTAINER_EDU_RAISE_UNEXPECTED"


def friendly_message(error: BaseException, what: str) -> str:
    """What to show for ``error`` raised while doing ``what`` (never a traceback; ``what`` comes translated)."""
    if isinstance(error, ContainerEduError):  # the core's own sentence, its template translated, then filled
        from app.deployment import without_server_folders  # here: deployment imports the registry, which imports this

        return without_server_folders(error.shown(_))
    if isinstance(error, MemoryError):
        return _("Not enough memory for {what}. Try a smaller grid, image or model.").format(what=what)
    return _(
        "Sorry, something went wrong while {what} ({error}). The details were written to the "
        "server log. Try other settings or another image; reloading the page starts afresh."
    ).format(what=what, error=type(error).__name__)


def raise_if_unexpected_under_tests(error: BaseException) -> None:
    """Raise ``error`` again when it is a bug (not an expected error, not MemoryError) and the tests asked for it.

    Call it from an ``except`` block after the learner's message is drawn. A learner never sees the
    difference: the setting is off outside the test suite. Running out of memory is the learner's settings
    meeting the machine, with its own advice, so it counts as expected.
    """
    if isinstance(error, (*EXPECTED_ERRORS, MemoryError)) or os.environ.get(RAISE_UNEXPECTED_ENV) != "1":
        return
    error._container_edu_shown = True  # an enclosing friendly_errors lets it through without a second message
    raise error


@contextlib.contextmanager
def friendly_errors(what: str) -> Iterator[None]:
    """Show any exception raised inside as an ``st.error`` and log its traceback.

    Streamlit's own control flow (``st.stop``, ``st.rerun``) derives from
    ``BaseException`` and passes through untouched. Under the tests an unexpected
    exception is raised again after its message (:func:`raise_if_unexpected_under_tests`).
    """
    try:
        yield
    except Exception as error:  # noqa: BLE001 - the point is to catch everything a page may raise
        if getattr(error, "_container_edu_shown", False):
            raise
        if isinstance(error, EXPECTED_ERRORS):
            logger.warning("%s: %s", what, error)
        else:
            logger.exception("unexpected error while %s", what)
        st.error(friendly_message(error, what), icon=":material/error:")
        raise_if_unexpected_under_tests(error)
