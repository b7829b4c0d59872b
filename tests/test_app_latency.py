"""How fast the Image inspector answers a change of head, block or query on an already inspected image.

The model runs once per (model, image, blend override); a widget change only
slices rows out of the cached records and redraws. Two measurements:

1. the slicing path alone (``block_maps`` + the three figures the page draws),
   for the zoo model and for the ImageNet Container-Light (random weights);
2. the whole page rerun in ``AppTest`` after a widget change (cache lookups,
   slicing, figures, serialisation; no browser).

Run ``python tests/test_app_latency.py`` to print the table.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # also when run as a script
    sys.path.insert(0, str(REPO_ROOT))

from app import figures, views  # noqa: E402
from app.inspection import block_maps, run_inspection  # noqa: E402
from app.registry import build_random, preprocess  # noqa: E402
from container_edu.cards import card_for_model  # noqa: E402

SLICE_BUDGET_S = 0.25  # median of the slicing path
RERUN_BUDGET_S = 1.0  # median of a whole page rerun


def _changes(inspection, count: int = 24) -> list[tuple[str, int, tuple[int, int]]]:
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


def time_slicing(model_name: str) -> dict[str, float]:
    """Seconds per widget change on the slicing path (after one recorded forward pass)."""
    model = build_random(model_name, "cpu")
    from PIL import Image

    image = Image.new("RGB", (256, 200), (230, 230, 220))
    x, seen = preprocess(card_for_model(model), image)
    started = time.perf_counter()
    inspection = run_inspection(model, x)
    forward = time.perf_counter() - started
    durations = []
    for block, head, query in _changes(inspection):
        started = time.perf_counter()
        maps = block_maps(inspection, block, head, query)
        figures.panels(views.map_panels(maps), "maps", cols=3, query=maps.query, image=seen, clickable=True)
        figures.panels([figures.Panel(maps.blended_heads[m], f"head {m}", "w") for m in range(maps.num_heads)],
                       "all heads", cols=4, shared_scale=True, query=maps.query, image=seen)
        durations.append(time.perf_counter() - started)
    return {"forward_once": forward, "median": statistics.median(durations), "max": max(durations)}


def time_page_rerun(repeats: int = 6) -> dict[str, float]:
    """Seconds for a full AppTest rerun of the inspector after changing the head or the query."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO_ROOT / "streamlit_app.py"), default_timeout=120)
    at.switch_page("pages/3_Image_inspector.py")
    started = time.perf_counter()
    at.run()
    first = time.perf_counter() - started
    assert not at.exception
    durations = []
    for index in range(repeats):
        started = time.perf_counter()
        if index % 2:
            at.selectbox(key="insp_head").set_value(index % 4).run()
        else:
            at.slider(key="insp_qx_7x7").set_value(index % 7).run()
        durations.append(time.perf_counter() - started)
        assert not at.exception
    return {"first_run": first, "median": statistics.median(durations), "max": max(durations)}


@pytest.mark.parametrize("model_name", ["fmnist_container_light", "container_light"])
def test_changing_head_block_or_query_only_slices(model_name):
    timing = time_slicing(model_name)
    print(f"\n{model_name}: forward once {timing['forward_once']:.3f} s; per change median "
          f"{timing['median'] * 1000:.1f} ms, max {timing['max'] * 1000:.1f} ms")
    assert timing["median"] < SLICE_BUDGET_S


def test_inspector_page_rerun_after_a_widget_change_is_well_under_a_second(monkeypatch, tmp_path):
    monkeypatch.setenv("CONTAINER_EDU_BUNDLED_DIR", str(tmp_path))  # random stand-ins: deterministic
    timing = time_page_rerun()
    print(f"\ninspector page: first run {timing['first_run']:.2f} s; rerun after a change median "
          f"{timing['median'] * 1000:.0f} ms, max {timing['max'] * 1000:.0f} ms")
    assert timing["median"] < RERUN_BUDGET_S


if __name__ == "__main__":
    import os
    import tempfile

    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    for name in ("fmnist_container_light", "container_light"):
        t = time_slicing(name)
        print(f"{name:24s} forward once {t['forward_once']:.3f} s | per change: median {t['median'] * 1000:6.1f} ms, "
              f"max {t['max'] * 1000:6.1f} ms")
    os.environ["CONTAINER_EDU_BUNDLED_DIR"] = tempfile.mkdtemp()
    t = time_page_rerun(10)
    print(f"{'inspector page (AppTest)':24s} first run {t['first_run']:.2f} s | rerun: median {t['median'] * 1000:6.0f} ms, "
          f"max {t['max'] * 1000:6.0f} ms")
