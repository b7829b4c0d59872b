"""The app in a real browser: every page renders, uploads work, bad uploads get a friendly error.

Starts ``streamlit run streamlit_app.py`` on a free local port and drives the
Debian Chromium headless through Playwright. Full-page screenshots go to
``test-artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from browser_support import (
    ACTION_TIMEOUT_S,
    REPO_ROOT,
    assert_no_exception,
    chromium,
    require_browser,
    screenshot,
    settle_frames,
    streamlit_server,
    wait_until,
    wait_until_idle,
)

pytestmark = pytest.mark.browser

PAGES = {  # screenshot name -> (URL path, a heading the page must show)
    "1_home": ("", "Container: context aggregation, explained"),
    "2_affinity_explorer": ("Affinity_explorer", "Affinity explorer"),
    "3_image_inspector": ("Image_inspector", "Image inspector"),
    "4_blend": ("Blend", "Blend"),
    "5_model_zoo": ("Model_zoo", "Model zoo"),
}
MAIN = '[data-testid="stMain"]'


@pytest.fixture(scope="module")
def app_url():
    require_browser()
    with streamlit_server(REPO_ROOT / "test-artifacts" / "streamlit-server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser_page(app_url):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(ACTION_TIMEOUT_S * 1000)
        yield page


def open_page(page, app_url: str, url_path: str, heading: str) -> None:
    page.goto(f"{app_url}/{url_path}")
    page.get_by_role("heading", name=heading).first.wait_for()
    wait_until_idle(page)


def test_a_deep_link_as_the_first_visit_still_gets_the_apps_navigation(browser_page, app_url):
    # Runs first on this module's fresh server (tests/test_deep_links.py does so for every page, one server each).
    open_page(browser_page, app_url, "Blend", "Blend")
    links = browser_page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    assert any(text.endswith("Home") for text in links), links
    assert not any("streamlit app" in text.lower() for text in links), links
    assert_no_exception(browser_page, "blend page opened first")


def test_every_page_renders_without_a_traceback(browser_page, app_url):
    for name, (url_path, heading) in PAGES.items():
        open_page(browser_page, app_url, url_path, heading)
        # Every page draws at least one Plotly figure, except the zoo page before weights are bundled.
        if name != "5_model_zoo":
            browser_page.locator(".js-plotly-plot").first.wait_for()
        assert_no_exception(browser_page, name)
        screenshot(browser_page, name)
    # Every other page of the navigation (the Lessons) must open cleanly too.
    from app.navigation import PAGE_SPECS

    shown = {url_path for url_path, _ in PAGES.values()} | {PAGE_SPECS[0].url_path}  # "" is the first page
    for spec in PAGE_SPECS:
        if spec.url_path in shown:
            continue
        browser_page.goto(f"{app_url}/{spec.url_path}")
        browser_page.locator("h1").first.wait_for()
        wait_until_idle(browser_page)
        assert_no_exception(browser_page, spec.file)
        screenshot(browser_page, Path(spec.file).stem.lower())


def slider_value(page, label: str) -> int:
    """The value a Streamlit slider shows (its text is "label value min max")."""
    text = page.get_by_test_id("stSlider").filter(has_text=label).first.inner_text()
    return int(text.split()[len(label.split())])


def query_sliders(page) -> tuple[int, int] | None:
    """(row, column) of the explorer's query sliders, or None while they are being redrawn."""
    try:
        return slider_value(page, "Query row y"), slider_value(page, "Query column x")
    except (ValueError, IndexError):
        return None


def test_clicking_a_grid_cell_moves_the_query(browser_page, app_url):
    page = browser_page
    open_page(page, app_url, "Affinity_explorer", "Affinity explorer")
    assert query_sliders(page) == (2, 3)
    wait_until_idle(page)
    chart = page.locator(".stPlotlyChart").nth(1)  # the query row on the H x W grid
    # A click that lands while the chart is being drawn again (a busy machine) selects nothing: click again, a
    # bounded number of times, each time on the chart as it is then.
    for attempt in range(3):
        chart.scroll_into_view_if_needed()
        box = chart.locator(".nsewdrag").first.bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.93, box["y"] + box["height"] * 0.1)  # top-right cell (0, 6)
        try:
            wait_until(lambda: query_sliders(page) == (0, 6), "the query sliders at the clicked cell (0, 6)",
                       timeout_s=ACTION_TIMEOUT_S / 3)
            break
        except AssertionError:
            if attempt == 2:
                raise
    wait_until_idle(page)
    assert query_sliders(page) == (0, 6)
    assert_no_exception(page, "explorer after a click on the grid")


def _png_bytes() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 120), (240, 240, 235))
    ImageDraw.Draw(image).rectangle((40, 20, 120, 100), fill=(40, 40, 60))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


UPLOAD_PROMPT = "Upload a picture, or switch to the sample gallery."
SEEN_TITLE = "What the model sees"
MAIN_ERROR = f'{MAIN} [data-testid="stAlertContentError"]'


def test_inspector_upload_and_bad_file(browser_page, app_url):
    page = browser_page
    main = page.locator(MAIN)
    open_page(page, app_url, "Image_inspector", "Image inspector")
    main.get_by_text("Upload an image", exact=True).click()
    main.get_by_text(UPLOAD_PROMPT).wait_for()  # upload mode, nothing uploaded yet: no figure on the page
    wait_until_idle(page)
    file_input = page.locator(f'{MAIN} input[type="file"]').first
    file_input.set_input_files(files=[{"name": "square.png", "mimeType": "image/png", "buffer": _png_bytes()}])
    page.get_by_text(SEEN_TITLE).first.wait_for()  # the upload's maps (the page had no figure before)
    main.get_by_text(UPLOAD_PROMPT).wait_for(state="detached")
    wait_until_idle(page)
    assert page.locator(MAIN_ERROR).count() == 0
    assert_no_exception(page, "inspector after a good upload")
    screenshot(page, "3_image_inspector_upload")
    page.get_by_role("tab", name="All heads").click()
    settle_frames(page)
    assert_no_exception(page, "inspector, all heads")
    screenshot(page, "3_image_inspector_all_heads")

    file_input = page.locator(f'{MAIN} input[type="file"]').first
    file_input.set_input_files(files=[{"name": "not_an_image.png", "mimeType": "image/png",
                                       "buffer": b"this is plain text, renamed to .png\n" * 20}])
    error = page.locator(MAIN_ERROR).first
    error.wait_for()
    wait_until_idle(page)
    assert "not an image" in error.inner_text().lower()
    assert_no_exception(page, "inspector after a bad upload")
    screenshot(page, "3_image_inspector_bad_upload")
    # The app keeps working: back to the gallery, the maps come back.
    main.get_by_text("Sample gallery", exact=True).click()
    page.locator(MAIN_ERROR).first.wait_for(state="detached")
    page.get_by_text(SEEN_TITLE).first.wait_for()
    wait_until_idle(page)
    assert_no_exception(page, "inspector after returning to the gallery")


def test_bad_checkpoint_path_shows_an_error(browser_page, app_url):
    page = browser_page
    open_page(page, app_url, "Blend", "Blend")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Load a checkpoint").click()
    path_input = sidebar.get_by_label("Checkpoint path")
    path_input.fill("/nonexistent/container_light.pth")
    # One click: the app keeps it as a request until a run has handled it, so a rerun that overtakes the click's
    # run cannot lose it (test_app_pages.py::test_a_load_click_survives_a_rerun_that_overtakes_its_run).
    sidebar.get_by_role("button", name="Load from path").click()
    error = sidebar.locator('[data-testid="stAlertContentError"]').first
    error.wait_for()
    wait_until_idle(page)
    assert "no file found" in error.inner_text().lower()
    assert_no_exception(page, "blend page after a bad checkpoint path")
