"""Inspecting what a network aggregated for one image: run once, then slice.

The slow part (a forward pass with every block on its explicit path under
:func:`container_edu.record_affinities`) runs once per (model, image, blend
override); :func:`run_inspection` returns a small, CPU-only, picklable
:class:`Inspection`. Changing the block, head or query only slices rows out
of it (:func:`block_maps`), which takes milliseconds. The app caches
inspections per image; in a notebook :func:`container_edu.inspect` makes one
from a model name and a picture, and its methods draw the maps
(:meth:`Inspection.figure`, :meth:`Inspection.blend_figure`).
"""

from __future__ import annotations

import copy
import io
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor, nn

from container_edu.checks import grid_query, head_index
from container_edu.errors import ContainerEduError
from container_edu.ops.kinds import KINDS
from container_edu.record.block_maps import BlockMaps, clamp_query
from container_edu.record.trace import AggregationRecord, override_blend, record_affinities
from container_edu.text import N_, translate

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "InspectError",
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


class InspectError(ContainerEduError, ValueError):
    """An inspection cannot be made or read as asked; the message says what to pass instead."""


@dataclass(frozen=True, eq=False, repr=False)
class Inspection:
    """What one forward pass predicted and aggregated.

    Attributes:
        probabilities: ``(K,)`` softmax of the logits for the single image.
        records: block path -> :class:`AggregationRecord` on the CPU, without
            the large ``v`` / ``aggregated`` tensors (not needed for maps).
        overrides: the blend override used, as sorted ``(block, alpha, beta)``.
        seconds: wall time of the forward pass.
        model_name: what was inspected (a bundled name, or the module's class).
        class_names: one name per output (empty: outputs are called ``class k``).
        seen: the picture the model saw, RGB ``uint8`` ``(H, W, 3)`` (maps are drawn over it), or ``None``.
        input_shape: the shape of the model's input batch, ``(1, C, H, W)``.
        family: ``"deit_small"``, ``"convnext_tiny"`` or ``"mixer_b16"`` when the pass was one of the three
            families, adapted by :mod:`container_edu.record.family_inspection` (what its maps leave out is said
            there); ``""`` for Container and the zoo.
    """

    probabilities: np.ndarray
    records: dict[str, AggregationRecord]
    overrides: tuple[tuple[str, float, float], ...]
    seconds: float
    model_name: str = ""
    class_names: tuple[str, ...] = ()
    seen: np.ndarray | None = None
    input_shape: tuple[int, ...] = ()
    family: str = ""

    @property
    def blocks(self) -> list[str]:
        return list(self.records)

    @property
    def mixed_blocks(self) -> list[str]:
        """Blocks that recorded a dynamic affinity (attention or a blend)."""
        return [name for name, record in self.records.items() if record.attention is not None]

    @property
    def blend(self) -> dict[str, tuple[float, float]]:
        """``(alpha, beta)`` of every block that blended a dynamic and a static affinity in this pass."""
        return {name: (float(record.alpha), float(record.beta)) for name, record in self.records.items()
                if record.attention is not None and _has_static(record)}

    # ----------------------------------------------------------------------
    # The prediction
    # ----------------------------------------------------------------------

    def class_name(self, index: int) -> str:
        names = self.class_names
        return names[index] if len(names) == len(self.probabilities) else f"class {index}"

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most probable classes as ``(name, probability)``, most probable first."""
        order = np.argsort(-self.probabilities, kind="stable")[: max(1, int(k))]
        return [(self.class_name(int(i)), float(self.probabilities[i])) for i in order]

    @property
    def prediction(self) -> tuple[str, float]:
        """The most probable class and its probability."""
        return self.top(1)[0]

    # ----------------------------------------------------------------------
    # Reading one block (checked: a wrong block, head or query says what would be right)
    # ----------------------------------------------------------------------

    def record(self, block: str) -> AggregationRecord:
        """The record of ``block``; :class:`InspectError` listing the recorded blocks otherwise."""
        if block not in self.records:
            raise InspectError(N_("no block {block} was recorded; the recorded blocks are: {blocks}"), block=repr(block),
                               blocks=", ".join(self.records))
        return self.records[block]

    def _query(self, block: str, query: tuple[int, int] | int) -> tuple[int, int]:
        return grid_query(query, *self.record(block).grid, where=block, error=InspectError)

    def _head(self, block: str, head: int) -> int:
        return head_index(head, self.record(block).num_heads, where=block, error=InspectError)

    def maps(self, block: str, query: tuple[int, int] | int, head: int = 0) -> BlockMaps:
        """Every head's row ``i`` (the query) of each part of ``block``'s affinity; ``head`` is the one drawn alone."""
        return block_maps(self, block, self._head(block, head), self._query(block, query))

    def matrix(self, block: str, part: str = "blended", head: int = 0) -> np.ndarray:
        """Head ``head``'s full ``N x N`` matrix of ``part`` (``"attention"``, ``"static"`` or ``"blended"``)."""
        record = self.record(block)
        head = self._head(block, head)
        if part not in _PARTS:
            raise InspectError(N_("part must be one of {parts}, got {part}"), parts=", ".join(_PARTS), part=repr(part))
        if record.num_tokens > MAX_EXPORT_TOKENS:
            raise InspectError(N_("block {block} has {count} tokens: its N×N matrices would hold {entries} entries; read "
                                  "rows with .maps(block, query) instead"), block=block, count=record.num_tokens,
                               entries=f"{record.num_tokens ** 2:,}")
        matrix = head_matrix(self, block, head, part)
        if matrix is None:
            raise InspectError(N_("block {block} ({kind}) has no {part} part; it has: {parts}"), block=block,
                               kind=record.kind, part=part, parts=", ".join(block_maps(self, block, 0, (0, 0)).parts))
        return matrix

    # ----------------------------------------------------------------------
    # Figures (Plotly, imported on first use)
    # ----------------------------------------------------------------------

    def figure(self, block: str, query: tuple[int, int] | int, head: int | None = None, *, part: str | None = None,
               on_image: bool = True, opacity: float = 0.6, width: int | None = None) -> go.Figure:
        """Row ``i`` (the query) of ``block``'s affinity on its token grid, over the picture the model saw.

        With ``head`` given: that head's dynamic, static and blended rows side
        by side. With ``head=None``: every head's row of one ``part`` on one
        colour scale (default: the blend when the block has two parts, else
        its only part). ``query`` is ``(y, x)`` or a token index ``y * W + x``.
        ``width`` in pixels (default: wide enough for the panels and their titles, also when exported).
        """
        from container_edu.figures import maps as figures

        maps = self.maps(block, query, 0 if head is None else head)
        image = self.seen if on_image else None
        if head is not None:
            if part is not None:
                raise InspectError(N_("part chooses among the heads' maps: pass it with head=None"))
            fig = figures.query_maps_figure(maps, image, title_prefix=self._title_prefix(), opacity=opacity)
            return fig.update_layout(width=width or _WIDE)
        part = maps.parts[-1] if part is None else part
        if part not in maps.parts:
            raise InspectError(N_("block {block} ({kind}) has no {part} part; it has: {parts}"), block=block,
                               kind=maps.kind, part=repr(part), parts=", ".join(maps.parts))
        return figures.heads_figure(maps, part, image, opacity=opacity).update_layout(width=width or _WIDE)

    def matrix_figure(self, block: str, part: str = "blended", head: int = 0,
                      query: tuple[int, int] | int = 0) -> go.Figure:
        """Head ``head``'s ``N x N`` matrix of ``part`` as a heatmap, the query's row outlined."""
        from container_edu.figures import maps as figures

        matrix = self.matrix(block, part, head)
        fig = figures.head_matrix_figure(matrix, self.maps(block, query, head), part, height=460, title_width=60)
        return fig.update_layout(width=620)

    def blend_figure(self) -> go.Figure:
        """The ``(α, β)`` every mixed block used in this pass (learned, or as overridden), as bars."""
        from container_edu.figures import maps as figures

        blend = self.blend
        if not blend:
            raise InspectError(N_("{model} has no blended block (recorded: {blocks})"),
                               model=self.model_name or "this model",
                               blocks=", ".join(f"{n} {r.kind}" for n, r in self.records.items()))
        kinds = {self.records[name].kind for name in blend}
        kind = "container" if "container" in kinds else next(iter(kinds))
        model = self.model_name or "the model"
        if self.overrides:
            title = translate("Blend (α, β) each mixed block of {model} used in this pass (moved by a blend override: "
                              "{blocks})", model=model, blocks=", ".join(n for n, _, _ in self.overrides))
        else:
            title = translate("Blend (α, β) each mixed block of {model} used in this pass", model=model)
        fig = figures.blend_figure(blend, title, kind=kind, title_width=80)
        return fig.update_layout(width=780)

    def _title_prefix(self) -> str:
        return f"{self.model_name}: " if self.model_name else ""

    def __repr__(self) -> str:
        shape = "×".join(str(s) for s in self.input_shape) or "?"
        lines = [f"Inspection of {self.model_name or 'a model'} on a {shape} input ({self.seconds:.3f} s)"]
        lines.append("  prediction: " + ", ".join(f"{name} {100 * p:.1f}%" for name, p in self.top(3)))
        if self.overrides:
            lines.append("  blend overridden: " + ", ".join(f"{n} α={a:.3f} β={b:.3f}" for n, a, b in self.overrides))
        lines.append(f"  {len(self.records)} block(s) recorded:")
        width = max((len(name) for name in self.records), default=0)
        for name, record in self.records.items():
            kind = KINDS.get(record.kind)
            label = f"{record.kind} ({kind.traits})" if kind else record.kind
            detail = f"{record.grid[0]}×{record.grid[1]} grid"
            if record.attention is not None:
                detail += f", {record.num_heads} heads"
                if _has_static(record):
                    detail += f", α={float(record.alpha):.3f} β={float(record.beta):.3f}"
            lines.append(f"    {name:<{width}}  {label}, {detail}")
        lines.append("  .top(k), .figure(block, query, head=None), .matrix_figure(block), .blend_figure(), .records")
        return "\n".join(lines)


_PARTS = ("attention", "static", "blended")
# Figures made here have a fixed width: a notebook and a static export (700 px by default) then show the
# panels and their wrapped titles as the app does, where Streamlit stretches them to the page.
_WIDE = 1150


def _has_static(record: AggregationRecord) -> bool:
    return record.conv_weight is not None or record.static_affinity is not None


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
    return Inspection(probabilities, records, key, time.perf_counter() - started, input_shape=tuple(x.shape))


def block_maps(inspection: Inspection, block: str, head: int, query: tuple[int, int]) -> BlockMaps:
    """Slice one block's rows for ``query`` (grid ``(y, x)``): the fast path behind every widget change.

    Uses the record's ``attention_row`` (``A_m(X)[i]``), ``static_head_row``
    (``A_m^static[i]``, a conv averaged over the head's channels) and
    ``blended_row`` (``α A_m(X)[i] + β A_m^static[i]``) from ``container_edu.record.trace``.
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
