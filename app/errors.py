"""Turning exceptions into messages a learner can act on; tracebacks go to the server log only."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import streamlit as st

from container_edu.errors import ContainerEduError
from container_edu.hub.checkpoints import CheckpointError
from container_edu.data import DatasetError
from container_edu.data.images import ImageError
from container_edu.hub.bundled import PretrainedError
from container_edu.hub.weights_store import WeightsError

from app.i18n import _

__all__ = ["EXPECTED_ERRORS", "friendly_message", "friendly_errors", "logger"]

logger = logging.getLogger("container_edu.app")

#: The project's own error types: their messages are written for the user and shown as they are.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (ImageError, CheckpointError, PretrainedError, DatasetError,
                                                    WeightsError)


def friendly_message(error: BaseException, what: str) -> str:
    """What to show for ``error`` raised while doing ``what`` (never a traceback; ``what`` comes translated)."""
    if isinstance(error, ContainerEduError):  # the core's own sentence, its template translated, then filled
        return error.shown(_)
    if isinstance(error, MemoryError):
        return _("Not enough memory for {what}. Try a smaller grid, image or model.").format(what=what)
    return _(
        "Sorry, something went wrong while {what} ({error}). The details were written to the "
        "server log. Try other settings or another image; reloading the page starts afresh."
    ).format(what=what, error=type(error).__name__)


@contextlib.contextmanager
def friendly_errors(what: str) -> Iterator[None]:
    """Show any exception raised inside as an ``st.error`` and log its traceback.

    Streamlit's own control flow (``st.stop``, ``st.rerun``) derives from
    ``BaseException`` and passes through untouched.
    """
    try:
        yield
    except Exception as error:  # noqa: BLE001 - the point is to catch everything a page may raise
        if isinstance(error, EXPECTED_ERRORS):
            logger.warning("%s: %s", what, error)
        else:
            logger.exception("unexpected error while %s", what)
        st.error(friendly_message(error, what), icon=":material/error:")
