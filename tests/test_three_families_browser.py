"""The "Three families" view in a real browser (Debian's Chromium through Playwright), with stand-in weights.

The server's weights folder is empty, so every model is a random-weight stand-in built by ``create_model``: the
page must say so at the top, draw the four models' rows, move them with the query slider, and show the two-image
table. Screenshots ``three_families_en.png`` and ``three_families_zh.png`` go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import pytest

from browser_support import (
    ACTION_TIMEOUT_S,
    REPO_ROOT,
    assert_no_exception,
    chromium,
    require_browser,
    screenshot,
    streamlit_server,
    wait_for_condition,
    wait_until_idle,
)
from app import i18n
from container_edu.hub import weights_store as store

pytestmark = pytest.mark.browser

#: The titles of the 14×14 maps name their query: "... rows into query (y, x) on 14×14".
QUERY_TITLES = """([y, x]) => [...document.querySelectorAll('.js-plotly-plot .gtitle')]
    .filter(t => t.textContent.includes(`(${y}, ${x})`)).length >= 3"""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    require_browser()
    folder = tmp_path_factory.mktemp("no_weights")
    env = {store.DIR_ENV: str(folder), "CONTAINER_EDU_BUNDLED_DIR": str(tmp_path_factory.mktemp("no_bundled"))}
    with streamlit_server(REPO_ROOT / "test-artifacts" / "streamlit-three-families.log", env) as url:
        yield url


def _open(page, url: str, language: str) -> None:
    gettext = i18n.translations(language).gettext
    page.goto(f"{url}/Analysis" + ("?lang=zh" if language == "zh" else ""))
    wait_until_idle(page)
    page.get_by_role("tab", name=gettext("Three families")).click()
    page.locator(".st-key-fam_check_box table").wait_for(state="visible")
    wait_until_idle(page)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_view_says_the_weights_are_random_moves_the_query_and_shows_the_two_image_table(app, language):
    gettext = i18n.translations(language).gettext
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(ACTION_TIMEOUT_S * 1000)
        try:
            _open(page, app, language)
            notice = page.locator(".st-key-fam_random_notice")
            assert gettext("The weights are random.") in notice.inner_text()
            assert "weights fetch deit_small" in notice.inner_text()
            # Not a shared server: a download button per family (a shared one has none: test_three_families_view.py).
            assert page.locator(".st-key-fam_random_notice [class*='st-key-fam_fetch_'] button").count() == 3
            charts = page.locator(".js-plotly-plot")
            assert charts.count() == 4
            wait_for_condition(page, QUERY_TITLES, "the maps' titles name the centre query", [7, 7])

            # The query's row slider, by keyboard as a learner without a mouse would: three steps up the grid.
            slider = page.locator(".st-key-fam_qy_14x14 input[type=range]")
            slider.focus()
            for _ in range(3):
                slider.press("ArrowLeft")
            wait_for_condition(page, QUERY_TITLES, "the maps moved to the new query", [4, 7])
            wait_until_idle(page)
            assert_no_exception(page, "after moving the query")

            table = page.locator(".st-key-fam_check_box table")
            text = table.inner_text()
            assert gettext("max |row(img1) − row(img2)|") in text
            for family in ("DeiT-Small/16 (attention)", "ConvNeXt-Tiny (depthwise conv)",
                           "MLP-Mixer-B/16 (token-mixing MLP)", "Container-Light (the paper's hybrid)"):
                assert gettext(family) in text, family
            assert gettext("changes with the image") in text
            assert gettext("identical (difference exactly 0)") in text
            screenshot(page, f"three_families_{language}")
        except Exception:
            screenshot(page, f"three_families_{language}_failed")
            raise
