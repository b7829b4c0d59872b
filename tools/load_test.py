#!/usr/bin/env python
"""Load test: many browser sessions on the Image inspector at once (issue #7, "many users at once").

Starts ``streamlit run streamlit_app.py`` on a free port on 127.0.0.1, opens
ONE headless Chromium with one browser context per session (separate cookies,
so separate Streamlit sessions), and has every session, from the server's
very first request on (a deep link to ``/Image_inspector``), perform
``--actions`` actions, cycling through:

1. upload its next image (synthetic PNGs, different for every session and
   every upload, each with its session number drawn in) and wait until the
   prediction shown is the one the core computes offline for *that* image
   (the top-5 labels and percentages of the Plotly chart, read from the
   page) -- so a session that was shown another session's result, or a stale
   one, counts as a mismatch;
2. move the query (the "Query column x" / "Query row y" sliders, by keyboard,
   always towards the inside of the grid) and wait until the maps' title
   names the new query, the prediction still being its own image's;
3. change the head (the "Head m" select box) and wait for the title again.

The load is a number of actions, not a time window: every session completes
all its actions however slow the machine is; each action may take up to
``--action-timeout`` seconds (generous) before it counts as failed. Each
"action -> result visible" time is recorded and printed (percentiles), never
judged. Any exception element (``stException``) or error alert on the page
counts as an error. The server's peak resident memory is read from
``/proc/<pid>/status`` (VmHWM, plus VmRSS sampled every half second). The
exit status is 0 only when there were no errors and no mismatches and every
session completed all its actions (so saw its own results).

Usage::

    python tools/load_test.py --sessions 8 --actions 30
    python tools/load_test.py --quick            # 2 sessions x 4 actions (the pytest wrapper's mode)
    python tools/load_test.py --quick --json out.json

Bounded: at most ``--startup-timeout`` for the server, then at most
``--action-timeout`` per action; a hard wall-clock limit covers the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
REPO_ROOT = TOOLS.parent
for folder in (str(TOOLS), str(REPO_ROOT)):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from learner_images import PERCENT_TOLERANCE, Expected, expected_images  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync"]
PREDICTION_TITLE = "Prediction p(class"
MAPS_TITLE = re.compile(r"Block (\S+), head (\d+), query \((\d+), (\d+)\)")
IMAGES_PER_SESSION = 40   # at most this many distinct uploads per session, then it starts over (cached results)
ACTION_KINDS = 3          # upload, query, head: one cycle


# --------------------------------------------------------------------------------------------------
# The images and what the core predicts for them (offline, the app's own code path)
# --------------------------------------------------------------------------------------------------


def expected_predictions(sessions: int, per_session: int) -> tuple[list[list[Expected]], str]:
    """Every session's images and their offline predictions (made distinguishable), and the model's description."""
    from app import registry

    return expected_images(sessions, per_session), registry.default_model()[1]


def matches(shown: dict | None, expected: Expected) -> bool:
    """Whether the chart shows ``expected``'s prediction (labels and percentages, up to display rounding)."""
    if not shown or not shown.get("labels"):
        return False
    labels, texts = shown["labels"], shown["texts"]
    if len(labels) != len(expected.top) or set(labels) - set(expected.percents):
        return False
    try:
        values = [float(str(t).rstrip("%")) for t in texts]
    except ValueError:
        return False
    if any(abs(v - expected.percents[label]) > PERCENT_TOLERANCE for label, v in zip(labels, values)):
        return False
    # The five most probable, in order -- unless two of them are within display rounding of each other.
    if labels != expected.top:
        cutoff = expected.percents[expected.top[-1]]
        shown_ok = all(expected.percents[label] >= cutoff - PERCENT_TOLERANCE for label in labels)
        order_ok = all(values[i] >= values[i + 1] - PERCENT_TOLERANCE for i in range(len(values) - 1))
        return shown_ok and order_ok
    return True


# --------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of one process (``/proc/<pid>/stat``)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def machine_busy_seconds() -> float:
    """CPU time spent busy by the whole machine, all cores (``/proc/stat``)."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def proc_status_kb(pid: int, field_name: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class Server:
    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.rss_samples_kb: list[int] = []
        self.cpu_before = self.cpu_after = self.busy_before = self.busy_after = None

    def start(self, timeout: float) -> float:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none", "--server.runOnSave", "false"],
            cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        deadline = started + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Streamlit server exited with code {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.read().strip() == b"ok":
                        return time.monotonic() - started
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Streamlit server did not answer /_stcore/health within {timeout:.0f} s")
            time.sleep(0.3)

    def sample(self) -> None:
        if self.process is not None:
            rss = proc_status_kb(self.process.pid, "VmRSS")
            if rss is not None:
                self.rss_samples_kb.append(rss)

    def peak_kb(self) -> int | None:
        return proc_status_kb(self.process.pid, "VmHWM") if self.process is not None else None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


# --------------------------------------------------------------------------------------------------
# The sessions
# --------------------------------------------------------------------------------------------------

READ_STATE_JS = """() => {
  const out = {prediction: null, mapsTitle: null, errors: [], exceptions: 0};
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {
    const layout = gd.layout || {};
    const title = (layout.title && (layout.title.text || layout.title)) || '';
    const text = String(title).replace(/<br>/g, ' ');
    if (text.includes('%PREDICTION%') && gd.data && gd.data.length) {
      const trace = gd.data[0];
      out.prediction = {labels: Array.from(trace.y || []).reverse(), texts: Array.from(trace.text || []).reverse(),
                        title: text};
    } else if (/Block \\S+, head \\d+, query/.test(text)) {
      out.mapsTitle = text;
    }
  }
  out.exceptions = document.querySelectorAll('[data-testid="stException"]').length;
  out.exceptionText = Array.from(document.querySelectorAll('[data-testid="stException"]'), (e) => e.innerText).join(' | ');
  for (const e of document.querySelectorAll('[data-testid="stAlertContentError"]')) out.errors.push(e.innerText);
  out.running = document.querySelectorAll('[data-testid="stStatusWidget"]').length > 0;
  return out;
}""".replace("%PREDICTION%", PREDICTION_TITLE)


@dataclass
class SessionStats:
    session: int
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    own_results: int = 0  # uploads whose result matched this session's image
    completed: int = 0    # actions whose result became visible (upload, query, head)

    def record(self, kind: str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds)


class ActionFailed(Exception):
    pass


async def read_state(page) -> dict:
    return await page.evaluate(READ_STATE_JS)


async def wait_for(page, predicate, timeout: float, what: str, stats: SessionStats) -> dict:
    """Poll the page until ``predicate(state)`` holds; an exception element or error alert fails the action."""
    deadline = time.monotonic() + timeout
    state: dict = {}
    while time.monotonic() < deadline:
        state = await read_state(page)
        if state["exceptions"]:
            raise ActionFailed(f"{what}: the page shows an exception element (a traceback): "
                               f"{state.get('exceptionText', '')[:800]!r}")
        if state["errors"]:
            raise ActionFailed(f"{what}: the page shows an error: {state['errors'][0][:200]!r}")
        if predicate(state):
            return state
        await asyncio.sleep(0.2)
    raise ActionFailed(f"{what}: not visible within {timeout:.0f} s (last prediction shown: {state.get('prediction')}, "
                       f"maps title: {state.get('mapsTitle')!r})")


async def thumb_target(thumb) -> tuple[int, str, int]:
    """(current value, key to press, value after the press) for a slider thumb, always moving inside the grid."""
    current, low, high = (int(v) for v in await thumb.evaluate("e => [e.value, e.min, e.max]"))  # an input range
    if current < high:
        return current, "ArrowRight", current + 1
    if current > low:
        return current, "ArrowLeft", current - 1
    raise ActionFailed(f"the slider cannot move (range {low}..{high})")


async def run_session(browser, url: str, session: int, pool: list[Expected], actions: int,
                      action_timeout: float, stats: SessionStats, expected_pool: list[Expected] | None = None) -> None:
    """One user: opens the inspector, then upload, query, head, ... until ``actions`` actions are done.

    ``expected_pool`` (the negative control only) replaces what the session expects to see: another
    session's images, so every upload must end as a mismatch.
    """
    expected_pool = expected_pool or pool
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(action_timeout * 1000)
    try:
        started = time.monotonic()
        await page.goto(f"{url}/Image_inspector")
        await page.get_by_role("heading", name="Image inspector").first.wait_for()
        await page.locator('[data-testid="stMain"]').get_by_text("Upload an image", exact=True).click()
        await page.locator('[data-testid="stMain"] input[type="file"]').first.wait_for(state="attached")
        stats.record("open page", time.monotonic() - started)
        number = 0
        while stats.completed < actions:
            upload = pool[number % len(pool)]
            image = expected_pool[number % len(expected_pool)]  # what must be shown (the upload itself, normally)
            number += 1
            # 1. Upload: the prediction must become this image's.
            t0 = time.monotonic()
            await page.locator('[data-testid="stMain"] input[type="file"]').first.set_input_files(
                files=[{"name": upload.name, "mimeType": "image/png", "buffer": upload.png}])
            await wait_for(page, lambda s: matches(s["prediction"], image) and not s["running"], action_timeout,
                           f"session {session}, upload {image.name}", stats)
            stats.record("upload -> prediction", time.monotonic() - t0)
            stats.own_results += 1
            stats.completed += 1
            if stats.completed >= actions:
                break
            # 2. Move the query: the maps' title must name it, the prediction must still be this image's.
            title = await wait_for(page, lambda s: s["mapsTitle"] is not None, action_timeout,
                                   f"session {session}, maps after upload", stats)
            match = MAPS_TITLE.search(title["mapsTitle"])
            head = int(match.group(2))
            slider_label = "Query column x" if number % 2 else "Query row y"
            thumb = page.get_by_test_id("stSlider").filter(has_text=slider_label).first.get_by_role("slider")
            _, key, wanted = await thumb_target(thumb)
            t0 = time.monotonic()
            await thumb.focus()
            await thumb.press(key)

            def moved(s, slider_label=slider_label, wanted=wanted):
                m = MAPS_TITLE.search(s["mapsTitle"] or "")
                if not m or not matches(s["prediction"], image) or s["running"]:
                    return False
                got = int(m.group(4)) if slider_label.endswith("x") else int(m.group(3))
                return got == wanted

            await wait_for(page, moved, action_timeout, f"session {session}, query -> {wanted}", stats)
            stats.record("query -> maps", time.monotonic() - t0)
            stats.completed += 1
            if stats.completed >= actions:
                break
            # 3. Change the head (mixed blocks have several).
            head_box = page.get_by_test_id("stSelectbox").filter(has_text="Head m")
            if await head_box.count():
                t0 = time.monotonic()
                # By keyboard, as tests/test_keyboard.py does: in headless Chromium a click on the box does not
                # always open its list. ArrowDown opens it (to count the heads); typing the number filters the
                # options to that head (the first match), Enter picks it.
                await head_box.first.locator("input").focus()
                await page.keyboard.press("ArrowDown")
                options = page.get_by_role("option")
                await options.first.wait_for()
                new_head = (head + 1) % await options.count()
                await page.keyboard.type(str(new_head))
                await page.keyboard.press("Enter")

                def head_changed(s, new_head=new_head):
                    m = MAPS_TITLE.search(s["mapsTitle"] or "")
                    return bool(m) and int(m.group(2)) == new_head and matches(s["prediction"], image) \
                        and not s["running"]

                await wait_for(page, head_changed, action_timeout, f"session {session}, head -> {new_head}", stats)
                stats.record("head -> maps", time.monotonic() - t0)
                stats.completed += 1
    except ActionFailed as failure:
        message = str(failure)
        (stats.mismatches if "not visible" in message else stats.errors).append(message)
    except Exception as error:  # noqa: BLE001 - a browser failure is an error of this run, not a crash of the tool
        stats.errors.append(f"session {session}: {type(error).__name__}: {str(error)[:300]}")
    finally:
        await context.close()


async def drive(url: str, pools: list[list[Expected]], actions: int, action_timeout: float,
                server: Server, negative_control: bool = False) -> tuple[list[SessionStats], float]:
    """Every session at once, from the server's first request on (no warm-up visit: deep links must work cold)."""
    from playwright.async_api import async_playwright

    stats = [SessionStats(i) for i in range(len(pools))]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            server.cpu_before = cpu_seconds(server.process.pid)
            server.busy_before = machine_busy_seconds()
            started = time.monotonic()
            sampler_done = asyncio.Event()

            async def sampler() -> None:
                while not sampler_done.is_set():
                    server.sample()
                    try:
                        await asyncio.wait_for(sampler_done.wait(), 0.5)
                    except asyncio.TimeoutError:
                        pass

            sampling = asyncio.create_task(sampler())
            expected = [pools[(i + 1) % len(pools)] for i in range(len(pools))] if negative_control else pools
            await asyncio.gather(*(run_session(browser, url, i, pools[i], actions, action_timeout, stats[i],
                                               expected[i]) for i in range(len(pools))))
            elapsed = time.monotonic() - started
            server.cpu_after = cpu_seconds(server.process.pid)
            server.busy_after = machine_busy_seconds()
            sampler_done.set()
            await sampling
        finally:
            await browser.close()
    return stats, elapsed


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation), as load-testing tools report it."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def summarise(stats: list[SessionStats], elapsed: float, server: Server, args, model: str,
              startup_s: float, load: tuple[tuple[float, ...], tuple[float, ...]]) -> dict:
    kinds: dict[str, list[float]] = {}
    for s in stats:
        for kind, values in s.latencies.items():
            kinds.setdefault(kind, []).extend(values)
    measured = [v for k, vs in kinds.items() if k != "open page" for v in vs]
    rows = []
    for kind, values in list(kinds.items()) + [("all actions (excl. open page)", measured)]:
        if values:
            rows.append({"kind": kind, "count": len(values), "p50": percentile(values, 50),
                         "p90": percentile(values, 90), "p99": percentile(values, 99), "max": max(values),
                         "mean": statistics.fmean(values)})
    peak_kb = server.peak_kb()
    server_cpu = (server.cpu_after - server.cpu_before) if None not in (server.cpu_after, server.cpu_before) else None
    busy = (server.busy_after - server.busy_before) if None not in (server.busy_after, server.busy_before) else None
    return {
        "cpu": {"available_s": (os.cpu_count() or 1) * elapsed, "machine_busy_s": busy, "server_s": server_cpu},
        "sessions": len(stats), "actions_per_session": args.actions, "elapsed_s": elapsed,
        "server_startup_s": startup_s, "model": model, "actions": len(measured),
        "actions_per_s": len(measured) / elapsed if elapsed else 0.0,
        "completed": {s.session: s.completed for s in stats},
        "errors": [e for s in stats for e in s.errors], "mismatches": [m for s in stats for m in s.mismatches],
        "own_results": {s.session: s.own_results for s in stats},
        "latency": rows,
        "server_peak_rss_mb": peak_kb / 1024 if peak_kb else None,
        "server_rss_sampled_max_mb": max(server.rss_samples_kb) / 1024 if server.rss_samples_kb else None,
        "server_rss_end_mb": server.rss_samples_kb[-1] / 1024 if server.rss_samples_kb else None,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_before": load[0], "loadavg_after": load[1]},
    }


def print_summary(result: dict) -> None:
    line = "-" * 78
    print(line)
    print(f"Load test: {result['sessions']} browser sessions x {result['actions_per_session']} actions on the Image "
          f"inspector, from a fresh server's first request (one headless Chromium)")
    print(f"model: {result['model']}; server start-up {result['server_startup_s']:.1f} s; "
          f"machine: {result['machine']['cpus']} CPUs, load average before/after "
          f"{' '.join(f'{v:.2f}' for v in result['machine']['loadavg_before'])} / "
          f"{' '.join(f'{v:.2f}' for v in result['machine']['loadavg_after'])}")
    print(line)
    print(f"{'action -> result visible':<34}{'count':>6}{'p50 s':>8}{'p90 s':>8}{'p99 s':>8}{'max s':>8}{'mean s':>8}")
    for row in result["latency"]:
        print(f"{row['kind']:<34}{row['count']:>6}{row['p50']:>8.2f}{row['p90']:>8.2f}{row['p99']:>8.2f}"
              f"{row['max']:>8.2f}{row['mean']:>8.2f}")
    print(line)
    own = result["own_results"]
    print(f"actions (excl. opening the page): {result['actions']} in {result['elapsed_s']:.1f} s "
          f"({result['actions_per_s']:.2f}/s)")
    print(f"uploads that showed the session's own prediction, per session: "
          f"{', '.join(f'{k}: {v}' for k, v in own.items())}")
    print(f"actions completed per session (of {result['actions_per_session']}): "
          f"{', '.join(f'{k}: {v}' for k, v in result['completed'].items())}")
    print(f"errors (exception elements, error alerts, browser failures): {len(result['errors'])}")
    print(f"mismatches / timeouts (a result not the session's own, or not shown in time): {len(result['mismatches'])}")
    for message in (result["errors"] + result["mismatches"])[:10]:
        print(f"  - {message}")
    cpu = result["cpu"]
    if cpu["machine_busy_s"] is not None and cpu["server_s"] is not None:
        print(f"CPU during the sessions: {cpu['machine_busy_s']:.0f} of {cpu['available_s']:.0f} CPU-seconds busy; "
              f"the Streamlit server used {cpu['server_s']:.0f} of them, the rest was the browser, this tool "
              f"and anything else running")
    peak = result["server_peak_rss_mb"]
    sampled = result["server_rss_sampled_max_mb"]
    end = result["server_rss_end_mb"]
    print(f"server memory: peak RSS (VmHWM) {peak:.0f} MB; max sampled VmRSS {sampled:.0f} MB; "
          f"VmRSS at the end {end:.0f} MB" if peak and sampled and end else "server memory: not available")
    print(f"verdict: {'PASS' if passed(result) else 'FAIL'}")
    print(line)


def passed(result: dict) -> bool:
    return (not result["errors"] and not result["mismatches"] and all(v > 0 for v in result["own_results"].values())
            and all(v == result["actions_per_session"] for v in result["completed"].values()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=8, help="browser sessions (contexts) at once (default 8)")
    parser.add_argument("--actions", type=int, default=30,
                        help="actions per session (upload, query, head, upload, ...; default 30)")
    parser.add_argument("--quick", action="store_true", help="2 sessions x 4 actions (the pytest wrapper's mode)")
    parser.add_argument("--startup-timeout", type=float, default=240.0, help="seconds to wait for the server")
    parser.add_argument("--action-timeout", type=float, default=240.0,
                        help="seconds one action may take before it counts as failed (default 240: generous, "
                        "a busy machine must not fail the run)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--negative-control", action="store_true",
                        help="check the harness: every session expects the NEXT session's images, so every upload "
                        "must be reported as a mismatch (exit status 0 only if it is)")
    parser.add_argument("--log", type=Path, default=REPO_ROOT / "test-artifacts" / "load-test-server.log",
                        help="the server's log (default test-artifacts/load-test-server.log)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.actions = 2, 4
    if args.sessions < 1 or args.actions < 1 or args.action_timeout <= 0:
        parser.error("--sessions and --actions must be >= 1 and --action-timeout > 0")
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: install the Debian package 'chromium'", file=sys.stderr)
        return 2
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        print("the playwright Python package is not installed", file=sys.stderr)
        return 2

    # Hard limit on the whole run, whatever happens (start-up, load, the actions in flight, shutdown).
    hard_limit = args.startup_timeout + (args.actions + 1) * args.action_timeout + 120
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError(f"load test ran past {hard_limit:.0f} s")))
    signal.alarm(int(hard_limit))

    per_session = min(IMAGES_PER_SESSION, math.ceil(args.actions / ACTION_KINDS) + 1)
    print(f"preparing {args.sessions} x {per_session} distinct images and their offline predictions ...", flush=True)
    pools, model = expected_predictions(args.sessions, per_session)
    server = Server(args.log)
    load_before = os.getloadavg()
    try:
        startup_s = server.start(args.startup_timeout)
        print(f"server up at {server.url} after {startup_s:.1f} s (pid {server.process.pid}); "
              f"{args.sessions} sessions x {args.actions} actions ...", flush=True)
        stats, elapsed = asyncio.run(drive(server.url, pools, args.actions, args.action_timeout, server,
                                           args.negative_control))
        server.sample()
        result = summarise(stats, elapsed, server, args, model, startup_s, (load_before, os.getloadavg()))
    finally:
        server.stop()
        signal.alarm(0)
    result["negative_control"] = args.negative_control
    print_summary(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    if args.negative_control:
        caught = all(any(f"session {s}," in m for m in result["mismatches"]) for s in range(args.sessions))
        print(f"negative control: {'every session was caught seeing another session' + chr(39) + 's expected result' if caught else 'NOT caught'}"
              f" ({len(result['mismatches'])} mismatches, {sum(result['own_results'].values())} false matches)")
        return 0 if caught and not sum(result["own_results"].values()) else 1
    return 0 if passed(result) else 1


if __name__ == "__main__":
    sys.exit(main())
