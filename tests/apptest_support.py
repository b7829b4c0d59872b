"""What the AppTest page tests share: opening a page, checking it did not fail, and reading its figures and texts.

A page that crashes shows no traceback: ``app.errors.friendly_errors`` draws an
``st.error`` instead. Under the tests (``CONTAINER_EDU_RAISE_UNEXPECTED=1``, set in
``conftest.py``) an unexpected exception is raised again and lands in
``at.exception``; an expected one (a bad image, missing weights) stays an error
box. ``conftest.py`` fails the test at any run that ends with an exception; a
page is clean when it has no error box either (:func:`assert_clean`), and a test
that provokes an expected error names it (:func:`assert_errors`).
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

REPO_ROOT = Path(__file__).resolve().parents[1]
ENTRY = str(REPO_ROOT / "streamlit_app.py")
HOME = "pages/1_Home.py"
EXPLORER = "pages/2_Affinity_explorer.py"
INSPECTOR = "pages/3_Image_inspector.py"
BLEND = "pages/4_Blend.py"
ZOO = "pages/5_Model_zoo.py"
LESSONS_PAGE = "pages/6_Lessons.py"
ANALYSIS = "pages/7_Analysis.py"
TIMEOUT = 300  # seconds one AppTest run may take: a limit for a hung run, not a speed goal


def start(page: str | None = None, session: dict | None = None, query: dict | None = None, *,
          clean: bool = True, timeout: float = TIMEOUT) -> AppTest:
    """The app opened on ``page`` through its entry point (navigation and page config run too).

    ``session`` and ``query`` are set before the first run; with ``clean`` the page must show
    neither an exception nor an error box.
    """
    at = AppTest.from_file(ENTRY, default_timeout=timeout)
    for key, value in (session or {}).items():
        at.session_state[key] = value
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if page:
        at.switch_page(page)
    at.run()
    if clean:
        assert_clean(at)
    else:
        assert_no_exception(at)
    return at


def open_link(page: str, params: dict[str, str]) -> AppTest:
    """``page`` opened from an address with the query ``params`` (a shared link), in a new session; clean."""
    return start(page, query=params)


def texts(elements) -> str:
    return " | ".join(str(e.value) for e in elements)


def assert_no_exception(at: AppTest) -> None:
    """No exception reached Streamlit (the friendly message of the one that did names its type)."""
    assert not at.exception, (f"the page raised; its error boxes say: {texts(at.error)}",
                              [e.value for e in at.exception])


def assert_clean(at: AppTest) -> None:
    """Neither an exception nor an error box: a crashed page and a friendly error both fail this."""
    assert_no_exception(at)
    assert not at.error, texts(at.error)


def assert_errors(at: AppTest, *expected: str) -> None:
    """No exception, and the error boxes are exactly the expected ones: each box contains one of ``expected``
    and each of ``expected`` is in some box."""
    assert_no_exception(at)
    shown = [str(e.value) for e in at.error]
    unexpected = [box for box in shown if not any(part in box for part in expected)]
    missing = [part for part in expected if not any(part in box for box in shown)]
    assert not unexpected and not missing, {"unexpected": unexpected, "missing": missing}


def figures_of(at: AppTest) -> list[dict]:
    """The Plotly figures on the page, as dicts."""
    return [json.loads(element.proto.spec) for element in at.get("plotly_chart")]


def figure_title(figure: dict) -> str:
    return figure.get("layout", {}).get("title", {}).get("text", "").replace("<br>", " ")


def figure_titled(at: AppTest, pattern: str) -> dict:
    """The first figure whose title (line breaks read as spaces) matches the regular expression ``pattern``."""
    for figure in figures_of(at):
        if re.search(pattern, figure_title(figure)):
            return figure
    raise AssertionError(f"no figure titled like {pattern!r}; titles: {[figure_title(f) for f in figures_of(at)]}")


def values(data) -> np.ndarray:
    """A Plotly array as NumPy: plain lists, or Plotly 6+'s typed arrays ``{"bdata", "dtype", "shape"}``."""
    if isinstance(data, dict) and "bdata" in data:
        array = np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
        shape = [int(n) for n in str(data.get("shape", len(array))).split(",")]
        return array.reshape(shape)
    return np.asarray(data)


def heatmaps(figure: dict) -> list[np.ndarray]:
    return [values(trace["z"]) for trace in figure["data"] if trace["type"] == "heatmap"]
