#!/usr/bin/env python
"""Retake the README's screenshots: every page, and every lesson at its predict step with a prediction made.

    python tools/screenshots.py [--out docs/screenshots] [--lang en|zh] [--width 1400] [--only NAME ...]

Starts the app on a free 127.0.0.1 port and drives Debian's headless Chromium (``/usr/bin/chromium``) through it;
writes ``home.png``, ``affinity_explorer.png``, ..., the Analysis tabs listed in ``ANALYSIS_TABS``
(``analysis_three_families.png``), ``lesson_NN_KEY.png`` (NN in course order). It prints the height of each lesson
shot: a step is meant to fit in 2,000 px at 1400 px wide. ``--only`` retakes just the named shots (without
``.png`` and the language suffix: ``--only analysis_three_families``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
for folder in (str(REPO_ROOT), str(REPO_ROOT / "tests")):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from browser_support import chromium, streamlit_server, wait_until_idle  # noqa: E402

PAGES = {"home": "", "affinity_explorer": "Affinity_explorer", "image_inspector": "Image_inspector",
         "blend": "Blend", "model_zoo": "Model_zoo"}
#: Analysis tabs shot by opening the page and clicking the tab (English label; the Chinese one is looked up).
#: Each with the element whose appearance says the tab has drawn (its last table).
ANALYSIS_TABS = {"analysis_three_families": ("Three families", ".st-key-fam_check_box")}


def shoot(page, path: Path, width: int) -> int:
    """The whole page in one picture (Streamlit scrolls inside its main block: grow the window to fit it)."""
    page.wait_for_timeout(1500)  # plotly draws after the script has finished
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": width, "height": max(1000, height)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": 1000})
    return height


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshots")
    parser.add_argument("--lang", choices=("en", "zh"), default="en")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME", help="retake only these shots")
    args = parser.parse_args(argv)

    def wanted(name: str) -> bool:
        return args.only is None or name in args.only

    from app.lessons import LESSONS
    from app.lessons.parts.steps import lesson_steps

    suffix = "" if args.lang == "en" else "_zh"
    query = "" if args.lang == "en" else "lang=zh"
    args.out.mkdir(parents=True, exist_ok=True)
    with streamlit_server(REPO_ROOT / "test-artifacts" / "streamlit-screenshots.log") as url, chromium() as browser:
        page = browser.new_page(viewport={"width": args.width, "height": 1000})
        page.set_default_timeout(240_000)
        for name, path in PAGES.items():
            if not wanted(name):
                continue
            page.goto(f"{url}/{path}" + (f"?{query}" if query else ""))
            wait_until_idle(page)
            height = shoot(page, args.out / f"{name}{suffix}.png", args.width)
            print(f"{name}{suffix}.png: {height} px")
        from app import i18n

        for name, (tab, drawn) in ANALYSIS_TABS.items():
            if not wanted(name):
                continue
            page.goto(f"{url}/Analysis" + (f"?{query}" if query else ""))
            wait_until_idle(page)
            page.get_by_role("tab", name=i18n.translations(args.lang).gettext(tab)).click()
            page.locator(drawn).wait_for(state="visible")
            wait_until_idle(page)
            height = shoot(page, args.out / f"{name}{suffix}.png", args.width)
            print(f"{name}{suffix}.png: {height} px")
        for number, lesson in enumerate(LESSONS, start=1):
            if not wanted(f"lesson_{number:02d}_{lesson.KEY}"):
                continue
            steps = [step.id for step in lesson_steps(lesson)]
            step = steps.index("predict") + 1
            page.goto(f"{url}/Lessons?lesson={lesson.KEY}&step={step}" + (f"&{query}" if query else ""))
            wait_until_idle(page)
            options = page.locator(f".st-key-{lesson.PREDICTION.key} label")  # the first is the question's
            if options.count() > 1:
                options.nth(1).click()
                page.wait_for_timeout(500)
                wait_until_idle(page)
            name = f"lesson_{number:02d}_{lesson.KEY}{suffix}.png"
            height = shoot(page, args.out / name, args.width)
            print(f"{name}: predict step, {height} px")
    return 0


if __name__ == "__main__":
    sys.exit(main())
