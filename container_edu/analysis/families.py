"""The paper's three families and Container-Light on one photo and one query: their rows as plain data.

One query patch ``(y, x)`` on the 14×14 grid of a 224×224 photo (16-pixel patches), and for each model the rows
that gather into it, read from one recorded forward pass (:mod:`container_edu.record.families` for the three
ImageNet families, :func:`container_edu.record_affinities` for Container-Light):

- ``deit_small`` (attention): every head's row ``softmax(Q Kᵀ / √d)[i]`` over the 14×14 patches, ``(6, 14, 14)``,
  and the weight the row puts on the class token (the 197th key, not on the grid);
- ``convnext_tiny`` (depthwise conv): a stage-3 block (14×14) — each channel's 7×7 kernel pasted at the query,
  ``(C, 14, 14)``, zero outside the grid; the view shows a few channels (:func:`strongest_channels`);
- ``mixer_b16`` (token-mixing MLP): the linear part ``(W₂ W₁)[i]`` (static: the weights alone) and, for one
  channel, the Jacobian row ``∂y_i/∂x_j`` at this image (``W₂ diag(GELU′(W₁ x + b₁)) W₁``: input-dependent),
  with the measured gap between the two (:class:`MixerGap`);
- ``container_light``: a stage-4 block (7×7 at 224): each head's blend ``α A(X)[i] + β A_static[i]``, the
  query mapped to the coarser grid (``(y // 2, x // 2)``).

:func:`row_changes` then compares one family's rows on two images, part by part: which rows change with the image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from container_edu.ops import token_mlp
from container_edu.record.trace import AggregationRecord

__all__ = [
    "FAMILIES", "FAMILY_KINDS", "QUERY_GRID", "SHOWN_CHANNELS", "RowSet", "MixerGap", "FamilyRows", "RowChange",
    "attention_rows", "depthwise_rows", "token_mixing_rows", "container_rows", "strongest_channels",
    "mixer_gap", "row_changes", "coarse_query", "view_blocks", "default_block", "token_channels", "rows_of",
]

#: The three ImageNet families of issue 24 (the names of :data:`container_edu.models.FAMILY_MODELS`), then the
#: paper's own model.
FAMILIES = ("deit_small", "convnext_tiny", "mixer_b16", "container_light")
#: Each family's kind of affinity (one colour scale per kind in the figures).
FAMILY_KINDS = {"deit_small": "attention", "convnext_tiny": "depthwise", "mixer_b16": "token_mixing",
                "container_light": "container"}
#: The query grid: 224 / 16 patches a side, the grid of DeiT, of Mixer and of ConvNeXt's stage 3.
QUERY_GRID = (14, 14)
#: How many of a ConvNeXt block's channels the view shows (the block has 384 at stage 3).
SHOWN_CHANNELS = 6


@dataclass(frozen=True)
class RowSet:
    """One part of a model's rows for the query: ``rows`` ``(R, H, W)`` (float64) with one ``index`` per row
    (head or channel number), ``signed`` (diverging scale) and ``dynamic`` (made from the image)."""

    part: str  # "attention", "kernel", "linear", "jacobian", "blended"
    rows: np.ndarray
    index: tuple[int, ...]
    signed: bool
    dynamic: bool


@dataclass(frozen=True)
class MixerGap:
    """How far one channel's Jacobian row is from the linear part's row (both ``(H, W)``).

    ``max_abs`` = ``max_j |J_ij − L_ij|``; ``relative`` = ``‖J_i − L_i‖₂ / ‖L_i‖₂``; ``scale`` = ``max_j |L_ij|``;
    ``active`` = the share of the hidden units whose GELU slope at this image lies within 0.1 of 1 (where GELU is
    nearly the identity, so the linear view holds); ``dead`` = the share with slope within 0.1 of 0; ``mean_slope``
    the mean slope (0.5 for pre-activations near 0, as in a randomly initialised MLP: then J ≈ W₂W₁ / 2).
    """

    max_abs: float
    relative: float
    scale: float
    active: float | None = None
    dead: float | None = None
    mean_slope: float | None = None


@dataclass(frozen=True)
class FamilyRows:
    """One model's rows for one query on one image.

    ``query`` is on the model's own grid ``grid`` (Container-Light's stage 4 is 7×7); ``class_weight`` is DeiT's
    per-head weight on the class token; ``blend`` Container-Light's ``(α, β)``; ``gap`` the Mixer's
    :class:`MixerGap`.
    """

    family: str
    block: str
    grid: tuple[int, int]
    query: tuple[int, int]
    parts: tuple[RowSet, ...]
    class_weight: tuple[float, ...] | None = None
    blend: tuple[float, float] | None = None
    gap: MixerGap | None = None
    shown: tuple[int, ...] | None = None  # the rows a figure draws (indices into each part's ``index``); None: all

    def part(self, name: str) -> RowSet:
        for part in self.parts:
            if part.part == name:
                return part
        raise KeyError(f"{self.family} has no part {name!r}; it has {[p.part for p in self.parts]}")


@dataclass(frozen=True)
class RowChange:
    """One part of one model's rows on two images: ``max_abs_diff`` = ``max |row(img1) − row(img2)|`` over every
    row of the part, ``scale`` = the largest ``|entry|`` of either, ``dynamic`` whether the part is made from the
    image (so a difference is expected)."""

    family: str
    part: str
    dynamic: bool
    max_abs_diff: float
    scale: float

    @property
    def changes(self) -> bool:
        """Whether the rows differ beyond float rounding (1e-6 of their scale)."""
        return self.max_abs_diff > 1e-6 * max(self.scale, 1e-30)


def _numpy(rows: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(rows, torch.Tensor):
        rows = rows.detach().to("cpu", torch.float64).numpy()
    return np.asarray(rows, dtype=np.float64)


def coarse_query(query: tuple[int, int], grid: tuple[int, int], fine: tuple[int, int] = QUERY_GRID) -> tuple[int, int]:
    """The cell of ``grid`` that covers ``query`` of the finer grid ``fine`` (same picture, coarser patches)."""
    return (min(query[0] * grid[0] // fine[0], grid[0] - 1), min(query[1] * grid[1] // fine[1], grid[1] - 1))


def attention_rows(block: str, head_rows: torch.Tensor, class_weight: Sequence[float],
                   query: tuple[int, int]) -> FamilyRows:
    """DeiT: ``head_rows`` ``(M, H, W)``, the patch part of each head's row; ``class_weight`` ``(M,)`` the rest
    (each head's row sums to 1 over the class token and the patches)."""
    rows = _numpy(head_rows)
    grid = (rows.shape[1], rows.shape[2])
    part = RowSet("attention", rows, tuple(range(rows.shape[0])), signed=False, dynamic=True)
    return FamilyRows("deit_small", block, grid, query, (part,), class_weight=tuple(float(w) for w in class_weight))


def strongest_channels(kernels: torch.Tensor | np.ndarray, count: int = SHOWN_CHANNELS) -> tuple[int, ...]:
    """The ``count`` channels whose depthwise kernel ``(C, 1, k, k)`` (or rows ``(C, H, W)``) has the largest L2
    norm, in channel order: the kernels that move the most, a choice made from the weights alone (so the same on
    every image)."""
    flat = _numpy(kernels).reshape(len(kernels), -1)
    norms = np.linalg.norm(flat, axis=1)
    order = np.argsort(-norms, kind="stable")[:count]
    return tuple(sorted(int(c) for c in order))


def depthwise_rows(block: str, channel_rows: torch.Tensor, channels: Sequence[int],
                   query: tuple[int, int]) -> FamilyRows:
    """ConvNeXt: ``channel_rows`` ``(C, H, W)``, each channel's kernel pasted at the query; every channel is kept
    (the two-image check covers them all) and ``channels`` are the ones a figure draws."""
    rows = _numpy(channel_rows)
    grid = (rows.shape[1], rows.shape[2])
    part = RowSet("kernel", rows, tuple(range(rows.shape[0])), signed=True, dynamic=False)
    return FamilyRows("convnext_tiny", block, grid, query, (part,), shown=tuple(int(c) for c in channels))


def mixer_gap(linear_row: torch.Tensor | np.ndarray, jacobian_row: torch.Tensor | np.ndarray,
              gelu_slope: torch.Tensor | np.ndarray | None = None) -> MixerGap:
    """The measured gap between the linear part's row and one channel's Jacobian row (both ``(H, W)``);
    ``gelu_slope`` (the hidden units' GELU′ for that channel at this image, any shape) adds the shares of units
    where GELU acts as the identity and as zero."""
    linear, jacobian = _numpy(linear_row), _numpy(jacobian_row)
    difference = jacobian - linear
    norm = float(np.linalg.norm(linear))
    active = dead = mean_slope = None
    if gelu_slope is not None and np.size(gelu_slope):
        slope = _numpy(gelu_slope).ravel()
        active = float(np.mean(np.abs(slope - 1.0) <= 0.1))
        dead = float(np.mean(np.abs(slope) <= 0.1))
        mean_slope = float(slope.mean())
    return MixerGap(max_abs=float(np.abs(difference).max()),
                    relative=float(np.linalg.norm(difference) / norm) if norm > 0 else float("inf"),
                    scale=float(np.abs(linear).max()), active=active, dead=dead, mean_slope=mean_slope)


def token_mixing_rows(block: str, linear_row: torch.Tensor, jacobian_row: torch.Tensor, channel: int,
                      query: tuple[int, int], gelu_slope: torch.Tensor | None = None) -> FamilyRows:
    """Mixer: the linear part's row ``(W₂W₁)[i]`` ``(H, W)`` and channel ``channel``'s Jacobian row ``(H, W)``."""
    linear, jacobian = _numpy(linear_row), _numpy(jacobian_row)
    if linear.ndim == 3:  # a linear part per channel group: the contract allows (1, H, W)
        linear = linear[0]
    grid = (linear.shape[0], linear.shape[1])
    parts = (RowSet("linear", linear[None], (0,), signed=True, dynamic=False),
             RowSet("jacobian", jacobian[None], (int(channel),), signed=True, dynamic=True))
    return FamilyRows("mixer_b16", block, grid, query, parts, gap=mixer_gap(linear, jacobian, gelu_slope))


def container_rows(record: AggregationRecord, query: tuple[int, int]) -> FamilyRows:
    """Container-Light: each head's blended row ``α A_m(X)[i] + β A_m^static[i]`` ``(M, H, W)`` of a recorded
    block, at ``query`` of the 14×14 grid mapped onto the block's grid."""
    cell = coarse_query(query, record.grid)
    rows = _numpy(record.blended_row(cell))
    dynamic = record.attention is not None and float(record.alpha) != 0.0
    part = RowSet("blended", rows, tuple(range(rows.shape[0])), signed=True, dynamic=dynamic)
    return FamilyRows("container_light", record.name, record.grid, cell, (part,),
                      blend=(float(record.alpha), float(record.beta)))


def row_changes(first: FamilyRows, second: FamilyRows) -> list[RowChange]:
    """Part by part, how much one model's rows differ between two images (same block, query and channels)."""
    if (first.family, first.block, first.query) != (second.family, second.block, second.query):
        raise ValueError("row_changes compares one model's block and query on two images; got "
                         f"{(first.family, first.block, first.query)} and {(second.family, second.block, second.query)}")
    changes = []
    for part in first.parts:
        other = second.part(part.part)
        if other.index != part.index:
            raise ValueError(f"{first.family} {part.part}: rows {part.index} against {other.index}")
        difference = float(np.abs(part.rows - other.rows).max()) if part.rows.size else 0.0
        scale = float(max(np.abs(part.rows).max(initial=0.0), np.abs(other.rows).max(initial=0.0)))
        changes.append(RowChange(first.family, part.part, part.dynamic, difference, scale))
    if first.class_weight is not None and second.class_weight is not None:
        weights = np.abs(np.subtract(first.class_weight, second.class_weight))
        changes.append(RowChange(first.family, "class_token", True, float(weights.max(initial=0.0)),
                                 float(max(max(first.class_weight), max(second.class_weight)))))
    return changes


# --------------------------------------------------------------------------
# From a recording: which blocks the view offers, and one block's rows
# --------------------------------------------------------------------------


def view_blocks(family: str, records: Mapping[str, object]) -> list[str]:
    """The blocks a view offers for ``family``: every DeiT and Mixer block, ConvNeXt's stage 3 (14×14 at 224),
    Container-Light's attention stage (stage 4); ``records`` is a :class:`~container_edu.record.families.
    FamilyRecording` or Container-Light's recorded blocks."""
    names = list(records)
    prefix = {"convnext_tiny": "stages.2.", "container_light": "blocks4."}.get(family)
    return ([name for name in names if name.startswith(prefix)] or names) if prefix else names


def default_block(family: str, blocks: Sequence[str]) -> str:
    """The middle block (of stage 3 for ConvNeXt); Container-Light's last block of stage 4."""
    return blocks[-1] if family == "container_light" else blocks[len(blocks) // 2]


def token_channels(records: Mapping[str, object]) -> int:
    """How many channels a Mixer's token mix has (768 for MLP-Mixer-B/16): the Jacobian's channel choices."""
    return next(iter(records.values())).num_channels


def rows_of(family: str, record, query: tuple[int, int], channel: int = 0) -> FamilyRows:
    """One recorded block's rows for ``query`` (on the 14×14 grid) as :class:`FamilyRows`.

    ``record`` is a block of :func:`container_edu.record.families.record_family` (DeiT's attention, ConvNeXt's
    depthwise conv, the Mixer's token MLP) or of :func:`container_edu.record_affinities` (Container-Light);
    ``channel`` is the Mixer's Jacobian channel (brought inside its channels).
    """
    if family == "container_light":
        return container_rows(record, query)
    if family == "deit_small":
        rows = torch.stack([record.row(query, head) for head in range(record.num_heads)])
        weights = [record.class_weight(query, head) for head in range(record.num_heads)]
        return attention_rows(record.name, rows, weights, query)
    if family == "convnext_tiny":
        return depthwise_rows(record.name, record.row(query), strongest_channels(record.weight), query)
    if family == "mixer_b16":
        channel = min(max(int(channel), 0), record.num_channels - 1)
        slope = token_mlp.gelu_derivative(record.z[0, channel])  # (D,): where GELU acts as the identity, and not
        return token_mixing_rows(record.name, record.linear_row(query), record.jacobian_row(query, channel),
                                 channel, query, slope)
    raise ValueError(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")
