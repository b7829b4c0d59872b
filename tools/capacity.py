#!/usr/bin/env python
"""Capacity by measurement: what the app SERVER spends per learner action and per session, and a class size from it.

    python tools/capacity.py                  # about 5-10 minutes; prints the table
    python tools/capacity.py --json out.json --repeats 8

Starts one app server (shared mode) on a free 127.0.0.1 port and drives it
with headless Chromium, one action at a time. The cost of an action is the
CPU time of the server process and its descendants (``/proc/<pid>/stat``)
from just before the action until its result is on the page and the server
has gone quiet again, minus what the idle server burns in that time; the
browser's CPU is never counted. Actions (``--repeats`` of each):

- open a page: the sidebar's link to the next page, within one session (all six pages in turn);
- first visit: a new browser tab on the home page (a new server session and its first run);
- upload and inspect: a new 96x96 image on the Image inspector, until its own prediction is shown;
- change head or query: the "Head m" box or the "Query column x" slider, until the maps name the new one;
- lesson experiment: the ``container`` lesson's α slider one step, until the accuracy at the new α is shown (each α is new to
  the server; asked again it comes from a cache shared by everyone).

Memory is the server's resident set (VmRSS) before and after opening
``--sessions`` sessions of three kinds, held open together: idle on the home
page, on the inspector with a small upload, and (``--photo-sessions``) with a
12-megapixel photo. Idle CPU is measured over ``--idle-seconds`` with the
sessions open.

The table assumes one server process per core (Streamlit runs every session's
script in threads of one Python process, so one process does not use more
than about one core for them; run several behind HAProxy, see
tools/classroom.py) and plans for ``--utilisation`` of each core, so that
bursts of actions wait little. The action mix is stated in the output.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import io
import json
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
REPO_ROOT = TOOLS.parent
for folder in (str(TOOLS), str(REPO_ROOT)):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from classroom import CHROMIUM, CHROMIUM_ARGS, STATE_JS, warm_up  # noqa: E402
from learner_images import Expected, expected_images, shows  # noqa: E402
from replicas import AppServer  # noqa: E402

PAGES = [("Home", "Container: context aggregation, explained"), ("Affinity explorer", "Affinity explorer"),
         ("Image inspector", "Image inspector"), ("Blend", "Blend"), ("Model zoo", "Model zoo"),
         ("Lessons", "Lessons: one operation, three affinities")]
#: Of every 10 actions of a learner: what the table assumes (stated with the table).
MIX = {"open a page": 1, "upload and inspect": 2, "change head or query": 5, "lesson experiment": 2}
RATES = (2, 4, 6, 10)  # actions per learner per minute
MAPS_TITLE = re.compile(r"Block (\S+), head (\d+), query \((\d+), (\d+)\)")
PAGE_JS = """() => ({
  title: (document.querySelector('[data-testid="stMain"] h1') || {}).innerText || '',
  running: document.querySelectorAll('[data-testid="stStatusWidget"]').length > 0,
  exceptions: document.querySelectorAll('[data-testid="stException"]').length,
  maps: Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => String((gd.layout && gd.layout.title &&
        (gd.layout.title.text || gd.layout.title)) || '')).filter(t => /Block \\S+, head \\d+, query/.test(t))[0] || '',
  metrics: Array.from(document.querySelectorAll('[data-testid="stMetricLabel"]')).map(e => e.innerText),
})"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Measured:
    kind: str
    cpu_s: float
    wall_s: float


class Meter:
    """Server CPU per action: ``cpu(after settled) - cpu(before) - idle rate x elapsed``."""

    def __init__(self, server: AppServer, timeout: float) -> None:
        self.server = server
        self.timeout = timeout
        self.idle_rate = 0.0
        self.results: list[Measured] = []

    async def idle_rate_over(self, seconds: float) -> float:
        before, started = self.server.cpu_seconds(), time.monotonic()
        await asyncio.sleep(seconds)
        return (self.server.cpu_seconds() - before) / (time.monotonic() - started)

    async def settle(self) -> None:
        """Until the server burns no more than its idle rate plus one clock tick per half second (at most 10 s)."""
        deadline = time.monotonic() + 10
        last = self.server.cpu_seconds()
        while time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            now = self.server.cpu_seconds()
            if now - last <= self.idle_rate * 0.5 + 0.011:
                return
            last = now

    async def stable_rss(self) -> float:
        """The server's RSS once it has stopped moving (three readings a second apart within 1 MB; at most 30 s):
        closed sessions are freed a little after their tabs close."""
        readings = [self.server.rss_mb()]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            await asyncio.sleep(1)
            readings.append(self.server.rss_mb())
            if len(readings) >= 3 and max(readings[-3:]) - min(readings[-3:]) <= 1.0:
                break
        return readings[-1]

    async def measure(self, kind: str, action) -> Measured:
        before, started = self.server.cpu_seconds(), time.monotonic()
        await action()
        await self.settle()
        elapsed = time.monotonic() - started
        cost = max(0.0, self.server.cpu_seconds() - before - self.idle_rate * elapsed)
        result = Measured(kind, cost, elapsed)
        self.results.append(result)
        log(f"  {kind}: {cost * 1000:.0f} ms server CPU ({elapsed:.1f} s until quiet)")
        return result


async def wait_page(page, done, what: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    quiet = 0
    state: dict = {}
    while time.monotonic() < deadline:
        state = await page.evaluate(PAGE_JS)
        if state["exceptions"]:
            raise RuntimeError(f"{what}: the page shows a traceback")
        quiet = quiet + 1 if done(state) and not state["running"] else 0
        if quiet >= 2:  # two reads in a row: the run that produced it has ended
            return state
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{what}: not shown within {timeout:.0f} s (page: {state})")


def photo_jpeg(seed: int, size: tuple[int, int] = (4000, 3000)) -> bytes:
    """A 12-megapixel JPEG, as phones take them (smooth gradients and shapes: a few MB, like a photo)."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size[1], 0:size[0]].astype(np.float32)
    channels = [127 + 120 * np.sin(x / rng.uniform(80, 400) + y / rng.uniform(80, 400) + rng.uniform(0, 6))
                for _ in range(3)]
    image = Image.fromarray(np.stack(channels, axis=-1).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, size[0] - 400)), int(rng.integers(0, size[1] - 400))
        draw.ellipse((x0, y0, x0 + 400, y0 + 300), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@functools.lru_cache(maxsize=1)
def _default_model():
    import torch

    from app import registry
    from container_edu.hub.cards import card_for_model

    torch.set_num_threads(1)
    model = registry.default_model()[0]
    return model, card_for_model(model)


def expected_photo(seed: int) -> Expected:
    """A 12 MP photo with the prediction the app must show for it (the app's own code, offline)."""
    from app import registry
    from container_edu.data.images import UPLOAD_MAX_ASPECT, UPLOAD_MAX_SIDE, load_image
    from container_edu.record.inspection import run_inspection

    model, card = _default_model()
    names = card.class_names
    data = photo_jpeg(seed)
    # Decoded as the app decodes an upload (app/widgets.py): a 12 MP JPEG is drawn at half scale to fit 2048 px.
    x, _ = registry.preprocess(card, load_image(data, max_side=UPLOAD_MAX_SIDE, max_aspect=UPLOAD_MAX_ASPECT))
    probabilities = run_inspection(model, x).probabilities
    return Expected(1000 + seed, 0, data, {names[i]: 100.0 * float(p) for i, p in enumerate(probabilities)})


async def new_tab(browser, url: str, path: str, heading: str, timeout: float):
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(timeout * 1000)
    await page.goto(f"{url}/{path}")
    await wait_page(page, lambda s: s["title"].startswith(heading), f"opening /{path}", timeout)
    return context, page


async def upload(page, name: str, data: bytes, mime: str, done, timeout: float) -> None:
    main = page.locator('[data-testid="stMain"]')
    file_input = main.locator('input[type="file"]').first
    if not await file_input.count():
        await main.get_by_text("Upload an image", exact=True).click()
        await file_input.wait_for(state="attached")
    await file_input.set_input_files(files=[{"name": name, "mimeType": mime, "buffer": data}])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = await page.evaluate(STATE_JS)
        if state["exceptions"] or state["errors"]:
            raise RuntimeError(f"upload {name}: {state['errors'] or 'a traceback'}")
        if done(state) and not state["running"]:
            return
        await asyncio.sleep(0.2)
    shown = await page.locator('[data-testid="stMain"]').inner_text()
    raise RuntimeError(f"upload {name}: no prediction within {timeout:.0f} s; the page says: {shown[:1500]!r}")


async def inspect_series(page, meter: Meter, images: list[Expected], suffix: str, mime: str,
                         timeout: float) -> None:
    """For each image: upload it (until its own prediction shows), then change the head, then move the query."""
    for image in images:
        await meter.measure("upload and inspect" + suffix, lambda image=image: upload(
            page, image.name, image.png, mime, lambda s: shows(s["prediction"], image), timeout))
        state = await page.evaluate(PAGE_JS)
        head, qx = int(MAPS_TITLE.search(state["maps"]).group(2)), int(MAPS_TITLE.search(state["maps"]).group(4))

        async def change_head(new=(head + 1) % 4):
            # A click on the box opens no list in headless Chromium here; the keyboard does (as tests/test_keyboard.py):
            # typing the head's number filters the options to that one, Enter picks it.
            await page.get_by_test_id("stSelectbox").filter(has_text="Head m").first.locator("input").focus()
            await page.keyboard.type(str(new))
            await page.keyboard.press("Enter")
            await wait_page(page, lambda s: (m := MAPS_TITLE.search(s["maps"])) and int(m.group(2)) == new,
                            f"head {new}", timeout)

        async def move_query(wanted=qx + 1 if qx < 6 else qx - 1):
            thumb = page.get_by_test_id("stSlider").filter(has_text="Query column x").first.get_by_role("slider")
            await thumb.focus()
            await thumb.press("ArrowRight" if wanted > qx else "ArrowLeft")
            await wait_page(page, lambda s: (m := MAPS_TITLE.search(s["maps"])) and int(m.group(4)) == wanted,
                            f"query x {wanted}", timeout)

        await meter.measure("change head or query" + suffix, change_head)
        await meter.measure("change head or query" + suffix, move_query)


async def measure_actions(browser, server: AppServer, meter: Meter, repeats: int, timeout: float,
                          photos: bool = True) -> None:
    pool = expected_images(1, repeats + 1)[0]
    context, page = await new_tab(browser, server.url, "", PAGES[0][1], timeout)
    log("open a page (sidebar link, same session):")
    for index in range(repeats * len(PAGES)):
        link, heading = PAGES[(index + 1) % len(PAGES)]

        async def go(link=link, heading=heading):
            await page.locator('[data-testid="stSidebarNav"] a', has_text=link).first.click()
            await wait_page(page, lambda s: s["title"].startswith(heading), f"page {link}", timeout)

        await meter.measure("open a page", go)
    log("upload and inspect, change head or query:")
    await page.locator('[data-testid="stSidebarNav"] a', has_text="Image inspector").first.click()
    await wait_page(page, lambda s: s["title"].startswith("Image inspector"), "inspector", timeout)
    await inspect_series(page, meter, pool[:repeats], "", "image/png", timeout)
    if photos:  # --photo-sessions 0 leaves the phone photos out (their table row then repeats the small images')
        log("the same with 12-megapixel photos:")
        await inspect_series(page, meter, [expected_photo(seed) for seed in range(repeats)], " (12 MP photo)",
                             "image/jpeg", timeout)
    await context.close()

    log("lesson experiment (the container lesson's α slider):")
    # Its "Move the blend" step (the fourth); the α slider's own value says where it stands.
    context, page = await new_tab(browser, server.url, "Lessons?lesson=container&step=4", PAGES[-1][1], timeout)
    await wait_page(page, lambda s: any(m.startswith("accuracy, ") for m in s["metrics"]), "the container lesson",
                    timeout)
    thumb = page.get_by_test_id("stSlider").filter(has_text="β = 1 − α").first.get_by_role("slider")
    for _ in range(repeats):
        alpha = float(await page.get_by_test_id("stSlider").filter(has_text="β = 1 − α").first
                    .get_by_test_id("stSliderThumbValue").inner_text())

        async def step(alpha=alpha):
            # One arrow press moves the slider by its step, 0.01: one new α.
            wanted, key = (round(alpha + 0.01, 2), "ArrowRight") if alpha < 0.99 else (round(alpha - 0.01, 2),
                                                                                          "ArrowLeft")
            await thumb.focus()
            await thumb.press(key)
            await wait_page(page, lambda s: any(m.startswith(f"accuracy, α = {wanted:.2f}") for m in s["metrics"]),
                            f"α = {wanted:.2f}", timeout)

        await meter.measure("lesson experiment", step)
    await context.close()

    log("first visit (new tab on the home page):")
    for _ in range(repeats):
        opened = []

        async def visit():
            opened.append(await new_tab(browser, server.url, "", PAGES[0][1], timeout))

        await meter.measure("first visit", visit)
        await opened[0][0].close()


async def measure_sessions(browser, server: AppServer, meter: Meter, count: int, photos: int, idle_s: float,
                           timeout: float) -> dict:
    """RSS per held-open session of each kind, and the idle CPU of all of them."""
    memory: dict[str, float] = {}
    held = []
    pool = expected_images(count + 50, 1)[50:]  # other sessions' images than measure_actions' (session 0's)
    kinds = [("idle, home page", count), ("inspector, 96x96 upload", count), ("inspector, 12 MP photo", photos)]
    for kind, number in kinds:
        if number <= 0:
            continue
        before = await meter.stable_rss()
        for index in range(number):
            if kind.startswith("idle"):
                held.append(await new_tab(browser, server.url, "", PAGES[0][1], timeout))
                continue
            context, page = await new_tab(browser, server.url, "Image_inspector", "Image inspector", timeout)
            held.append((context, page))
            # Images not used by the action measurements, so that those find nothing cached.
            image, mime = (expected_photo(100 + index), "image/jpeg") if "photo" in kind else (pool[index][0],
                                                                                                "image/png")
            await upload(page, image.name, image.png, mime, lambda s, image=image: shows(s["prediction"], image),
                         timeout)
        await meter.settle()
        memory[kind] = (await meter.stable_rss() - before) / number
        log(f"  {kind}: {memory[kind]:.1f} MB per session ({number} sessions)")
    idle = await meter.idle_rate_over(idle_s)
    for context, _ in held:
        await context.close()
    return {"rss_mb_per_session": memory, "sessions_held": len(held), "idle_cpu_s_per_s_with_all": idle}


def table(costs: dict[str, float], idle_per_session: float, memory_per_session: float, base_mb: float,
          cores: int, memory_gb: float, utilisation: float, mix: dict[str, int] = MIX,
          rates: tuple[int, ...] = RATES) -> dict:
    """Learners per core at each rate, learners per GB, and which bound binds first on ``cores`` and ``memory_gb``.

    ``costs``: mean server CPU-seconds per action kind; ``idle_per_session``: CPU-seconds per second per open
    session; ``memory_per_session`` and ``base_mb`` (one server process) in MB. One server process per core.
    """
    per_action = sum(costs[k] * w for k, w in mix.items()) / sum(mix.values())
    rows = []
    for rate in rates:
        demand = rate / 60 * per_action + idle_per_session  # CPU-seconds per second per learner
        per_core = utilisation / demand
        by_memory = max(0.0, memory_gb * 1024 - cores * base_mb) / memory_per_session
        rows.append({"actions_per_min": rate, "learners_per_core": per_core, "learners_by_cpu": per_core * cores,
                     "learners_by_memory": by_memory,
                     "binds_first": "CPU" if per_core * cores <= by_memory else "memory"})
    return {"cpu_s_per_action_in_mix": per_action, "rows": rows,
            "learners_per_gb": 1024 / memory_per_session if memory_per_session > 0 else float("inf")}


def print_report(result: dict) -> None:
    line = "-" * 92
    print(line)
    print("Server CPU per learner action (CPU of the app server process only; browser not counted)")
    print(f"{'action':<36}{'n':>4}{'mean ms':>10}{'median ms':>11}{'max ms':>9}")
    for kind, row in result["actions"].items():
        print(f"{kind:<36}{row['n']:>4}{row['mean'] * 1000:>10.0f}{row['median'] * 1000:>11.0f}"
              f"{row['max'] * 1000:>9.0f}")
    sessions = result["sessions"]
    print(f"idle server: {result['idle_cpu_s_per_s'] * 1000:.1f} ms CPU per second; with "
          f"{sessions['sessions_held']} sessions open: {sessions['idle_cpu_s_per_s_with_all'] * 1000:.1f} ms/s")
    print(f"server RSS after warm-up: {result['base_rss_mb']:.0f} MB; per open session: " + "; ".join(
        f"{k} {v:.1f} MB" for k, v in sessions["rss_mb_per_session"].items()))
    mix = ", ".join(f"{w} x {k}" for k, w in MIX.items())
    print(line)
    print(f"Capacity: one server process per core, each core planned at {result['utilisation']:.0%} busy; of every "
          f"10 actions of a learner: {mix}")
    memory = sessions["rss_mb_per_session"]
    for name, cap in result["capacity"].items():
        per_session = (memory.get("inspector, 12 MP photo") if name == "phone photos" else None) or \
            memory.get("inspector, 96x96 upload", 0.0)
        print(f"-- learners who upload {name}: {cap['cpu_s_per_action_in_mix'] * 1000:.0f} ms server CPU per action "
              f"of the mix; {per_session:.1f} MB per session")
        print(f"{'actions/learner/min':>20}{'learners/core':>15}{'on ' + str(result['cores']) + ' cores':>13}"
              f"{'by memory (' + format(result['memory_gb'], '.0f') + ' GB)':>22}{'binds first':>13}")
        for row in cap["rows"]:
            print(f"{row['actions_per_min']:>20}{row['learners_per_core']:>15.0f}{row['learners_by_cpu']:>13.0f}"
                  f"{row['learners_by_memory']:>22.0f}{row['binds_first']:>13}")
    print(f"measured on: {result['machine']}")
    print(line)


def summarise(results: list[Measured]) -> dict:
    kinds: dict[str, list[float]] = {}
    for r in results:
        kinds.setdefault(r.kind, []).append(r.cpu_s)
    return {k: {"n": len(v), "mean": statistics.fmean(v), "median": statistics.median(v), "max": max(v)}
            for k, v in kinds.items()}


def machine_description() -> str:
    with open("/proc/meminfo", encoding="ascii") as handle:
        total = int(handle.readline().split()[1]) / 1024 / 1024
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    return f"{os.cpu_count()} CPUs, {total:.0f} GB RAM, load average {load} at the end (shared with other work)"


async def run(args) -> dict:
    from playwright.async_api import async_playwright

    server = AppServer("capacity", args.work_dir / "capacity-server.log")
    server.start()
    log(f"server up after {server.wait_ready(args.startup_timeout):.1f} s (pid {server.pid})")
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                                       headless=True)
            try:
                await warm_up(browser, server, args.action_timeout)
                meter = Meter(server, args.action_timeout)
                meter.idle_rate = await meter.idle_rate_over(args.idle_seconds)
                base_rss = server.rss_mb()
                log(f"idle server: {meter.idle_rate * 1000:.1f} ms CPU/s, RSS {base_rss:.0f} MB")
                log("sessions held open:")
                sessions = await measure_sessions(browser, server, meter, args.sessions, args.photo_sessions,
                                                  args.idle_seconds, args.action_timeout)
                await measure_actions(browser, server, meter, args.repeats, args.action_timeout,
                                      photos=args.photo_sessions > 0)
            finally:
                await browser.close()
    finally:
        server.stop()
    result = {"actions": summarise(meter.results), "idle_cpu_s_per_s": meter.idle_rate, "base_rss_mb": base_rss,
              "sessions": sessions, "machine": machine_description()}
    return size(result, args)


def size(result: dict, args) -> dict:
    """Add the capacity tables to measured ``result`` for the machine in ``args`` (default: this one)."""
    actions, sessions, base_rss = result["actions"], result["sessions"], result["base_rss_mb"]
    held = max(1, sessions["sessions_held"])
    idle_per_session = max(0.0, sessions["idle_cpu_s_per_s_with_all"] - result["idle_cpu_s_per_s"]) / held
    # Plan for the learner who uploaded a phone photo (the largest kind measured), not for the small test image.
    per_kind = sessions["rss_mb_per_session"]
    memory_per_learner = per_kind.get("inspector, 12 MP photo") or per_kind.get("inspector, 96x96 upload", 0.0)
    with open("/proc/meminfo", encoding="ascii") as handle:
        memory_gb = args.memory_gb or int(handle.readline().split()[1]) / 1024 / 1024
    cores = args.cores or os.cpu_count() or 1
    means = {k: v["mean"] for k, v in actions.items()}
    small = per_kind.get("inspector, 96x96 upload", memory_per_learner)
    photo_means = {**means, **{k: means[k + " (12 MP photo)"] for k in ("upload and inspect", "change head or query")
                               if k + " (12 MP photo)" in means}}
    capacity = {
        "phone photos": table(photo_means, idle_per_session, max(memory_per_learner, 0.1), base_rss, cores,
                              memory_gb, args.utilisation),
        "small images": table(means, idle_per_session, max(small, 0.1), base_rss, cores, memory_gb,
                              args.utilisation),
    }
    return {**result, "idle_cpu_s_per_s_per_session": idle_per_session, "memory_per_learner_mb": memory_per_learner,
            "capacity": capacity, "cores": cores, "memory_gb": memory_gb, "utilisation": args.utilisation}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="measurements of each action (default 5)")
    parser.add_argument("--sessions", type=int, default=6, help="sessions held open per kind (default 6)")
    parser.add_argument("--photo-sessions", type=int, default=3, help="sessions with a 12 MP photo (default 3)")
    parser.add_argument("--idle-seconds", type=float, default=15.0, help="window of the idle CPU readings")
    parser.add_argument("--utilisation", type=float, default=0.7, help="planned busy share of a core (default 0.7)")
    parser.add_argument("--cores", type=int, help="cores of the machine to size (default: this one's)")
    parser.add_argument("--memory-gb", type=float, help="memory of the machine to size (default: this one's)")
    parser.add_argument("--startup-timeout", type=float, default=240.0)
    parser.add_argument("--action-timeout", type=float, default=180.0)
    parser.add_argument("--json", type=Path, help="also write the measurements to this file")
    parser.add_argument("--from-json", type=Path, help="measure nothing: size --cores/--memory-gb from the "
                        "measurements in this file (written by --json)")
    parser.add_argument("--work-dir", type=Path, default=REPO_ROOT / "test-artifacts" / "capacity")
    args = parser.parse_args(argv)
    if args.from_json:
        measured = json.loads(args.from_json.read_text())
        measured.pop("capacity", None)
        print_report(size(measured, args))
        return 0
    if not CHROMIUM.exists():
        log(f"{CHROMIUM} is missing (apt-get install chromium)")
        return 2
    result = asyncio.run(run(args))
    print_report(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
