"""The app's "Download and install" button in a real browser, against the local stand-in of the authors' release.

Starts ``streamlit run`` with ``CONTAINER_EDU_WEIGHTS_DIR`` (the weights store) set to an empty
folder and ``CONTAINER_EDU_WEIGHTS_URL`` set to the local server's
Drive-shaped confirmation page, clicks the sidebar's button in headless
Chromium, and checks that the weights are installed, chosen and used.
The screenshot ``3_image_inspector_imagenet.png`` (a photo inspected by the
ImageNet architecture, random weights) goes to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from container_edu import weights_store as store
from test_browser import CHROMIUM, CHROMIUM_ARGS, RUN_SECONDS, STARTUP_SECONDS, _free_port, assert_no_exception, \
    screenshot, wait_until_idle
from weights_server import ReleaseServer, write_release

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def release_server(tmp_path_factory):
    with ReleaseServer(write_release(tmp_path_factory.mktemp("release"))) as server:
        yield server


@pytest.fixture(scope="module")
def app(release_server, tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install the Debian package 'chromium' to run the browser tests")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    folder = tmp_path_factory.mktemp("weights")
    port = _free_port()
    log_path = REPO_ROOT / "test-artifacts" / "streamlit-weights-server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", store.DIR_ENV: str(folder), store.URL_ENV: release_server.drive_url}
    with open(log_path, "wb") as log:
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
                    pytest.fail(f"the Streamlit server did not answer within {STARTUP_SECONDS} s")
                time.sleep(0.5)
            yield url, folder
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=5)


def test_the_button_fetches_installs_and_selects_the_imagenet_weights(app, release_server):
    from playwright.sync_api import sync_playwright

    url, folder = app
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.set_default_timeout(RUN_SECONDS * 1000)
            # The home page first: on a fresh server, a deep link as the first visit loses the first click
            # (app.navigation.ensure_navigation's switch out of Streamlit's legacy pages mode; reported).
            page.goto(url)
            page.get_by_role("heading", name="Container: context aggregation, explained").first.wait_for()
            wait_until_idle(page)
            page.goto(f"{url}/Image_inspector")
            page.get_by_role("heading", name="Image inspector").first.wait_for()
            wait_until_idle(page)
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.get_by_text("Get the ImageNet weights").first.wait_for()
            before = len(release_server.hits)
            sidebar.get_by_role("button", name="Download and install").click()
            try:
                page.get_by_text("Installed the authors' ImageNet Container-Light").first.wait_for()
            except Exception:
                screenshot(page, "weights_button_failed")
                raise
            wait_until_idle(page)
            assert_no_exception(page, "after the download")
            assert release_server.hits[before:][:1] == ["/drive/uc"]  # through the confirmation page
            assert store.installed_card(folder) is not None
            # The picker's caption and the prediction: the installed model is the chosen one.
            sidebar.get_by_text("with the authors' released ImageNet weights", exact=False).first.wait_for()
            page.locator(".js-plotly-plot", has_text="What the model sees (224×224").first.wait_for()
            assert page.get_by_role("button", name="Download and install").count() == 0

            # A photo from the gallery, through the (random-weight) ImageNet architecture.
            page.get_by_test_id("stSelectbox").filter(has_text="Sample").first.click()
            page.get_by_role("option", name="Sunset over hills (synthetic photo)").click()
            wait_until_idle(page)
            page.locator(".js-plotly-plot", has_text="What the model sees (224×224").first.wait_for()
            assert page.get_by_text("only knows Fashion-MNIST").count() == 0
            assert_no_exception(page, "photo with the ImageNet model")
            screenshot(page, "3_image_inspector_imagenet")
        finally:
            browser.close()
