"""Many users at once on one shared, read-only model (issue #7, part 3).

The app keeps one instance of each zoo model for every user
(``st.cache_resource``) and changes nothing on it: blend overrides and
recording live in context variables (``container_edu.record.trace``), so they are
per thread. Here ``N_THREADS`` threads hit one shared model at the same time
(a barrier before every pass), mixing blend overrides with different values,
recording, both, and plain forwards. Every thread must get exactly its own
single-threaded result, and the model's state dict must be bit-identical
afterwards.
"""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn

import container_edu
from container_edu import override_blend, record_affinities

N_THREADS = 8
ITERATIONS = 50
MIXED_BLOCKS = ("blocks2.0", "blocks2.1")
KINDS = ("plain", "override+record", "record", "override")


@pytest.fixture(scope="module")
def shared_model(make_trained_looking) -> nn.Module:
    """``fmnist_container_light`` in eval mode, with non-trivial BatchNorm statistics and blend weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return make_trained_looking(container_edu.create_model("fmnist_container_light"), seed=1)


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def _thread_input(t: int) -> torch.Tensor:
    return torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(100 + t))


def _thread_blend(t: int):
    """Thread ``t``'s override: a different alpha per thread (a pair for the "override" kind)."""
    alpha = round(0.05 + 0.9 * t / max(N_THREADS - 1, 1), 4)
    if KINDS[t % len(KINDS)] == "override":
        return {name: (alpha, 0.5 + alpha) for name in MIXED_BLOCKS}
    return {name: alpha for name in MIXED_BLOCKS}


@torch.no_grad()
def _one_pass(model: nn.Module, t: int, x: torch.Tensor) -> dict[str, object]:
    """What thread ``t`` computes once: logits, plus what it recorded (if its kind records)."""
    kind = KINDS[t % len(KINDS)]
    if kind == "plain":
        return {"logits": model(x)}
    if kind == "override":
        with override_blend(_thread_blend(t)):
            return {"logits": model(x)}
    overrides = _thread_blend(t) if kind == "override+record" else {}
    with override_blend(overrides), record_affinities() as recorder:
        logits = model(x)
    records = {name: (recorder[name].alpha, recorder[name].beta, recorder[name].attention,
                      recorder[name].aggregated) for name in recorder}
    return {"logits": logits, "records": records}


def _assert_same(result: dict, reference: dict, where: str) -> None:
    assert torch.equal(result["logits"], reference["logits"]), f"{where}: logits differ from the reference"
    if "records" in reference:
        assert list(result["records"]) == list(reference["records"]), where
        for name, (alpha, beta, attention, aggregated) in reference["records"].items():
            got = result["records"][name]
            assert (got[0], got[1]) == (alpha, beta), f"{where}: {name} blended with {got[:2]}, not {(alpha, beta)}"
            assert (got[2] is None) == (attention is None), where
            if attention is not None:
                assert torch.equal(got[2], attention), f"{where}: {name} attention differs"
            assert torch.equal(got[3], aggregated), f"{where}: {name} aggregated output differs"


def _run_threads(work, n_threads: int) -> None:
    errors: list[BaseException] = []

    def guarded(t: int) -> None:
        try:
            work(t)
        except BaseException as error:  # noqa: BLE001 - reported in the main thread
            errors.append(error)
            barrier.abort()

    barrier = threading.Barrier(n_threads, timeout=120)
    work.barrier = barrier  # type: ignore[attr-defined]
    threads = [threading.Thread(target=guarded, args=(t,), name=f"user{t}") for t in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    assert not errors, errors


def test_threads_on_one_shared_model_each_get_their_own_result_and_change_nothing(shared_model):
    model = shared_model
    before = _snapshot(model)
    inputs = [_thread_input(t) for t in range(N_THREADS)]
    references = [_one_pass(model, t, inputs[t]) for t in range(N_THREADS)]  # single-threaded, one by one
    # The references really differ: otherwise mixing up two threads' results would go unnoticed.
    blended = [r for t, r in enumerate(references) if KINDS[t % len(KINDS)] == "override+record"]
    assert len(blended) >= 2
    alphas = {r["records"]["blocks2.0"][0] for r in blended}
    assert len(alphas) == len(blended)
    # ... and an override really changes the output for the same input.
    with torch.no_grad(), override_blend({name: 0.9 for name in MIXED_BLOCKS}):
        assert not torch.allclose(model(inputs[0]), references[0]["logits"])

    results: dict[int, list[dict]] = {t: [] for t in range(N_THREADS)}

    def work(t: int) -> None:
        for _ in range(ITERATIONS):
            work.barrier.wait()  # every thread starts its pass at the same moment
            results[t].append(_one_pass(model, t, inputs[t]))

    _run_threads(work, N_THREADS)
    for t in range(N_THREADS):
        assert len(results[t]) == ITERATIONS
        for i, result in enumerate(results[t]):
            _assert_same(result, references[t], f"thread {t} ({KINDS[t % len(KINDS)]}), pass {i}")
    after = model.state_dict()
    assert list(after) == list(before)
    for key, value in before.items():
        assert torch.equal(after[key], value) and after[key].dtype == value.dtype, f"{key} changed"
    assert not any(module.training for module in model.modules())


def test_app_inspections_in_parallel_match_the_sequential_ones(shared_model):
    """The app's own path (``run_inspection`` + ``block_maps``) from several threads at once."""
    from container_edu.record.inspection import block_maps, run_inspection

    model = shared_model
    before = _snapshot(model)
    n_threads, iterations = 4, 8
    inputs = [_thread_input(t)[:1] for t in range(n_threads)]
    overrides = [None, {"blocks2.0": 0.2}, {"blocks2.1": (0.7, 0.1)}, {"blocks2.0": 0.95, "blocks2.1": 0.05}]

    def inspect(t: int):
        inspection = run_inspection(model, inputs[t], overrides[t])
        maps = block_maps(inspection, "blocks2.1", t % 4, (t % 7, (3 * t) % 7))
        return inspection.probabilities, maps.blended_heads, maps.alpha, maps.beta

    references = [inspect(t) for t in range(n_threads)]
    results: dict[int, list] = {t: [] for t in range(n_threads)}

    def work(t: int) -> None:
        for _ in range(iterations):
            work.barrier.wait()
            results[t].append(inspect(t))

    _run_threads(work, n_threads)
    for t in range(n_threads):
        for probabilities, blended, alpha, beta in results[t]:
            assert (probabilities == references[t][0]).all()
            assert (blended == references[t][1]).all()
            assert (alpha, beta) == references[t][2:]
    after = model.state_dict()
    assert all(torch.equal(after[key], value) for key, value in before.items())
