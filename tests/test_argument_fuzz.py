"""Fuzzing the argument checks of the core (issue #7, part 5).

Random, often wrong, arguments for the explicit affinities
(``container_edu.ops.affinity``) and the aggregation modules
(``container_edu.ops.aggregation``): odd shapes, empty dimensions, kernel sizes
that are even, zero, negative or not square, head counts that do not divide
the channels, queries off the grid or of the wrong type. Each call must either
work (and give the documented shape) or raise a ``ValueError`` with a message;
an ``IndexError``, ``RuntimeError``, ``ZeroDivisionError`` or any other
exception escaping from deep inside is a missing argument check.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis.control import currently_in_test_context
from hypothesis import strategies as st

from container_edu.ops import affinity as aff
from container_edu.ops.aggregation import (
    ContainerLightMix,
    ContainerMix,
    DepthwiseConvAggregation,
    MultiHeadMLP,
    MultiHeadSelfAttention,
    TokenMixing,
)
from container_edu.record.trace import override_blend

FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def value_error_or_result(call, *args, label: str | None = None, **kwargs):
    """``call(*args, **kwargs)``; ``None`` if it raised ``ValueError`` (which must say something).

    Any other exception propagates and fails the test. Run pytest with
    ``--hypothesis-show-statistics`` to see how often each call worked or was refused.
    """
    name = label or getattr(call, "__qualname__", type(call).__name__)
    try:
        result = call(*args, **kwargs)
    except ValueError as error:
        assert str(error).strip(), f"{name} raised a ValueError without a message"
        _event(f"{name}: ValueError")
        return None
    _event(f"{name}: worked")
    return result


def _event(text: str) -> None:
    if currently_in_test_context():
        event(text)


# ------------------------------------------------------------------------------------------ strategies

dims = st.integers(0, 5)
shapes = st.lists(dims, min_size=0, max_size=5)
small = st.integers(1, 5)
# Head counts, grid sizes, kernel sizes: often plausible, often wrong (0, negative, bool, float, huge, numpy, str).
bad_ints = st.one_of(
    st.integers(1, 6),
    st.integers(-3, 9),
    st.sampled_from([True, False, 2.0, 0.5, float("nan"), 10**12, -(10**12), None, "4"]),
    st.integers(1, 6).map(np.int64),
)
kernels = st.one_of(
    st.sampled_from([1, 3, 5]).map(lambda k: (k, k)),
    st.tuples(st.integers(0, 6), st.integers(0, 6)),
)
queries = st.one_of(
    st.integers(-40, 40),
    st.tuples(st.integers(-3, 7), st.integers(-3, 7)),
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.one_of(st.floats(-2, 6), st.just(float("nan"))), st.integers(0, 3)),
    st.tuples(st.sampled_from([True, None, "1", 1.0]), st.integers(0, 3)),
    st.sampled_from([None, 1.5, "3", [1, 2], (), True, float("nan")]),
    st.integers(0, 6).map(np.int64),
    st.tuples(st.integers(0, 4).map(np.int64), st.integers(0, 4).map(np.int64)),
)
def mostly(good):
    """``good`` about three times in four, else a bad integer-ish value."""
    return st.sampled_from([True, True, True, False]).flatmap(lambda ok: good if ok else bad_ints)


blend_weights = st.one_of(st.floats(-3, 3), st.sampled_from([0.0, 1.0, float("inf"), float("nan")]))


def tensor(shape) -> torch.Tensor:
    return torch.randn(*shape) if shape else torch.randn(())


# ------------------------------------------------------------------------------------------ affinity.py


@FUZZ
@given(q_shape=shapes, k_same=st.booleans(), k_shape=shapes, num_heads=mostly(small), consistent=st.booleans(),
       batch=st.integers(0, 2), tokens=st.integers(0, 5), head_dim=st.integers(0, 3), extra=st.sampled_from([0, 0, 1]),
       scale=st.one_of(st.none(), st.floats(-2, 2), st.just(float("inf"))))
def test_attention(q_shape, k_same, k_shape, num_heads, consistent, batch, tokens, head_dim, extra, scale):
    if consistent and isinstance(num_heads, int) and 0 < num_heads < 10:
        q_shape = [batch, tokens, num_heads * head_dim + extra]
    q = tensor(q_shape)
    k = tensor(q_shape if k_same else k_shape)
    out = value_error_or_result(aff.attention, q, k, num_heads, scale)
    if out is not None:
        batch, tokens, _ = q.shape
        assert out.shape == (batch, num_heads, tokens, tokens)


@FUZZ
@given(weight_shape=shapes, kernel=kernels, channels=st.integers(0, 4),
       groups=st.sampled_from([1, 1, 0, 2]), use_kernel=st.sampled_from([True, True, False]), height=mostly(small), width=mostly(small))
def test_depthwise_conv(weight_shape, kernel, channels, groups, use_kernel, height, width):
    shape = (channels, groups, *kernel) if use_kernel else weight_shape
    weight = tensor(shape)
    out = value_error_or_result(aff.depthwise_conv, weight, height, width)
    if out is not None:
        assert out.shape == (weight.shape[0], height * width, height * width)


@FUZZ
@given(weight_shape=shapes, kernel=kernels, channels=st.integers(0, 4), use_kernel=st.sampled_from([True, True, False]),
       height=mostly(small), width=mostly(small), query=queries, centre=st.sampled_from([None, None, "pair", "index"]))
def test_depthwise_conv_row(weight_shape, kernel, channels, use_kernel, height, width, query, centre):
    weight = tensor((channels, 1, *kernel) if use_kernel else weight_shape)
    if centre and all(isinstance(v, int) and 0 < v < 10 for v in (height, width)):
        query = (height // 2, width // 2) if centre == "pair" else height * width - 1
    out = value_error_or_result(aff.depthwise_conv_row, weight, height, width, query)
    if out is not None:
        assert out.shape == (weight.shape[0], height, width)
        if isinstance(query, tuple):
            assert all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in query)
        else:
            assert isinstance(query, (int, np.integer)) and not isinstance(query, bool)


@FUZZ
@given(affinity_shape=shapes, v_shape=shapes, consistent=st.booleans(), batch=small, heads=st.integers(0, 4),
       tokens=st.integers(0, 5), head_dim=st.integers(0, 3), dynamic=st.booleans())
def test_aggregate(affinity_shape, v_shape, consistent, batch, heads, tokens, head_dim, dynamic):
    if consistent:
        affinity = tensor((batch, heads, tokens, tokens) if dynamic else (heads, tokens, tokens))
        v = tensor((batch, tokens, heads * head_dim + (head_dim == 2)))  # sometimes one channel too many
    else:
        affinity, v = tensor(affinity_shape), tensor(v_shape)
    out = value_error_or_result(aff.aggregate, affinity, v)
    if out is not None:
        assert out.shape == v.shape


@FUZZ
@given(dynamic_shape=shapes, static_shape=shapes, consistent=st.booleans(), batch=small, heads=st.integers(0, 4),
       statics=st.integers(0, 9), tokens=st.integers(0, 4), static_batch=st.sampled_from([None, 1, 2, 3]),
       alpha=blend_weights, beta=blend_weights)
def test_blend(dynamic_shape, static_shape, consistent, batch, heads, statics, tokens, static_batch, alpha, beta):
    if consistent:
        dynamic = tensor((batch, heads, tokens, tokens))
        static = tensor((statics, tokens, tokens) if static_batch is None else (static_batch, statics, tokens, tokens))
    else:
        dynamic, static = tensor(dynamic_shape), tensor(static_shape)
    out = value_error_or_result(aff.blend, dynamic, static, alpha, beta)
    if out is not None:
        assert out.shape[-3] == max(dynamic.shape[-3], static.shape[-3])
        assert out.shape[-2:] == dynamic.shape[-2:]


@FUZZ
@given(shape=shapes, num_heads=mostly(small), consistent=st.booleans(), lead=st.lists(small, max_size=2),
       head_dim=st.integers(0, 3), n=small)
def test_head_mean(shape, num_heads, consistent, lead, head_dim, n):
    if consistent and isinstance(num_heads, int) and 0 < num_heads < 10:
        shape = [*lead, num_heads * head_dim, n, n]
    per_channel = tensor(shape)
    out = value_error_or_result(aff.head_mean, per_channel, num_heads)
    if out is not None:
        assert out.shape == (*per_channel.shape[:-3], num_heads, *per_channel.shape[-2:])


# ------------------------------------------------------------------------------------------ aggregation.py

def _map_shape(data, channels: int | None, grid: tuple[int, int] | None = None) -> list[int]:
    """An input shape: half the time a plausible (B, channels, H, W) (possibly off by one), else anything."""
    if channels is not None and channels < 64 and data.draw(st.sampled_from([True, True, True, False]),
                                                            label="plausible input"):
        height, width = grid if grid is not None else (data.draw(small, label="H"), data.draw(small, label="W"))
        off = data.draw(st.sampled_from([0, 0, 0, 1, -1]), label="channels off by")
        return [data.draw(st.integers(0, 2), label="B"), max(channels + off, 0), height, width]
    return data.draw(st.one_of(shapes, st.tuples(st.integers(0, 2), st.integers(0, 13), dims, dims).map(list)),
                     label="input shape")


def _exercise(module, x, label: str, **kwargs) -> None:
    """forward, affinity and explicit of ``module`` on ``x``: each works or raises ValueError; paths agree."""
    out = value_error_or_result(module, x, label=f"{label}.forward", **kwargs)
    if out is not None:
        assert out.shape == x.shape[:1] + out.shape[1:2] + x.shape[-2:]
    value_error_or_result(module.affinity, x, label=f"{label}.affinity", **kwargs)
    result = value_error_or_result(module.explicit, x, label=f"{label}.explicit", **kwargs)
    assert (result is None) == (out is None), f"{label}: forward and explicit disagree on what is valid"
    if result is not None:
        torch.testing.assert_close(result[0], out, rtol=1e-4, atol=1e-5, equal_nan=True)


def _exercise_blended(module, x, label: str, blend) -> None:
    """``_exercise`` under ``override_blend({module: blend})``; a malformed blend is refused on entry."""
    if blend is None:
        _exercise(module, x, label)
        return
    override = override_blend({module: blend})
    try:
        override.__enter__()
    except ValueError as error:
        assert str(error).strip(), f"{label}: override_blend raised a ValueError without a message"
        _event(f"{label}: override refused")
        return
    try:
        _exercise(module, x, label)
    finally:
        override.__exit__(None, None, None)


@FUZZ
@given(num_heads=mostly(small), scale=st.one_of(st.none(), st.floats(0.01, 2), st.just("big")), head_dim=st.integers(0, 3),
       data=st.data())
def test_multi_head_self_attention(num_heads, scale, head_dim, data):
    module = value_error_or_result(MultiHeadSelfAttention, num_heads, scale)
    if module is not None:
        with torch.no_grad():
            _exercise(module, tensor(_map_shape(data, 3 * num_heads * head_dim)), "MultiHeadSelfAttention")


@FUZZ
@given(dim=mostly(small), kernel_size=mostly(st.sampled_from([1, 3, 5])), bias=st.booleans(), data=st.data())
def test_depthwise_conv_aggregation(dim, kernel_size, bias, data):
    module = value_error_or_result(DepthwiseConvAggregation, dim, kernel_size, bias)
    if module is not None:
        assert module.kernel_size[0] % 2 == 1
        with torch.no_grad():
            _exercise(module, tensor(_map_shape(data, dim)), "DepthwiseConvAggregation")


@FUZZ
@given(grid=st.tuples(small, small), num_tokens=st.one_of(st.just(None), st.just(None), bad_ints), num_heads=mostly(small),
       head_dim=st.integers(0, 3), mixer=st.booleans(), data=st.data())
def test_dense_static_mixing(grid, num_tokens, num_heads, head_dim, mixer, data):
    tokens = grid[0] * grid[1] if num_tokens is None else num_tokens
    module = (value_error_or_result(TokenMixing, tokens) if mixer
              else value_error_or_result(MultiHeadMLP, tokens, num_heads))
    if module is not None:
        channels = (1 if mixer else num_heads) * max(head_dim, 1)
        with torch.no_grad():
            _exercise(module, tensor(_map_shape(data, channels, grid)), type(module).__name__)


@FUZZ
@given(num_heads=mostly(small), head_dim=mostly(st.integers(1, 3)), kernel_size=mostly(st.sampled_from([1, 3, 5])),
       data=st.data(),
       blend=st.one_of(st.none(), st.tuples(blend_weights, blend_weights), st.sampled_from([(1.0,), "ab", 0.5])))
def test_container_light_mix(num_heads, head_dim, kernel_size, data, blend):
    dim = num_heads * head_dim if all(isinstance(v, int) for v in (num_heads, head_dim)) else head_dim
    if data.draw(st.integers(0, 4), label="dim off") == 0:
        dim = data.draw(bad_ints, label="dim")
    module = value_error_or_result(ContainerLightMix, dim, num_heads, kernel_size)
    if module is not None:
        with torch.no_grad():
            _exercise_blended(module, tensor(_map_shape(data, 3 * dim)), "ContainerLightMix", blend)


@FUZZ
@given(num_heads=mostly(small), static_heads=st.one_of(st.just("same"), st.just("same"), bad_ints), grid=st.tuples(small, small), conv=st.booleans(),
       head_dim=st.integers(1, 2), alpha=blend_weights, beta=blend_weights, data=st.data(),
       blend=st.one_of(st.none(), st.tuples(blend_weights, blend_weights)))
def test_container_mix(num_heads, static_heads, grid, conv, head_dim, alpha, beta, data, blend):
    channels = num_heads * head_dim if isinstance(num_heads, int) and not isinstance(num_heads, bool) else 1
    if static_heads == "same":
        static_heads = channels if conv else num_heads
    static = (value_error_or_result(DepthwiseConvAggregation, static_heads, 3)
              if conv else value_error_or_result(MultiHeadMLP, grid[0] * grid[1], static_heads))
    if static is None:
        return
    module = value_error_or_result(ContainerMix, num_heads, static, alpha, beta)
    if module is not None:
        with torch.no_grad():
            _exercise_blended(module, tensor(_map_shape(data, 3 * channels, grid)), "ContainerMix", blend)


@pytest.mark.parametrize("bad_static", [None, "conv", torch.nn.Linear(3, 3)])
def test_container_mix_needs_a_static_aggregation(bad_static):
    with pytest.raises(ValueError, match="static"):
        ContainerMix(2, bad_static)


@FUZZ
@given(shape=shapes, height=mostly(small), width=mostly(small), consistent=st.booleans(), channels=dims)
def test_tokens_to_map(shape, height, width, consistent, channels):
    if consistent and all(isinstance(v, int) and 0 < v < 10 for v in (height, width)):
        shape = [1, height * width, channels]
    out = value_error_or_result(aff.tokens_to_map, tensor(shape), height, width)
    if out is not None:
        assert out.shape[-2:] == (height, width)


def test_fuzzing_reaches_both_outcomes():
    """Sanity check on the harness: good arguments work and bad ones are refused with ValueError."""
    assert value_error_or_result(aff.attention, torch.randn(1, 4, 8), torch.randn(1, 4, 8), 2).shape == (1, 2, 4, 4)
    assert value_error_or_result(aff.attention, torch.randn(1, 4, 8), torch.randn(1, 4, 8), 3) is None
    assert math.isfinite(float(aff.depthwise_conv_row(torch.randn(2, 1, 3, 3), 4, 4, (1, 1)).sum()))
