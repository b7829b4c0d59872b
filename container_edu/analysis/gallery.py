"""The head gallery: every head of the mixed stage summarised over a set of images."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from container_edu.record.trace import AggregationRecord, record_affinities
from container_edu.analysis.measures import (
    attention_distance,
    attention_entropy,
    kernel_distance,
    kernel_entropy,
    static_head_matrices,
    uniform_kernel_distance,
)
from container_edu.analysis.rollout import stage_blocks

__all__ = ["LOCAL", "GLOBAL", "KERNEL", "HeadStats", "GalleryBatch", "Gallery", "gallery_blocks",
           "gallery_batch_stats", "combine_gallery", "head_gallery"]

#: Labels of the head gallery.
LOCAL, GLOBAL, KERNEL = "local (conv-like)", "global", "local by construction (k×k kernel)"


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
    """``(kind, distance (M,), entropy (M,))`` of the static part, on the CPU (batches are cached and pickled)."""
    if record.conv_weight is not None:
        return ("kernel", kernel_distance(record.conv_weight, record.num_heads).cpu(),
                kernel_entropy(record.conv_weight, record.num_heads).cpu())
    matrices = static_head_matrices(record)
    if matrices is None:
        return None
    return ("dense", attention_distance(matrices[None], record.grid)[0].cpu(),
            attention_entropy(matrices[None])[0].cpu())


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
