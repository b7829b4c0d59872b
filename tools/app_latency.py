#!/usr/bin/env python
"""How fast the app answers a widget change, measured (never asserted: ``tests/test_app_latency.py`` checks behaviour).

Three measurements on this machine:

1. the Image inspector's slicing path alone (``block_maps`` + the figures the
   page draws) after one recorded forward pass, for the zoo model and for the
   ImageNet Container-Light (random weights); goal: median well under 0.25 s;
2. the whole inspector page rerun in ``AppTest`` after a head or query change
   (cache lookups, slicing, figures, serialisation; no browser); goal: median
   under 1 s;
3. the cost lesson's live measurement (``app.lessons.cost.measure_costs``);
   the lesson aims at under 3 s.

Usage::

    python tools/app_latency.py              # 1 torch thread, as the app server and the tests run
    python tools/app_latency.py --threads 2  # what a second intra-op thread changes
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

SLICE_GOAL_S = 0.25
RERUN_GOAL_S = 1.0
COST_LESSON_GOAL_S = 3.0


def widget_changes(inspection, count: int = 24) -> list[tuple[str, int, tuple[int, int]]]:
    """A fixed sequence of (block, head, query) choices, as a user clicking around would make them."""
    import numpy as np

    rng = np.random.default_rng(0)
    blocks = inspection.blocks
    changes = []
    for index in range(count):
        block = blocks[index % len(blocks)] if index % 3 == 0 else inspection.mixed_blocks[-1]
        record = inspection.records[block]
        head = int(rng.integers(record.num_heads))
        query = (int(rng.integers(record.grid[0])), int(rng.integers(record.grid[1])))
        changes.append((block, head, query))
    return changes


def draw_inspector_figures(inspection, block: str, head: int, query: tuple[int, int], seen) -> None:
    """What the inspector computes for one widget change: the maps and the all-heads figures."""
    from container_edu import figures
    from container_edu.record.inspection import block_maps

    maps = block_maps(inspection, block, head, query)
    figures.query_maps_figure(maps, seen, clickable=True)
    figures.heads_figure(maps, maps.parts[-1], seen)


def time_slicing(model_name: str) -> dict[str, float]:
    """Seconds per widget change on the slicing path (after one recorded forward pass)."""
    from PIL import Image

    from container_edu.record.inspection import run_inspection
    from app.registry import build_random, preprocess
    from container_edu.hub.cards import card_for_model

    model = build_random(model_name, "cpu")
    x, seen = preprocess(card_for_model(model), Image.new("RGB", (256, 200), (230, 230, 220)))
    passes = []
    for _ in range(5):  # the recorded forward pass the page makes once per image; the first one is the cold one
        started = time.perf_counter()
        inspection = run_inspection(model, x)
        passes.append(time.perf_counter() - started)
    durations = []
    for block, head, query in widget_changes(inspection):
        started = time.perf_counter()
        draw_inspector_figures(inspection, block, head, query, seen)
        durations.append(time.perf_counter() - started)
    return {"forward_first": passes[0], "forward_median": statistics.median(passes),
            "median": statistics.median(durations), "max": max(durations)}


def time_page_rerun(repeats: int) -> dict[str, float]:
    """Seconds for a full AppTest rerun of the inspector after changing the head or the query (random weights)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO_ROOT / "streamlit_app.py"), default_timeout=600)
    at.switch_page("pages/3_Image_inspector.py")
    started = time.perf_counter()
    at.run()
    first = time.perf_counter() - started
    durations = []
    for index in range(repeats):
        started = time.perf_counter()
        if index % 2:
            at.selectbox(key="insp_head").set_value(index % 4).run()
        else:
            at.slider(key="insp_qx_7x7").set_value(index % 7).run()
        durations.append(time.perf_counter() - started)
        if at.exception:
            raise RuntimeError(f"the inspector raised: {[e.value for e in at.exception]}")
    return {"first_run": first, "median": statistics.median(durations), "max": max(durations)}


def time_cost_lesson() -> float:
    from app.lessons.cost import measure_costs

    _, seconds = measure_costs()
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--reruns", type=int, default=10, help="page reruns to time (default 10)")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    os.environ["CONTAINER_EDU_WEIGHTS_DIR"] = tempfile.mkdtemp()  # random stand-ins: the same on every machine
    print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"torch {torch.__version__}, {args.threads} intra-op thread(s)")
    for name in ("fmnist_container_light", "container_light"):
        t = time_slicing(name)
        print(f"{name:26s} recorded forward: first {t['forward_first']:.3f} s, median of 5 {t['forward_median']:.3f} s"
              f" | per change: median {t['median'] * 1000:6.1f} ms, "
              f"max {t['max'] * 1000:6.1f} ms (goal: median < {SLICE_GOAL_S * 1000:.0f} ms)")
    t = time_page_rerun(args.reruns)
    print(f"{'inspector page (AppTest)':26s} first run {t['first_run']:.2f} s | rerun: median {t['median'] * 1000:6.0f} ms, "
          f"max {t['max'] * 1000:6.0f} ms (goal: median < {RERUN_GOAL_S * 1000:.0f} ms)")
    print(f"{'the cost lesson':26s} live measurement {time_cost_lesson():.2f} s "
          f"(the lesson aims at < {COST_LESSON_GOAL_S:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
