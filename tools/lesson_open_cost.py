#!/usr/bin/env python
"""Server CPU for the first open of every lesson on a warm server, as tools/capacity.py counts it.

    python tools/lesson_open_cost.py [--lessons container cost] [--repeats 2] [--json out.json]

Starts one app server (shared mode), opens every lesson once in a new tab (warming the caches that every learner
shares), then opens each lesson again in ``--repeats`` fresh tabs (new sessions) and records the server's CPU time
from the request until its page is drawn and the server is quiet (the idle rate subtracted). The browser's CPU is
not counted. Prints one line per lesson and, last, one JSON object with the means and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
REPO_ROOT = TOOLS.parent
for folder in (str(TOOLS), str(REPO_ROOT)):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from capacity import PAGES, Meter, log, new_tab, wait_page  # noqa: E402
from classroom import CHROMIUM, CHROMIUM_ARGS, warm_up  # noqa: E402
from replicas import AppServer  # noqa: E402

LESSONS_HEADING = PAGES[-1][1]


def lesson_keys() -> list[str]:
    from app.lessons import LESSON_KEYS

    return list(LESSON_KEYS)


async def open_lesson(browser, url: str, key: str, timeout: float):
    """A new tab (a new session) on ``key``'s first step, until its lesson header is drawn and the run is over."""
    context, page = await new_tab(browser, url, f"Lessons?lesson={key}", LESSONS_HEADING, timeout)
    await page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stMain\"] h2').length > 0",
                                 timeout=timeout * 1000)
    await wait_page(page, lambda state: not state["running"], f"lesson {key}", timeout)
    return context


async def measure(keys: list[str], repeats: int, timeout: float, work_dir: Path) -> dict:
    from playwright.async_api import async_playwright

    server = AppServer("lesson-open", work_dir / "lesson-open-server.log")
    server.start()
    log(f"server up after {server.wait_ready(240):.1f} s (pid {server.pid})")
    costs: dict[str, list[float]] = {}
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                                       headless=True)
            try:
                await warm_up(browser, server, timeout)
                for key in keys:  # warm: every lesson once
                    await (await open_lesson(browser, server.url, key, timeout)).close()
                meter = Meter(server, timeout)
                meter.idle_rate = await meter.idle_rate_over(10.0)
                for key in keys:
                    opened = []

                    async def visit(key=key):
                        opened.append(await open_lesson(browser, server.url, key, timeout))

                    for _ in range(repeats):
                        result = await meter.measure(f"first open of {key}", visit)
                        costs.setdefault(key, []).append(result.cpu_s)
                        await opened.pop().close()
            finally:
                await browser.close()
    finally:
        server.stop()
    return {"first_open_cpu_s": {key: statistics.mean(values) for key, values in costs.items()},
            "repeats": repeats, "load_average": os.getloadavg(), "cores": os.cpu_count()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lessons", nargs="*", help="lesson keys (default: every lesson)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "test-artifacts" / "lesson-open")
    args = parser.parse_args(argv)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(measure(args.lessons or lesson_keys(), args.repeats, args.timeout, args.work_dir))
    for key, cpu in result["first_open_cpu_s"].items():
        print(f"{key:12s} {cpu * 1000:7.0f} ms server CPU")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
