"""Work that is the same for every learner is done once per server and shared: a second session gets the cached
result, and a changed input (weights, α, data, sizes, machine) is measured anew."""

from __future__ import annotations

import dataclasses

import torch

from apptest_support import assert_clean
from lesson_support import make_right_prediction, open_lesson
from app.lessons import cost
from app.lessons.parts import blend_accuracy
from app.lessons.parts.blend_accuracy import ALL_BLOCKS, SWEEP, accuracy_at, accuracy_sweep


def counting(monkeypatch, module, name: str) -> list:
    """Replace ``module.name`` by a wrapper that records each call and then does the real work."""
    calls = []
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_the_cost_benchmark_runs_once_per_sizes_and_machine(monkeypatch):
    cost.server_costs.clear()
    calls = counting(monkeypatch, cost, "_measure")
    rows, _seconds, when = cost.server_costs((7, 14), "machine-a")
    again = cost.server_costs((7, 14), "machine-a")
    assert len(calls) == 1 and again[0] == rows and again[2] == when, "the second learner gets the same measurement"
    cost.server_costs((7, 14), "machine-b")
    assert len(calls) == 2, "another machine is measured anew"
    cost.server_costs((7,), "machine-a")
    assert len(calls) == 3, "other sizes are measured anew"


def test_a_second_session_sees_the_servers_measurement_and_can_measure_its_own(monkeypatch):
    cost.server_costs.clear()
    calls = counting(monkeypatch, cost, "_measure")
    first = open_lesson("cost", "predict")
    make_right_prediction(first, "cost")
    second = open_lesson("cost", "predict")
    make_right_prediction(second, "cost")
    assert len(calls) == 1
    assert second.session_state["cost_costs"] == first.session_state["cost_costs"]
    shared = [c.value for c in second.caption if c.value.startswith("Measured on this server at")]
    assert shared and "UTC" in shared[0]
    second.button(key="cost_remeasure").click().run()
    assert_clean(second)
    assert len(calls) == 2
    assert [c for c in second.caption if c.value.startswith("Measured again for you at")]
    third = open_lesson("cost", "predict")
    make_right_prediction(third, "cost")
    assert len(calls) == 2 and third.session_state["cost_costs"] == first.session_state["cost_costs"], (
        "one learner's own measurement does not replace the server's")


def _tiny_lesson_model(key: str):
    from app.lessons.container import MODEL
    from app.lessons.parts.resources import LessonModel, lesson_model

    loaded = lesson_model(MODEL)
    return LessonModel(loaded.name, loaded.model, loaded.card, key)


def test_the_accuracy_against_alpha_sweep_is_measured_once_per_model_target_and_data(monkeypatch):
    accuracy_sweep.clear()
    accuracy_at.clear()
    calls = counting(monkeypatch, blend_accuracy, "accuracy")
    generator = torch.Generator().manual_seed(0)
    data = (torch.randn(4, 1, 28, 28, generator=generator), torch.arange(4))
    loaded = _tiny_lesson_model("weights-a|data-a")
    sweep = accuracy_sweep(loaded.cache_key, ALL_BLOCKS, loaded, data)
    assert len(calls) == len(SWEEP)
    assert accuracy_sweep(loaded.cache_key, ALL_BLOCKS, loaded, data) == sweep and len(calls) == len(SWEEP)
    accuracy_sweep("weights-b|data-a", ALL_BLOCKS, loaded, data)
    assert len(calls) == 2 * len(SWEEP), "other weights or another data set are measured anew"
    block = next(iter(blend_accuracy.blend_parameters(loaded.model)))
    accuracy_sweep(loaded.cache_key, block, loaded, data)
    assert len(calls) == 3 * len(SWEEP), "another target block is measured anew"

    accuracy_at(loaded.cache_key, block, 0.3, loaded, data)
    accuracy_at(loaded.cache_key, block, 0.3, loaded, data)
    assert len(calls) == 3 * len(SWEEP) + 1
    accuracy_at(loaded.cache_key, block, 0.4, loaded, data)
    assert len(calls) == 3 * len(SWEEP) + 2, "another α is measured anew"


def test_the_head_gallery_of_shared_weights_is_measured_once_per_model_and_image_set(monkeypatch):
    from app import analysis_views
    from app.analysis_views import GALLERY_BATCH, ImageSet, compute_gallery, _shared_batch
    from app.registry import FASHION_MNIST, ModelRef

    _shared_batch.clear()
    calls = counting(monkeypatch, analysis_views, "_measure_batch")
    model = _tiny_lesson_model("unused").model
    x = torch.randn(GALLERY_BATCH + 10, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    images = ImageSet("set-a", None, x)
    ref = ModelRef(key="bundled:test:weights-a", label="test", source="bundled", name="test", dataset=FASHION_MNIST,
                   trained=True)
    first = compute_gallery(ref, model, images)
    assert len(calls) == 2, "two batches"
    assert compute_gallery(ref, model, images) == first and len(calls) == 2, "a second session measures nothing"
    compute_gallery(ref, model, ImageSet("set-b", None, x))
    assert len(calls) == 4, "another image set is measured anew"
    compute_gallery(dataclasses.replace(ref, key="bundled:test:weights-b"), model, images)
    assert len(calls) == 6, "other weights are measured anew"
