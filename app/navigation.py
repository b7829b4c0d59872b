"""The app's pages, listed once, and the page config every page shares.

``streamlit_app.py`` is Streamlit's multipage pattern verbatim::

    set_page_config()
    st.navigation(pages()).run()

:func:`pages` lists every page explicitly (file in ``pages/``, title, icon,
URL path); a new page is one more line there.

One Streamlit behaviour needs handling: a ``pages/`` folder beside the entry
point puts a fresh server in Streamlit's legacy "pages directory" mode until
some run has called ``st.navigation``. If the very first request is a deep
link (``/Image_inspector``), Streamlit then runs that page file on its own,
without the entry point. Drawing the page in that run gives its widgets other
ids than in every later run (Streamlit derives a widget's id from the script
that is running), so the visitor's first widget change is dropped.
:func:`hand_over_legacy_run` makes that run draw the page through the
navigation, exactly as later runs do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from app.i18n import N_, _

__all__ = ["PAGES_DIR", "PAGE_TITLE", "PAGE_ICON", "PageSpec", "PAGE_SPECS", "pages", "set_page_config",
           "hand_over_legacy_run"]

PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"
PAGE_TITLE = N_("Container, explained")  # translated where drawn: the language is the session's
PAGE_ICON = ":material/hub:"


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: its file in ``pages/``, its title (English, marked for translation) and icon in the
    menu, and its URL path (never translated: links work in every language)."""

    file: str
    title: str
    icon: str
    url_path: str


#: The app's pages in menu order; the first is the default (served at ``/``). The URL paths are the ones
#: Streamlit derives from the file names, so links shared before stay valid.
PAGE_SPECS: tuple[PageSpec, ...] = (
    PageSpec("1_Home.py", N_("Home"), ":material/home:", "Home"),
    PageSpec("2_Affinity_explorer.py", N_("Affinity explorer"), ":material/grid_on:", "Affinity_explorer"),
    PageSpec("3_Image_inspector.py", N_("Image inspector"), ":material/image_search:", "Image_inspector"),
    PageSpec("4_Blend.py", N_("Blend"), ":material/tune:", "Blend"),
    PageSpec("5_Model_zoo.py", N_("Model zoo"), ":material/inventory_2:", "Model_zoo"),
    PageSpec("6_Lessons.py", N_("Lessons"), ":material/school:", "Lessons"),
    PageSpec("7_Analysis.py", N_("Analysis"), ":material/query_stats:", "Analysis"),
    PageSpec("8_Class_view.py", N_("Class view"), ":material/groups:", "Class_view"),
)


def pages() -> list[st.Page]:
    """``st.Page`` objects for ``st.navigation`` (built inside a script run, as Streamlit requires)."""
    return [st.Page(PAGES_DIR / spec.file, title=_(spec.title), icon=spec.icon, url_path=spec.url_path,
                    default=index == 0)
            for index, spec in enumerate(PAGE_SPECS)]


def set_page_config() -> None:
    st.set_page_config(page_title=_(PAGE_TITLE), page_icon=PAGE_ICON, layout="wide", initial_sidebar_state="auto")


def hand_over_legacy_run() -> bool:
    """In a legacy "pages directory" run, run the requested page through the navigation; ``True`` if it did.

    Called by every page before it draws anything (:func:`app.page.run_page`).
    Streamlit's legacy mode runs a page file directly when a fresh server's
    first visitor arrives by a deep link. Here the page file calls
    ``st.navigation`` (which also ends the legacy mode for the whole server)
    and runs the page it returns: the requested one, with the same address
    and query parameters. The page is drawn inside ``Page.run`` as in every
    later run, so its widgets keep their ids and the visitor's first change
    takes effect. The caller draws nothing more when this returns ``True``.

    ``False`` in a normal run, where the entry point's navigation already
    runs the page (also when Streamlit no longer has the legacy mode).
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a future Streamlit without the legacy mode
        return False
    if not getattr(PagesManager, "uses_pages_directory", False):
        return False
    set_page_config()
    st.navigation(pages(), position="sidebar").run()
    return True
