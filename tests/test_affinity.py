"""Tests for container_edu.ops.affinity: each explicit affinity equals its fused PyTorch operator."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from container_edu.ops import affinity as aff

from tensor_checks import assert_close, randn

HYPOTHESIS = settings(max_examples=40, deadline=None, derandomize=True)


def conv_reference(v_map: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """The fused operator: a depthwise conv2d with zero padding k // 2."""
    return F.conv2d(v_map, weight, bias, padding=weight.shape[-1] // 2, groups=weight.shape[0])


def conv_via_affinity(v_map: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    height, width = v_map.shape[-2:]
    tokens = aff.aggregate(aff.depthwise_conv(weight, height, width), aff.map_to_tokens(v_map))
    if bias is not None:
        tokens = tokens + bias
    return aff.tokens_to_map(tokens, height, width)


def sdpa_reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_heads: int, scale=None) -> torch.Tensor:
    """F.scaled_dot_product_attention on (B, N, C) tokens split into contiguous heads."""
    batch, num_tokens, channels = q.shape
    head_dim = channels // num_heads

    def heads(t: torch.Tensor) -> torch.Tensor:
        return t.reshape(batch, num_tokens, num_heads, head_dim).transpose(1, 2)

    out = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), scale=scale)
    return out.transpose(1, 2).reshape(batch, num_tokens, channels)


def manual_kernel_row(weight: torch.Tensor, height: int, width: int, qy: int, qx: int) -> torch.Tensor:
    """Row (qy, qx) of the conv affinity by the definition, one entry at a time: (C, H, W)."""
    pad = weight.shape[-1] // 2
    row = torch.zeros(weight.shape[0], height, width)
    for ky in range(height):
        for kx in range(width):
            dy, dx = ky - qy + pad, kx - qx + pad
            if 0 <= dy < weight.shape[-1] and 0 <= dx < weight.shape[-1]:
                row[:, ky, kx] = weight[:, 0, dy, dx]
    return row


# ---------------------------------------------------------------------------------------------- tokens


def test_token_index_is_row_major():
    assert aff.token_index(0, 0, 7) == 0
    assert aff.token_index(0, 6, 7) == 6
    assert aff.token_index(1, 0, 7) == 7
    assert aff.token_index(4, 6, 7) == 34


def test_map_to_tokens_orders_tokens_row_major_and_round_trips():
    x = randn(2, 3, 4, 5)
    tokens = aff.map_to_tokens(x)
    assert tokens.shape == (2, 20, 3)
    assert torch.equal(tokens[1, aff.token_index(2, 3, 5)], x[1, :, 2, 3])
    assert torch.equal(aff.tokens_to_map(tokens, 4, 5), x)


def test_tokens_to_map_rejects_a_grid_that_does_not_hold_the_tokens():
    with pytest.raises(ValueError, match="do not fill a 4 x 4 grid"):
        aff.tokens_to_map(randn(1, 20, 3), 4, 4)


# ------------------------------------------------------------------------------------------- attention


@pytest.mark.parametrize("num_heads", [1, 4, 16])
def test_attention_matches_manual_softmax_of_scaled_query_key_products(num_heads):
    batch, num_tokens, channels = 2, 12, 16
    q, k = randn(batch, num_tokens, channels, seed=1), randn(batch, num_tokens, channels, seed=2)
    head_dim = channels // num_heads
    scale = 0.37
    expected = torch.empty(batch, num_heads, num_tokens, num_tokens)
    for b in range(batch):
        for m in range(num_heads):
            q_m = q[b, :, m * head_dim : (m + 1) * head_dim]
            k_m = k[b, :, m * head_dim : (m + 1) * head_dim]
            expected[b, m] = torch.softmax(q_m @ k_m.T * scale, dim=-1)
    actual = aff.attention(q, k, num_heads, scale=scale)
    assert actual.shape == (batch, num_heads, num_tokens, num_tokens)
    assert_close(actual, expected)


@pytest.mark.parametrize("num_heads", [1, 4, 16])
def test_attention_aggregate_matches_scaled_dot_product_attention(num_heads):
    batch, num_tokens, channels = 3, 20, 16
    q, k, v = (randn(batch, num_tokens, channels, seed=s) for s in (3, 4, 5))
    expected = sdpa_reference(q, k, v, num_heads)
    assert_close(aff.aggregate(aff.attention(q, k, num_heads), v), expected)


def test_attention_with_explicit_scale_matches_scaled_dot_product_attention_with_that_scale():
    q, k, v = (randn(2, 9, 12, seed=s) for s in (6, 7, 8))
    expected = sdpa_reference(q, k, v, 3, scale=0.1)
    assert_close(aff.aggregate(aff.attention(q, k, 3, scale=0.1), v), expected)


@pytest.mark.parametrize("num_heads", [1, 2, 8])
def test_attention_default_scale_is_inverse_square_root_of_head_width(num_heads):
    q, k = randn(1, 10, 8, seed=9), randn(1, 10, 8, seed=10)
    default = aff.attention(q, k, num_heads)
    assert_close(default, aff.attention(q, k, num_heads, scale=(8 / num_heads) ** -0.5))
    # and not the full-width scale C ** -0.5 (which differs whenever M > 1)
    if num_heads > 1:
        assert not torch.allclose(default, aff.attention(q, k, num_heads, scale=8**-0.5))


@pytest.mark.parametrize("num_heads", [1, 4, 16])
def test_attention_rows_sum_to_one_and_are_non_negative(num_heads):
    a = aff.attention(3 * randn(2, 15, 16, seed=11), 3 * randn(2, 15, 16, seed=12), num_heads)
    assert (a >= 0).all()
    assert_close(a.sum(-1), torch.ones(2, num_heads, 15))


def test_attention_treats_batch_elements_independently():
    q, k = randn(3, 8, 8, seed=13), randn(3, 8, 8, seed=14)
    batched = aff.attention(q, k, 2)
    for b in range(3):
        assert_close(batched[b : b + 1], aff.attention(q[b : b + 1], k[b : b + 1], 2))


def test_attention_is_content_dependent():
    q, k = randn(1, 8, 8, seed=15), randn(1, 8, 8, seed=16)
    assert not torch.allclose(aff.attention(q, k, 2), aff.attention(q, 2 * k, 2))


@given(
    batch=st.integers(1, 3),
    height=st.integers(1, 6),
    width=st.integers(1, 6),
    heads_and_width=st.sampled_from([(1, 1), (1, 4), (2, 2), (2, 6), (3, 3), (4, 8), (4, 4), (6, 12)]),
    seed=st.integers(0, 2**16),
)
@HYPOTHESIS
def test_property_attention_aggregate_equals_scaled_dot_product_attention(batch, height, width, heads_and_width, seed):
    num_heads, channels = heads_and_width
    num_tokens = height * width
    q, k, v = (randn(batch, num_tokens, channels, seed=seed + s) for s in range(3))
    a = aff.attention(q, k, num_heads)
    assert a.shape == (batch, num_heads, num_tokens, num_tokens)
    assert_close(a.sum(-1), torch.ones(batch, num_heads, num_tokens))
    assert_close(aff.aggregate(a, v), sdpa_reference(q, k, v, num_heads))


# -------------------------------------------------------------------------------------- depthwise conv

GRIDS = [(5, 7), (7, 5), (1, 1), (1, 9), (3, 3)]


@pytest.mark.parametrize("kernel_size", [1, 3, 5, 7])
@pytest.mark.parametrize("grid", GRIDS, ids=lambda g: f"{g[0]}x{g[1]}")
def test_conv_affinity_with_bias_matches_depthwise_conv2d(grid, kernel_size):
    height, width = grid
    channels = 6
    weight, bias = randn(channels, 1, kernel_size, kernel_size, seed=20), randn(channels, seed=21)
    v_map = randn(2, channels, height, width, seed=22)
    a = aff.depthwise_conv(weight, height, width)
    assert a.shape == (channels, height * width, height * width)
    assert_close(conv_via_affinity(v_map, weight, bias), conv_reference(v_map, weight, bias))


def test_conv_affinity_matches_conv2d_on_non_square_grid_with_kernel_larger_than_grid():
    weight = randn(4, 1, 5, 5, seed=23)
    for height, width in [(3, 3), (2, 7), (7, 2), (1, 1)]:
        v_map = randn(1, 4, height, width, seed=24)
        assert_close(conv_via_affinity(v_map, weight), conv_reference(v_map, weight))


def test_conv_affinity_rows_are_the_kernel_pasted_at_the_query_and_cut_at_the_border():
    height, width, channels = 5, 7, 3
    weight = randn(channels, 1, 5, 5, seed=25)
    a = aff.depthwise_conv(weight, height, width)
    queries = {
        "top-left corner": (0, 0),
        "top-right corner": (0, 6),
        "bottom-left corner": (4, 0),
        "bottom-right corner": (4, 6),
        "top edge": (0, 3),
        "left edge": (2, 0),
        "right edge next to border": (3, 5),
        "centre": (2, 3),
    }
    for label, (qy, qx) in queries.items():
        row = a[:, aff.token_index(qy, qx, width)].reshape(channels, height, width)
        assert torch.equal(row, manual_kernel_row(weight, height, width, qy, qx)), label


def test_conv_affinity_corner_centre_and_edge_rows_hold_the_expected_part_of_the_kernel():
    height, width = 5, 7
    weight = randn(2, 1, 5, 5, seed=26)
    a = aff.depthwise_conv(weight, height, width).reshape(2, height * width, height, width)
    # centre (2, 3): the whole kernel fits, centred on the query
    centre = a[:, aff.token_index(2, 3, width)]
    assert torch.equal(centre[:, 0:5, 1:6], weight[:, 0])
    assert centre.count_nonzero() == weight.count_nonzero()
    # top-left corner: only the bottom-right 3 x 3 quadrant of the kernel lies inside the grid
    corner = a[:, 0]
    assert torch.equal(corner[:, 0:3, 0:3], weight[:, 0, 2:5, 2:5])
    assert corner[:, 3:, :].abs().sum() == 0 and corner[:, :, 3:].abs().sum() == 0
    # left edge (2, 0): the right 5 x 3 part of the kernel
    edge = a[:, aff.token_index(2, 0, width)]
    assert torch.equal(edge[:, 0:5, 0:3], weight[:, 0, :, 2:5])
    assert edge[:, :, 3:].abs().sum() == 0


def test_conv_affinity_is_translation_equivariant_in_the_interior():
    height, width = 7, 8
    weight = randn(2, 1, 3, 3, seed=27)
    a = aff.depthwise_conv(weight, height, width).reshape(2, height, width, height, width)
    # shifting both query and key by the same offset keeps the entry (away from the border)
    for qy, qx, ky, kx in [(2, 2, 3, 1), (3, 4, 2, 5), (4, 3, 4, 3)]:
        assert torch.equal(a[:, qy, qx, ky, kx], a[:, qy + 1, qx + 2, ky + 1, kx + 2])


def test_conv_affinity_has_at_most_k_squared_nonzeros_per_row():
    weight = randn(3, 1, 5, 5, seed=28).abs() + 0.1
    a = aff.depthwise_conv(weight, 9, 6)
    assert (a.count_nonzero(dim=-1) <= 25).all()
    assert a.count_nonzero(dim=-1).max() == 25


@pytest.mark.parametrize("kernel_size,grid", [(3, (4, 6)), (5, (4, 6)), (7, (3, 3)), (1, (2, 5)), (5, (1, 9))])
def test_depthwise_conv_row_equals_matching_row_of_dense_affinity_for_every_query(kernel_size, grid):
    height, width = grid
    weight = randn(3, 1, kernel_size, kernel_size, seed=29)
    dense = aff.depthwise_conv(weight, height, width)
    for i in range(height * width):
        row = aff.depthwise_conv_row(weight, height, width, i)
        assert row.shape == (3, height, width)
        assert torch.equal(row, dense[:, i].reshape(3, height, width)), i
        assert torch.equal(aff.depthwise_conv_row(weight, height, width, divmod(i, width)), row), i


def test_depthwise_conv_row_accepts_a_y_x_pair():
    weight = randn(2, 1, 5, 5, seed=30)
    for qy, qx in [(0, 0), (3, 2), (6, 4)]:
        assert torch.equal(
            aff.depthwise_conv_row(weight, 7, 5, (qy, qx)), aff.depthwise_conv_row(weight, 7, 5, qy * 5 + qx)
        )
        assert torch.equal(aff.depthwise_conv_row(weight, 7, 5, (qy, qx)), manual_kernel_row(weight, 7, 5, qy, qx))


class _LargestAllocation(TorchDispatchMode):
    """Records the largest storage (bytes) of any tensor an operator returns."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.ops += 1
        for value in tree_flatten(out)[0]:
            if isinstance(value, torch.Tensor):
                self.largest = max(self.largest, value.untyped_storage().nbytes())
        return out


def test_allocation_tracker_sees_the_dense_matrix_that_depthwise_conv_builds():
    # guards the check below: the tracker does catch an N x N allocation
    weight = randn(2, 1, 3, 3, seed=32)
    with _LargestAllocation() as tracker:
        aff.depthwise_conv(weight, 10, 10)
    assert tracker.largest >= 2 * 100 * 100 * 4


def test_depthwise_conv_row_on_56x56_grid_allocates_no_n_by_n_tensor():
    # Its speed is measured by `python -m container_edu bench core` (row "conv row (1 query)"), not asserted here.
    height = width = 56
    num_tokens = height * width
    weight = randn(64, 1, 5, 5, seed=31)
    with _LargestAllocation() as tracker:
        row = aff.depthwise_conv_row(weight, height, width, (27, 30))
    assert tracker.ops > 0  # the mode saw the work
    assert row.shape == (64, height, width)
    assert tracker.largest <= 64 * num_tokens * 4  # the row itself, O(C H W)
    assert tracker.largest < num_tokens * num_tokens * 4
    # and it is the kernel at the query
    assert torch.equal(row[:, 25:30, 28:33], weight[:, 0])


@given(
    batch=st.integers(1, 3),
    height=st.integers(1, 6),
    width=st.integers(1, 6),
    channels=st.sampled_from([1, 2, 4, 6]),
    kernel_size=st.sampled_from([1, 3, 5]),
    seed=st.integers(0, 2**16),
)
@HYPOTHESIS
def test_property_conv_affinity_equals_depthwise_conv2d(batch, height, width, channels, kernel_size, seed):
    weight = randn(channels, 1, kernel_size, kernel_size, seed=seed)
    bias = randn(channels, seed=seed + 1)
    v_map = randn(batch, channels, height, width, seed=seed + 2)
    assert_close(conv_via_affinity(v_map, weight, bias), conv_reference(v_map, weight, bias))
    query = (seed % height, (seed // height) % width)
    dense_row = aff.depthwise_conv(weight, height, width)[:, aff.token_index(*query, width)]
    assert torch.equal(aff.depthwise_conv_row(weight, height, width, query), dense_row.reshape(channels, height, width))


# ------------------------------------------------------------------------------------------- aggregate


def loop_aggregate(affinity: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """concat(A_1 V_1, ..., A_M V_M), one head and one batch element at a time."""
    batch, _, channels = v.shape
    num_heads = affinity.shape[-3]
    head_dim = channels // num_heads
    out = torch.empty_like(v)
    for b in range(batch):
        a_b = affinity[b] if affinity.dim() == 4 else affinity
        for m in range(num_heads):
            cols = slice(m * head_dim, (m + 1) * head_dim)
            out[b, :, cols] = a_b[m] @ v[b, :, cols]
    return out


@pytest.mark.parametrize("num_heads", [1, 3, 12])
def test_aggregate_with_per_image_affinity_matches_loop_over_heads(num_heads):
    v = randn(2, 10, 12, seed=40)
    a = randn(2, num_heads, 10, 10, seed=41)
    assert_close(aff.aggregate(a, v), loop_aggregate(a, v))


@pytest.mark.parametrize("num_heads", [1, 3, 12])
def test_aggregate_with_shared_static_affinity_matches_loop_over_heads(num_heads):
    v = randn(3, 10, 12, seed=42)
    a = randn(num_heads, 10, 10, seed=43)
    out = aff.aggregate(a, v)
    assert_close(out, loop_aggregate(a, v))
    assert_close(out, aff.aggregate(a.expand(3, -1, -1, -1), v))


def test_aggregate_single_head_applies_one_matrix_to_all_channels_like_a_mixer():
    v = randn(2, 9, 5, seed=44)
    a = randn(1, 9, 9, seed=45)
    assert_close(aff.aggregate(a, v), a[0] @ v)


def test_aggregate_one_head_per_channel_gives_each_channel_its_own_matrix():
    v = randn(2, 9, 5, seed=46)
    a = randn(5, 9, 9, seed=47)
    out = aff.aggregate(a, v)
    for c in range(5):
        assert_close(out[:, :, c], (a[c] @ v[:, :, c].unsqueeze(-1)).squeeze(-1))


# ----------------------------------------------------------------------------------------------- blend


def test_blend_broadcasts_each_heads_dynamic_matrix_over_its_channels_when_static_is_per_channel():
    batch, num_heads, channels, num_tokens = 2, 3, 12, 6
    dynamic = randn(batch, num_heads, num_tokens, num_tokens, seed=50)
    static = randn(channels, num_tokens, num_tokens, seed=51)
    out = aff.blend(dynamic, static, 0.3, 0.8)
    assert out.shape == (batch, channels, num_tokens, num_tokens)
    head_dim = channels // num_heads
    for c in range(channels):
        assert_close(out[:, c], 0.3 * dynamic[:, c // head_dim] + 0.8 * static[c])


def test_blend_per_head_static_adds_head_by_head():
    dynamic, static = randn(2, 4, 5, 5, seed=52), randn(4, 5, 5, seed=53)
    assert_close(aff.blend(dynamic, static, 0.25, 0.75), 0.25 * dynamic + 0.75 * static)


def test_blend_single_static_matrix_is_shared_by_every_head():
    dynamic, static = randn(2, 4, 5, 5, seed=54), randn(1, 5, 5, seed=55)
    out = aff.blend(dynamic, static, 1.0, 2.0)
    assert out.shape == (2, 4, 5, 5)
    for m in range(4):
        assert_close(out[:, m], dynamic[:, m] + 2.0 * static[0])


def test_blend_accepts_tensor_weights_like_sigmoid_of_sa_weight():
    dynamic, static = randn(1, 2, 4, 4, seed=56), randn(2, 4, 4, seed=57)
    alpha = torch.sigmoid(torch.tensor([0.4]))
    assert_close(aff.blend(dynamic, static, alpha, 1 - alpha), alpha * dynamic + (1 - alpha) * static)


def test_blended_affinity_aggregates_to_the_blend_of_the_two_aggregations():
    batch, num_heads, channels, height, width = 2, 2, 6, 3, 4
    num_tokens = height * width
    q, k, v = (randn(batch, num_tokens, channels, seed=s) for s in (58, 59, 60))
    weight = randn(channels, 1, 3, 3, seed=61)
    dynamic = aff.attention(q, k, num_heads)
    static = aff.depthwise_conv(weight, height, width)
    out = aff.aggregate(aff.blend(dynamic, static, 0.6, 0.4), v)
    v_map = aff.tokens_to_map(v, height, width)
    expected = 0.6 * sdpa_reference(q, k, v, num_heads) + 0.4 * aff.map_to_tokens(conv_reference(v_map, weight))
    assert_close(out, expected)


def test_head_mean_averages_each_heads_contiguous_channels():
    per_channel = randn(2, 6, 4, 4, seed=62)
    out = aff.head_mean(per_channel, 3)
    assert out.shape == (2, 3, 4, 4)
    for m in range(3):
        assert_close(out[:, m], per_channel[:, 2 * m : 2 * m + 2].mean(1))
    assert_close(aff.head_mean(per_channel, 6), per_channel)
    assert_close(aff.head_mean(per_channel[0], 1), per_channel[0].mean(0, keepdim=True))


def test_head_mean_of_blend_is_blend_of_head_means():
    dynamic, static = randn(1, 2, 5, 5, seed=63), randn(8, 5, 5, seed=64)
    blended = aff.blend(dynamic, static, 0.5, 0.5)
    assert_close(aff.head_mean(blended, 2), 0.5 * dynamic + 0.5 * aff.head_mean(static, 2))


# --------------------------------------------------------------------------------------- argument checks


BAD_ARGUMENT_IDS = [
    "attention-heads-not-dividing-channels",
    "attention-zero-heads",
    "attention-float-heads",
    "attention-q-k-shapes-differ",
    "attention-q-not-3d",
    "conv-even-kernel",
    "conv-non-square-kernel",
    "conv-kernel-not-depthwise",
    "conv-kernel-3d",
    "conv-empty-grid",
    "conv-row-even-kernel",
    "conv-row-index-past-end",
    "conv-row-negative-index",
    "conv-row-y-outside",
    "conv-row-x-negative",
    "conv-row-triple",
    "conv-row-float",
    "conv-row-bool",
    "aggregate-heads-not-dividing-channels",
    "aggregate-token-mismatch",
    "aggregate-batch-mismatch",
    "aggregate-non-square-affinity",
    "aggregate-2d-affinity",
    "aggregate-2d-values",
    "blend-token-mismatch",
    "blend-fewer-static-than-heads",
    "blend-static-not-multiple-of-heads",
    "blend-per-channel-not-multiple",
    "head-mean-heads-not-dividing",
]


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: aff.attention(randn(1, 4, 8), randn(1, 4, 8), 3), "num_heads=3 does not divide the 8 channels"),
        (lambda: aff.attention(randn(1, 4, 8), randn(1, 4, 8), 0), "num_heads must be a positive integer"),
        (lambda: aff.attention(randn(1, 4, 8), randn(1, 4, 8), 2.0), "num_heads must be a positive integer"),
        (lambda: aff.attention(randn(1, 4, 8), randn(1, 5, 8), 2), "q and k must both be"),
        (lambda: aff.attention(randn(4, 8), randn(4, 8), 2), "q and k must both be"),
        (lambda: aff.depthwise_conv(randn(4, 1, 4, 4), 5, 5), "odd size"),
        (lambda: aff.depthwise_conv(randn(4, 1, 3, 5), 5, 5), "must be square"),
        (lambda: aff.depthwise_conv(randn(4, 2, 3, 3), 5, 5), r"depthwise kernel has shape \(C, 1, k, k\)"),
        (lambda: aff.depthwise_conv(randn(4, 3, 3), 5, 5), r"depthwise kernel has shape \(C, 1, k, k\)"),
        (lambda: aff.depthwise_conv(randn(4, 1, 3, 3), 0, 5), "height must be a positive integer"),
        (lambda: aff.depthwise_conv_row(randn(4, 1, 2, 2), 5, 5, 0), "odd size"),
        (lambda: aff.depthwise_conv_row(randn(4, 1, 3, 3), 5, 5, 25), "outside the 5 x 5 token grid"),
        (lambda: aff.depthwise_conv_row(randn(4, 1, 3, 3), 5, 5, -1), "outside the 5 x 5 token grid"),
        (lambda: aff.depthwise_conv_row(randn(4, 1, 3, 3), 5, 5, (5, 0)), r"query \(5, 0\) is outside"),
        (lambda: aff.depthwise_conv_row(randn(4, 1, 3, 3), 5, 5, (0, -1)), r"query \(0, -1\) is outside"),
        (lambda: aff.depthwise_conv_row(randn(4, 1, 3, 3), 5, 5, (1, 2, 3)), "token index or a"),
        (lambda: aff.depthwise_conv_row(randn(4, 1, 3, 3), 5, 5, 2.5), "token index or a"),
        (lambda: aff.depthwise_conv_row(randn(4, 1, 3, 3), 5, 5, True), "token index or a"),
        (lambda: aff.aggregate(randn(4, 5, 5), randn(1, 5, 6)), "does not divide the 6 channels"),
        (lambda: aff.aggregate(randn(2, 5, 5), randn(1, 6, 4)), "affinity is over 5 tokens but v has 6"),
        (lambda: aff.aggregate(randn(3, 2, 5, 5), randn(2, 5, 4)), "affinity has batch 3 but v has batch 2"),
        (lambda: aff.aggregate(randn(2, 5, 4), randn(1, 5, 4)), r"affinity must be \(B, M, N, N\)"),
        (lambda: aff.aggregate(randn(5, 5), randn(1, 5, 4)), r"affinity must be \(B, M, N, N\)"),
        (lambda: aff.aggregate(randn(2, 5, 5), randn(5, 4)), r"v must be \(B, N, C\)"),
        (lambda: aff.blend(randn(1, 2, 5, 5), randn(2, 4, 4), 0.5, 0.5), "different token counts"),
        (lambda: aff.blend(randn(1, 4, 5, 5), randn(2, 5, 5), 0.5, 0.5), "expected 1, 4 or a multiple of 4"),
        (lambda: aff.blend(randn(1, 2, 5, 5), randn(3, 5, 5), 0.5, 0.5), "3 static matrices cannot be shared out"),
        (lambda: aff.blend(randn(1, 4, 5, 5), randn(6, 5, 5), 0.5, 0.5), "cannot be shared out over 4 heads"),
        (lambda: aff.head_mean(randn(6, 4, 4), 4), "num_heads=4 does not divide the 6 channels"),
    ],
    ids=BAD_ARGUMENT_IDS,
)
def test_bad_arguments_raise_value_error_with_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()
