"""Container-PAM: A_m = softmax(Q_m K_m^T s) + P_m, built by hand per head, equals the module's fast path."""

from __future__ import annotations

import pytest
import torch

from container_edu.ops import affinity as aff
from container_edu.ops.aggregation import ContainerPAMMix
from container_edu.ops.kinds import get_kind

from tensor_checks import assert_close, gen, randn

# (batch, channels, heads, height, width): square, non-square both ways, one token, one channel per head.
SHAPES = [(2, 12, 3, 4, 4), (1, 8, 2, 3, 5), (3, 6, 6, 5, 2), (1, 4, 1, 1, 1), (2, 16, 4, 2, 7)]


def random_pam(num_tokens: int, heads: int, seed: int) -> ContainerPAMMix:
    module = ContainerPAMMix(num_tokens, heads).eval()
    with torch.no_grad():
        module.pam.weight.copy_(torch.randn(module.pam.weight.shape, generator=gen(seed)) * 0.5)
    return module


def by_hand(qkv: torch.Tensor, pam: torch.Tensor, heads: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, concat(A_m V_m)): every head's affinity written out with plain tensor ops, no container_edu code."""
    batch, three_c, height, width = qkv.shape
    channels, tokens = three_c // 3, height * width
    head_dim = channels // heads
    q, k, v = (t.reshape(batch, channels, tokens).transpose(1, 2) for t in qkv.chunk(3, dim=1))  # (B, N, C)
    affinities, outputs = [], []
    for m in range(heads):
        part = slice(m * head_dim, (m + 1) * head_dim)
        logits = q[:, :, part] @ k[:, :, part].transpose(1, 2) / head_dim**0.5
        a_m = torch.softmax(logits, dim=-1) + pam[m]  # alpha = beta = 1: the static matrix is added
        affinities.append(a_m)
        outputs.append(a_m @ v[:, :, part])
    return torch.stack(affinities, dim=1), torch.cat(outputs, dim=-1)


@pytest.mark.parametrize("shape", SHAPES)
def test_explicit_per_head_affinity_times_values_reproduces_the_module(shape):
    batch, channels, heads, height, width = shape
    module = random_pam(height * width, heads, seed=channels + height)
    qkv = randn(batch, 3 * channels, height, width, seed=sum(shape))
    with torch.no_grad():
        expected_affinity, expected_output = by_hand(qkv, module.pam.weight, heads)
        fast = aff.map_to_tokens(module(qkv))
        explicit_out, record = module.explicit(qkv)
        affinity = module.affinity(qkv)
    assert_close(fast, expected_output)
    assert_close(aff.map_to_tokens(explicit_out), expected_output)
    assert_close(affinity, expected_affinity)
    assert_close(aff.aggregate(affinity, module.values(qkv)) + module.output_bias(qkv), fast)
    assert record.kind == "container_pam" and (record.alpha, record.beta) == (1.0, 1.0)
    assert_close(record.attention + record.static_affinity, expected_affinity)


def test_random_shapes_from_a_seeded_draw():
    draw = gen(7)
    for _ in range(6):
        heads = int(torch.randint(1, 4, (1,), generator=draw))
        channels = heads * int(torch.randint(1, 4, (1,), generator=draw))
        height, width = (int(v) for v in torch.randint(1, 7, (2,), generator=draw))
        module = random_pam(height * width, heads, seed=height * 10 + width)
        qkv = torch.randn(2, 3 * channels, height, width, generator=draw)
        with torch.no_grad():
            _, expected = by_hand(qkv, module.pam.weight, heads)
            assert_close(aff.map_to_tokens(module(qkv)), expected)


def test_rows_sum_to_one_plus_the_static_rows_sum_and_are_not_probabilities():
    module = random_pam(12, 2, seed=3)
    qkv = randn(1, 12, 3, 4, seed=4)
    with torch.no_grad():
        rows = module.affinity(qkv)[0].sum(-1)
    assert_close(rows, 1.0 + module.pam.weight.detach().sum(-1))
    assert not torch.allclose(rows, torch.ones_like(rows), atol=1e-3)


def test_the_registry_builds_it_and_it_is_tied_to_one_grid():
    module = get_kind("container_pam").build(dim=8, num_heads=2, grid=(3, 5))
    assert isinstance(module, ContainerPAMMix) and module.pam.weight.shape == (2, 15, 15)
    assert module.blend_weights() == (1.0, 1.0)
    with pytest.raises(ValueError, match="tied to one grid size"):
        module(randn(1, 24, 4, 4, seed=0))
