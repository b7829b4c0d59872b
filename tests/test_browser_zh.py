"""Every page in Chinese in a real browser: translated, no traceback, and the CJK glyphs drawn (not boxes, where a
Chinese font is installed).

One full-page screenshot per page goes to ``test-artifacts/screenshots/zh_*.png``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

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

pytestmark = pytest.mark.browser

CJK = (0x4E00, 0x9FFF)  # the CJK Unified Ideographs block

# Draws text in the font the page uses for its title and returns the pixels as a string. Two different
# characters drawn as the same missing-glyph box give the same pixels; real glyphs never do.
GLYPH_PIXELS = """([text, selector]) => {
    const font = getComputedStyle(document.querySelector(selector)).fontFamily;
    const canvas = document.createElement('canvas');
    canvas.width = 64; canvas.height = 64;
    const context = canvas.getContext('2d');
    context.font = `48px ${font}`;
    context.fillText(text, 4, 52);
    return Array.from(context.getImageData(0, 0, 64, 64).data).join(',');
}"""


def has_cjk(text: str) -> bool:
    return any(CJK[0] <= ord(ch) <= CJK[1] for ch in text)


@pytest.fixture(scope="module")
def zh_page():
    require_browser()
    with streamlit_server(REPO_ROOT / "test-artifacts" / "streamlit-server-zh.log") as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(ACTION_TIMEOUT_S * 1000)
        yield page, url


def test_every_page_in_chinese_renders_translated(zh_page):
    from app.navigation import PAGE_SPECS

    page, url = zh_page
    for index, spec in enumerate(PAGE_SPECS):
        path = "" if index == 0 else spec.url_path  # the first page is served at /
        page.goto(f"{url}/{path}?lang=zh")
        title = page.locator('[data-testid="stMain"] h1').first
        title.wait_for()
        wait_until_idle(page)
        assert_no_exception(page, f"{spec.file} in Chinese")
        assert has_cjk(title.inner_text()), f"{spec.file}: the title is not in Chinese: {title.inner_text()!r}"
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert has_cjk(sidebar), f"{spec.file}: the sidebar is not in Chinese"
        assert "lang=zh" in page.url, f"{spec.file}: the address lost the language ({page.url})"
        screenshot(page, f"zh_{Path(spec.file).stem.lower()}")


def chinese_font_installed() -> bool:
    """What fontconfig, which Chromium asks for its fonts, lists for Chinese; True where there is no fc-list to ask."""
    if shutil.which("fc-list") is None:
        return True
    listed = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=60, check=False)
    return bool(listed.stdout.strip())


def test_the_chinese_title_is_drawn_in_real_glyphs_not_boxes(request):
    if not chinese_font_installed():  # asked before the server starts: a skip costs nothing
        pytest.skip("no Chinese font installed (Debian package fonts-noto-cjk): Chromium draws ideographs as boxes, "
                    "so the glyph check cannot pass; the Chinese text itself is checked by the test above")
    page, url = request.getfixturevalue("zh_page")
    page.goto(f"{url}/?lang=zh")
    page.locator('[data-testid="stMain"] h1').first.wait_for()
    wait_until_idle(page)
    # The title's font draws two different ideographs differently, and unlike a character no font has.
    selector = '[data-testid="stMain"] h1'
    first, second = (page.evaluate(GLYPH_PIXELS, [text, selector]) for text in ("仿", "射"))
    missing = page.evaluate(GLYPH_PIXELS, ["\ue000", selector])  # private use: no font has a glyph for it
    assert first != second, "two different ideographs were drawn alike: the CJK font is missing (boxes)"
    assert first != missing, "an ideograph was drawn like a missing glyph: the CJK font is missing (boxes)"
