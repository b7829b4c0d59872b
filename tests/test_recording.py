"""Tests for container_edu.record.trace: record_affinities() and override_blend() on whole models."""

from __future__ import annotations

import copy
import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from container_edu.ops import affinity as aff
from container_edu.models import MIXINGS, CBlock, create_model
from container_edu.record.trace import AffinityRecorder, current_recorder, override_blend, record_affinities

from tensor_checks import assert_close, randn

CL_INPUT = (2, 3, 64, 96)  # total stride 32: stage grids 16x24, 8x12, 4x6, 2x3
ZOO_INPUT = (3, 1, 28, 28)


@pytest.fixture(scope="module")
def container_light(trained_looking_container_light) -> nn.Module:
    return trained_looking_container_light


@pytest.fixture(scope="module")
def zoo(make_trained_looking) -> dict[str, nn.Module]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return {mixing: make_trained_looking(create_model("fmnist_" + mixing), seed=2) for mixing in MIXINGS}


def reproduce(record) -> torch.Tensor:
    """Y = alpha A(X) V + beta (A_static V + b), from the record's fields alone."""
    total = torch.zeros_like(record.aggregated)
    if record.attention is not None:
        total = total + record.alpha * aff.aggregate(record.attention, record.v)
    if record.conv_weight is not None:
        v_map = aff.tokens_to_map(record.v, *record.grid)
        conv = F.conv2d(v_map, record.conv_weight, record.conv_bias, padding=record.conv_weight.shape[-1] // 2,
                        groups=record.conv_weight.shape[0])
        total = total + record.beta * aff.map_to_tokens(conv)
    if record.static_affinity is not None:
        total = total + record.beta * aff.aggregate(record.static_affinity, record.v)
    return total


def record_with_block_io(model: nn.Module, x: torch.Tensor):
    """Forward inside record_affinities(), also capturing each recorded block's input and output."""
    io: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    handles = []
    for name, module in model.named_modules():
        if hasattr(module, "record_name") and module.record_name:
            def hook(mod, args, out, name=name):
                io[name] = (args[0].detach(), out.detach())
            handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad(), record_affinities() as rec:
            out = model(x)
    finally:
        for handle in handles:
            handle.remove()
    return out, rec, io


def check_records_reproduce_blocks(model: nn.Module, x: torch.Tensor) -> dict:
    out, rec, io = record_with_block_io(model, x)
    assert set(rec) == set(io) and len(rec) > 0
    with torch.no_grad():
        assert_close(out, model(x))
        for name, record in rec.items():
            block = model.get_submodule(name)
            assert record.name == name
            block_in, block_out = io[name]
            # the recorded affinities reproduce the recorded aggregation ...
            assert_close(reproduce(record), record.aggregated)
            # ... which is the block's own aggregation on the fast path ...
            x1 = block_in + block.pos_embed(block_in)
            projected = block.conv1(block.norm1(x1))
            assert current_recorder() is None
            fast = block.aggregate(projected)
            assert_close(record.aggregated, aff.map_to_tokens(fast))
            values = projected.chunk(3, dim=1)[2] if projected.shape[1] == 3 * x1.shape[1] else projected
            assert_close(record.v, aff.map_to_tokens(values))
            assert record.grid == tuple(x1.shape[-2:])
            # ... and W_o (conv2) of it is what the block adds before its MLP
            added = block.conv2(aff.tokens_to_map(record.aggregated, *record.grid))
            x2 = x1 + added
            assert_close(x2 + block.mlp(block.norm2(x2)), block_out)
    return rec


# ---------------------------------------------------------------------------------------------- zoo


@pytest.mark.parametrize("mixing", MIXINGS)
def test_zoo_records_reproduce_every_block(zoo, mixing):
    model = zoo[mixing]
    rec = check_records_reproduce_blocks(model, randn(*ZOO_INPUT, seed=3))
    assert list(rec) == ["blocks1.0", "blocks2.0", "blocks2.1"]
    assert rec["blocks1.0"].kind == "conv"
    mixed = rec["blocks2.0"]
    assert mixed.grid == (7, 7)
    expected_kind = {"mixer": "multihead_mlp"}.get(mixing, mixing)
    assert mixed.kind == expected_kind
    has_attention = mixing in ("attention", "container", "container_light")
    assert (mixed.attention is not None) == has_attention
    if has_attention:
        assert mixed.attention.shape == (3, 4, 49, 49)
        assert_close(mixed.attention.sum(-1), torch.ones(3, 4, 49))
    assert (mixed.conv_weight is not None) == (mixing in ("conv", "container_light"))
    assert (mixed.static_affinity is not None) == (mixing in ("mixer", "container"))


@pytest.mark.parametrize("mixing", ["container", "container_light"])
def test_zoo_blended_records_carry_the_learned_blend_weights(zoo, mixing):
    model = zoo[mixing]
    with torch.no_grad(), record_affinities() as rec:
        model(randn(*ZOO_INPUT, seed=4))
    for name in ("blocks2.0", "blocks2.1"):
        alpha, beta = (w.detach() for w in model.get_submodule(name).mix.blend_weights())
        assert rec[name].alpha == pytest.approx(float(alpha))
        assert rec[name].beta == pytest.approx(float(beta))


# ---------------------------------------------------------------------------------- Container-Light


def test_container_light_records_reproduce_every_block_on_a_non_square_input(container_light):
    rec = check_records_reproduce_blocks(container_light, randn(*CL_INPUT, seed=5))
    expected = [f"blocks{s}.{i}" for s, depth in zip(range(1, 5), (3, 4, 8, 3)) for i in range(depth)]
    assert list(rec) == expected
    grids = {1: (16, 24), 2: (8, 12), 3: (4, 6), 4: (2, 3)}
    for name, record in rec.items():
        assert record.grid == grids[int(name[6])]


def test_container_light_cblock_records_have_conv_weight_and_no_attention(container_light):
    with torch.no_grad(), record_affinities() as rec:
        container_light(randn(*CL_INPUT, seed=6))
    for name, record in rec.items():
        block = container_light.get_submodule(name)
        if isinstance(block, CBlock):
            assert record.kind == "conv"
            assert record.attention is None and record.static_affinity is None
            assert torch.equal(record.conv_weight, block.attn.weight)
            assert torch.equal(record.conv_bias, block.attn.bias)
            assert (record.alpha, record.beta) == (0.0, 1.0)
        else:
            assert record.kind == "container_light"
            assert record.attention.shape == (2, 16, 6, 6)
            assert torch.equal(record.conv_weight, block.conv.weight)
            assert record.alpha == pytest.approx(torch.sigmoid(block.sa_weight).item())
            assert record.alpha + record.beta == pytest.approx(1.0)


def test_recording_does_not_change_the_model_output(container_light, zoo):
    for model, shape in [(container_light, CL_INPUT)] + [(m, ZOO_INPUT) for m in zoo.values()]:
        x = randn(*shape, seed=7)
        with torch.no_grad():
            plain = model(x)
            with record_affinities():
                recorded = model(x)
        assert_close(recorded, plain)


def test_nothing_is_recorded_outside_the_with_block(zoo):
    model = zoo["container_light"]
    x = randn(*ZOO_INPUT, seed=8)
    assert current_recorder() is None
    with torch.no_grad():
        model(x)  # not recording: nothing to collect, no error
        with record_affinities() as rec:
            assert current_recorder() is rec
            model(x)
        assert current_recorder() is None
        snapshot = dict(rec)
        model(2 * x)
    assert list(rec) == list(snapshot)  # none added ...
    assert all(rec[name] is snapshot[name] for name in rec)  # ... and none replaced
    assert len(rec) == 3


def test_nested_recorders_collect_only_their_own_passes(zoo):
    model = zoo["attention"]
    x = randn(*ZOO_INPUT, seed=9)
    with torch.no_grad(), record_affinities() as outer:
        model(x)
        with record_affinities() as inner:
            model(2 * x)
        assert current_recorder() is outer
    assert list(inner) == list(outer) == ["blocks1.0", "blocks2.0", "blocks2.1"]
    assert not torch.equal(inner["blocks2.0"].v, outer["blocks2.0"].v)
    with torch.no_grad(), record_affinities() as alone:
        model(x)
    assert torch.equal(outer["blocks2.0"].aggregated, alone["blocks2.0"].aggregated)


def test_a_block_that_runs_twice_keeps_its_last_pass(zoo):
    model = zoo["conv"]
    with torch.no_grad(), record_affinities() as rec:
        model(randn(*ZOO_INPUT, seed=10))
        model(randn(*ZOO_INPUT, seed=11))
    with torch.no_grad(), record_affinities() as last:
        model(randn(*ZOO_INPUT, seed=11))
    assert len(rec) == 3
    assert torch.equal(rec["blocks2.1"].aggregated, last["blocks2.1"].aggregated)


def test_recorder_is_a_read_only_mapping_with_a_helpful_key_error(zoo):
    with torch.no_grad(), record_affinities() as rec:
        zoo["conv"](randn(*ZOO_INPUT, seed=12))
    assert isinstance(rec, AffinityRecorder)
    assert "blocks2.0" in rec and "blocks9.0" not in rec
    with pytest.raises(KeyError, match="blocks2.0"):
        rec["blocks9.0"]
    assert not hasattr(rec, "__setitem__")
    assert "blocks1.0" in repr(rec)


def test_concurrent_threads_recording_on_a_shared_model_get_only_their_own_records(zoo):
    model = zoo["container_light"]
    inputs = [randn(*ZOO_INPUT, seed=20 + t) for t in range(2)]
    references = []
    for x in inputs:
        with torch.no_grad(), record_affinities() as rec:
            out = model(x)
        references.append((out, rec))
    barrier = threading.Barrier(2, timeout=300)  # a deadlock guard, not a speed limit
    results: list = [None, None]
    errors: list = []

    def work(t: int) -> None:
        try:
            collected = []
            for _ in range(3):
                with torch.no_grad(), record_affinities() as rec:
                    barrier.wait()  # both recorders are live at once ...
                    out = model(inputs[t])
                    barrier.wait()  # ... while both threads run the model
                collected.append((out, rec))
            results[t] = collected
        except BaseException as error:  # reported in the main thread
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=work, args=(t,)) for t in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    for t in range(2):
        ref_out, ref_rec = references[t]
        for out, rec in results[t]:
            assert list(rec) == list(ref_rec)
            assert_close(out, ref_out)
            for name in rec:
                assert_close(rec[name].aggregated, ref_rec[name].aggregated)
                assert_close(rec[name].v, ref_rec[name].v)
                if rec[name].attention is not None:
                    assert_close(rec[name].attention, ref_rec[name].attention)
    # the two inputs really give different records
    assert not torch.allclose(references[0][1]["blocks2.0"].v, references[1][1]["blocks2.0"].v)


# --------------------------------------------------------------------------------------- override_blend


def test_override_blend_equals_moving_sa_weight_on_a_copy_and_leaves_the_model_untouched(container_light):
    x = randn(*CL_INPUT, seed=30)
    before = {key: value.clone() for key, value in container_light.state_dict().items()}
    with torch.no_grad():
        plain = container_light(x)
        with override_blend({"blocks4.0": 0.0}):
            overridden = container_light(x)
            with record_affinities() as rec:
                recorded = container_light(x)
        after = container_light(x)
        edited = copy.deepcopy(container_light)
        edited.blocks4[0].sa_weight.fill_(-1e4)  # sigmoid -> 0: conv only
        expected = edited(x)
    assert not torch.allclose(overridden, plain, atol=1e-4)
    assert_close(overridden, expected)
    assert_close(recorded, expected)
    assert (rec["blocks4.0"].alpha, rec["blocks4.0"].beta) == (0.0, 1.0)
    assert rec["blocks4.1"].alpha == pytest.approx(torch.sigmoid(container_light.blocks4[1].sa_weight).item())
    assert torch.equal(after, plain)
    for key, value in container_light.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_override_blend_with_alpha_beta_pair_on_the_zoo_container(zoo):
    model = zoo["container"]
    x = randn(*ZOO_INPUT, seed=31)
    with torch.no_grad():
        with override_blend({"blocks2.1": (1.0, 0.0)}):
            overridden = model(x)
        edited = copy.deepcopy(model)
        edited.blocks2[1].mix.alpha.fill_(1.0)
        edited.blocks2[1].mix.beta.fill_(0.0)
        assert_close(overridden, edited(x))


def test_nested_override_blend_merges_and_restores(zoo):
    model = zoo["container_light"]
    x = randn(*ZOO_INPUT, seed=32)
    with torch.no_grad(), record_affinities() as rec:
        with override_blend({"blocks2.0": 1.0}):
            with override_blend({"blocks2.1": (0.2, 0.3)}):
                model(x)
    assert (rec["blocks2.0"].alpha, rec["blocks2.0"].beta) == (1.0, 0.0)
    assert (rec["blocks2.1"].alpha, rec["blocks2.1"].beta) == (0.2, 0.3)
    with torch.no_grad(), record_affinities() as rec:
        model(x)
    assert rec["blocks2.0"].alpha == pytest.approx(torch.sigmoid(model.blocks2[0].mix.sa_weight).item())


def test_override_blend_in_one_thread_does_not_leak_into_another(zoo):
    model = zoo["container_light"]
    x = randn(*ZOO_INPUT, seed=33)
    with torch.no_grad():
        plain = model(x)
    barrier = threading.Barrier(2, timeout=300)  # a deadlock guard, not a speed limit
    outputs: dict[str, torch.Tensor] = {}

    def overriding() -> None:
        with torch.no_grad(), override_blend({"blocks2.0": 0.0, "blocks2.1": 0.0}):
            barrier.wait()
            outputs["overridden"] = model(x)
            barrier.wait()

    def plain_thread() -> None:
        with torch.no_grad():
            barrier.wait()
            outputs["plain"] = model(x)
            barrier.wait()

    threads = [threading.Thread(target=overriding), threading.Thread(target=plain_thread)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert_close(outputs["plain"], plain)
    assert not torch.allclose(outputs["overridden"], plain, atol=1e-4)


def test_override_blend_rejects_a_malformed_weight():
    with pytest.raises(ValueError, match="alpha or"):
        with override_blend({"blocks4.0": (0.1, 0.2, 0.3)}):
            pass


# ----------------------------------------------------------------------------------------- row helpers


def test_row_helpers_of_a_mixed_block(container_light):
    with torch.no_grad(), record_affinities() as rec:
        container_light(randn(*CL_INPUT, seed=40))
    record = rec["blocks4.0"]
    height, width = record.grid
    assert (height, width) == (2, 3)
    query = (1, 2)
    i = aff.token_index(*query, width)
    attention_row = record.attention_row(query)
    assert attention_row.shape == (16, 2, 3)
    assert torch.equal(attention_row, record.attention[0, :, i].reshape(16, 2, 3))
    assert_close(attention_row.sum((-2, -1)), torch.ones(16))
    assert torch.equal(record.attention_row(i, batch_index=1), record.attention[1, :, i].reshape(16, 2, 3))
    assert torch.equal(record.attention_row(i), attention_row)
    static_row = record.static_row(query)
    assert static_row.shape == (512, 2, 3)
    assert torch.equal(static_row, aff.depthwise_conv(record.conv_weight, height, width)[:, i].reshape(512, 2, 3))
    head_row = record.static_head_row(query)
    assert_close(head_row, static_row.reshape(16, 32, 2, 3).mean(1))
    blended = record.blended_row(query)
    assert blended.shape == (16, 2, 3)
    assert_close(blended, record.alpha * attention_row + record.beta * head_row)
    # the blended row at head level is the head mean of the per-channel blended affinity's row
    per_channel = aff.blend(record.attention, aff.depthwise_conv(record.conv_weight, height, width),
                            record.alpha, record.beta)
    assert_close(blended, aff.head_mean(per_channel, 16)[0, :, i].reshape(16, 2, 3))


def test_row_helpers_of_a_conv_block(container_light):
    with torch.no_grad(), record_affinities() as rec:
        container_light(randn(*CL_INPUT, seed=41))
    record = rec["blocks1.0"]
    assert record.grid == (16, 24)
    assert record.attention_row(5) is None
    static_row = record.static_row((0, 0))
    assert static_row.shape == (64, 16, 24)
    assert torch.equal(static_row[:, :3, :3], record.conv_weight[:, 0, 2:, 2:])
    assert static_row[:, 3:].abs().sum() == 0
    blended = record.blended_row((0, 0))
    assert blended.shape == (1, 16, 24)
    assert_close(blended, static_row.mean(0, keepdim=True))


def test_row_helpers_of_dense_static_records(zoo):
    with torch.no_grad(), record_affinities() as rec:
        zoo["mixer"](randn(*ZOO_INPUT, seed=42))
    record = rec["blocks2.0"]
    assert record.attention_row(3) is None
    static_row = record.static_row((2, 5))
    assert static_row.shape == (4, 7, 7)
    assert torch.equal(static_row, record.static_affinity[:, 19].reshape(4, 7, 7))
    assert torch.equal(record.blended_row((2, 5)), record.beta * static_row)
    with torch.no_grad(), record_affinities() as rec:
        zoo["attention"](randn(*ZOO_INPUT, seed=43))
    record = rec["blocks2.0"]
    assert record.static_row(0) is None
    assert torch.equal(record.blended_row(0), record.attention_row(0))


@pytest.mark.parametrize("query", [49, -1, (7, 0), (0, 7), (-1, 3)])
def test_row_helpers_reject_a_query_outside_the_grid(zoo, query):
    with torch.no_grad(), record_affinities() as rec:
        zoo["container_light"](randn(*ZOO_INPUT, seed=44))
    record = rec["blocks2.0"]
    for helper in (record.attention_row, record.static_row, record.blended_row):
        with pytest.raises(ValueError, match="outside"):
            helper(query)


@pytest.mark.parametrize("query", [2.5, True, (1.0, 2), (1, 2, 3), "3"])
def test_row_helpers_reject_a_query_that_is_not_an_index(zoo, query):
    with torch.no_grad(), record_affinities() as rec:
        zoo["container_light"](randn(*ZOO_INPUT, seed=45))
    record = rec["blocks2.0"]
    for helper in (record.attention_row, record.static_row, record.blended_row):
        with pytest.raises(ValueError, match="token index or a"):
            helper(query)


def test_row_helpers_accept_numpy_and_tensor_integers(zoo):
    np = pytest.importorskip("numpy")
    with torch.no_grad(), record_affinities() as rec:
        zoo["container_light"](randn(*ZOO_INPUT, seed=46))
    record = rec["blocks2.0"]
    expected = record.blended_row(17)
    assert torch.equal(record.blended_row(np.int64(17)), expected)
    assert torch.equal(record.blended_row(torch.tensor(17)), expected)
    assert torch.equal(record.blended_row((np.int64(2), torch.tensor(3))), expected)


def test_records_compare_by_identity_not_by_tensor_contents(zoo):
    model = zoo["conv"]
    x = randn(*ZOO_INPUT, seed=47)
    with torch.no_grad(), record_affinities() as first:
        model(x)
    with torch.no_grad(), record_affinities() as second:
        model(x)
    a, b = first["blocks2.0"], second["blocks2.0"]
    assert a == a and a != b  # no "Boolean value of Tensor ... is ambiguous"
    assert len({a, b}) == 2
