"""container_edu.analysis, each measure checked against an independent computation (plain loops or numpy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from container_edu.ops import affinity as aff
from container_edu import analysis as an
from container_edu import record_affinities
from container_edu.models import ZooConfig, ZooContainer

from tensor_checks import gen, randn


def softmax_attention(batch: int, heads: int, tokens: int, seed: int = 0, sharpness: float = 3.0) -> torch.Tensor:
    return (sharpness * randn(batch, heads, tokens, tokens, seed=seed)).softmax(-1)


def loop_distance(rows: np.ndarray, grid: tuple[int, int]) -> float:
    """Mean over queries of sum_j A[i, j] * ||p_i - p_j||, one (N, N) matrix, by plain loops."""
    height, width = grid
    total = 0.0
    for i in range(height * width):
        yi, xi = divmod(i, width)
        for j in range(height * width):
            yj, xj = divmod(j, width)
            total += rows[i, j] * math.hypot(yi - yj, xi - xj)
    return total / (height * width)


def loop_entropy(rows: np.ndarray) -> float:
    total = 0.0
    for row in rows:
        total -= sum(p * math.log(p) for p in row if p > 0)
    return total / len(rows)


def loop_kernel_distance(kernels: np.ndarray) -> float:
    """|w|-weighted mean tap distance of the pooled kernels (C', k, k), by loops."""
    kernels = np.asarray(kernels, dtype=np.float64)
    size = kernels.shape[-1]
    pad = size // 2
    weighted = total = 0.0
    for dy in range(size):
        for dx in range(size):
            magnitude = float(np.abs(kernels[:, dy, dx]).mean())
            weighted += magnitude * math.hypot(dy - pad, dx - pad)
            total += magnitude
    return weighted / total


def zoo(mixing: str, seed: int = 0) -> ZooContainer:
    torch.manual_seed(seed)
    return ZooContainer(ZooConfig(mixing=mixing)).eval()


def record(model, x):
    with torch.no_grad(), record_affinities() as recorder:
        model(x)
    return dict(recorder)


# --------------------------------------------------------------------------
# Distance and entropy
# --------------------------------------------------------------------------


def test_attention_distance_matches_loops_on_a_non_square_grid():
    grid = (3, 5)
    attention = softmax_attention(2, 3, 15, seed=1)
    distance = an.attention_distance(attention, grid)
    assert distance.shape == (2, 3) and distance.dtype == torch.float64
    for b in range(2):
        for m in range(3):
            assert distance[b, m].item() == pytest.approx(loop_distance(attention[b, m].double().numpy(), grid), rel=1e-9)


def test_attention_distance_of_identity_is_zero_and_of_uniform_rows_the_mean_pairwise_distance():
    grid = (4, 6)
    n = 24
    identity = torch.eye(n).expand(1, 2, n, n)
    assert torch.equal(an.attention_distance(identity, grid), torch.zeros(1, 2, dtype=torch.float64))
    uniform = torch.full((1, 1, n, n), 1.0 / n, dtype=torch.float64)
    expected = loop_distance(np.full((n, n), 1.0 / n), grid)
    assert an.attention_distance(uniform, grid).item() == pytest.approx(expected, rel=1e-9)
    assert an.uniform_attention_reference(grid)[0] == pytest.approx(expected, rel=1e-9)


def test_attention_distance_of_a_shift_by_one_token_is_one():
    grid = (5, 5)
    shift = torch.zeros(25, 25)
    for i in range(25):
        y, x = divmod(i, 5)
        shift[i, y * 5 + (x + 1 if x < 4 else x - 1)] = 1.0
    assert an.attention_distance(shift[None, None], grid).item() == pytest.approx(1.0)


def test_attention_entropy_matches_loops_and_its_extremes():
    attention = softmax_attention(2, 2, 12, seed=2)
    entropy = an.attention_entropy(attention)
    assert entropy.shape == (2, 2)
    for b in range(2):
        for m in range(2):
            assert entropy[b, m].item() == pytest.approx(loop_entropy(attention[b, m].double().numpy()), rel=1e-9)
    uniform = torch.full((1, 3, 12, 12), 1 / 12)
    torch.testing.assert_close(an.attention_entropy(uniform), torch.full((1, 3), math.log(12), dtype=torch.float64))
    assert torch.equal(an.attention_entropy(torch.eye(12)[None, None]), torch.zeros(1, 1, dtype=torch.float64))


@pytest.mark.parametrize("bad", [
    torch.rand(3, 9, 9),  # no batch axis
    torch.rand(1, 1, 9, 8),  # not square
    -torch.eye(9)[None, None],  # negative
    torch.full((1, 1, 9, 9), 0.5),  # rows sum to 4.5
    torch.full((1, 1, 9, 9), float("nan")),
    torch.zeros(0, 1, 9, 9),
    "not a tensor",
])
def test_distance_and_entropy_reject_what_is_not_attention(bad):
    with pytest.raises(ValueError):
        an.attention_distance(bad, (3, 3))
    with pytest.raises(ValueError):
        an.attention_entropy(bad)


@pytest.mark.parametrize("grid", [(2, 4), (3,), (0, 9), "3x3", (3.0, 3.0)])
def test_attention_distance_rejects_a_grid_that_does_not_fit(grid):
    with pytest.raises(ValueError):
        an.attention_distance(torch.eye(9)[None, None], grid)


def test_token_distances_match_hypot():
    distances = an.token_distances((2, 3))
    for i in range(6):
        for j in range(6):
            assert distances[i, j].item() == pytest.approx(math.hypot(i // 3 - j // 3, i % 3 - j % 3))


# --------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------


def test_kernel_distance_pools_each_heads_channels_and_matches_loops():
    weight = randn(12, 1, 5, 5, seed=3)
    distance = an.kernel_distance(weight, 3)
    assert distance.shape == (3,)
    for m in range(3):
        assert distance[m].item() == pytest.approx(loop_kernel_distance(weight[4 * m:4 * m + 4, 0].numpy()), rel=1e-9)
    assert an.kernel_distance(weight, 1).item() == pytest.approx(loop_kernel_distance(weight[:, 0].numpy()), rel=1e-9)


def test_kernel_distance_is_the_attention_distance_of_an_inside_row_and_ignores_the_border():
    weight = randn(4, 1, 5, 5, seed=4)
    grid = (9, 9)
    # Independent route: each channel's dense matrix, |.| averaged over the channels, one interior row normalised.
    dense = aff.depthwise_conv(weight, *grid).abs().mean(0).double()
    centre = 4 * 9 + 4
    row = dense[centre] / dense[centre].sum()
    row_distance = sum(row[j].item() * math.hypot(j // 9 - 4, j % 9 - 4) for j in range(81))
    assert an.kernel_distance(weight, 1).item() == pytest.approx(row_distance, rel=1e-9)
    corner = dense[0] / dense[0].sum()  # cut at the border: the kernel's own distance is used instead
    corner_distance = sum(corner[j].item() * math.hypot(j // 9, j % 9) for j in range(81))
    assert abs(corner_distance - row_distance) > 1e-3


def test_kernel_entropy_matches_loops_and_is_log_k2_for_a_flat_kernel():
    weight = randn(6, 1, 3, 3, seed=5)
    entropy = an.kernel_entropy(weight, 2)
    for m in range(2):
        pooled = np.abs(weight[3 * m:3 * m + 3, 0].numpy()).mean(0).ravel()
        p = pooled / pooled.sum()
        assert entropy[m].item() == pytest.approx(-sum(v * math.log(v) for v in p), rel=1e-6)
    assert an.kernel_entropy(torch.ones(2, 1, 5, 5), 1).item() == pytest.approx(math.log(25))


def test_uniform_kernel_distance_is_the_mean_tap_distance():
    expected = sum(math.hypot(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)) / 25
    assert an.uniform_kernel_distance(5) == pytest.approx(expected)
    assert an.uniform_kernel_distance(1) == 0.0
    for bad in (4, 0, -3, 2.5, True):
        with pytest.raises(ValueError):
            an.uniform_kernel_distance(bad)


@pytest.mark.parametrize("weight, heads", [
    (torch.ones(6, 1, 5, 5), 4),  # 4 does not divide 6
    (torch.ones(6, 1, 4, 4), 1),  # even kernel
    (torch.ones(6, 5, 5), 1),  # not (C, 1, k, k)
    (torch.zeros(6, 1, 3, 3), 2),  # nothing to weigh
    (torch.full((2, 1, 3, 3), float("inf")), 1),
])
def test_kernel_measures_reject_bad_kernels(weight, heads):
    with pytest.raises(ValueError):
        an.kernel_distance(weight, heads)
    with pytest.raises(ValueError):
        an.kernel_entropy(weight, heads)


def test_conv_head_matrices_are_the_mean_magnitude_of_each_channels_matrix():
    weight = randn(8, 1, 3, 3, seed=6)
    grid = (4, 5)
    built = an.conv_head_matrices(weight, grid, 2)
    per_channel = aff.depthwise_conv(weight, *grid).abs().double()
    torch.testing.assert_close(built, per_channel.reshape(2, 4, 20, 20).mean(1))


# --------------------------------------------------------------------------
# Rollout
# --------------------------------------------------------------------------


def numpy_rollout(matrices: list[np.ndarray], query: int) -> np.ndarray:
    """R = Â_L ... Â_1 with Â = rows-normalised 0.5 A + 0.5 I, built as a full matrix product."""
    n = matrices[0].shape[0]
    product = np.eye(n)
    for matrix in matrices:
        residual = 0.5 * matrix + 0.5 * np.eye(n)
        residual = residual / residual.sum(axis=1, keepdims=True)
        product = residual @ product
    return product[query]


def test_rollout_of_identities_is_the_one_hot_row_of_the_query():
    row = an.rollout([torch.eye(10)] * 3, 7)
    assert torch.equal(row, torch.eye(10, dtype=torch.float64)[7])


def test_rollout_matches_the_full_product_in_forward_order():
    generator = gen(7)
    matrices = [torch.rand(12, 12, generator=generator) ** 3 for _ in range(3)]  # not row-stochastic, not symmetric
    expected = numpy_rollout([m.double().numpy() for m in matrices], 5)
    np.testing.assert_allclose(an.rollout(matrices, 5).numpy(), expected, rtol=1e-12, atol=1e-15)
    reversed_order = numpy_rollout([m.double().numpy() for m in matrices[::-1]], 5)
    assert not np.allclose(expected, reversed_order)  # the order matters, and the test can tell


def test_rollout_of_row_stochastic_blocks_is_a_distribution():
    matrices = [m[0, 0] for m in (softmax_attention(1, 1, 16, seed=s) for s in range(4))]
    row = an.rollout(matrices, 3)
    assert row.shape == (16,)
    assert row.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert (row >= 0).all()


@pytest.mark.parametrize("matrices, query", [
    ([], 0),
    (torch.eye(4), 0),  # one tensor, not a list of them
    ([torch.eye(4), torch.eye(5)], 0),
    ([torch.ones(4, 3)], 0),
    ([-torch.eye(4)], 0),
    ([torch.full((4, 4), float("nan"))], 0),
    ([torch.eye(4)], 4),
    ([torch.eye(4)], -1),
    ([torch.eye(4)], 1.0),
])
def test_rollout_rejects_bad_input(matrices, query):
    with pytest.raises(ValueError):
        an.rollout(matrices, query)


def test_block_rollout_matrices_of_container_light_follow_the_stated_convention():
    model = zoo("container_light", seed=1)
    records = record(model, randn(2, 1, 28, 28, seed=8))
    rec = records["blocks2.0"]
    n = rec.num_tokens
    attention = an.block_rollout_matrix(rec, "attention", batch_index=1)
    np.testing.assert_allclose(attention.numpy(), rec.attention[1].double().numpy().mean(0), rtol=1e-12)
    # Static: per head, mean |w| over the head's channels pasted at each query by loops, rows normalised.
    static = an.block_rollout_matrix(rec, "static").numpy()
    weight = rec.conv_weight[:, 0].double().numpy()
    height, width = rec.grid
    heads = rec.num_heads
    expected = np.zeros((heads, n, n))
    for m in range(heads):
        pooled = np.abs(weight.reshape(heads, -1, 5, 5)[m]).mean(0)
        for i in range(n):
            yi, xi = divmod(i, width)
            for dy in range(-2, 3):
                for dx in range(-2, 3):
                    if 0 <= yi + dy < height and 0 <= xi + dx < width:
                        expected[m, i, (yi + dy) * width + xi + dx] = pooled[dy + 2, dx + 2]
        expected[m] /= expected[m].sum(1, keepdims=True)
    np.testing.assert_allclose(static, expected.mean(0), rtol=1e-10, atol=1e-14)
    blended = an.block_rollout_matrix(rec, "blended").numpy()
    alpha, beta = abs(rec.alpha), abs(rec.beta)
    np.testing.assert_allclose(
        blended, (alpha * rec.attention[0].double().numpy().mean(0) + beta * expected.mean(0)) / (alpha + beta),
        rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(blended.sum(1), np.ones(n), atol=1e-9)
    with pytest.raises(ValueError):
        an.block_rollout_matrix(rec, "everything")
    with pytest.raises(ValueError):
        an.block_rollout_matrix(rec, "attention", batch_index=2)


def test_block_rollout_matrix_of_container_uses_the_magnitude_of_its_signed_mlp():
    model = zoo("container", seed=2)
    with torch.no_grad():  # make the learned N x N clearly signed, as trained ones are
        model.blocks2[0].mix.static.weight.copy_(randn(4, 49, 49, seed=9))
    rec = record(model, randn(1, 1, 28, 28, seed=10))["blocks2.0"]
    weights = rec.static_affinity.double().numpy()
    assert (weights < 0).any()
    magnitude = np.abs(weights)
    expected = (magnitude / magnitude.sum(2, keepdims=True)).mean(0)
    np.testing.assert_allclose(an.block_rollout_matrix(rec, "static").numpy(), expected, rtol=1e-10)
    row = an.stage_rollout({"blocks2.0": rec}, 24)
    assert row.sum().item() == pytest.approx(1.0, abs=1e-9) and (row >= 0).all()


def test_block_rollout_matrix_needs_the_part_it_is_asked_for():
    records = record(zoo("conv"), randn(1, 1, 28, 28, seed=11))
    with pytest.raises(ValueError):
        an.block_rollout_matrix(records["blocks2.0"], "attention")
    static = an.block_rollout_matrix(records["blocks2.0"], "blended")  # only a static part: that part
    torch.testing.assert_close(static, an.block_rollout_matrix(records["blocks2.0"], "static"))
    attention_records = record(zoo("attention"), randn(1, 1, 28, 28, seed=11))
    with pytest.raises(ValueError):
        an.block_rollout_matrix(attention_records["blocks2.0"], "static")


def test_stage_blocks_and_gallery_blocks_of_the_zoo():
    conv_records = record(zoo("conv"), randn(1, 1, 28, 28, seed=12))
    assert list(conv_records) == ["blocks1.0", "blocks2.0", "blocks2.1"]
    assert an.stage_blocks(conv_records) == ["blocks2.0", "blocks2.1"]
    assert an.gallery_blocks(conv_records) == ["blocks2.0", "blocks2.1"]
    with pytest.raises(ValueError):
        an.stage_blocks({})


# --------------------------------------------------------------------------
# Same query, two images
# --------------------------------------------------------------------------


def test_compare_rows_static_rows_are_identical_and_attention_rows_are_not():
    model = zoo("container_light", seed=3)
    first = record(model, randn(1, 1, 28, 28, seed=13))["blocks2.1"]
    second = record(model, randn(1, 1, 28, 28, seed=14))["blocks2.1"]
    comparisons = {c.kind: c for c in an.compare_rows(first, second, 2, (3, 4))}
    assert list(comparisons) == ["attention", "static", "blended"]
    static = comparisons["static"]
    assert static.max_abs_diff == 0.0 and static.max_abs_diff_all == 0.0 and static.l1_diff == 0.0
    assert not static.dynamic and comparisons["attention"].dynamic
    # The static row of head 2 is its mean kernel pasted at (3, 4) on the 7 x 7 grid (cut by nothing there).
    pooled = first.conv_weight[48:72, 0].double().mean(0)
    expected = torch.zeros(7, 7, dtype=torch.float64)
    expected[1:6, 2:7] = pooled[:, :]
    torch.testing.assert_close(static.row_a, expected)
    attention = comparisons["attention"]
    assert attention.max_abs_diff > 1e-4
    assert attention.l1_diff >= attention.max_abs_diff
    assert attention.max_abs_diff_all >= attention.max_abs_diff
    i = 3 * 7 + 4
    np.testing.assert_allclose(attention.row_a.numpy().ravel(), first.attention[0, 2, i].double().numpy())
    np.testing.assert_allclose(attention.row_b.numpy().ravel(), second.attention[0, 2, i].double().numpy())
    assert attention.max_abs_diff == pytest.approx(
        float(np.abs(first.attention[0, 2, i].double().numpy() - second.attention[0, 2, i].double().numpy()).max()))
    assert comparisons["blended"].max_abs_diff == pytest.approx(first.alpha * attention.max_abs_diff, rel=1e-6)


def test_compare_rows_of_one_image_with_itself_are_all_zero():
    model = zoo("container", seed=4)
    x = randn(1, 1, 28, 28, seed=15)
    comparisons = an.compare_rows(record(model, x)["blocks2.0"], record(model, x)["blocks2.0"], 0, 10)
    assert [c.kind for c in comparisons] == ["attention", "static", "blended"]
    assert all(c.max_abs_diff == 0.0 for c in comparisons)


def test_compare_rows_of_a_static_only_model_has_only_the_static_kind():
    model = zoo("mixer", seed=5)
    comparisons = an.compare_rows(record(model, randn(1, 1, 28, 28, seed=16))["blocks2.0"],
                                  record(model, randn(1, 1, 28, 28, seed=17))["blocks2.0"], 1, (0, 0))
    assert [c.kind for c in comparisons] == ["static"] and comparisons[0].max_abs_diff_all == 0.0


def test_compare_rows_rejects_records_of_different_blocks_and_bad_heads():
    records = record(zoo("container_light"), randn(1, 1, 28, 28, seed=18))
    with pytest.raises(ValueError):
        an.compare_rows(records["blocks2.0"], records["blocks1.0"], 0, 0)
    for head in (4, -1, 1.0, "0"):
        with pytest.raises(ValueError):
            an.compare_rows(records["blocks2.0"], records["blocks2.0"], head, 0)
    with pytest.raises(ValueError):
        an.compare_rows(records["blocks2.0"], records["blocks2.0"], 0, (7, 0))


# --------------------------------------------------------------------------
# Head gallery
# --------------------------------------------------------------------------


def test_head_gallery_averages_per_image_measures_over_the_batches():
    model = zoo("container_light", seed=6)
    images = randn(6, 1, 28, 28, seed=19)
    seen = []
    gallery = an.head_gallery(model, [images[:4], images[4:]], progress=seen.append)
    assert seen == [4, 6] and gallery.num_images == 6
    assert [(h.block, h.head) for h in gallery.heads] == [(b, m) for b in ("blocks2.0", "blocks2.1") for m in range(4)]
    # Independent: one image at a time, loops for the measures, numpy for mean and sample std.
    per_image = [record(model, images[k:k + 1]) for k in range(6)]
    threshold = an.uniform_kernel_distance(5)
    assert gallery.local_threshold == pytest.approx(threshold) and gallery.threshold_kernel == 5
    for stats in gallery.heads:
        rows = [r[stats.block].attention[0, stats.head].double().numpy() for r in per_image]
        distances = [loop_distance(a, (7, 7)) for a in rows]
        entropies = [loop_entropy(a) for a in rows]
        assert stats.attention_distance == pytest.approx(np.mean(distances), rel=1e-5)
        assert stats.attention_distance_std == pytest.approx(np.std(distances, ddof=1), rel=1e-3, abs=1e-7)
        assert stats.attention_entropy == pytest.approx(np.mean(entropies), rel=1e-5)
        assert stats.attention_entropy_std == pytest.approx(np.std(entropies, ddof=1), rel=1e-3, abs=1e-7)
        weight = per_image[0][stats.block].conv_weight[24 * stats.head:24 * stats.head + 24, 0].numpy()
        assert stats.static_kind == "kernel"
        assert stats.static_distance == pytest.approx(loop_kernel_distance(weight), rel=1e-9)
        assert stats.label == (an.LOCAL if stats.attention_distance <= threshold else an.GLOBAL)
    whole = an.head_gallery(model, [images])
    for a, b in zip(gallery.heads, whole.heads):
        assert a.attention_distance == pytest.approx(b.attention_distance, rel=1e-9)


def test_head_gallery_labels_attention_local_or_global_by_the_threshold():
    grid = (7, 7)
    n = 49
    local = torch.eye(n)[None, None].expand(3, 1, n, n)
    uniform = torch.full((3, 1, n, n), 1 / n)

    class Fake:
        def __init__(self, attention):
            self.kind, self.grid, self.num_heads, self.attention = "attention", grid, 1, attention
            self.conv_weight = self.static_affinity = None
            self.v = torch.zeros(3, n, 1)

    gallery = an.combine_gallery([an.gallery_batch_stats({"near": Fake(local), "far": Fake(uniform)})], 5)
    labels = {h.block: h.label for h in gallery.heads}
    assert labels == {"near": an.LOCAL, "far": an.GLOBAL}
    assert gallery.heads[0].attention_distance_std == 0.0


def test_head_gallery_of_static_models_labels_kernels_and_dense_matrices():
    conv = an.head_gallery(zoo("conv"), [randn(2, 1, 28, 28, seed=20)])
    assert {h.label for h in conv.heads} == {an.KERNEL}
    assert all(h.attention_distance is None and h.static_kind == "kernel" for h in conv.heads)
    mixer_model = zoo("mixer")
    mixer = an.head_gallery(mixer_model, [randn(2, 1, 28, 28, seed=21)])
    assert len(mixer.heads) == 8 and all(h.static_kind == "dense" for h in mixer.heads)
    weights = mixer_model.blocks2[1].mix.weight.detach().double().abs().numpy()
    for stats in mixer.heads[4:]:
        rows = weights[stats.head] / weights[stats.head].sum(1, keepdims=True)
        assert stats.static_distance == pytest.approx(loop_distance(rows, (7, 7)), rel=1e-9)
        assert stats.static_entropy == pytest.approx(loop_entropy(rows), rel=1e-9)
        assert stats.label == (an.LOCAL if stats.static_distance <= mixer.local_threshold else an.GLOBAL)


def test_head_gallery_refuses_a_model_in_training_mode_and_empty_input():
    with pytest.raises(ValueError):
        an.head_gallery(zoo("attention").train(), [randn(1, 1, 28, 28)])
    with pytest.raises(ValueError):
        an.combine_gallery([])
