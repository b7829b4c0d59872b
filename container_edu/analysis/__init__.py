"""Findings on recorded affinities: how far a head looks, how spread out it is, and where a query's context comes from.

Everything here reads what :func:`container_edu.record_affinities` recorded
(:class:`~container_edu.record.trace.AggregationRecord`) or plain tensors; no
Streamlit. Notation as in :mod:`container_edu.ops.affinity`: ``B`` images, ``M``
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

from container_edu.analysis.compare import RowComparison, compare_rows
from container_edu.analysis.gallery import (
    GLOBAL,
    KERNEL,
    LOCAL,
    Gallery,
    GalleryBatch,
    HeadStats,
    combine_gallery,
    gallery_batch_stats,
    gallery_blocks,
    head_gallery,
)
from container_edu.analysis.measures import (
    attention_distance,
    attention_entropy,
    conv_head_matrices,
    kernel_distance,
    kernel_entropy,
    row_normalise,
    static_head_matrices,
    token_distances,
    uniform_attention_reference,
    uniform_kernel_distance,
)
from container_edu.analysis.rollout import block_rollout_matrix, rollout, stage_blocks, stage_rollout

__all__ = [
    "token_distances", "attention_distance", "attention_entropy", "kernel_distance", "kernel_entropy",
    "uniform_kernel_distance", "uniform_attention_reference", "row_normalise", "conv_head_matrices",
    "static_head_matrices",
    "block_rollout_matrix", "stage_blocks", "rollout", "stage_rollout",
    "RowComparison", "compare_rows",
    "HeadStats", "GalleryBatch", "Gallery", "gallery_blocks", "gallery_batch_stats", "combine_gallery",
    "head_gallery", "LOCAL", "GLOBAL", "KERNEL",
]
