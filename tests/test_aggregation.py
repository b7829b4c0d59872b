"""Tests for container_edu.ops.aggregation: each module's explicit affinity reproduces its fast path."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from container_edu.ops import affinity as aff
from container_edu.ops.aggregation import (
    ContainerLightMix,
    ContainerMix,
    ContainerPAMMix,
    DepthwiseConvAggregation,
    MultiHeadMLP,
    MultiHeadSelfAttention,
    TokenMixing,
    count_parameters,
)
from container_edu.record.trace import AggregationRecord, override_blend

from tensor_checks import assert_close, randn

BATCH, CHANNELS, HEADS, HEIGHT, WIDTH = 2, 12, 3, 3, 5
NUM_TOKENS = HEIGHT * WIDTH


def randomize(module: nn.Module, seed: int) -> nn.Module:
    """Random parameters (non-zero biases and blend weights) so that every term matters."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return module


def make(kind: str) -> nn.Module:
    """One of each aggregation module, over a 3 x 5 grid of 12 channels."""
    if kind == "attention":
        module = MultiHeadSelfAttention(HEADS)
    elif kind == "conv":
        module = DepthwiseConvAggregation(CHANNELS, 5)
    elif kind == "mixer":
        module = TokenMixing(NUM_TOKENS)
    elif kind == "multihead_mlp":
        module = MultiHeadMLP(NUM_TOKENS, HEADS)
    elif kind == "container_mlp":
        module = ContainerMix(HEADS, MultiHeadMLP(NUM_TOKENS, HEADS), alpha=0.7, beta=0.4)
    elif kind == "container_conv":
        module = ContainerMix(HEADS, DepthwiseConvAggregation(CHANNELS, 3))
    elif kind == "container_light":
        module = ContainerLightMix(CHANNELS, HEADS)
    elif kind == "container_pam":
        module = ContainerPAMMix(NUM_TOKENS, HEADS)
    else:
        raise AssertionError(kind)
    return randomize(module, seed=len(kind)).eval()


def make_input(module: nn.Module, seed: int = 100, height: int = HEIGHT, width: int = WIDTH) -> torch.Tensor:
    """``[Q | K | V]`` for modules with a dynamic affinity, else ``V``."""
    channels = 3 * CHANNELS if module.uses_query_key else CHANNELS
    return randn(BATCH, channels, height, width, seed=seed)


KINDS = ["attention", "conv", "mixer", "multihead_mlp", "container_mlp", "container_conv", "container_light",
         "container_pam"]
STATIC_DENSE = ["mixer", "multihead_mlp", "container_mlp", "container_pam"]


@pytest.mark.parametrize("kind", KINDS)
def test_aggregate_of_explicit_affinity_plus_bias_equals_fast_path(kind):
    module = make(kind)
    x = make_input(module)
    with torch.no_grad():
        explicit = aff.aggregate(module.affinity(x), module.values(x)) + module.output_bias(x)
        fast = aff.map_to_tokens(module(x))
    assert fast.shape == (BATCH, NUM_TOKENS, CHANNELS)
    assert_close(explicit, fast)


@pytest.mark.parametrize("kind", KINDS)
def test_explicit_path_output_equals_fast_path_and_records_what_it_aggregated(kind):
    module = make(kind)
    x = make_input(module)
    with torch.no_grad():
        out, record = module.explicit(x)
        fast = module(x)
    assert_close(out, fast)
    assert isinstance(record, AggregationRecord)
    assert record.grid == (HEIGHT, WIDTH)
    assert_close(record.aggregated, aff.map_to_tokens(fast))
    assert_close(record.v, module.values(x))
    expected_kind = {"container_mlp": "container", "container_conv": "container"}.get(kind, kind)
    assert record.kind == expected_kind


@pytest.mark.parametrize("kind", KINDS)
def test_record_reproduces_its_own_aggregation(kind):
    module = make(kind)
    x = make_input(module)
    with torch.no_grad():
        _, record = module.explicit(x)
    total = torch.zeros_like(record.aggregated)
    if record.attention is not None:
        total = total + record.alpha * aff.aggregate(record.attention, record.v)
    if record.conv_weight is not None:
        v_map = aff.tokens_to_map(record.v, HEIGHT, WIDTH)
        conv = F.conv2d(v_map, record.conv_weight, record.conv_bias, padding=record.conv_weight.shape[-1] // 2,
                        groups=CHANNELS)
        total = total + record.beta * aff.map_to_tokens(conv)
    if record.static_affinity is not None:
        total = total + record.beta * aff.aggregate(record.static_affinity, record.v)
    assert_close(total, record.aggregated)


def test_record_tensors_are_detached():
    module = make("container_light")
    _, record = module.explicit(make_input(module))
    for value in (record.v, record.aggregated, record.attention, record.conv_weight, record.conv_bias):
        assert not value.requires_grad


# ------------------------------------------------------------------------------ against plain PyTorch


def test_self_attention_matches_nn_multihead_attention_with_identity_projections():
    module = make("attention")
    qkv = make_input(module)
    q, k, v = (aff.map_to_tokens(t) for t in qkv.chunk(3, dim=1))
    mha = nn.MultiheadAttention(CHANNELS, HEADS, bias=False, batch_first=True).eval()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.eye(CHANNELS).repeat(3, 1))
        mha.out_proj.weight.copy_(torch.eye(CHANNELS))
        expected, _ = mha(q, k, v, need_weights=False)
        assert_close(aff.map_to_tokens(module(qkv)), expected)
        # and its averaged weights are the head mean of the explicit affinity
        _, weights = mha(q, k, v, need_weights=True, average_attn_weights=True)
        assert_close(module.affinity(qkv).mean(1), weights)


def test_self_attention_matches_reference_attention_pure_transcription():
    module = make("attention")
    qkv = make_input(module)
    batch, three_c, height, width = qkv.shape
    channels = three_c // 3
    # Attention_pure.forward of the reference, on the flattened conv1 output
    x = qkv.flatten(2).transpose(1, 2)
    heads = x.reshape(batch, height * width, 3, HEADS, channels // HEADS).permute(2, 0, 3, 1, 4)
    q, k, v = heads[0], heads[1], heads[2]
    attn = ((q @ k.transpose(-2, -1)) * (channels // HEADS) ** -0.5).softmax(dim=-1)
    expected = (attn @ v).transpose(1, 2).reshape(batch, height * width, channels)
    assert_close(aff.map_to_tokens(module(qkv)), expected)
    assert_close(module.affinity(qkv), attn)


def test_self_attention_uses_a_given_scale():
    module = MultiHeadSelfAttention(HEADS, scale=0.05)
    qkv = make_input(module)
    q, k, v = (aff.map_to_tokens(t) for t in qkv.chunk(3, dim=1))
    assert_close(module.affinity(qkv), aff.attention(q, k, HEADS, scale=0.05))
    assert_close(aff.map_to_tokens(module(qkv)), aff.aggregate(aff.attention(q, k, HEADS, scale=0.05), v))


def test_self_attention_rejects_input_that_is_not_three_blocks_of_channels():
    with pytest.raises(ValueError, match="3C channels"):
        MultiHeadSelfAttention(2)(randn(1, 8, 3, 3))


def test_self_attention_rejects_heads_that_do_not_divide_channels():
    with pytest.raises(ValueError, match="does not divide"):
        MultiHeadSelfAttention(5)(randn(1, 36, 3, 3))


def test_depthwise_conv_aggregation_is_a_depthwise_conv2d():
    module = make("conv")
    v = make_input(module)
    assert_close(module(v), F.conv2d(v, module.weight, module.bias, padding=2, groups=CHANNELS))
    assert module.num_heads == CHANNELS
    assert module.affinity(v).shape == (CHANNELS, NUM_TOKENS, NUM_TOKENS)
    assert set(dict(module.named_parameters())) == {"weight", "bias"}


def test_depthwise_conv_aggregation_without_bias_adds_nothing():
    module = randomize(DepthwiseConvAggregation(CHANNELS, 3, bias=False), seed=3)
    v = make_input(module)
    assert module.output_bias(v) == 0.0
    assert_close(aff.aggregate(module.affinity(v), module.values(v)), aff.map_to_tokens(module(v)))
    _, record = module.explicit(v)
    assert record.conv_bias is None


@pytest.mark.parametrize("kernel_size", [0, 2, 4])
def test_depthwise_conv_aggregation_rejects_even_kernel(kernel_size):
    with pytest.raises(ValueError, match="odd"):
        DepthwiseConvAggregation(CHANNELS, kernel_size)


def test_depthwise_conv_aggregation_works_on_any_grid():
    module = make("conv")
    for height, width in [(1, 1), (2, 9), (7, 4)]:
        v = make_input(module, height=height, width=width)
        assert_close(aff.aggregate(module.affinity(v), module.values(v)) + module.output_bias(v),
                     aff.map_to_tokens(module(v)))


def test_token_mixing_is_a_linear_layer_over_tokens_shared_by_all_channels():
    module = make("mixer")
    v = make_input(module)
    assert module.num_heads == 1
    # MLP-Mixer's token-mixing linear (without bias): applied to each channel's N values
    expected = F.linear(v.flatten(2), module.weight[0]).reshape(v.shape)
    assert_close(module(v), expected)


def test_multihead_mlp_applies_one_token_linear_per_head():
    module = make("multihead_mlp")
    v = make_input(module)
    head_dim = CHANNELS // HEADS
    expected = torch.cat(
        [F.linear(v[:, m * head_dim : (m + 1) * head_dim].flatten(2), module.weight[m]) for m in range(HEADS)], dim=1
    ).reshape(v.shape)
    assert_close(module(v), expected)


@pytest.mark.parametrize("kind", STATIC_DENSE)
@pytest.mark.parametrize("grid", [(4, 4), (1, 16), (3, 3), (1, 1)], ids=lambda g: f"{g[0]}x{g[1]}")
def test_dense_static_affinity_rejects_another_grid_size(kind, grid):
    module = make(kind)
    x = make_input(module, height=grid[0], width=grid[1])
    for call in (module, module.affinity, module.explicit):
        with pytest.raises(ValueError, match="tied to one grid size"):
            call(x)


@pytest.mark.parametrize("kind", STATIC_DENSE)
def test_dense_static_affinity_accepts_another_grid_shape_with_the_same_token_count(kind):
    module = make(kind)
    x = make_input(module, height=WIDTH, width=HEIGHT)
    with torch.no_grad():
        assert module(x).shape == (BATCH, CHANNELS, WIDTH, HEIGHT)


def test_container_light_mix_matches_reference_mixblock_aggregation():
    module = make("container_light")
    qkv = make_input(module)
    channels = CHANNELS
    conv = F.conv2d(qkv[:, 2 * channels :], module.conv.weight, module.conv.bias, padding=2, groups=channels)
    x = qkv.flatten(2).transpose(1, 2)
    heads = x.reshape(BATCH, NUM_TOKENS, 3, HEADS, channels // HEADS).permute(2, 0, 3, 1, 4)
    attn = ((heads[0] @ heads[1].transpose(-2, -1)) * (channels // HEADS) ** -0.5).softmax(dim=-1)
    sa = (attn @ heads[2]).transpose(1, 2).reshape(BATCH, HEIGHT, WIDTH, channels).permute(0, 3, 1, 2)
    weight = torch.sigmoid(module.sa_weight)
    with torch.no_grad():
        assert_close(module(qkv), weight * sa + (1 - weight) * conv)


def test_container_light_mix_blend_weights_are_sigmoid_of_sa_weight():
    module = ContainerLightMix(CHANNELS, HEADS)
    with torch.no_grad():
        alpha, beta = module.blend_weights()
        assert float(alpha) == 0.5 and float(beta) == 0.5
        module.sa_weight.fill_(1.3)
        alpha, beta = module.blend_weights()
    assert float(alpha) == pytest.approx(torch.sigmoid(torch.tensor(1.3)).item())
    assert float(alpha + beta) == pytest.approx(1.0)
    assert set(dict(module.named_parameters())) == {"sa_weight", "conv.weight", "conv.bias"}


def test_container_light_mix_blended_affinity_is_per_channel_and_its_head_mean_blends_head_views():
    module = make("container_light")
    qkv = make_input(module)
    with torch.no_grad():
        blended = module.affinity(qkv)
        alpha, beta = module.blend_weights()
        attention = module.attn.affinity(qkv)
        conv = module.conv.affinity(qkv.chunk(3, dim=1)[2])
    assert blended.shape == (BATCH, CHANNELS, NUM_TOKENS, NUM_TOKENS)
    assert_close(aff.head_mean(blended, HEADS), alpha * attention + beta * aff.head_mean(conv, HEADS))


def test_container_mix_is_alpha_attention_plus_beta_static():
    module = make("container_mlp")
    qkv = make_input(module)
    q, k, v = (aff.map_to_tokens(t) for t in qkv.chunk(3, dim=1))
    with torch.no_grad():
        expected = module.alpha * aff.aggregate(aff.attention(q, k, HEADS), v) + module.beta * aff.aggregate(
            module.static_aggregation.weight, v
        )
        assert_close(aff.map_to_tokens(module(qkv)), expected)
    assert set(dict(module.named_parameters())) == {"alpha", "beta", "static_aggregation.weight"}


def test_container_mix_with_conv_static_adds_beta_times_conv_bias():
    module = make("container_conv")
    qkv = make_input(module)
    with torch.no_grad():
        assert_close(module.output_bias(qkv), module.beta * module.static_aggregation.bias)
        v = qkv.chunk(3, dim=1)[2]
        expected = module.alpha * module.attn(qkv) + module.beta * F.conv2d(
            v, module.static.weight, module.static.bias, padding=1, groups=CHANNELS
        )
        assert_close(module(qkv), expected)


@pytest.mark.parametrize("kind", ["container_mlp", "container_conv", "container_light"])
def test_override_blend_of_the_module_overrides_learned_weights_in_fast_and_explicit_paths(kind):
    module = make(kind)
    qkv = make_input(module)
    v = qkv.chunk(3, dim=1)[2]
    learned = [w.detach().clone() for w in module.blend_weights()]
    with torch.no_grad():
        attention_only = module.attn(qkv)
        static_only = module.static(v)
        with override_blend({module: (1.0, 0.0)}):
            assert_close(module(qkv), attention_only)
        with override_blend({module: (0.0, 1.0)}):
            assert_close(module(qkv), static_only)
        with override_blend({module: (0.25, 2.0)}):
            out, record = module.explicit(qkv)
        assert_close(out, 0.25 * attention_only + 2.0 * static_only)
        assert_close(module(qkv), learned[0] * attention_only + learned[1] * static_only)  # restored on exit
    assert (record.alpha, record.beta) == (0.25, 2.0)
    assert all(torch.equal(w, before) for w, before in zip(module.blend_weights(), learned))


def test_override_blend_of_one_module_leaves_another_alone():
    first, second = make("container_light"), make("container_light")
    qkv = make_input(first)
    with torch.no_grad():
        before = second(qkv)
        with override_blend({first: 1.0}):
            assert_close(first(qkv), first.attn(qkv))
            assert torch.equal(second(qkv), before)


@pytest.mark.parametrize("kind", KINDS)
def test_fast_path_is_batch_independent(kind):
    module = make(kind)
    x = make_input(module)
    with torch.no_grad():
        full = module(x)
        assert_close(full[1:], module(x[1:]))


@pytest.mark.parametrize("kind", ["container_mlp", "container_light"])
def test_gradients_flow_to_blend_weights_through_fast_and_explicit_paths(kind):
    module = make(kind)
    x = make_input(module)
    for path in (module, lambda t: module.explicit(t)[0]):
        module.zero_grad()
        path(x).square().sum().backward()
        grads = [p.grad for name, p in module.named_parameters() if name in ("alpha", "sa_weight")]
        assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)


def test_count_parameters_counts_trainable_parameters():
    assert count_parameters(MultiHeadSelfAttention(HEADS)) == 0
    assert count_parameters(DepthwiseConvAggregation(CHANNELS, 5)) == CHANNELS * 25 + CHANNELS
    assert count_parameters(MultiHeadMLP(NUM_TOKENS, HEADS)) == HEADS * NUM_TOKENS**2
    assert count_parameters(ContainerLightMix(CHANNELS, HEADS)) == CHANNELS * 26 + 1


def test_blended_affinity_with_a_blend_override_reproduces_the_overridden_forward():
    from container_edu.ops import affinity as aff
    from container_edu.ops.aggregation import ContainerLightMix

    torch.manual_seed(3)
    mix = ContainerLightMix(dim=8, num_heads=2, kernel_size=3)
    qkv = torch.randn(2, 24, 3, 5)
    with override_blend({mix: (0.8, 0.2)}):
        explicit = aff.aggregate(mix.affinity(qkv), mix.values(qkv)) + mix.output_bias(qkv)
        fast = aff.map_to_tokens(mix(qkv))
    assert_close(explicit, fast.detach())
    learned = aff.map_to_tokens(mix(qkv))
    assert (learned - fast).abs().max() > 1e-3, "the override must change the output"
