"""The app in a real browser: every page renders, uploads work, bad uploads get a friendly error.

Starts ``streamlit run streamlit_app.py`` on a free local port and drives the
Debian Chromium headless through Playwright. Full-page screenshots go to
``test-artifacts/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]
PAGES = {  # screenshot name -> (URL path, a heading the page must show)
    "1_home": ("", "Container: context aggregation, explained"),
    "2_affinity_explorer": ("Affinity_explorer", "Affinity explorer"),
    "3_image_inspector": ("Image_inspector", "Image inspector"),
    "4_blend": ("Blend", "Blend"),
    "5_model_zoo": ("Model_zoo", "Model zoo"),
}
STARTUP_SECONDS = 90
RUN_SECONDS = 120


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install the Debian package 'chromium' to run the browser tests")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    port = _free_port()
    log_path = REPO_ROOT / "test-artifacts" / "streamlit-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "wb")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail(f"the Streamlit server exited with code {server.returncode}; see {log_path}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the Streamlit server did not answer /_stcore/health within {STARTUP_SECONDS} s")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        log.close()


@pytest.fixture(scope="module")
def browser_page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.set_default_timeout(RUN_SECONDS * 1000)
            yield page
        finally:
            browser.close()


def wait_until_idle(page, settle: float = 1.0) -> None:
    """Wait until the script has finished running (no "running" status) and the page has settled."""
    page.wait_for_selector('[data-testid="stMain"]', state="attached")
    deadline = time.monotonic() + RUN_SECONDS
    quiet_since = None
    while time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0 or \
            page.locator('[data-testid="stSkeleton"]').count() > 0
        if running:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settle:
            return
        time.sleep(0.2)
    raise AssertionError("the app kept running for longer than expected")


def assert_no_exception(page, where: str) -> None:
    count = page.locator('[data-testid="stException"]').count()
    assert count == 0, f"{where}: the page shows {count} exception element(s) (a traceback)"


def screenshot(page, name: str) -> Path:
    """A screenshot of the whole page.

    Streamlit scrolls inside its main container, so ``full_page`` alone sees
    only the viewport: the viewport is stretched to the content first.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate(
        """() => Math.max(...['[data-testid="stMain"]', '[data-testid="stAppViewContainer"]', '[data-testid="stSidebar"] > div']
             .map(s => document.querySelector(s)).filter(Boolean).map(e => e.scrollHeight))"""
    )
    page.set_viewport_size({"width": size["width"], "height": min(max(int(height) + 40, size["height"]), 8000)})
    try:
        time.sleep(0.8)  # let Plotly resize to the new viewport
        page.screenshot(path=str(path), full_page=True)
    finally:
        page.set_viewport_size(size)
    return path


def open_page(page, app_url: str, url_path: str, heading: str) -> None:
    page.goto(f"{app_url}/{url_path}")
    page.get_by_role("heading", name=heading).first.wait_for()
    wait_until_idle(page)


def test_a_deep_link_as_the_first_visit_still_gets_the_apps_navigation(browser_page, app_url):
    # Runs first on a fresh server: Streamlit's legacy pages/ mode must not take over (app.page.ensure_navigation).
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
    # Pages added by others (the Lessons) are in the same navigation: they must open cleanly too.
    ours = {f"{name.split('_', 1)[0]}_" for name in PAGES}
    for path in sorted((REPO_ROOT / "pages").glob("*.py")):
        if any(path.name.startswith(prefix) for prefix in ours):
            continue
        url_path = re.sub(r"^\d+[_ -]*", "", path.stem)
        browser_page.goto(f"{app_url}/{url_path}")
        browser_page.locator("h1").first.wait_for()
        wait_until_idle(browser_page)
        assert_no_exception(browser_page, path.name)
        screenshot(browser_page, path.stem.lower())


def slider_value(page, label: str) -> int:
    """The value a Streamlit slider shows (its text is "label value min max")."""
    text = page.get_by_test_id("stSlider").filter(has_text=label).first.inner_text()
    return int(text.split()[len(label.split())])


def test_clicking_a_grid_cell_moves_the_query(browser_page, app_url):
    page = browser_page
    open_page(page, app_url, "Affinity_explorer", "Affinity explorer")
    assert (slider_value(page, "Query row y"), slider_value(page, "Query column x")) == (2, 3)
    chart = page.locator(".stPlotlyChart").nth(1)  # the query row on the H x W grid
    chart.scroll_into_view_if_needed()
    wait_until_idle(page)
    box = chart.locator(".nsewdrag").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.93, box["y"] + box["height"] * 0.1)  # top-right cell (0, 6)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        wait_until_idle(page, settle=0.5)
        if page.get_by_test_id("stSlider").filter(has_text="Query column x").count():
            if (slider_value(page, "Query row y"), slider_value(page, "Query column x")) == (0, 6):
                break
        time.sleep(0.5)
    assert (slider_value(page, "Query row y"), slider_value(page, "Query column x")) == (0, 6)
    assert_no_exception(page, "explorer after a click on the grid")


def _png_bytes() -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 120), (240, 240, 235))
    ImageDraw.Draw(image).rectangle((40, 20, 120, 100), fill=(40, 40, 60))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_inspector_upload_and_bad_file(browser_page, app_url):
    page = browser_page
    open_page(page, app_url, "Image_inspector", "Image inspector")
    page.locator('[data-testid="stMain"]').get_by_text("Upload an image", exact=True).click()
    wait_until_idle(page)
    file_input = page.locator('[data-testid="stMain"] input[type="file"]').first
    file_input.set_input_files(files=[{"name": "square.png", "mimeType": "image/png", "buffer": _png_bytes()}])
    wait_until_idle(page, settle=1.5)
    page.get_by_text("What the model sees").first.wait_for()
    assert page.locator('[data-testid="stMain"] [data-testid="stAlertContentError"]').count() == 0
    assert_no_exception(page, "inspector after a good upload")
    screenshot(page, "3_image_inspector_upload")
    page.get_by_role("tab", name="All heads").click()
    wait_until_idle(page)
    assert_no_exception(page, "inspector, all heads")
    screenshot(page, "3_image_inspector_all_heads")

    file_input = page.locator('[data-testid="stMain"] input[type="file"]').first
    file_input.set_input_files(files=[{"name": "not_an_image.png", "mimeType": "image/png",
                                       "buffer": b"this is plain text, renamed to .png\n" * 20}])
    wait_until_idle(page, settle=1.5)
    error = page.locator('[data-testid="stMain"] [data-testid="stAlertContentError"]').first
    error.wait_for()
    assert "not an image" in error.inner_text().lower()
    assert_no_exception(page, "inspector after a bad upload")
    screenshot(page, "3_image_inspector_bad_upload")
    # The app keeps working: back to the gallery, the maps come back.
    page.locator('[data-testid="stMain"]').get_by_text("Sample gallery", exact=True).click()
    wait_until_idle(page)
    page.get_by_text("What the model sees").first.wait_for()
    assert_no_exception(page, "inspector after returning to the gallery")


def test_bad_checkpoint_path_shows_an_error(browser_page, app_url):
    page = browser_page
    open_page(page, app_url, "Blend", "Blend")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Load ImageNet weights (Container-Light)").click()
    path_input = sidebar.get_by_label("Checkpoint path")
    path_input.fill("/nonexistent/container_light.pth")
    path_input.press("Enter")
    wait_until_idle(page)
    sidebar.get_by_role("button", name="Load from path").click()
    wait_until_idle(page)
    error = sidebar.locator('[data-testid="stAlertContentError"]').first
    error.wait_for()
    assert "no file found" in error.inner_text().lower()
    assert_no_exception(page, "blend page after a bad checkpoint path")
