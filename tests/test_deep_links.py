"""Deep links on a fresh server: the first request may be any page's address, and the first change takes effect.

For every page the test starts a FRESH ``streamlit run streamlit_app.py``
(Streamlit decides per server process how it treats a ``pages/`` folder, so
only a new server shows what a first visitor sees), opens that page's address
as the server's very first request, waits for the page to finish drawing,
makes ONE widget change and waits until it shows its effect. Before the fix
in ``app.navigation.hand_over_legacy_run`` the first change was dropped on a
deep link (the second one worked). The Lessons page is opened with a query
parameter (``?lesson=...``), which must be honoured as well.

One browser is shared; each page gets its own browser context (no cookies or
cache from the page before). Waits are on conditions with generous limits;
nothing here measures time (``tools/cold_start.py`` does).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from browser_support import (
    ACTION_TIMEOUT_S,
    REPO_ROOT,
    assert_no_exception,
    chromium,
    require_browser,
    streamlit_server,
    wait_for_condition,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MAIN = '[data-testid="stMain"]'


@dataclass(frozen=True)
class DeepLink:
    address: str                       # path and query after the server's URL
    heading: str                       # the page's title (h1)
    has_figure: bool                   # whether the page draws a Plotly figure on first load
    change: Callable                   # one widget change: change(page)
    effect_js: str                     # JavaScript predicate: true once the change took effect
    effect: str                        # the same, in words (for the failure message)
    ready_js: str | None = None        # extra predicate the first load must satisfy (e.g. a query parameter honoured)


def press_slider(label: str, key: str = "ArrowRight") -> Callable:
    def change(page) -> None:
        thumb = page.locator(MAIN).get_by_test_id("stSlider").filter(has_text=label).first.get_by_role("slider")
        thumb.focus()
        thumb.press(key)
    return change


def click_text(text: str) -> Callable:
    def change(page) -> None:
        page.locator(MAIN).get_by_text(text, exact=True).click()
    return change


def first_alpha_slider(page) -> None:
    thumb = page.locator(MAIN).get_by_test_id("stSlider").filter(has_text="α").first.get_by_role("slider")
    thumb.focus()
    thumb.press("ArrowRight")


def click_sidebar_link(name: str) -> Callable:
    def change(page) -> None:
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=re.compile(re.escape(name))).click()
    return change


def choose_option(selectbox_label: str, option_text: str) -> Callable:
    def change(page) -> None:
        page.locator(MAIN).get_by_test_id("stSelectbox").filter(has_text=selectbox_label).first.click()
        page.get_by_role("option", name=re.compile(re.escape(option_text))).first.click()
    return change


def main_text_includes(text: str) -> str:
    return f"() => (document.querySelector('{MAIN}')?.innerText || '').includes({text!r})"


def figure_title_includes(text: str, exclude: str | None = None) -> str:
    no = f" && !t.includes({exclude!r})" if exclude else ""
    return (f"() => Array.from(document.querySelectorAll('.js-plotly-plot')).some(gd => {{"
            f" const t = String((gd.layout && gd.layout.title && (gd.layout.title.text ?? gd.layout.title)) || '');"
            f" return t.includes({text!r}){no}; }})")


def heading_is(text: str, tag: str = "h2") -> str:
    return (f"() => Array.from(document.querySelectorAll('{MAIN} {tag}'))"
            f".some(h => h.innerText.trim().startsWith({text!r}))")


def _lessons() -> DeepLink:
    from app.lessons import LESSONS, TITLE

    linked, chosen = LESSONS[2], LESSONS[3]
    return DeepLink(
        f"Lessons?lesson={linked.KEY}", TITLE, False,
        choose_option("Lesson", chosen.TITLE),
        heading_is(f"4. {chosen.TITLE}"), f"the lesson picker shows lesson 4 ({chosen.KEY})",
        ready_js=heading_is(f"3. {linked.TITLE}"),
    )


DEEP_LINKS: dict[str, Callable[[], DeepLink]] = {
    "home": lambda: DeepLink(
        "", "Container: context aggregation, explained", True, press_slider("Grid n_y = n_x"),
        figure_title_includes("N = 6×6 = 36 tokens"), "the figure is redrawn for a 6×6 grid"),
    "affinity_explorer": lambda: DeepLink(
        "Affinity_explorer", "Affinity explorer", True, press_slider("Grid height n_y"),
        main_text_includes("N = 6×7 = 42 tokens"), "the summary names a 6×7 grid"),
    "image_inspector": lambda: DeepLink(
        "Image_inspector", "Image inspector", True, click_text("Upload an image"),
        f"() => !!document.querySelector('{MAIN} input[type=file]')", "the file uploader appears"),
    "blend": lambda: DeepLink(
        "Blend", "Blend", True, first_alpha_slider,
        figure_title_includes("(changed: ", exclude="none yet"), "the prediction is recomputed with the new α"),
    "model_zoo": lambda: DeepLink(
        "Model_zoo", "Model zoo", False, click_sidebar_link("Image inspector"),
        heading_is("Image inspector", "h1"), "the menu opens the Image inspector"),
    "lessons_with_query": _lessons,
}


@pytest.fixture(scope="module")
def browser():
    require_browser()
    with chromium() as shared:
        yield shared


@pytest.mark.parametrize("name", list(DEEP_LINKS))
def test_first_request_of_a_fresh_server_is_a_deep_link_and_the_first_change_takes_effect(browser, name):
    link = DEEP_LINKS[name]()
    log = REPO_ROOT / "test-artifacts" / "deep-links" / f"{name}.log"
    with streamlit_server(log) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.set_default_timeout(ACTION_TIMEOUT_S * 1000)
            page.goto(f"{url}/{link.address}")
            page.get_by_role("heading", name=link.heading).first.wait_for()
            if link.has_figure:
                page.locator(".js-plotly-plot .main-svg").first.wait_for(state="attached")
            if link.ready_js:
                wait_for_condition(page, link.ready_js, f"{name}: the address's query parameter is honoured")
            wait_until_idle(page)
            assert_no_exception(page, f"{name}, first load")
            # The app's own menu, not Streamlit's legacy one built from the pages/ folder.
            entries = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
            assert any(entry.strip().endswith("Home") for entry in entries), entries
            assert not any("streamlit app" in entry.lower() for entry in entries), entries

            link.change(page)  # exactly once: the bug was that this first change was dropped
            wait_for_condition(page, link.effect_js, f"{name}: {link.effect} after the first change")
            wait_until_idle(page)
            assert_no_exception(page, f"{name}, after the first change")
        finally:
            context.close()
