"""The registry of aggregation kinds says only what the modules do: every claim is checked against a built module."""

from __future__ import annotations

import pytest
import torch

from container_edu.ops import affinity as aff
from container_edu.ops import kinds
from container_edu.ops.kinds import KINDS, PARTS, ZOO_VARIANTS
from container_edu.models import MIXINGS, create_model
from container_edu.record.trace import record_affinities

from tensor_checks import assert_close, randn

DIM, HEADS, GRID, KERNEL = 8, 2, (5, 6), 3
NUM_TOKENS = GRID[0] * GRID[1]


def build(kind: kinds.AggregationKind, seed: int = 0, **overrides) -> torch.nn.Module:
    """The kind's module with every parameter random (non-zero biases, blends off 1/2), in eval mode."""
    args = {"dim": DIM, "num_heads": HEADS, "grid": GRID, "kernel_size": KERNEL, **overrides}
    module = kind.build(**args).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return module


def make_input(module: torch.nn.Module, seed: int, dim: int = DIM) -> torch.Tensor:
    channels = 3 * dim if module.uses_query_key else dim
    return randn(1, channels, *GRID, seed=seed)


def affinity(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``(K, N, N)``: the explicit affinity of the first image (static ones have no batch)."""
    with torch.no_grad():
        matrices = module.affinity(x)
    return matrices[0] if matrices.dim() == 4 else matrices


@pytest.mark.parametrize("key", list(KINDS))
def test_the_kind_builds_the_module_that_calls_itself_by_that_kind(key):
    kind = KINDS[key]
    module = build(kind)
    assert module.kind == key
    assert module.uses_query_key == kind.dynamic, "modules with a dynamic part take [Q | K | V], the others V"


@pytest.mark.parametrize("key", list(KINDS))
def test_rows_are_probabilities_exactly_when_the_registry_says_so(key):
    kind = KINDS[key]
    module = build(kind)
    matrices = affinity(module, make_input(module, seed=1)).double()
    rows_sum_to_one = torch.allclose(matrices.sum(-1), torch.ones(()).double(), atol=1e-5)
    non_negative = bool((matrices >= 0).all())
    assert (rows_sum_to_one and non_negative) == kind.rows_are_probabilities


@pytest.mark.parametrize("key", list(KINDS))
def test_static_kinds_have_an_affinity_that_does_not_depend_on_the_input(key):
    kind = KINDS[key]
    module = build(kind)
    first = affinity(module, make_input(module, seed=1))
    second = affinity(module, make_input(module, seed=2))
    assert torch.equal(first, second) == (not kind.dynamic)


@pytest.mark.parametrize("key", list(KINDS))
def test_sparse_kinds_are_zero_outside_the_kernels_band_and_dense_ones_are_not(key):
    kind = KINDS[key]
    module = build(kind)
    matrices = affinity(module, make_input(module, seed=1))
    ys, xs = torch.arange(NUM_TOKENS) // GRID[1], torch.arange(NUM_TOKENS) % GRID[1]
    reach = KERNEL // 2
    outside = ((ys[:, None] - ys[None, :]).abs() > reach) | ((xs[:, None] - xs[None, :]).abs() > reach)
    assert outside.any(), "the grid must be larger than the kernel for this test to mean anything"
    assert bool((matrices[:, outside] == 0).all()) == (not kind.dense)


@pytest.mark.parametrize("key", list(KINDS))
def test_one_matrix_per_head_channel_or_one_shared_as_the_registry_says(key):
    kind = KINDS[key]
    module = build(kind)
    expected = {"head": HEADS, "channel": DIM, "shared": 1}[kind.affinity_per]
    assert affinity(module, make_input(module, seed=1)).shape == (expected, NUM_TOKENS, NUM_TOKENS)


@pytest.mark.parametrize("key", list(KINDS))
def test_heads_and_kernel_size_matter_exactly_when_the_registry_says_so(key):
    kind = KINDS[key]
    base = build(kind)
    x = make_input(base, seed=1)
    more_heads = affinity(build(kind, num_heads=2 * HEADS), x)  # same seed: same parameters where shapes agree
    unchanged = more_heads.shape == affinity(base, x).shape and torch.equal(more_heads, affinity(base, x))
    assert (not unchanged) == kind.uses_heads
    bigger_kernel = build(kind, kernel_size=KERNEL + 2)
    shapes = {name: p.shape for name, p in base.named_parameters()}
    assert ({name: p.shape for name, p in bigger_kernel.named_parameters()} != shapes) == kind.uses_kernel


@pytest.mark.parametrize("key", list(KINDS))
def test_the_blend_is_what_the_registry_says(key):
    kind = KINDS[key]
    module = build(kind)
    if kind.blend is None:
        assert not hasattr(module, "blend_weights")
        return
    alpha, beta = (float(torch.as_tensor(w).detach()) for w in module.blend_weights())
    names = {name for name, _ in module.named_parameters()}
    assert kind.uses_blend == (kind.blend != "fixed"), "only a learned blend is one a slider can move"
    if kind.blend == "fixed":  # Container-PAM adds its parts: alpha = beta = 1, no blend parameter at all
        assert (alpha, beta) == (1.0, 1.0)
        assert not names & {"alpha", "beta", "sa_weight"}
    elif kind.blend == "sigmoid":
        assert "sa_weight" in names
        assert alpha + beta == pytest.approx(1.0)
        assert alpha == pytest.approx(float(torch.sigmoid(module.sa_weight.detach())))
    else:
        assert {"alpha", "beta"} <= names
        assert alpha + beta != pytest.approx(1.0)  # independent: the random parameters do not sum to 1
    initial = kind.build(DIM, HEADS, GRID, KERNEL, blend=(0.3, 0.9)).blend_weights()
    # Container-Light starts at sigmoid(0); PAM ignores the requested blend
    expected = {"alpha_beta": (0.3, 0.9), "sigmoid": (0.5, 0.5), "fixed": (1.0, 1.0)}[kind.blend]
    assert tuple(float(torch.as_tensor(w).detach()) for w in initial) == pytest.approx(expected)


@pytest.mark.parametrize("key", list(KINDS))
def test_the_parts_are_the_ones_the_explicit_path_records(key):
    kind = KINDS[key]
    module = build(kind)
    with torch.no_grad():
        _, record = module.explicit(make_input(module, seed=1))
    assert (record.attention is not None) == (kind.dynamic_part is not None)
    has_static = record.conv_weight is not None or record.static_affinity is not None
    assert has_static == (kind.static_part is not None)
    if kind.static_part is not None:
        static = KINDS[kind.static_part]
        assert (record.conv_weight is not None) == (not static.dense)
    if kind.dynamic_part is not None and kind.static_part is not None:
        # The blend of the two parts is the kind's affinity: the parts are what they claim to be.
        dynamic, static = KINDS[kind.dynamic_part], KINDS[kind.static_part]
        assert dynamic.rows_are_probabilities and dynamic.dynamic and not static.dynamic
        alpha, beta = module.blend_weights()
        with torch.no_grad():
            x = make_input(module, seed=1)
            expected = aff.blend(module.attn.affinity(x), module.static.affinity(x.chunk(3, dim=1)[2]), alpha, beta)
            assert_close(module.affinity(x), expected)


def test_part_kinds_and_which_parts_are_drawn_as_probabilities():
    for key, kind in KINDS.items():
        for part in PARTS:
            made_by = kinds.part_kind(key, part)
            if made_by is None:
                with pytest.raises(ValueError, match=f"no {part} part"):
                    kinds.part_rows_are_probabilities(key, part)
            else:
                assert kinds.part_rows_are_probabilities(key, part) == made_by.rows_are_probabilities
    assert kinds.part_rows_are_probabilities("container_light", "attention")
    assert not kinds.part_rows_are_probabilities("container_light", "blended")
    with pytest.raises(ValueError, match="part must be one of"):
        kinds.part_kind("conv", "everything")


@pytest.mark.parametrize("variant", MIXINGS)
def test_every_zoo_variant_mixes_with_the_kind_the_registry_names(variant):
    assert MIXINGS == tuple(ZOO_VARIANTS)
    torch.manual_seed(0)
    model = create_model("fmnist_" + variant).eval()
    with torch.no_grad(), record_affinities() as recorder:
        model(torch.randn(1, 1, 28, 28))
    assert recorder["blocks2.0"].kind == ZOO_VARIANTS[variant].key == kinds.for_variant(variant).key


def test_symbols_take_a_head_number_and_unknown_kinds_are_named():
    assert KINDS["attention"].formula_for(3) == "A_3(X) = softmax(Q_3 K_3ᵀ s)"
    assert KINDS["container"].symbol_for(0) == "A_0"
    assert KINDS["conv"].symbol_for(2) == "A_c^conv"  # one matrix per channel, not per head
    assert kinds.for_variant("mixer").key == "multihead_mlp"
    with pytest.raises(ValueError, match="unknown aggregation kind 'pooling'"):
        kinds.get_kind("pooling")


def test_kinds_pickle_so_that_cached_results_can_hold_them():
    import pickle

    assert pickle.loads(pickle.dumps(KINDS)) == KINDS
