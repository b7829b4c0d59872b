#!/usr/bin/env python
"""Cold start: time from the first request of a fresh server to the first Plotly figure, for every page.

For each page address (and each repeat) the tool starts a FRESH
``streamlit run streamlit_app.py`` on a free 127.0.0.1 port, waits until it
answers ``/_stcore/health``, then opens the page's address in a new context
of one headless Chromium (empty browser cache, as a first-time visitor) and
measures, from the moment the request is sent:

- ``title``: the page's first heading (``h1``) is visible;
- ``figure``: the first Plotly figure has drawn its SVG (``.js-plotly-plot .main-svg``).

A figure that does not appear within ``--timeout`` is reported as missing,
not as a time. Figures are printed (a table, and ``--json``), never judged:
this is a measurement, the tests assert behaviour only.

Usage::

    python tools/cold_start.py                       # every page, 1 run each
    python tools/cold_start.py --repeats 3           # median of 3 fresh servers per page
    python tools/cold_start.py --pages Image_inspector Blend --json cold.json
    python tools/cold_start.py --query "lesson=conv" --pages Lessons
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
if str(TOOLS) not in sys.path:
    sys.path.insert(0, str(TOOLS))

from load_test import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, Server  # noqa: E402

# URL path of every page ("" is the default page, Home); kept here so the tool also measures older checkouts.
PAGES = ["", "Affinity_explorer", "Image_inspector", "Blend", "Model_zoo", "Lessons"]
FIGURE_SELECTOR = ".js-plotly-plot .main-svg"


def measure_page(browser, url_path: str, query: str, timeout: float, log_dir: Path, index: int) -> dict:
    """One fresh server, one first request: seconds to the heading and to the first figure."""
    server = Server(log_dir / f"cold-start-{index}-{url_path or 'home'}.log")
    result: dict = {"page": url_path or "(home)", "query": query or None}
    try:
        result["server_startup_s"] = server.start(timeout)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.set_default_timeout(timeout * 1000)
            address = f"{server.url}/{url_path}" + (f"?{query}" if query else "")
            started = time.monotonic()
            page.goto(address, wait_until="commit")
            try:
                page.locator("h1").first.wait_for(state="visible")
                result["title_s"] = time.monotonic() - started
            except Exception:  # noqa: BLE001 - a missing heading is a result, reported as such
                result["title_s"] = None
            try:
                page.locator(FIGURE_SELECTOR).first.wait_for(state="attached", timeout=timeout * 1000)
                result["figure_s"] = time.monotonic() - started
            except Exception:  # noqa: BLE001
                result["figure_s"] = None
            result["exceptions"] = page.locator('[data-testid="stException"]').count()
        finally:
            context.close()
    finally:
        server.stop()
    return result


def median_or_none(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def fmt(value: float | None) -> str:
    return "missing" if value is None else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", nargs="*", default=PAGES,
                        help="URL paths to open ('' or 'home' is the default page); default: every page")
    parser.add_argument("--repeats", type=int, default=1, help="fresh servers per page; the median is reported")
    parser.add_argument("--query", default="", help="query string added to every address, e.g. 'lesson=conv'")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for the server / a figure")
    parser.add_argument("--json", type=Path, help="also write every run and the medians to this JSON file")
    parser.add_argument("--log-dir", type=Path, default=REPO_ROOT / "test-artifacts" / "cold-start",
                        help="where the servers' logs go")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    pages = ["" if p in ("home", "(home)") else p for p in args.pages]
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: install the Debian package 'chromium'", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()
    runs: list[dict] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            for repeat in range(args.repeats):
                for url_path in pages:
                    run = measure_page(browser, url_path, args.query, args.timeout, args.log_dir, len(runs))
                    run["repeat"] = repeat
                    runs.append(run)
                    print(f"  {run['page']:<20} run {repeat + 1}: title {fmt(run['title_s'])} s, "
                          f"first figure {fmt(run['figure_s'])} s (server up after {run['server_startup_s']:.1f} s)",
                          flush=True)
        finally:
            browser.close()
    summary = []
    for url_path in pages:
        mine = [r for r in runs if r["page"] == (url_path or "(home)")]
        summary.append({"page": url_path or "(home)", "runs": len(mine),
                        "title_s": median_or_none([r["title_s"] for r in mine]),
                        "figure_s": median_or_none([r["figure_s"] for r in mine]),
                        "figure_s_all": [r["figure_s"] for r in mine],
                        "server_startup_s": median_or_none([r["server_startup_s"] for r in mine]),
                        "exceptions": sum(r["exceptions"] for r in mine)})
    line = "-" * 84
    print(line)
    print(f"Cold start: fresh server per run, first request = the page's address{' ?' + args.query if args.query else ''}"
          f"; median of {args.repeats} run(s)")
    print(f"machine: {os.cpu_count()} CPUs, load average before/after "
          f"{' '.join(f'{v:.2f}' for v in load_before)} / {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(line)
    print(f"{'page':<20}{'title s':>10}{'figure s':>10}   {'figure s, every run':<28}{'server up s':>12}")
    for row in summary:
        every = ", ".join(fmt(v) for v in row["figure_s_all"])
        print(f"{row['page']:<20}{fmt(row['title_s']):>10}{fmt(row['figure_s']):>10}   {every:<28}"
              f"{fmt(row['server_startup_s']):>12}")
    print(line)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "query": args.query or None, "repeats": args.repeats, "summary": summary, "runs": runs,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        }, indent=2))
    return 1 if any(r["exceptions"] for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
