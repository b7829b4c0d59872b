"""The three families' recorded passes as the Image inspector's :class:`~container_edu.record.inspection.Inspection`.

:func:`container_edu.record.families.record_family` records DeiT, ConvNeXt and MLP-Mixer in their own terms; the
inspector (and a notebook's ``Inspection.figure``) draws :class:`~container_edu.record.trace.AggregationRecord` rows.
This module turns one into the other, block by block, and says where the drawing is exact and where it is not:

- **DeiT** (``AttentionBlockRecord``) -> ``kind="attention"``, ``num_heads = M``, ``prefix_tokens = 1`` (the class
  token): ``attention`` ``(B, M, 1 + N, 1 + N)`` as recorded, so ``aggregated == concat_m(A_m V_m)`` is exact and
  ``W_o`` of it is the attention module's output. The rows drawn are the query patch's weights on the ``H x W``
  patches; what it gives the class token is left out of the map and read with ``record.prefix_share(query)``
  (one number per head; the row's patch part sums to 1 minus it).
- **ConvNeXt** (``DepthwiseBlockRecord``) -> ``kind="conv"``, ``num_heads = 1`` (as every conv-only block of the
  zoo: the head view averages the ``C`` channel kernels, ``static_row`` keeps them apart): ``conv_weight`` and
  ``conv_bias`` are ``conv_dw``'s, so ``aggregated`` (the conv's output) equals ``static_output()`` exactly.
- **MLP-Mixer** (``TokenMixingBlockRecord``) -> ``kind="mixer"``, ``num_heads = 1``, ``static_affinity`` ``(1, N, N)``
  ``= W2 W1``, the token-mixing MLP's **linear part** only. The MLP is ``W2 GELU(W1 u + b1) + b2``, not ``A V``:
  the drawn row is not its exact map (the input-dependent Jacobian, ``TokenMixingBlockRecord.jacobian_row``, is),
  so these records never keep values: ``v`` and ``aggregated`` are empty and ``static_output()`` refuses, rather
  than claim an output the block did not compute.

``Inspection.family`` names the family, so a page can say the above next to the maps.
Public API: :func:`inspect_family`, :func:`family_inspection`, :func:`family_records`, :func:`adapt_block`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from container_edu.ops import affinity as aff
from container_edu.record.families import (
    AttentionBlockRecord,
    BlockRecord,
    DepthwiseBlockRecord,
    FamilyRecording,
    TokenMixingBlockRecord,
    record_family,
)
from container_edu.record.inspection import Inspection
from container_edu.record.trace import AggregationRecord

__all__ = ["inspect_family", "family_inspection", "family_records", "adapt_block", "CLASS_TOKENS"]

#: Tokens before the patch grid in a DeiT block's sequence: the class token (DeiT-Small has no distillation token).
CLASS_TOKENS = 1


def _cpu(tensor: Tensor, to_cpu: bool) -> Tensor:
    tensor = tensor.detach()
    return tensor.to("cpu").contiguous() if to_cpu else tensor


def _empty_values(batch: int, channels: int, like: Tensor) -> Tensor:
    """``(B, 0, C)``: a record without its values (the app's inspections keep none, as ``run_inspection``'s)."""
    return torch.zeros(batch, 0, channels, dtype=like.dtype, device=like.device)


def _attention(block: AttentionBlockRecord, keep_values: bool, to_cpu: bool) -> AggregationRecord:
    attention = _cpu(block.attention, to_cpu)  # (B, M, 1 + N, 1 + N), class token first
    batch, channels = block.v.shape[0], block.v.shape[-1]
    if keep_values:
        v, aggregated = _cpu(block.v, to_cpu), _cpu(block.aggregated(), to_cpu)  # (B, 1 + N, C) each
    else:
        v = aggregated = _empty_values(batch, channels, attention)
    return AggregationRecord(name=block.name, kind="attention", grid=tuple(block.grid), num_heads=block.num_heads,
                             v=v, aggregated=aggregated, alpha=1.0, beta=0.0, attention=attention,
                             prefix_tokens=CLASS_TOKENS)


def _depthwise(block: DepthwiseBlockRecord, keep_values: bool, to_cpu: bool) -> AggregationRecord:
    weight, bias = _cpu(block.weight, to_cpu), _cpu(block.bias, to_cpu)
    if keep_values:
        v = _cpu(aff.map_to_tokens(block.v), to_cpu)  # (B, N, C)
        aggregated = _cpu(aff.map_to_tokens(block.output()), to_cpu)  # conv_dw(v) with its bias
    else:
        v = aggregated = _empty_values(block.v.shape[0], block.num_channels, weight)
    return AggregationRecord(name=block.name, kind="conv", grid=tuple(block.grid), num_heads=1, v=v,
                             aggregated=aggregated, alpha=0.0, beta=1.0, conv_weight=weight, conv_bias=bias)


def _token_mixing(block: TokenMixingBlockRecord, to_cpu: bool) -> AggregationRecord:
    linear = _cpu(block.linear_part(), to_cpu).unsqueeze(0)  # (1, N, N): W2 W1, the linear part only
    empty = _empty_values(block.u.shape[0], block.num_channels, linear)
    return AggregationRecord(name=block.name, kind="mixer", grid=tuple(block.grid), num_heads=1, v=empty,
                             aggregated=empty, alpha=0.0, beta=1.0, static_affinity=linear)


def adapt_block(block: BlockRecord, *, keep_values: bool = False, to_cpu: bool = True) -> AggregationRecord:
    """One family block's record as an :class:`AggregationRecord` (see the module docstring for each kind).

    ``keep_values``: keep ``v`` and ``aggregated`` (DeiT ``(B, 1 + N, C)``, ConvNeXt ``(B, N, C)``), for checks;
    a Mixer record never keeps them. ``to_cpu``: move the tensors to the CPU (what an app's cache holds).
    """
    if isinstance(block, AttentionBlockRecord):
        return _attention(block, keep_values, to_cpu)
    if isinstance(block, DepthwiseBlockRecord):
        return _depthwise(block, keep_values, to_cpu)
    if isinstance(block, TokenMixingBlockRecord):
        return _token_mixing(block, to_cpu)
    raise TypeError(f"not a family block record: {type(block).__name__}")


def family_records(recording: FamilyRecording, *, keep_values: bool = False,
                   to_cpu: bool = True) -> dict[str, AggregationRecord]:
    """Every block of ``recording`` adapted, by module path, in forward order."""
    return {name: adapt_block(block, keep_values=keep_values, to_cpu=to_cpu) for name, block in recording.items()}


def family_inspection(recording: FamilyRecording, *, seconds: float = 0.0, class_names: Sequence[str] = (),
                      seen: np.ndarray | None = None, input_shape: tuple[int, ...] = (),
                      model_name: str = "") -> Inspection:
    """An :class:`Inspection` of the first image of ``recording``: its probabilities and its blocks, on the CPU."""
    probabilities = recording.logits.float().softmax(-1)[0].cpu().numpy()
    return Inspection(probabilities, family_records(recording), (), seconds, model_name=model_name or recording.family,
                      class_names=tuple(class_names), seen=seen, input_shape=tuple(input_shape),
                      family=recording.family)


@torch.no_grad()
def inspect_family(model: nn.Module, x: Tensor) -> Inspection:
    """One recorded pass of a DeiT, ConvNeXt or MLP-Mixer on ``x`` ``(1, 3, H, W)`` (preprocessed), as an
    :class:`Inspection`: the family counterpart of :func:`container_edu.record.inspection.run_inspection`."""
    device = next(model.parameters()).device
    started = time.perf_counter()
    recording = record_family(model, x.to(device))
    return family_inspection(recording, seconds=time.perf_counter() - started, input_shape=tuple(x.shape))
