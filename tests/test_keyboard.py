"""The app with the keyboard alone (issue 23, WCAG 2.1.1, 2.1.2, 2.4.7): no mouse event is ever sent.

Image inspector: choose "Upload an image", upload, then block, head and query (the query slider by arrow keys);
a lesson: continue through its steps, predict, see it verified, answer a question. Every element that takes focus
on the way must show it (an outline or a ring on it or a close ancestor), and Tab must always move on (no trap).

The one step a keyboard cannot do in a browser is the operating system's file dialog: Space on the uploader's
button opens it (Playwright catches the file chooser that the key press opened) and the file is handed to that
chooser, as a learner would pick it in the dialog with the keyboard.
"""

from __future__ import annotations

import pytest

from accessibility_support import View, open_view, wait_until_settled
from browser_support import ACTION_TIMEOUT_S, REPO_ROOT, chromium, require_browser, screenshot, streamlit_server

pytestmark = pytest.mark.browser

#: Upper limit of Tab presses to reach a control; a page has fewer focusable elements than this.
MAX_TABS = 250
FOCUS = """() => {
    const e = document.activeElement;
    if (!e || e === document.body) return null;
    let ring = false, node = e;
    for (let depth = 0; node && depth < 6 && !ring; depth++, node = node.parentElement) {
        const s = getComputedStyle(node);
        ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none';
    }
    const widget = e.closest('[data-testid^="st"][class*="st"]');
    const label = e.closest('[data-testid="stElementContainer"]');
    return {
        id: (e.id || '') + '|' + e.tagName + '|' + (e.getAttribute('aria-label') || '') + '|' + e.textContent.slice(0, 40),
        ring, tag: e.tagName, type: e.type || '', role: e.getAttribute('role') || '',
        testid: widget ? widget.dataset.testid : '',
        text: ((e.getAttribute('aria-label') || '') + ' ' + e.textContent + ' '
               + (label ? label.innerText : '')).slice(0, 400),
    };
}"""


@pytest.fixture(scope="module")
def page():
    require_browser()
    with streamlit_server(REPO_ROOT / "test-artifacts" / "streamlit-server-keyboard.log") as url, \
            chromium() as browser:
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.set_default_timeout(ACTION_TIMEOUT_S * 1000)
        yield tab, url


def focus(tab) -> dict | None:
    return tab.evaluate(FOCUS)


def tab_to(tab, wanted, what: str, backwards: bool = False) -> dict:
    """Press Tab (Shift+Tab) until ``wanted(focus)`` holds; every stop must show its focus and focus must move."""
    previous, stuck = None, 0
    for _ in range(MAX_TABS):
        tab.keyboard.press("Shift+Tab" if backwards else "Tab")
        state = focus(tab)
        if state is None:
            continue  # focus left the page content (the address bar's turn): the next Tab comes back
        # Streamlit's own exception (docs/accessibility.md): once the file dialog closes, focus is on the uploader's
        # hidden file input, which shows nothing, until the next key press moves it on.
        if state["type"] != "file":
            assert state["ring"], f"no visible focus on {state['id']} ({state['testid']}) while looking for {what}"
        stuck = stuck + 1 if previous == state["id"] else 0
        # A data grid (st.dataframe) keeps focus on its canvas while Tab walks its cells; a trap is focus that never
        # leaves, so a grid gets as many presses as it could have cells in view.
        assert stuck < (60 if state["testid"] == "stDataFrame" else 3), \
            f"keyboard trap: Tab stays on {state['id']} ({state['testid']})"
        previous = state["id"]
        if wanted(state):
            return state
    raise AssertionError(f"{what}: not reached with {MAX_TABS} presses of Tab")


def in_widget(testid: str, text: str):
    return lambda state: state["testid"] == testid and text in state["text"]


def open_file_chooser(tab):
    """Tab to the main uploader's button and press Space: the file chooser it opens.

    In headless Chromium the first press on the freshly drawn button sometimes opens nothing (seen with Enter and
    with Space alike); the press is repeated, on the same focused button, a bounded number of times.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    wait_until_settled(tab)
    tab_to(tab, lambda s: s["testid"].startswith("stBaseButton") and "Upload" in s["text"]
           and "PNG" in s["text"], "the uploader's button")
    for _attempt in range(4):
        try:
            with tab.expect_file_chooser(timeout=30_000) as chooser:
                tab.keyboard.press("Space")
            return chooser.value
        except PlaywrightTimeout:
            assert "Upload" in (focus(tab) or {}).get("text", ""), "focus left the uploader's button"
    raise AssertionError("Space on the uploader's button opened no file chooser, four times")


def test_the_image_inspector_by_keyboard(page):
    tab, url = page
    open_view(tab, url, View("inspector", "Image_inspector"))
    tab_to(tab, lambda s: s["type"] == "radio" and "Sample gallery" in s["text"], "the image source")
    tab.keyboard.press("ArrowRight")  # a radio group moves (and selects) with the arrow keys
    wait_until_settled(tab)
    tab.locator('[data-testid="stMain"] [data-testid="stFileUploaderDropzone"]').wait_for()
    chooser = open_file_chooser(tab)
    chooser.set_files(str(REPO_ROOT / "container_edu" / "samples" / "fmnist_test0000_ankle_boot.png"))
    main = tab.locator('[data-testid="stMain"]')
    # The upload's view: the prompt to upload is gone and the model's view of the picture is drawn.
    main.get_by_text("Upload a picture, or switch to the sample gallery.").wait_for(state="detached")
    main.get_by_text("What the model sees").first.wait_for()
    wait_until_settled(tab)

    # The address follows the inspector's block, head and query (app/url_state.py): what changed is read there.
    tab_to(tab, in_widget("stSelectbox", "Block"), "the block")
    before = tab.url
    tab.keyboard.press("ArrowDown")  # opens the list
    tab.keyboard.press("ArrowUp")
    tab.keyboard.press("Enter")
    tab.wait_for_function("(old) => location.href !== old && location.search.includes('block=')", arg=before)
    wait_until_settled(tab)

    tab_to(tab, in_widget("stSelectbox", "Head m"), "the head")
    tab.keyboard.press("ArrowDown")
    tab.keyboard.press("ArrowDown")
    tab.keyboard.press("Enter")
    tab.wait_for_function("() => /[?&]head=[1-9]/.test(location.search)")  # another head than the first
    wait_until_settled(tab)

    slider = tab_to(tab, lambda s: s["type"] == "range" and "Query column x" in s["text"], "the query column")
    value = int(tab.evaluate("() => document.activeElement.value"))
    tab.keyboard.press("ArrowRight")
    wait_until_settled(tab)
    tab.wait_for_function("(old) => { const s = [...document.querySelectorAll('input[type=range]')]"
                          ".find(e => (e.getAttribute('aria-label') || '').includes('Query column x'));"
                          " return s && Number(s.value) === old + 1; }", arg=value)
    assert f"qx={value + 1}" in tab.url, f"the address did not follow the query ({tab.url}, {slider['text']!r})"
    screenshot(tab, "keyboard_inspector")

    # The maps' text alternative (app/figure_view.py): the sentence is read after the chart; its table opens from
    # the button beside it, by keyboard.
    tab_to(tab, lambda s: s["tag"] == "BUTTON" and "Table" in s["text"], "the maps' data table")
    tab.keyboard.press("Enter")
    table = tab.locator('[data-testid="stPopoverBody"] table').first
    table.wait_for()
    assert "query" in table.inner_text().lower() or table.locator("td").count() > 0
    tab.keyboard.press("Escape")
    table.wait_for(state="hidden")


def test_a_lesson_by_keyboard(page):
    from app.lessons import matrix
    from app.lessons.parts.steps import lesson_steps

    tab, url = page
    steps = [step.id for step in lesson_steps(matrix)]
    open_view(tab, url, View("lesson", "Lessons?lesson=matrix&step=1"))
    for number in range(2, steps.index("predict") + 2):
        tab_to(tab, lambda s: s["tag"] == "BUTTON" and "Continue" in s["text"], "Continue")
        tab.keyboard.press("Enter")
        tab.wait_for_function("(n) => location.search.includes('step=' + n)", arg=number)
        wait_until_settled(tab)

    prompt = matrix.PREDICTION.prompt[:20]  # plain words, drawn as they are
    tab_to(tab, lambda s: s["type"] == "radio" and prompt in s["text"], "the prediction")
    verified = tab.get_by_text("Verified:", exact=False)
    tab.keyboard.press("Space")
    for _option in matrix.PREDICTION.options:
        wait_until_settled(tab)
        if verified.count():
            break
        tab.keyboard.press("ArrowDown")  # the next option, selected as focus moves
    assert verified.count(), "no prediction verified"
    screenshot(tab, "keyboard_lesson_verified")

    # Back to the start of the page, then forward again to Continue: Shift+Tab works as well as Tab.
    tab_to(tab, lambda s: s["type"] == "radio" and prompt in s["text"], "the prediction again", backwards=True)
    while steps[int(tab.url.split("step=")[1].split("&")[0]) - 1] != "check":
        number = int(tab.url.split("step=")[1].split("&")[0])
        tab_to(tab, lambda s: s["tag"] == "BUTTON" and "Continue" in s["text"], "Continue")
        tab.keyboard.press("Enter")
        tab.wait_for_function("(n) => location.search.includes('step=' + n)", arg=number + 1)
        wait_until_settled(tab)

    question = matrix.QUESTIONS[0]
    right = question.options.index(question.right_option)
    tab_to(tab, lambda s: s["type"] == "radio" and question.english_prompt[:20] in s["text"], "the first question")
    tab.keyboard.press("Space")
    for _index in range(right):
        tab.keyboard.press("ArrowDown")
    wait_until_settled(tab)
    tab_to(tab, lambda s: s["tag"] == "BUTTON" and s["text"].strip().startswith("Check"), "Check")
    tab.keyboard.press("Enter")
    tab.locator('[data-testid="stAlertContentSuccess"]').last.wait_for()
    wait_until_settled(tab)
    screenshot(tab, "keyboard_lesson_answered")


def test_tab_never_gets_stuck_and_every_stop_shows_focus(page):
    """Tab through a whole page and back: focus moves on every press and is always visible."""
    tab, url = page
    open_view(tab, url, View("explorer", "Affinity_explorer"))
    seen: list[str] = []

    def record(state) -> bool:
        seen.append(state["id"])
        return len(seen) > 1 and seen.count(state["id"]) > 1 and len(seen) > 40

    tab_to(tab, record, "a full round of the page")
    assert len(set(seen)) > 20, f"only {len(set(seen))} elements took focus"
