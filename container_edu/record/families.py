"""What DeiT, ConvNeXt and MLP-Mixer aggregated in one pass: every block's affinity, explicit and checkable.

``record_family(model, x)`` runs the model block by block (its own ``embed``, blocks and ``forward_head``, so the
logits are the model's) and keeps, for each block, what its token mixing needs to be rebuilt explicitly. Block
names are the module paths in the state dict (``"blocks.3"``, ``"stages.2.blocks.4"``). The records:

- :class:`AttentionBlockRecord` (DeiT, ``kind == "attention"``, dynamic): ``attention`` ``(B, M, 1+N, 1+N)`` per
  head ``softmax(Q Kᵀ / sqrt(C/M))`` over the class token (index 0) and the ``N`` patches (row-major after it),
  ``v`` ``(B, 1+N, C)``. ``row(query, head)`` -> ``(H, W)``: the patch part of the query patch's row;
  ``class_weight(query, head)``: what it gives the class token (the row sums to 1 with it); ``class_row(head)``:
  the class token's own row over the patches. ``explicit_output()`` = ``proj(concat_m(A_m V_m))``, equal to the
  block's ``attn(norm1(x))``.
- :class:`DepthwiseBlockRecord` (ConvNeXt ``conv_dw``, ``kind == "depthwise"``, static): ``weight``
  ``(C, 1, k, k)``, ``bias`` ``(C,)``, ``v`` ``(B, C, H, W)`` (the conv's input). ``row(query)`` -> ``(C, H, W)``:
  each channel's kernel placed on the grid around the query, cut at the border (zero padding); never ``N x N``.
  ``explicit_output_at(query)`` -> ``(B, C)`` = rows · V + bias, equal to ``conv_dw(v)`` at the query.
- :class:`TokenMixingBlockRecord` (Mixer ``mlp_tokens``, ``kind == "token_mlp"``): ``u`` ``(B, N, C)`` the
  normalised tokens the MLP mixes, ``z`` ``(B, C, D)`` its hidden pre-activations. ``linear_part()`` ``(N, N)`` =
  ``W2 W1`` (static; ``linear_offset()`` ``(N,)`` = ``W2 b1 + b2`` is the bias term of that linear view);
  ``linear_row(query)`` -> ``(H, W)``; ``jacobian(channel)`` ``(N, N)`` and ``jacobian_row(query, channel)`` ->
  ``(H, W)``: ``d y_c / d u_c`` at this image, input-dependent; ``jacobian_vs_linear()`` -> per channel
  ``||J_c - W2 W1|| / ||W2 W1||`` and the scale-free part of that difference (``ops.token_mlp``).

Each record has ``name``, ``kind``, ``aggregation_kind`` (its key in ``container_edu.ops.kinds.KINDS``: ``"attention"``,
``"conv"``, ``"mixer"``), ``static`` (whether its rows are the same for every image) and ``grid``;
``TokenMixingBlockRecord.linear_gap()`` is one number per block saying how far the MLP is from its linear part.
Queries are a token index (row-major over the patches) or a ``(y, x)`` pair. Tensors are detached; nothing on the
model is changed, so two threads may record one shared model.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from container_edu.checks import as_index, grid_query, head_index
from container_edu.errors import ContainerEduError
from container_edu.models.convnext import ConvNeXt
from container_edu.models.deit import DeiT
from container_edu.models.mixer import MlpMixer
from container_edu.ops import affinity as aff
from container_edu.ops import token_mlp
from container_edu.text import N_

__all__ = ["AttentionBlockRecord", "DepthwiseBlockRecord", "TokenMixingBlockRecord", "FamilyRecording",
           "FamilyRecordError", "BlockRecord", "record_family", "family_of"]


class FamilyRecordError(ContainerEduError, ValueError):
    """A recording cannot be made or read as asked; the message says what to pass instead."""


def _channel(channel: object, channels: int, where: str) -> int:
    try:
        index = as_index(channel)
    except TypeError:
        index = -1
    if not 0 <= index < channels:
        raise FamilyRecordError(N_("block {where} has {count} channels: channel must be an integer from 0 to {last}, "
                                   "got {channel}"), where=where, count=channels, last=channels - 1,
                                channel=repr(channel))
    return index


@dataclass(frozen=True, eq=False)
class AttentionBlockRecord:
    """One DeiT block's self-attention (see the module docstring)."""

    kind: ClassVar[str] = "attention"
    aggregation_kind: ClassVar[str] = "attention"  # its entry in container_edu.ops.kinds.KINDS
    static: ClassVar[bool] = False

    name: str
    grid: tuple[int, int]
    attention: Tensor  # (B, M, 1 + N, 1 + N)
    v: Tensor  # (B, 1 + N, C)
    proj_weight: Tensor  # (C, C), W_o
    proj_bias: Tensor  # (C,)

    @property
    def num_heads(self) -> int:
        return self.attention.shape[1]

    def _query_token(self, query: int | tuple[int, int]) -> int:
        y, x = grid_query(query, *self.grid, where=self.name, error=FamilyRecordError)
        return 1 + y * self.grid[1] + x  # the class token is token 0

    def _head(self, head: int) -> int:
        return head_index(head, self.num_heads, where=self.name, error=FamilyRecordError)

    def row(self, query: int | tuple[int, int], head: int, batch_index: int = 0) -> Tensor:
        """The query patch's attention over the patches, ``(H, W)`` (its class-token weight is left out)."""
        row = self.attention[batch_index, self._head(head), self._query_token(query), 1:]
        return row.reshape(self.grid)

    def class_weight(self, query: int | tuple[int, int], head: int, batch_index: int = 0) -> float:
        """What the query patch gives the class token; ``class_weight + row(...).sum() == 1``."""
        return float(self.attention[batch_index, self._head(head), self._query_token(query), 0])

    def class_row(self, head: int, batch_index: int = 0) -> Tensor:
        """The class token's attention over the patches, ``(H, W)`` (what the classifier's token reads)."""
        return self.attention[batch_index, self._head(head), 0, 1:].reshape(self.grid)

    def aggregated(self) -> Tensor:
        """``concat_m(A_m V_m)``, ``(B, 1 + N, C)``, before ``W_o``."""
        return aff.aggregate(self.attention, self.v)

    def explicit_output(self) -> Tensor:
        """``concat_m(A_m V_m) W_o + b_o``, ``(B, 1 + N, C)``: the attention module's output, rebuilt from A."""
        return F.linear(self.aggregated(), self.proj_weight, self.proj_bias)


@dataclass(frozen=True, eq=False)
class DepthwiseBlockRecord:
    """One ConvNeXt block's 7 x 7 depthwise convolution ``conv_dw`` (see the module docstring)."""

    kind: ClassVar[str] = "depthwise"
    aggregation_kind: ClassVar[str] = "conv"
    static: ClassVar[bool] = True

    name: str
    grid: tuple[int, int]
    weight: Tensor  # (C, 1, k, k)
    bias: Tensor  # (C,)
    v: Tensor  # (B, C, H, W), the conv's input

    @property
    def num_channels(self) -> int:
        return self.weight.shape[0]

    def row(self, query: int | tuple[int, int]) -> Tensor:
        """Each channel's kernel on the grid around the query, ``(C, H, W)``; ``O(C H W)``, never ``N x N``."""
        y, x = grid_query(query, *self.grid, where=self.name, error=FamilyRecordError)
        return aff.depthwise_conv_row(self.weight, *self.grid, (y, x))

    def explicit_output_at(self, query: int | tuple[int, int]) -> Tensor:
        """``sum_j A_c[i, j] V_c[j] + b_c`` for the query ``i``: ``(B, C)``, equal to ``conv_dw(v)[:, :, y, x]``."""
        return (self.row(query) * self.v).sum(dim=(-2, -1)) + self.bias

    def output(self) -> Tensor:
        """The convolution itself on the recorded input, ``(B, C, H, W)`` (the fast path)."""
        return F.conv2d(self.v, self.weight, self.bias, padding=self.weight.shape[-1] // 2, groups=self.num_channels)


@dataclass(frozen=True, eq=False)
class TokenMixingBlockRecord:
    """One Mixer block's token-mixing MLP ``mlp_tokens`` (see the module docstring and ``ops.token_mlp``)."""

    kind: ClassVar[str] = "token_mlp"
    aggregation_kind: ClassVar[str] = "mixer"  # what the paper calls it; its linear part is that static matrix
    static: ClassVar[bool] = False  # the linear part is static; the Jacobian (the MLP's real local affinity) is not

    name: str
    grid: tuple[int, int]
    u: Tensor  # (B, N, C), norm1 of the block's input
    z: Tensor  # (B, C, D), W1 u_c + b1 per channel
    fc1_weight: Tensor  # (D, N)
    fc1_bias: Tensor  # (D,)
    fc2_weight: Tensor  # (N, D)
    fc2_bias: Tensor  # (N,)

    @property
    def num_channels(self) -> int:
        return self.u.shape[-1]

    def _query_token(self, query: int | tuple[int, int]) -> int:
        y, x = grid_query(query, *self.grid, where=self.name, error=FamilyRecordError)
        return y * self.grid[1] + x

    def linear_part(self) -> Tensor:
        """``W2 W1``, ``(N, N)``: static, shared by every channel and image."""
        return token_mlp.linear_part(self.fc1_weight, self.fc2_weight)

    def linear_offset(self) -> Tensor:
        """``W2 b1 + b2``, ``(N,)``: the bias term of the linear view, added to every channel."""
        return token_mlp.linear_offset(self.fc1_bias, self.fc2_weight, self.fc2_bias)

    def linear_row(self, query: int | tuple[int, int]) -> Tensor:
        """The query's row of ``W2 W1`` on the grid, ``(H, W)``."""
        return (self.fc2_weight[self._query_token(query)] @ self.fc1_weight).reshape(self.grid)

    def jacobian(self, channel: int, batch_index: int = 0) -> Tensor:
        """``d y_c / d u_c`` at this image, ``(N, N)``: ``W2 diag(GELU'(z_c)) W1``."""
        z = self.z[batch_index, _channel(channel, self.num_channels, self.name)]
        return token_mlp.jacobian(z, self.fc1_weight, self.fc2_weight)

    def jacobian_row(self, query: int | tuple[int, int], channel: int, batch_index: int = 0) -> Tensor:
        """The query's row of :meth:`jacobian` on the grid, ``(H, W)``, without the ``N x N`` matrix."""
        z = self.z[batch_index, _channel(channel, self.num_channels, self.name)]
        return token_mlp.jacobian_row(z, self.fc1_weight, self.fc2_weight, self._query_token(query)).reshape(self.grid)

    def jacobian_vs_linear(self, batch_index: int = 0) -> tuple[Tensor, Tensor]:
        """Per channel ``||J_c - W2 W1||_F / ||W2 W1||_F`` and the scale-free part of it, each ``(C,)`` float64.

        0 where the paper's "static and dense" view is exact at this image; see ``ops.token_mlp``.
        """
        return token_mlp.jacobian_differences(self.z[batch_index], self.fc1_weight, self.fc2_weight)

    def linear_gap(self, batch_index: int = 0) -> float:
        """The median over channels of ``||J_c - W2 W1||_F / ||W2 W1||_F``: one number per block for the view.

        Near 0: the block mixes tokens as the static dense ``W2 W1`` at this image (the paper's view holds); near or
        above 0.5: the GELU reshapes the mixing per channel and per image (a uniform GELU slope of 0.5 alone gives
        0.5; ``jacobian_vs_linear()[1]`` separates that rescaling from a change of pattern).
        """
        relative, _ = self.jacobian_vs_linear(batch_index)
        return float(relative.median())

    def output(self) -> Tensor:
        """The token MLP's output ``y`` ``(B, N, C)`` from the recorded pre-activations: ``W2 GELU(z) + b2``."""
        return (F.gelu(self.z) @ self.fc2_weight.T + self.fc2_bias).transpose(1, 2)


BlockRecord = Union[AttentionBlockRecord, DepthwiseBlockRecord, TokenMixingBlockRecord]


@dataclass(frozen=True, eq=False)
class FamilyRecording(Mapping[str, BlockRecord]):
    """One pass of a family model: ``logits`` ``(B, classes)`` and ``blocks`` by module path, in forward order."""

    family: str  # "deit_small", "convnext_tiny" or "mixer_b16"
    logits: Tensor
    blocks: dict[str, BlockRecord]

    def __getitem__(self, name: str) -> BlockRecord:
        try:
            return self.blocks[name]
        except KeyError:
            raise FamilyRecordError(N_("no block {name} in this {family} recording; blocks: {first} ... {last}"),
                                    name=repr(name), family=self.family, first=next(iter(self.blocks)),
                                    last=next(reversed(self.blocks))) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.blocks)

    def __len__(self) -> int:
        return len(self.blocks)


def family_of(model: nn.Module) -> str:
    """``"deit_small"``, ``"convnext_tiny"`` or ``"mixer_b16"`` for a model of that architecture (any size)."""
    for cls, name in ((DeiT, "deit_small"), (ConvNeXt, "convnext_tiny"), (MlpMixer, "mixer_b16")):
        if isinstance(model, cls):
            return name
    raise FamilyRecordError(N_("record_family takes a DeiT, ConvNeXt or MlpMixer, got {type}"),
                            type=type(model).__name__)


def _detached(module: nn.Module, name: str) -> Tensor:
    return getattr(module, name).detach()


def _record_deit(model: DeiT, x: Tensor) -> tuple[Tensor, dict[str, BlockRecord]]:
    records: dict[str, BlockRecord] = {}
    tokens = model.embed(x)  # (B, 1 + N, C)
    for index, block in enumerate(model.blocks):
        attn = block.attn
        attention, v = attn.affinity_and_values(block.norm1(tokens))  # (B, M, T, T), (B, T, C)
        records[f"blocks.{index}"] = AttentionBlockRecord(
            name=f"blocks.{index}", grid=model.grid, attention=attention, v=v,
            proj_weight=_detached(attn.proj, "weight"), proj_bias=_detached(attn.proj, "bias"),
        )
        tokens = block(tokens)
    return model.forward_head(tokens), records


def _record_convnext(model: ConvNeXt, x: Tensor) -> tuple[Tensor, dict[str, BlockRecord]]:
    records: dict[str, BlockRecord] = {}
    features = model.embed(x)  # (B, C_0, H/4, W/4)
    for stage_index, stage in enumerate(model.stages):
        features = stage.downsample(features)
        for block_index, block in enumerate(stage.blocks):
            name = f"stages.{stage_index}.blocks.{block_index}"
            records[name] = DepthwiseBlockRecord(
                name=name, grid=(features.shape[-2], features.shape[-1]), weight=_detached(block.conv_dw, "weight"),
                bias=_detached(block.conv_dw, "bias"), v=features,
            )
            features = block(features)
    return model.forward_head(features), records


def _record_mixer(model: MlpMixer, x: Tensor) -> tuple[Tensor, dict[str, BlockRecord]]:
    records: dict[str, BlockRecord] = {}
    tokens = model.embed(x)  # (B, N, C)
    for index, block in enumerate(model.blocks):
        u = block.norm1(tokens)
        fc1, fc2 = block.mlp_tokens.fc1, block.mlp_tokens.fc2
        records[f"blocks.{index}"] = TokenMixingBlockRecord(
            name=f"blocks.{index}", grid=model.grid, u=u,
            z=token_mlp.hidden_preactivation(u, fc1.weight, fc1.bias),
            fc1_weight=_detached(fc1, "weight"), fc1_bias=_detached(fc1, "bias"),
            fc2_weight=_detached(fc2, "weight"), fc2_bias=_detached(fc2, "bias"),
        )
        tokens = block(tokens)
    return model.forward_head(tokens), records


_RECORDERS = {"deit_small": _record_deit, "convnext_tiny": _record_convnext, "mixer_b16": _record_mixer}


@torch.no_grad()
def record_family(model: nn.Module, x: Tensor) -> FamilyRecording:
    """One forward pass of ``model`` on ``x`` ``(B, 3, H, W)`` (normalised), every block's affinity recorded.

    ``model`` is a :class:`~container_edu.models.DeiT`, :class:`~container_edu.models.ConvNeXt` or
    :class:`~container_edu.models.MlpMixer` (put it in ``eval()`` mode first, as for any inference; these models
    have no dropout). The logits equal ``model(x)``.
    """
    family = family_of(model)
    logits, records = _RECORDERS[family](model, x)
    return FamilyRecording(family=family, logits=logits, blocks=records)
