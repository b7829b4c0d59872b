"""The app's page list, built from ``pages/*.py``, and a guard against Streamlit's legacy ``pages/`` mode.

``streamlit_app.py`` calls :func:`build_pages` for ``st.navigation``; pages
added by others (the Lessons, ``pages/6_*.py``) appear without editing it.
"""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

__all__ = ["PAGES_DIR", "PAGE_TITLE", "PAGE_ICON", "page_title", "build_pages", "set_page_config", "navigation",
           "ensure_navigation"]

ROOT = Path(__file__).resolve().parents[1]
PAGES_DIR = ROOT / "pages"
PAGE_TITLE = "Container, explained"
PAGE_ICON = ":material/hub:"
ICONS = {
    "home": ":material/home:",
    "affinity explorer": ":material/grid_on:",
    "image inspector": ":material/image_search:",
    "blend": ":material/tune:",
    "model zoo": ":material/inventory_2:",
    "lessons": ":material/school:",
}


def page_title(path: Path) -> str:
    """``pages/2_Affinity_explorer.py`` -> ``"Affinity explorer"``."""
    return re.sub(r"^\d+[_ -]*", "", path.stem).replace("_", " ").strip() or path.stem


def _order(path: Path) -> tuple[int, str]:
    match = re.match(r"^(\d+)", path.stem)
    return (int(match.group(1)) if match else 10_000, path.stem)


def build_pages() -> list:
    """One ``st.Page`` per ``pages/*.py``, sorted by the number prefix; the first is the default (Home)."""
    files = sorted((p for p in PAGES_DIR.glob("*.py") if not p.name.startswith(("_", "."))), key=_order)
    return [
        st.Page(str(path), title=page_title(path), icon=ICONS.get(page_title(path).lower(), ":material/article:"),
                default=index == 0)
        for index, path in enumerate(files)
    ]


def set_page_config() -> None:
    st.set_page_config(page_title=PAGE_TITLE, page_icon=PAGE_ICON, layout="wide", initial_sidebar_state="expanded")


# A fact about this server process (has the entry point's navigation ever run?), not per-user state.
_entry_point_ran = False


def navigation():
    """``st.navigation`` over :func:`build_pages` (for ``streamlit_app.py``); returns the page to run."""
    global _entry_point_ran
    page = st.navigation(build_pages(), position="sidebar")
    _entry_point_ran = True
    return page


def ensure_navigation() -> None:
    """Give a page the app's navigation and page config even when ``streamlit_app.py`` did not run.

    Streamlit starts a server in its legacy "pages directory" mode when a
    ``pages/`` folder sits beside the entry point and leaves it only when the
    entry point calls ``st.navigation``. If the first visitor opens a deep
    link (``/Image_inspector``), the page runs on its own: centred layout and
    a stray "streamlit app" entry in the menu, for later visitors too.
    Calling ``st.navigation`` here replaces that menu and ends the legacy
    mode (the page itself keeps running). A no-op once the entry point has
    run in this process (``AppTest`` re-enters the legacy mode on every run
    by design), or if Streamlit's internals change.
    """
    if _entry_point_ran:
        return
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a future Streamlit without it
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        set_page_config()
        st.navigation(build_pages(), position="sidebar")  # the returned page is this one, already running
