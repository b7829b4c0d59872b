"""Findings on recorded affinities: how far a head looks, how spread out it is, and where a query's context comes from.

Everything here reads what :func:`container_edu.record_affinities` recorded
(:class:`~container_edu.trace.AggregationRecord`) or plain tensors; no
Streamlit. Notation as in :mod:`container_edu.affinity`: ``B`` images, ``M``
heads, ``N = H * W`` tokens in row-major order, token ``i`` at grid position
``p_i = (y_i, x_i)``; distances are Euclidean, in tokens.

- :func:`attention_distance`, :func:`attention_entropy`: per head, the mean
  over queries of ``sum_j A[i, j] ||p_i - p_j||`` and of ``-sum_j A[i, j] log A[i, j]``.
- :func:`kernel_distance`, :func:`kernel_entropy`: the same two numbers for a
  depthwise kernel's ``|w|`` (one per head), so heads and kernels sit on one axis.
- :func:`rollout`: Abnar and Zuidema's attention rollout through the blocks
  of one stage, with :func:`block_rollout_matrix` giving each block's fused
  ``N x N`` matrix (attention only, or Container's ``alpha A(X) + beta A_static``).
- :func:`compare_rows`: one block and query on two images, kind by kind: the
  static rows are the same, the attention rows are not.
- :func:`gallery_batch_stats`, :func:`combine_gallery`, :func:`head_gallery`:
  every head of the mixed stage summarised over a set of images.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from . import affinity as aff
from .trace import AggregationRecord, record_affinities

__all__ = [
    "token_distances",
    "attention_distance",
    "attention_entropy",
    "kernel_distance",
    "kernel_entropy",
    "uniform_kernel_distance",
    "row_normalise",
    "conv_head_matrices",
    "static_head_matrices",
    "block_rollout_matrix",
    "stage_blocks",
    "rollout",
    "stage_rollout",
    "RowComparison",
    "compare_rows",
    "HeadStats",
    "GalleryBatch",
    "Gallery",
    "gallery_blocks",
    "gallery_batch_stats",
    "combine_gallery",
    "head_gallery",
    "uniform_attention_reference",
    "LOCAL",
    "GLOBAL",
    "KERNEL",
]

#: Labels of the head gallery.
LOCAL, GLOBAL, KERNEL = "local (conv-like)", "global", "local by construction (k×k kernel)"
_ROW_SUM_TOLERANCE = 1e-4


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------


def _check_grid(grid: object) -> tuple[int, int]:
    if not (isinstance(grid, (tuple, list)) and len(grid) == 2):
        raise ValueError(f"grid must be a pair (H, W) of positive integers, got {grid!r}")
    aff._check_grid(*grid)
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
    aff._check_heads(channels, heads)
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
    head's mean ``|w|`` (built by :func:`~container_edu.affinity.depthwise_conv`).
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


def block_rollout_matrix(record: AggregationRecord, part: str = "blended", batch_index: int = 0) -> Tensor:
    """One block's ``N x N`` matrix for :func:`rollout`, heads fused by their mean: float64 ``(N, N)``.

    - ``"attention"``: ``(1/M) sum_m A_m(X)``.
    - ``"static"``: ``(1/M) sum_m S_m`` with ``S_m`` = :func:`static_head_matrices` (``|A_static|``, rows normalised).
    - ``"blended"``: ``(1/M) sum_m (|alpha| A_m(X) + |beta| S_m) / (|alpha| + |beta|)``,
      Container's ``alpha A(X) + beta A_static`` with the static part as
      magnitudes normalised per row, so that ``alpha : beta`` sets the share of
      each part and every row sums to 1. A block without one of the parts uses the other.

    Raises ``ValueError`` when the block lacks the part asked for.
    """
    attention = None
    if record.attention is not None:
        if not 0 <= batch_index < record.attention.shape[0]:
            raise ValueError(f"batch_index {batch_index} is outside the {record.attention.shape[0]} recorded image(s)")
        attention = record.attention[batch_index].detach().double()
        _check_probability_rows(f"the attention of {record.name}", attention)
        attention = attention.mean(0)
    static = static_head_matrices(record)
    static = None if static is None else static.mean(0)
    if part == "attention":
        if attention is None:
            raise ValueError(f"block {record.name} ({record.kind}) has no attention")
        return attention
    if part == "static":
        if static is None:
            raise ValueError(f"block {record.name} ({record.kind}) has no static affinity")
        return static
    if part != "blended":
        raise ValueError(f"part must be 'attention', 'static' or 'blended', got {part!r}")
    if attention is None and static is None:
        raise ValueError(f"block {record.name} recorded no affinity")
    if attention is None:
        return static
    if static is None:
        return attention
    alpha, beta = abs(float(record.alpha)), abs(float(record.beta))
    if alpha + beta == 0:
        raise ValueError(f"block {record.name} has alpha = beta = 0: it aggregates nothing")
    return (alpha * attention + beta * static) / (alpha + beta)


def stage_blocks(records: Mapping[str, AggregationRecord]) -> list[str]:
    """The blocks of the last stage: the last recorded block and the ones before it on the same grid, in forward order."""
    names = list(records)
    if not names:
        raise ValueError("no blocks were recorded")
    grid = records[names[-1]].grid
    stage: list[str] = []
    for name in reversed(names):
        if records[name].grid != grid:
            break
        stage.append(name)
    return stage[::-1]


def rollout(matrices: Sequence[Tensor], query: int) -> Tensor:
    """Attention rollout (Abnar and Zuidema, 2020) of one query through the blocks of one stage.

    Each block's fused ``(N, N)`` matrix ``A_l`` (blocks in forward order) is
    made residual-aware as ``Â_l = 0.5 A_l + 0.5 I`` with rows renormalised to
    sum to 1 (the residual connection carries the token itself); the rollout
    is ``R = Â_L ... Â_2 Â_1`` and this returns its row ``R[query]``: how much
    each input token of the stage reaches the query's output, following the
    affinities only.

    All-identity matrices give the query's one-hot row; row-stochastic
    matrices give a row that sums to 1.

    Args:
        matrices: one non-negative ``(N, N)`` per block (see :func:`block_rollout_matrix`).
        query: token index ``i``.

    Returns:
        ``(N,)`` float64.
    """
    if isinstance(matrices, Tensor) or not isinstance(matrices, Sequence) or len(matrices) == 0:
        raise ValueError("rollout needs a non-empty list of (N, N) matrices, one per block")
    size = None
    for index, matrix in enumerate(matrices):
        if not isinstance(matrix, Tensor) or matrix.dim() != 2 or matrix.shape[0] != matrix.shape[1]:
            shape = tuple(matrix.shape) if isinstance(matrix, Tensor) else type(matrix).__name__
            raise ValueError(f"block {index}'s matrix must be (N, N), got {shape}")
        if size is not None and matrix.shape[0] != size:
            raise ValueError(f"block {index}'s matrix is over {matrix.shape[0]} tokens, block 0's over {size}")
        size = matrix.shape[0]
        if not torch.isfinite(matrix).all():
            raise ValueError(f"block {index}'s matrix has entries that are NaN or infinite")
        if (matrix < 0).any():
            raise ValueError(f"block {index}'s matrix has negative entries; rollout follows non-negative affinities "
                             "(block_rollout_matrix takes the magnitude of signed static weights)")
    try:
        query = aff._as_index(query)
    except TypeError:
        raise ValueError(f"query must be a token index, got {query!r}") from None
    if not 0 <= query < size:
        raise ValueError(f"query token {query} is outside the {size} tokens")
    identity = torch.eye(size, dtype=torch.float64, device=matrices[0].device)
    row = identity[query]
    # R[query] = e_q Â_L ... Â_1: multiply the row vector from the last block back to the first.
    for matrix in reversed(matrices):
        residual = 0.5 * matrix.double() + 0.5 * identity
        residual = residual / residual.sum(-1, keepdim=True)
        row = row @ residual
    return row


def stage_rollout(records: Mapping[str, AggregationRecord], query: int, part: str = "blended",
                  batch_index: int = 0) -> Tensor:
    """:func:`rollout` through :func:`stage_blocks` with :func:`block_rollout_matrix` of ``part``: ``(N,)``."""
    blocks = stage_blocks(records)
    return rollout([block_rollout_matrix(records[name], part, batch_index) for name in blocks], query)


# --------------------------------------------------------------------------
# The same query on two images
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RowComparison:
    """One kind of affinity, one head, one query, on two images.

    ``row_a`` / ``row_b``: the head's row on the grid ``(H, W)`` (float64);
    ``max_abs_diff`` = ``max_j |row_a[j] - row_b[j]|``, ``l1_diff`` = ``sum_j |row_a[j] - row_b[j]|``;
    ``max_abs_diff_all`` the same maximum over every head (every channel for a conv's static part);
    ``scale`` = ``max |row_a|``, ``max |row_b|``: what the difference is small against.
    """

    kind: str  # "attention", "static" or "blended"
    dynamic: bool
    row_a: Tensor
    row_b: Tensor
    max_abs_diff: float
    l1_diff: float
    max_abs_diff_all: float
    scale: float


def compare_rows(record_a: AggregationRecord, record_b: AggregationRecord, head: int,
                 query: int | tuple[int, int]) -> list[RowComparison]:
    """Each kind's row of one block, head and query on two images (records of one block from two forward passes).

    Rows as the inspector shows them: ``A_m(X)[i]``, the static row of the
    head (a conv averaged over the head's channels, signed) and the blend
    ``alpha A_m(X)[i] + beta A_m^static[i]``. A static kind does not depend
    on the image, so its difference is 0 to float precision; attention's is not.
    """
    for field in ("name", "kind", "grid", "num_heads"):
        if getattr(record_a, field) != getattr(record_b, field):
            raise ValueError(f"the two records are of different blocks: {field} "
                             f"{getattr(record_a, field)!r} vs {getattr(record_b, field)!r}")
    try:
        index = aff._as_index(head)
    except TypeError:
        index = -1
    if not 0 <= index < record_a.num_heads:
        raise ValueError(f"head must be an integer in 0..{record_a.num_heads - 1}, got {head!r}")
    head = index
    rows = {
        "attention": (record_a.attention_row(query), record_b.attention_row(query), None, None),
        "static": (record_a.static_head_row(query), record_b.static_head_row(query),
                   record_a.static_row(query), record_b.static_row(query)),
    }
    if rows["attention"][0] is not None or rows["static"][0] is not None:
        rows["blended"] = (record_a.blended_row(query), record_b.blended_row(query), None, None)
    results = []
    for kind, (heads_a, heads_b, all_a, all_b) in rows.items():
        if heads_a is None:
            continue
        if kind == "blended" and (rows["attention"][0] is None or rows["static"][0] is None):
            continue  # a blend of one part is that part
        row_a, row_b = heads_a[head].double(), heads_b[head].double()
        every_a = (all_a if all_a is not None else heads_a).double()
        every_b = (all_b if all_b is not None else heads_b).double()
        difference = (row_a - row_b).abs()
        results.append(RowComparison(
            kind=kind, dynamic=kind != "static", row_a=row_a, row_b=row_b,
            max_abs_diff=float(difference.max()), l1_diff=float(difference.sum()),
            max_abs_diff_all=float((every_a - every_b).abs().max()),
            scale=max(float(row_a.abs().max()), float(row_b.abs().max())),
        ))
    return results


# --------------------------------------------------------------------------
# Head gallery
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class HeadStats:
    """One head of one block, summarised over a set of images.

    ``attention_*``: mean and standard deviation over the images of
    :func:`attention_distance` (tokens) and :func:`attention_entropy` (nats);
    ``None`` for a block without attention. ``static_*``: the static part's
    distance and entropy (a kernel: :func:`kernel_distance`; a learned
    ``N x N``: the same as attention's on ``|A_static|`` rows normalised),
    the same for every image; ``None`` without one. ``label``: see :class:`Gallery`.
    """

    block: str
    kind: str
    head: int
    grid: tuple[int, int]
    attention_distance: float | None
    attention_distance_std: float | None
    attention_entropy: float | None
    attention_entropy_std: float | None
    static_kind: str | None  # "kernel" or "dense"
    static_distance: float | None
    static_entropy: float | None
    label: str


@dataclass(frozen=True)
class GalleryBatch:
    """Sums over one batch of images, per block: ``(M,)`` float64 arrays, and the static stats (image-independent)."""

    count: int
    kinds: dict[str, str]
    grids: dict[str, tuple[int, int]]
    sums: dict[str, dict[str, Tensor]]  # block -> {"distance", "distance_sq", "entropy", "entropy_sq"}
    static: dict[str, tuple[str, Tensor, Tensor] | None]  # block -> (kind, distance (M,), entropy (M,))


@dataclass(frozen=True)
class Gallery:
    """Every head of the chosen blocks; ``label`` is :data:`LOCAL` when the head's mean distance (attention's,
    else its learned static matrix's) is at most ``local_threshold`` (:func:`uniform_kernel_distance` of a flat
    ``threshold_kernel`` x ``threshold_kernel`` kernel), :data:`GLOBAL` above it, and :data:`KERNEL` for a conv
    with no attention."""

    heads: list[HeadStats]
    num_images: int
    local_threshold: float
    threshold_kernel: int


def gallery_blocks(records: Mapping[str, AggregationRecord]) -> list[str]:
    """The blocks the gallery covers: every block with attention, and every block of the last stage."""
    last_stage = set(stage_blocks(records))
    return [name for name, record in records.items() if record.attention is not None or name in last_stage]


def _static_stats(record: AggregationRecord) -> tuple[str, Tensor, Tensor] | None:
    if record.conv_weight is not None:
        return ("kernel", kernel_distance(record.conv_weight, record.num_heads),
                kernel_entropy(record.conv_weight, record.num_heads))
    matrices = static_head_matrices(record)
    if matrices is None:
        return None
    return "dense", attention_distance(matrices[None], record.grid)[0], attention_entropy(matrices[None])[0]


def gallery_batch_stats(records: Mapping[str, AggregationRecord], blocks: Iterable[str] | None = None) -> GalleryBatch:
    """Per-head sums of distance and entropy (and their squares) over the images of one recorded batch."""
    blocks = list(gallery_blocks(records) if blocks is None else blocks)
    count = None
    sums: dict[str, dict[str, Tensor]] = {}
    for name in blocks:
        record = records[name]
        if record.attention is None:
            continue
        if count is not None and record.attention.shape[0] != count:
            raise ValueError("the blocks of one batch recorded different numbers of images")
        count = record.attention.shape[0]
        distance = attention_distance(record.attention, record.grid).cpu()  # (B, M)
        entropy = attention_entropy(record.attention).cpu()
        sums[name] = {"distance": distance.sum(0), "distance_sq": (distance**2).sum(0),
                      "entropy": entropy.sum(0), "entropy_sq": (entropy**2).sum(0)}
    if count is None:
        count = next(iter(records.values())).v.shape[0] if records else 0
    return GalleryBatch(
        count=count, kinds={name: records[name].kind for name in blocks}, grids={name: records[name].grid for name in blocks},
        sums=sums, static={name: _static_stats(records[name]) for name in blocks},
    )


def _mean_std(total: Tensor, total_sq: Tensor, count: int) -> tuple[Tensor, Tensor]:
    mean = total / count
    variance = (total_sq / count - mean**2).clamp_min(0) * (count / (count - 1) if count > 1 else 0.0)
    return mean, variance.sqrt()


def combine_gallery(batches: Sequence[GalleryBatch], threshold_kernel: int = 5) -> Gallery:
    """Join the batches into one :class:`Gallery`: per-head means and (sample) standard deviations over all images."""
    if not batches:
        raise ValueError("combine_gallery needs at least one batch")
    first = batches[0]
    count = sum(batch.count for batch in batches)
    threshold = uniform_kernel_distance(threshold_kernel)
    heads: list[HeadStats] = []
    for name, kind in first.kinds.items():
        static = first.static[name]
        attention = None
        if name in first.sums:
            totals = {key: sum(batch.sums[name][key] for batch in batches) for key in first.sums[name]}
            distance, distance_std = _mean_std(totals["distance"], totals["distance_sq"], count)
            entropy, entropy_std = _mean_std(totals["entropy"], totals["entropy_sq"], count)
            attention = (distance, distance_std, entropy, entropy_std)
        num_heads = len(attention[0]) if attention is not None else len(static[1])
        for head in range(num_heads):
            a = None if attention is None else [float(t[head]) for t in attention]
            s_kind = None if static is None else static[0]
            s_distance = None if static is None else float(static[1][head])
            s_entropy = None if static is None else float(static[2][head])
            if a is not None:
                label = LOCAL if a[0] <= threshold else GLOBAL
            elif s_kind == "dense":
                label = LOCAL if s_distance <= threshold else GLOBAL
            else:
                label = KERNEL
            heads.append(HeadStats(
                block=name, kind=kind, head=head, grid=first.grids[name],
                attention_distance=None if a is None else a[0], attention_distance_std=None if a is None else a[1],
                attention_entropy=None if a is None else a[2], attention_entropy_std=None if a is None else a[3],
                static_kind=s_kind, static_distance=s_distance, static_entropy=s_entropy, label=label,
            ))
    return Gallery(heads=heads, num_images=count, local_threshold=threshold, threshold_kernel=threshold_kernel)


@torch.no_grad()
def head_gallery(model: nn.Module, batches: Iterable[Tensor], *, threshold_kernel: int = 5,
                 progress: Callable[[int], None] | None = None) -> Gallery:
    """Run ``model`` (eval mode) on each batch of preprocessed images while recording, and summarise every head.

    ``progress(images_done)`` is called after each batch.
    """
    if model.training:
        raise ValueError("put the model in eval mode first: a training-mode forward would change its BatchNorm statistics")
    device = next(model.parameters()).device
    stats, done = [], 0
    for x in batches:
        with record_affinities() as recorder:
            model(x.to(device))
        stats.append(gallery_batch_stats(recorder))
        done += x.shape[0]
        if progress is not None:
            progress(done)
    return combine_gallery(stats, threshold_kernel)


def uniform_attention_reference(grid: tuple[int, int]) -> tuple[float, float]:
    """``(distance, entropy)`` of uniform attention on the grid: the mean pairwise token distance and ``log N``."""
    distances = token_distances(grid)
    return float(distances.mean()), math.log(distances.shape[0])
