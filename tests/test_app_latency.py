"""A change of head, block or query on an already inspected image only slices: the model does not run again.

The Image inspector runs the model once per (model, image, blend override)
and records every block; a widget change must only slice rows out of those
records and redraw. Checked by counting module forward calls (a global
forward hook) while the changes are made:

1. the slicing path alone (``block_maps`` + the figures the page draws), for
   the zoo model and for the ImageNet Container-Light (random weights);
2. the whole page rerun in ``AppTest`` after a head or query change, whose
   maps must then name the new head and query.

How fast this is (goals: slicing median < 0.25 s, page rerun median < 1 s) is
measured by ``python tools/app_latency.py``, not asserted here.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
for folder in (REPO_ROOT, REPO_ROOT / "tools"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from app.registry import build_random, preprocess  # noqa: E402
from container_edu.hub.cards import card_for_model  # noqa: E402
from container_edu.record.inspection import block_maps, run_inspection  # noqa: E402
from app_latency import draw_inspector_figures, widget_changes  # noqa: E402


@contextlib.contextmanager
def counting_forwards() -> Iterator[list[str]]:
    """Every ``nn.Module`` forward call made inside (any module, any thread), by class name."""
    calls: list[str] = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, output: calls.append(type(module).__name__))
    try:
        yield calls
    finally:
        handle.remove()


def test_the_forward_counter_sees_a_forward_pass():
    model = build_random("fmnist_container_light", "cpu")
    with counting_forwards() as calls, torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    assert len(calls) > 10 and type(model).__name__ in calls


@pytest.mark.parametrize("model_name", ["fmnist_container_light", "container_light"])
def test_changing_head_block_or_query_only_slices(model_name):
    model = build_random(model_name, "cpu")
    x, seen = preprocess(card_for_model(model), Image.new("RGB", (256, 200), (230, 230, 220)))
    inspection = run_inspection(model, x)
    changes = widget_changes(inspection)
    assert len({block for block, _, _ in changes}) > 1 and len({query for _, _, query in changes}) > 1
    with counting_forwards() as calls:
        for block, head, query in changes:
            maps = block_maps(inspection, block, head, query)
            assert maps.query == query
            draw_inspector_figures(inspection, block, head, query, seen)
    assert calls == [], f"a widget change ran {len(calls)} module forward(s): {sorted(set(calls))}"


def maps_title(at) -> str:
    """The title of the inspector's maps figure ("Block ..., head m, query (y, x) ...")."""
    from apptest_support import figure_title, figure_titled

    return figure_title(figure_titled(at, r"^Block "))


def test_inspector_page_rerun_after_a_widget_change_does_not_run_the_model(monkeypatch, tmp_path):
    from apptest_support import INSPECTOR, assert_clean, start

    monkeypatch.setenv("CONTAINER_EDU_WEIGHTS_DIR", str(tmp_path))  # random stand-ins: deterministic
    at = start(INSPECTOR)
    assert ", head 0, query (3, 3)" in maps_title(at)
    with counting_forwards() as calls:
        at.selectbox(key="insp_head").set_value(2).run()
        assert_clean(at)
        assert ", head 2, query (3, 3)" in maps_title(at)
        at.slider(key="insp_qx_7x7").set_value(5).run()
        assert_clean(at)
        assert ", head 2, query (3, 5)" in maps_title(at)
    assert calls == [], f"a widget change ran {len(calls)} module forward(s): {sorted(set(calls))}"
