"""The app's "Download and install" button in a real browser, against the local stand-in of the authors' release.

Starts ``streamlit run`` with ``CONTAINER_EDU_WEIGHTS_DIR`` (the weights store) set to an empty
folder and ``CONTAINER_EDU_WEIGHTS_URL`` set to the local server's
Drive-shaped confirmation page, clicks the sidebar's button in headless
Chromium, and checks that the weights are installed, chosen and used.
The screenshot ``3_image_inspector_imagenet.png`` (a photo inspected by the
ImageNet architecture, random weights) goes to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re

import pytest

from browser_support import (
    ACTION_TIMEOUT_S,
    REPO_ROOT,
    assert_no_exception,
    chromium,
    require_browser,
    screenshot,
    streamlit_server,
    wait_until_idle,
)
from container_edu.hub import weights_store as store

# The title wraps to the chart's width: a line break may fall between its words.
SEEN_224 = re.compile(r"What the model sees\s*\(224×224")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app(server, tmp_path_factory):
    require_browser()
    folder = tmp_path_factory.mktemp("weights")
    env = {store.DIR_ENV: str(folder), store.URL_ENV: server.drive_url}
    with streamlit_server(REPO_ROOT / "test-artifacts" / "streamlit-weights-server.log", env) as url:
        yield url, folder


def test_the_button_fetches_installs_and_selects_the_imagenet_weights(app, server):
    url, folder = app
    with chromium() as browser:
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.set_default_timeout(ACTION_TIMEOUT_S * 1000)
            # A deep link as the fresh server's first request: the first click must take effect.
            page.goto(f"{url}/Image_inspector")
            page.get_by_role("heading", name="Image inspector").first.wait_for()
            wait_until_idle(page)
            sidebar = page.get_by_test_id("stSidebar")
            page.get_by_text("Get the ImageNet weights").first.wait_for()  # the inspector's own panel, only
            assert sidebar.get_by_role("button", name="Download and install").count() == 0
            before = len(server.hits)
            page.get_by_role("button", name="Download and install").click()
            try:
                page.get_by_text("Installed the authors' ImageNet Container-Light").first.wait_for()
            except Exception:
                screenshot(page, "weights_button_failed")
                raise
            wait_until_idle(page)
            assert_no_exception(page, "after the download")
            assert server.hits[before:][:1] == ["/drive/uc"]  # through the confirmation page
            assert store.installed_card(folder) is not None
            # The picker's caption and the prediction: the installed model is the chosen one.
            sidebar.get_by_text("with the authors' released ImageNet weights", exact=False).first.wait_for()
            page.locator(".js-plotly-plot", has_text=SEEN_224).first.wait_for()
            assert page.get_by_role("button", name="Download and install").count() == 0

            # A photo from the gallery, through the (random-weight) ImageNet architecture.
            page.get_by_test_id("stSelectbox").filter(has_text="Sample").first.click()
            page.get_by_role("option", name="Sunset over hills (synthetic photo)").click()
            wait_until_idle(page)
            page.locator(".js-plotly-plot", has_text=SEEN_224).first.wait_for()
            assert page.get_by_text("only knows Fashion-MNIST").count() == 0
            assert_no_exception(page, "photo with the ImageNet model")
            screenshot(page, "3_image_inspector_imagenet")
        finally:
            page.close()
