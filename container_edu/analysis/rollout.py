"""Attention rollout (Abnar and Zuidema, 2020) through the blocks of one stage, hybrid blocks included."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from container_edu.ops import affinity as aff
from container_edu import checks
from container_edu.record.trace import AggregationRecord
from container_edu.analysis.measures import _check_probability_rows, static_head_matrices

__all__ = ["block_rollout_matrix", "stage_blocks", "rollout", "stage_rollout"]


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
        query = checks.as_index(query)
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
