"""A page that crashes fails its test; an expected error stays a message (``app.errors``, ``tests/conftest.py``).

The page here is ``run_page`` with a body that raises what the session asks for, run
under ``AppTest`` like every page of the app.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from apptest_support import assert_errors, texts
from app.errors import RAISE_UNEXPECTED_ENV


def page_that_raises():
    import streamlit as st

    from app.errors import friendly_errors
    from app.page import run_page
    from container_edu.data.images import ImageError

    raised = {"bug": ZeroDivisionError("a bug"), "bad image": ImageError("That file is not an image."),
              "out of memory": MemoryError()}[st.session_state["raise"]]

    def body(ctx) -> None:
        st.markdown("drawn before the failure")
        if st.session_state.get("nested"):
            with friendly_errors("drawing an inner part"):
                raise raised
        raise raised

    run_page("Broken", body)


def run(what: str, nested: bool = False) -> AppTest:
    at = AppTest.from_function(page_that_raises, default_timeout=120)
    at.session_state["raise"] = what
    at.session_state["nested"] = nested
    return at


@pytest.mark.parametrize("nested", [False, True], ids=["body", "nested"])
def test_an_unexpected_exception_fails_the_run_after_its_message(nested):
    at = run("bug", nested)
    with pytest.raises(AssertionError, match="the page raised"):
        at.run()
    assert at.exception, "Streamlit saw the exception"
    shown = [e.value for e in at.error]
    assert len(shown) == 1 and "ZeroDivisionError" in shown[0], shown  # one message, also when nested


@pytest.mark.parametrize("what, message", [("bad image", "That file is not an image."),
                                           ("out of memory", "Not enough memory")])
def test_an_expected_error_is_only_its_message(what, message):
    at = run(what).run()
    assert_errors(at, message)
    assert "drawn before the failure" in texts(at.markdown)


def test_without_the_setting_a_learner_sees_the_message_and_no_traceback(monkeypatch):
    monkeypatch.setenv(RAISE_UNEXPECTED_ENV, "0")
    at = run("bug").run()
    assert not at.exception
    assert_errors(at, "Sorry, something went wrong while showing the Broken page (ZeroDivisionError)")


def test_the_suite_runs_with_the_setting_on():
    import os

    assert os.environ.get(RAISE_UNEXPECTED_ENV) == "1"
