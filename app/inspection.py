"""Inspecting what a network aggregated for one image: run once, then slice.

The slow part (a forward pass with every block on its explicit path under
:func:`container_edu.record_affinities`) runs once per (model, image, blend
override); :func:`run_inspection` returns a small, CPU-only, picklable
:class:`Inspection`. Changing the block, head or query only slices rows out
of it (:func:`block_maps`), which takes milliseconds. No Streamlit here.
"""

from __future__ import annotations

import copy
import io
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor, nn

from container_edu import override_blend, record_affinities
from container_edu.kinds import KINDS
from container_edu.trace import AggregationRecord

__all__ = [
    "Inspection",
    "BlockMaps",
    "run_inspection",
    "block_maps",
    "head_matrix",
    "describe_block",
    "array_to_npy",
    "matrix_to_csv",
    "MAX_EXPORT_TOKENS",
    "MAX_DRAW_TOKENS",
]

#: Largest grid (in tokens) whose full N x N matrix is offered for download (1024^2 floats = 4 MB).
MAX_EXPORT_TOKENS = 1024
#: Largest grid whose N x N matrix is drawn as a heatmap (400^2 cells keep the browser responsive).
MAX_DRAW_TOKENS = 400


@dataclass(frozen=True)
class Inspection:
    """What one forward pass predicted and aggregated.

    Attributes:
        probabilities: ``(K,)`` softmax of the logits for the single image.
        records: block path -> :class:`AggregationRecord` on the CPU, without
            the large ``v`` / ``aggregated`` tensors (not needed for maps).
        overrides: the blend override used, as sorted ``(block, alpha, beta)``.
        seconds: wall time of the forward pass.
    """

    probabilities: np.ndarray
    records: dict[str, AggregationRecord]
    overrides: tuple[tuple[str, float, float], ...]
    seconds: float

    @property
    def blocks(self) -> list[str]:
        return list(self.records)

    @property
    def mixed_blocks(self) -> list[str]:
        """Blocks that recorded a dynamic affinity (attention or a blend)."""
        return [name for name, record in self.records.items() if record.attention is not None]


def _slim(record: AggregationRecord) -> AggregationRecord:
    """The record on the CPU, without ``v`` / ``aggregated`` (keeps dtype for ``blended_row``)."""

    def cpu(tensor: Tensor | None) -> Tensor | None:
        return None if tensor is None else tensor.detach().to("cpu").contiguous()

    return replace(
        record,
        v=record.v[:, :0].detach().to("cpu").clone(),  # clone: an empty view would keep the whole storage alive
        aggregated=record.aggregated[:, :0].detach().to("cpu").clone(),
        attention=cpu(record.attention),
        conv_weight=cpu(record.conv_weight),
        conv_bias=cpu(record.conv_bias),
        static_affinity=cpu(record.static_affinity),
    )


def normalise_overrides(overrides: Mapping[str, float | tuple[float, float]] | None) -> tuple[tuple[str, float, float], ...]:
    """A hashable, order-independent form of a blend override (a cache key)."""
    result = []
    for name, value in sorted((overrides or {}).items()):
        alpha, beta = (value if isinstance(value, tuple) else (float(value), 1.0 - float(value)))
        result.append((name, round(float(alpha), 6), round(float(beta), 6)))
    return tuple(result)


@torch.no_grad()
def run_inspection(
    model: nn.Module, x: Tensor, overrides: Mapping[str, float | tuple[float, float]] | None = None
) -> Inspection:
    """One forward pass of ``model`` on ``x`` (``(1, C, H, W)``, already preprocessed) with everything recorded.

    ``overrides`` maps a block path to ``alpha`` or ``(alpha, beta)``
    (:func:`container_edu.override_blend`); the shared model is not touched.
    """
    key = normalise_overrides(overrides)
    if model.training:
        # A model still training (the lessons' live job) would update its BatchNorm statistics here:
        # inspect a frozen copy instead (the zoo models are small).
        model = copy.deepcopy(model).eval()
    device = next(model.parameters()).device
    started = time.perf_counter()
    with override_blend({name: (alpha, beta) for name, alpha, beta in key}), record_affinities() as recorder:
        logits = model(x.to(device))
    probabilities = logits.float().softmax(-1)[0].cpu().numpy()
    records = {name: _slim(recorder[name]) for name in recorder}
    return Inspection(probabilities, records, key, time.perf_counter() - started)


@dataclass(frozen=True)
class BlockMaps:
    """One block's affinity rows for one query, on the block's ``H x W`` grid.

    ``*_heads`` are ``(M, H, W)`` (``None`` when the block lacks that part);
    ``attention`` / ``static`` / ``blended`` are the chosen head's ``(H, W)``.
    """

    block: str
    kind: str
    grid: tuple[int, int]
    head: int
    query: tuple[int, int]
    alpha: float
    beta: float
    attention_heads: np.ndarray | None
    static_heads: np.ndarray | None
    blended_heads: np.ndarray

    @property
    def num_heads(self) -> int:
        return self.blended_heads.shape[0]

    @property
    def parts(self) -> list[str]:
        """The parts worth showing: the blend only when there are two things to blend."""
        parts = [name for name, rows in (("attention", self.attention_heads), ("static", self.static_heads))
                 if rows is not None]
        return parts + ["blended"] if len(parts) == 2 else parts

    @property
    def attention(self) -> np.ndarray | None:
        return None if self.attention_heads is None else self.attention_heads[self.head]

    @property
    def static(self) -> np.ndarray | None:
        return None if self.static_heads is None else self.static_heads[self.head]

    @property
    def blended(self) -> np.ndarray:
        return self.blended_heads[self.head]


def clamp_query(query: tuple[int, int], grid: tuple[int, int]) -> tuple[int, int]:
    """The nearest valid grid position (a query kept from a block with a larger grid)."""
    return min(max(int(query[0]), 0), grid[0] - 1), min(max(int(query[1]), 0), grid[1] - 1)


def block_maps(inspection: Inspection, block: str, head: int, query: tuple[int, int]) -> BlockMaps:
    """Slice one block's rows for ``query`` (grid ``(y, x)``): the fast path behind every widget change.

    Uses the record's ``attention_row`` (``A_m(X)[i]``), ``static_head_row``
    (``A_m^static[i]``, a conv averaged over the head's channels) and
    ``blended_row`` (``α A_m(X)[i] + β A_m^static[i]``) from ``container_edu.trace``.
    """
    record = inspection.records[block]
    query = clamp_query(query, record.grid)
    attention = record.attention_row(query)
    static = record.static_head_row(query)
    blended = record.blended_row(query)
    head = min(max(int(head), 0), blended.shape[0] - 1)

    def to_numpy(tensor: Tensor | None) -> np.ndarray | None:
        return None if tensor is None else tensor.double().numpy()

    return BlockMaps(
        block=block, kind=record.kind, grid=record.grid, head=head, query=query,
        alpha=float(record.alpha), beta=float(record.beta),
        attention_heads=to_numpy(attention), static_heads=to_numpy(static), blended_heads=to_numpy(blended),
    )


def head_matrix(inspection: Inspection, block: str, head: int, part: str) -> np.ndarray | None:
    """Head ``head``'s full ``N x N`` matrix of ``part`` (``"attention"``, ``"static"`` or ``"blended"``).

    Built by the record (``attention_matrix``, ``static_matrix``, ``blended_matrix``:
    a conv's static part at head level is the matrix of the head's mean kernel).
    ``None`` when the block has no such part or the grid has more than
    :data:`MAX_EXPORT_TOKENS` tokens.
    """
    record = inspection.records[block]
    if record.num_tokens > MAX_EXPORT_TOKENS:
        return None
    head = min(max(int(head), 0), record.num_heads - 1)
    if part == "attention":
        chosen = record.attention_matrix(head)
    elif part == "static":
        chosen = record.static_matrix(head)
    elif part == "blended":
        has_affinity = any(t is not None for t in (record.attention, record.conv_weight, record.static_affinity))
        chosen = record.blended_matrix(head) if has_affinity else None
    else:
        raise ValueError(f"part must be 'attention', 'static' or 'blended', got {part!r}")
    return None if chosen is None else chosen.double().numpy()


def describe_block(record: AggregationRecord) -> str:
    """``"blocks2.0 — Container-Light (attention + conv), dynamic, dense — 7×7 grid, 4 heads"`` for pickers."""
    height, width = record.grid
    heads = f", {record.num_heads} heads" if record.attention is not None else ""
    kind = KINDS.get(record.kind)
    label = f"{kind.label}, {kind.traits}" if kind else record.kind
    return f"{record.name} — {label} — {height}×{width} grid{heads}"


def array_to_npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def matrix_to_csv(matrix: np.ndarray) -> bytes:
    """A 2-D array as CSV text (one row per line), the way spreadsheets read it."""
    matrix = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
    buffer = io.StringIO()
    np.savetxt(buffer, matrix, delimiter=",", fmt="%.8g")
    return buffer.getvalue().encode("utf-8")
