"""The math on the record: full N x N matrices per head and per channel, and each branch's output.

Every method of :class:`~container_edu.record.trace.AggregationRecord` that builds a
matrix or a branch output is held against the modules themselves (their fast
paths and their own ``affinity``), on a non-square grid with batch 2 and on
whole models, so that no page or lesson needs to rebuild an affinity.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from container_edu.ops import affinity as aff
from container_edu.ops.aggregation import (
    ContainerLightMix,
    ContainerMix,
    DepthwiseConvAggregation,
    MultiHeadMLP,
    MultiHeadSelfAttention,
    TokenMixing,
)
from container_edu.models import MIXINGS, create_model
from container_edu.record.trace import record_affinities

from tensor_checks import assert_close, randn

BATCH, CHANNELS, HEADS, HEIGHT, WIDTH = 2, 12, 3, 3, 5  # non-square: border rows and columns differ
NUM_TOKENS = HEIGHT * WIDTH
KINDS = ["attention", "conv", "mixer", "multihead_mlp", "container_mlp", "container_conv", "container_light"]


def make(kind: str) -> nn.Module:
    modules = {
        "attention": lambda: MultiHeadSelfAttention(HEADS),
        "conv": lambda: DepthwiseConvAggregation(CHANNELS, 5),  # 5 x 5 on a 3 x 5 grid: every row meets a border
        "mixer": lambda: TokenMixing(NUM_TOKENS),
        "multihead_mlp": lambda: MultiHeadMLP(NUM_TOKENS, HEADS),
        "container_mlp": lambda: ContainerMix(HEADS, MultiHeadMLP(NUM_TOKENS, HEADS)),
        "container_conv": lambda: ContainerMix(HEADS, DepthwiseConvAggregation(CHANNELS, 3)),
        "container_light": lambda: ContainerLightMix(CHANNELS, HEADS),
    }
    module = modules[kind]()
    generator = torch.Generator().manual_seed(len(kind))
    with torch.no_grad():  # non-zero biases and blend weights, so that every term matters
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return module.eval()


def recorded(kind: str):
    module = make(kind)
    x = randn(BATCH, (3 if module.uses_query_key else 1) * CHANNELS, HEIGHT, WIDTH, seed=7)
    with torch.no_grad():
        _, record = module.explicit(x)
    return module, x, record


def branches(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Each branch from the module's own fast paths: ``alpha Attn(Q, K, V)`` and ``beta Static(V)``, as tokens."""
    if isinstance(module, (ContainerMix, ContainerLightMix)):
        alpha, beta = module.blend_weights()
        v = x.chunk(3, dim=1)[2]
        return aff.map_to_tokens(alpha * module.attn(x)), aff.map_to_tokens(beta * module.static(v))
    if isinstance(module, MultiHeadSelfAttention):
        return aff.map_to_tokens(module(x)), None
    return None, aff.map_to_tokens(module(x))


def bias_term(record) -> torch.Tensor | float:
    return 0.0 if record.conv_bias is None else record.beta * record.conv_bias


@pytest.mark.parametrize("kind", KINDS)
def test_branch_outputs_equal_the_modules_branches_and_add_up_to_the_aggregated_output(kind):
    module, x, record = recorded(kind)
    dynamic, static = record.dynamic_output(), record.static_output()
    with torch.no_grad():
        expected_dynamic, expected_static = branches(module, x)
        fast = aff.map_to_tokens(module(x))
    assert (dynamic is None) == (expected_dynamic is None) and (static is None) == (expected_static is None)
    for got, expected in ((dynamic, expected_dynamic), (static, expected_static)):
        if expected is not None:
            assert got.shape == (BATCH, NUM_TOKENS, CHANNELS)
            assert_close(got, expected)
    total = sum(branch for branch in (dynamic, static) if branch is not None)
    assert_close(total, record.aggregated)
    assert_close(total, fast)


@pytest.mark.parametrize("kind", KINDS)
def test_blended_channel_matrices_reproduce_the_output_of_every_image_of_the_batch(kind):
    module, x, record = recorded(kind)
    for b in range(BATCH):
        matrices = record.blended_channel_matrices(b)
        assert matrices.shape == (CHANNELS, NUM_TOKENS, NUM_TOKENS)
        assert_close(aff.aggregate(matrices, record.v[b : b + 1]) + bias_term(record), record.aggregated[b : b + 1])


@pytest.mark.parametrize("kind", KINDS)
def test_channel_matrices_equal_the_modules_own_affinity(kind):
    module, x, record = recorded(kind)
    with torch.no_grad():
        affinity = module.affinity(x)  # (B, K, N, N) or (K, N, N), K in {1, M, C}
    if affinity.dim() == 3:
        affinity = affinity.expand(BATCH, *affinity.shape)
    per_channel = affinity.repeat_interleave(CHANNELS // affinity.shape[1], dim=1)  # a head's matrix for each channel
    for b in range(BATCH):
        assert_close(record.blended_channel_matrices(b), per_channel[b])
    static_module = getattr(module, "static", None) or (None if kind == "attention" else module)
    if static_module is None:
        assert record.static_channel_matrices() is None
    else:
        with torch.no_grad():
            static = static_module.affinity(x.chunk(3, dim=1)[2] if module.uses_query_key else x)
        assert_close(record.static_channel_matrices(), static.repeat_interleave(CHANNELS // static.shape[0], dim=0))


@pytest.mark.parametrize("kind", KINDS)
def test_head_matrices_hold_every_row_of_the_row_helpers(kind):
    _, _, record = recorded(kind)
    for b in range(BATCH):
        blended_rows = torch.stack([record.blended_row(i, b) for i in range(NUM_TOKENS)], dim=1)  # (M, N, H, W)
        for head in range(record.num_heads):
            matrix = record.blended_matrix(head, b)
            assert matrix.shape == (NUM_TOKENS, NUM_TOKENS)
            assert_close(matrix, blended_rows[head].reshape(NUM_TOKENS, NUM_TOKENS))
    static_rows = [record.static_head_row(i) for i in range(NUM_TOKENS)]
    attention_rows = [record.attention_row(i, 1) for i in range(NUM_TOKENS)]
    for head in range(record.num_heads):
        static = record.static_matrix(head)
        if static_rows[0] is None:
            assert static is None
        else:
            assert_close(static, torch.stack([row[head].flatten() for row in static_rows]))
        attention = record.attention_matrix(head, 1)
        if attention_rows[0] is None:
            assert attention is None
        else:
            assert torch.equal(attention, torch.stack([row[head].flatten() for row in attention_rows]))


@pytest.mark.parametrize("kind", ["container_light", "container_conv", "conv"])
def test_a_convs_head_matrix_is_the_mean_of_its_channels_matrices(kind):
    _, _, record = recorded(kind)
    per_head = aff.head_mean(record.blended_channel_matrices(1), record.num_heads)
    for head in range(record.num_heads):
        assert_close(record.blended_matrix(head, 1), per_head[head])


# ------------------------------------------------------------------------------------------- whole models


def test_every_block_of_container_light_on_a_non_square_batch(container_light_model):
    x = randn(2, 3, 64, 96, seed=8)  # stage grids 16 x 24, 8 x 12, 4 x 6, 2 x 3
    with torch.no_grad(), record_affinities() as rec:
        container_light_model(x)
    for name, record in rec.items():
        parts = [branch for branch in (record.dynamic_output(), record.static_output()) if branch is not None]
        assert_close(sum(parts), record.aggregated)
    for name in ("blocks3.7", "blocks4.0", "blocks4.2"):  # small grids: the C x N x N matrices stay small
        record = rec[name]
        for b in range(2):
            explicit = aff.aggregate(record.blended_channel_matrices(b), record.v[b : b + 1]) + bias_term(record)
            assert_close(explicit, record.aggregated[b : b + 1])
    mixed = rec["blocks4.1"]
    block = container_light_model.blocks4[1]
    with torch.no_grad():
        alpha = torch.sigmoid(block.sa_weight).item()
    assert mixed.alpha == pytest.approx(alpha) and mixed.beta == pytest.approx(1 - alpha)


@pytest.mark.parametrize("mixing", MIXINGS)
def test_every_block_of_each_zoo_model(mixing):
    torch.manual_seed(0)
    model = create_model("fmnist_" + mixing).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(("sa_weight", ".alpha", ".beta")):
                parameter.fill_(0.3)
    with torch.no_grad(), record_affinities() as rec:
        model(randn(3, 1, 28, 28, seed=9))
    for record in rec.values():
        parts = [branch for branch in (record.dynamic_output(), record.static_output()) if branch is not None]
        assert_close(sum(parts), record.aggregated)
        for b in range(3):
            explicit = aff.aggregate(record.blended_channel_matrices(b), record.v[b : b + 1]) + bias_term(record)
            assert_close(explicit, record.aggregated[b : b + 1])


@pytest.fixture(scope="module")
def container_light_model(trained_looking_container_light) -> nn.Module:
    return trained_looking_container_light


# ------------------------------------------------------------------------------------------- limits


def test_matrices_refuse_beyond_the_dense_limit_and_rows_still_work(monkeypatch):
    _, _, record = recorded("container_light")
    monkeypatch.setattr(aff, "MAX_DENSE_ELEMENTS", CHANNELS * NUM_TOKENS**2 - 1)
    with pytest.raises(ValueError, match="row"):
        record.blended_channel_matrices()
    with pytest.raises(ValueError):
        record.static_channel_matrices()
    assert record.blended_matrix(0).shape == (NUM_TOKENS, NUM_TOKENS)  # one head's matrix still fits
    assert record.blended_row(3).shape == (HEADS, HEIGHT, WIDTH)


@pytest.mark.parametrize("head", [-1, HEADS, 1.0, True, "0"])
def test_matrices_reject_a_head_that_is_not_one_of_the_blocks(head):
    _, _, record = recorded("container_light")
    for method in (record.attention_matrix, record.static_matrix, record.blended_matrix):
        with pytest.raises(ValueError, match="head must be"):
            method(head)


def test_branch_outputs_of_a_record_kept_without_its_values_say_so():
    from dataclasses import replace

    _, _, record = recorded("container_light")
    slim = replace(record, v=record.v[:, :0])
    assert slim.blended_matrix(0).shape == (NUM_TOKENS, NUM_TOKENS)  # the matrices need no values
    for method in (slim.dynamic_output, slim.static_output):
        with pytest.raises(ValueError, match="without its values"):
            method()
