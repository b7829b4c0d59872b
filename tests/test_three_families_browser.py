"""The "Three families" view in a real browser (Debian's Chromium through Playwright), with stand-in weights.

The server's weights folder holds stand-in weights of the three families, installed as the hub's
``install_random_family`` does it (small configs with the real key names and grids; their cards say the source is
"random"), and no Container-Light: the page must say at the top that the weights are random, draw the four models'
rows from those files, move them with the query slider, and show the two-image table. (The case with nothing
installed, where the view builds random models itself, is tested under AppTest in test_three_families_view.py.) Screenshots ``three_families_en.png`` and ``three_families_zh.png`` go to ``test-artifacts/screenshots/``.
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
from container_edu.hub.families import install_random_family
from test_three_families_view import SMALL

pytestmark = pytest.mark.browser

#: The titles of the 14×14 maps name their query: "... rows into query (y, x) on 14×14".
QUERY_TITLES = """([y, x]) => [...document.querySelectorAll('.js-plotly-plot .gtitle')]
    .filter(t => t.textContent.includes(`(${y}, ${x})`)).length >= 3"""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    require_browser()
    folder = tmp_path_factory.mktemp("stand_in_weights")
    for name, config in SMALL.items():
        install_random_family(name, folder, config=config)
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
            # Not a shared server: the Download panel offers a button per family, its stand-in to be replaced (a
            # shared one has none: test_three_families_view.py).
            offers = page.locator(".st-key-fam_family_weights [class*='st-key-fam_fetch_family_']")
            assert offers.count() == 3 and offers.locator("button").first.is_visible(), offers.count()
            charts = page.locator(".js-plotly-plot")
            assert charts.count() == 4
            # DeiT's maps come from the installed stand-in (3 heads), not from a full-size model built here (6).
            deit = charts.filter(has_text="DeiT-Small/16")
            assert deit.locator("g.hm").count() == 3, deit.locator("g.hm").count()
            wait_for_condition(page, QUERY_TITLES, "the maps' titles name the centre query", [7, 7])

            # The query's row slider, by keyboard as a learner without a mouse would: three steps up the grid.
            slider = page.locator(".st-key-fam_qy_14x14 input[type=range]")
            for row in (6, 5, 4):  # one press at a time: a press while the page reruns may be dropped
                slider.focus()
                slider.press("ArrowLeft")
                wait_for_condition(page, QUERY_TITLES, f"the maps moved to the query ({row}, 7)", [row, 7])
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
