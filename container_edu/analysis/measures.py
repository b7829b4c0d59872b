"""Distance and entropy of affinity rows, and the per-head static matrices they and rollout use.

``N = H * W`` tokens in row-major order, token ``i`` at grid position
``p_i = (y_i, x_i)``; distances are Euclidean, in tokens; entropies in nats.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from container_edu.ops import affinity as aff
from container_edu import checks
from container_edu.record.trace import AggregationRecord

__all__ = [
    "token_distances",
    "attention_distance",
    "attention_entropy",
    "kernel_distance",
    "kernel_entropy",
    "uniform_kernel_distance",
    "uniform_attention_reference",
    "row_normalise",
    "conv_head_matrices",
    "static_head_matrices",
]

_ROW_SUM_TOLERANCE = 1e-4


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------


def _check_grid(grid: object) -> tuple[int, int]:
    if not (isinstance(grid, (tuple, list)) and len(grid) == 2):
        raise ValueError(f"grid must be a pair (H, W) of positive integers, got {grid!r}")
    checks.check_grid(*grid)
    return int(grid[0]), int(grid[1])


def _check_probability_rows(name: str, rows: Tensor) -> None:
    """Rows must be distributions: finite, non-negative, summing to 1."""
    if not torch.isfinite(rows).all():
        raise ValueError(f"{name} has entries that are NaN or infinite")
    if (rows < -_ROW_SUM_TOLERANCE).any():
        raise ValueError(f"{name} has negative entries; these measures need probability rows "
                         "(normalise |A| with row_normalise first)")
    sums = rows.sum(-1)
    # float32 sums of N terms drift by about N * 1e-7; 1e-4 is far below any real departure from 1.
    if not torch.allclose(sums, torch.ones_like(sums), atol=_ROW_SUM_TOLERANCE + 1e-6 * rows.shape[-1], rtol=0):
        worst = float((sums - 1).abs().max())
        raise ValueError(f"the rows of {name} must sum to 1 (off by up to {worst:.3g}); "
                         "normalise them with row_normalise first")


def _check_attention(attention: object) -> Tensor:
    if not isinstance(attention, Tensor) or attention.dim() != 4 or attention.shape[-1] != attention.shape[-2]:
        shape = tuple(attention.shape) if isinstance(attention, Tensor) else type(attention).__name__
        raise ValueError(f"attention must be (B, M, N, N), got {shape}")
    if attention.numel() == 0:
        raise ValueError(f"attention is empty: {tuple(attention.shape)}")
    _check_probability_rows("the attention", attention)
    return attention


def _kernel_offsets(size: int, device: torch.device | None = None) -> Tensor:
    """``||o||`` of every tap ``o = (dy, dx)`` of a ``size x size`` kernel, row-major: ``(size * size,)``."""
    pad = size // 2
    steps = torch.arange(size, dtype=torch.float64, device=device) - pad
    return torch.sqrt(steps[:, None] ** 2 + steps[None, :] ** 2).reshape(-1)


def _head_magnitudes(conv_weight: Tensor, heads: int) -> Tensor:
    """``mean_{c in head m} |w_c|`` as ``(M, k * k)`` in float64."""
    aff._check_depthwise_kernel(conv_weight)
    channels = conv_weight.shape[0]
    checks.check_heads(channels, heads)
    if not torch.isfinite(conv_weight).all():
        raise ValueError("the kernel has entries that are NaN or infinite")
    magnitudes = conv_weight.detach().double().abs().reshape(heads, channels // heads, -1).mean(1)
    if (magnitudes.sum(-1) == 0).any():
        empty = int((magnitudes.sum(-1) == 0).nonzero()[0, 0])
        raise ValueError(f"the kernels of head {empty} are all zero: they gather nothing, so they have no distance")
    return magnitudes


# --------------------------------------------------------------------------
# Distance and entropy
# --------------------------------------------------------------------------


def token_distances(grid: tuple[int, int]) -> Tensor:
    """``D[i, j] = ||p_i - p_j||``, the Euclidean distance between tokens ``i`` and ``j`` in tokens: ``(N, N)`` float64."""
    height, width = _check_grid(grid)
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64),
                            indexing="ij")
    positions = torch.stack([ys.reshape(-1), xs.reshape(-1)], dim=-1)  # (N, 2)
    return torch.cdist(positions, positions)


def attention_distance(attention: Tensor, grid: tuple[int, int]) -> Tensor:
    """Mean attention distance per head: ``d_m = (1/N) sum_i sum_j A_m[i, j] ||p_i - p_j||``.

    How far, in tokens, a head gathers its context from on average (the
    measure of Dosovitskiy et al.'s Fig. 7 and Cordonnier et al.). The
    identity gives 0; uniform rows give the grid's mean pairwise distance.

    Args:
        attention: ``(B, M, N, N)``, rows summing to 1 (``ValueError`` otherwise).
        grid: ``(H, W)`` with ``H * W = N``.

    Returns:
        ``(B, M)`` float64.
    """
    _check_attention(attention)
    height, width = _check_grid(grid)
    if height * width != attention.shape[-1]:
        raise ValueError(f"a {height} x {width} grid has {height * width} tokens, the attention has {attention.shape[-1]}")
    distances = token_distances((height, width)).to(attention.device)
    return (attention.double() * distances).sum(-1).mean(-1)


def attention_entropy(attention: Tensor) -> Tensor:
    """Mean row entropy per head, natural log: ``h_m = (1/N) sum_i -sum_j A_m[i, j] log A_m[i, j]`` (``0 log 0 = 0``).

    0 for a head that puts all weight on one token; ``log N`` for uniform rows.

    Args:
        attention: ``(B, M, N, N)``, rows summing to 1 (``ValueError`` otherwise).

    Returns:
        ``(B, M)`` float64, in nats.
    """
    _check_attention(attention)
    rows = attention.double().clamp_min(0)
    return -torch.xlogy(rows, rows).sum(-1).mean(-1)


def kernel_distance(conv_weight: Tensor, heads: int) -> Tensor:
    """The distance of a depthwise kernel per head: ``d_m = sum_o |w̄_m(o)| ||o|| / sum_o |w̄_m(o)|``.

    ``w̄_m = mean_{c in head m} |w_c|`` pools the ``C / M`` channels of head
    ``m`` (channels are contiguous, as for attention heads), and ``o = (dy, dx)``
    runs over the ``k x k`` taps, ``||o||`` in tokens. This is
    :func:`attention_distance` of the rows of ``mean_c |A_c|`` normalised to
    sum to 1, at any query whose whole kernel lies inside the grid. At the
    border the conv's row is cut (zero padding) and would look shorter; the
    kernel's own distance is used instead, so it does not depend on the
    position or on the grid size.

    Args:
        conv_weight: ``(C, 1, k, k)``, ``k`` odd.
        heads: ``M``, dividing ``C`` (1: all channels together).

    Returns:
        ``(M,)`` float64. ``ValueError`` when a head's kernels are all zero.
    """
    magnitudes = _head_magnitudes(conv_weight, heads)
    offsets = _kernel_offsets(conv_weight.shape[-1], magnitudes.device)
    return (magnitudes * offsets).sum(-1) / magnitudes.sum(-1)


def kernel_entropy(conv_weight: Tensor, heads: int) -> Tensor:
    """Entropy (nats) of each head's normalised ``|w̄_m|`` over its ``k * k`` taps: ``log(k^2)`` for a flat kernel.

    The same as :func:`attention_entropy` of an inside-the-grid row of
    ``mean_c |A_c|`` normalised (zero entries add nothing); border rows are
    left out, as in :func:`kernel_distance`. Returns ``(M,)`` float64.
    """
    magnitudes = _head_magnitudes(conv_weight, heads)
    p = magnitudes / magnitudes.sum(-1, keepdim=True)
    return -torch.xlogy(p, p).sum(-1)


def uniform_kernel_distance(kernel_size: int = 5) -> float:
    """:func:`kernel_distance` of a flat ``k x k`` kernel: the mean tap distance, ``(1/k^2) sum_o ||o||``.

    The head gallery's threshold between "local (conv-like)" and "global":
    a head closer than this looks no farther than a flat ``k x k`` conv.
    """
    if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")
    return float(kernel_distance(torch.ones(1, 1, kernel_size, kernel_size), 1)[0])


# --------------------------------------------------------------------------
# Per-head N x N matrices for rollout
# --------------------------------------------------------------------------


def row_normalise(matrices: Tensor) -> Tensor:
    """``A[i, j] / sum_j A[i, j]`` over the last axis; ``ValueError`` for negative entries or an all-zero row."""
    if not isinstance(matrices, Tensor) or matrices.dim() < 2:
        raise ValueError("row_normalise needs a tensor of rows (..., N)")
    if (matrices < 0).any():
        raise ValueError("row_normalise needs non-negative entries; take |A| first")
    sums = matrices.sum(-1, keepdim=True)
    if (sums == 0).any():
        raise ValueError("a row is all zero: it gathers nothing and cannot be normalised")
    return matrices / sums


def conv_head_matrices(conv_weight: Tensor, grid: tuple[int, int], heads: int) -> Tensor:
    """``mean_{c in head m} |A_c|``, the conv's magnitude per head on the grid: ``(M, N, N)`` float64.

    Each entry of ``A_c`` is a tap of ``w_c`` or 0, so ``|A_c| = A(|w_c|)``,
    and ``A`` is linear in the kernel, so the head mean is the affinity of the
    head's mean ``|w|`` (built by :func:`~container_edu.ops.affinity.depthwise_conv`).
    """
    height, width = _check_grid(grid)
    magnitudes = _head_magnitudes(conv_weight, heads)  # (M, k * k)
    size = conv_weight.shape[-1]
    return aff.depthwise_conv(magnitudes.reshape(heads, 1, size, size), height, width)


def static_head_matrices(record: AggregationRecord) -> Tensor | None:
    """A block's static affinity per head as distributions: ``|A_m^static|`` with rows normalised, ``(M, N, N)``.

    Conv: :func:`conv_head_matrices` (the head's channels pooled by mean ``|w|``).
    Mixer / multi-head MLP: ``|A_m^static|`` of each head's learned matrix (a
    Mixer's single matrix serves every head). Signed weights are thus handled by magnitude: a negative weight
    moves as much information as a positive one. ``None`` without a static part.
    """
    heads = record.num_heads
    if record.conv_weight is not None:
        matrices = conv_head_matrices(record.conv_weight, record.grid, heads)
    elif record.static_affinity is not None:
        matrices = record.static_affinity.detach().double().abs()
        if matrices.shape[0] == 1:
            matrices = matrices.expand(heads, -1, -1)
        elif matrices.shape[0] != heads:
            raise ValueError(f"block {record.name} has {matrices.shape[0]} static matrices for {heads} heads")
    else:
        return None
    return row_normalise(matrices)

def uniform_attention_reference(grid: tuple[int, int]) -> tuple[float, float]:
    """``(distance, entropy)`` of uniform attention on the grid: the mean pairwise token distance and ``log N``."""
    distances = token_distances(grid)
    return float(distances.mean()), math.log(distances.shape[0])
