"""Building blocks shared by Container-Light and the zoo, with the reference key names.

Every block is ``_ResidualBlock.forward``: ``x += W_o(aggregate(conv1(norm1(x))))``
with ``W_o = conv2``, so following ``Y = concat(A_m V_m) W_o`` means reading
that line, then the block's ``aggregate`` just below it, which calls the
operator (``attn``, ``conv``, ``mix``). Each ``aggregate`` takes the fast path
and, inside ``record_affinities()``, the explicit one, recording what it
aggregated under the block's module path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace

import torch
from torch import Tensor, nn

from container_edu.ops import affinity as aff
from container_edu.ops.aggregation import (
    Aggregation,
    DepthwiseConvAggregation,
    MultiHeadSelfAttention,
    _BlendedMix,
    blended_explicit,
    blended_forward,
    sigmoid_blend,
)
from container_edu.record.trace import AggregationRecord, blend_override, current_recorder, override_blend

__all__ = ["PatchEmbed", "ConvMlp", "CBlock", "MixBlock", "AggregationBlock"]


class PatchEmbed(nn.Module):
    """Strided conv (``proj``) then LayerNorm over channels (``norm``): ``(B, C_in, H, W) -> (B, C, H/s, W/s)``."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        x = self.proj(x)  # (B, C, H', W')
        # LayerNorm over C at every position, done channels-last.
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvMlp(nn.Module):
    """The block's MLP as two ``1 x 1`` convs with GELU (reference ``CMlp``)."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden_dim, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden_dim, dim, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class _ResidualBlock(nn.Module):
    """``x += pos_embed(x); x += W_o(aggregate(conv1(norm1(x)))); x += mlp(norm2(x))``."""

    record_name: str | None = None

    def _init_common(self, dim: int, mlp_ratio: float, value_channels: int) -> None:
        self.pos_embed = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.BatchNorm2d(dim)
        self.conv1 = nn.Conv2d(dim, value_channels, 1)
        self.conv2 = nn.Conv2d(dim, dim, 1)
        self.norm2 = nn.BatchNorm2d(dim)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio))

    def aggregate(self, projected: Tensor) -> Tensor:
        """``concat(A_m V_m)`` as a map ``(B, C, H, W)``; records when a recorder is active."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.pos_embed(x)
        x = x + self.conv2(self.aggregate(self.conv1(self.norm1(x))))
        return x + self.mlp(self.norm2(x))


def _aggregate(
    block: _ResidualBlock,
    fast: Callable[[Tensor], Tensor],
    explicit: Callable[[Tensor], tuple[Tensor, AggregationRecord]],
    projected: Tensor,
) -> Tensor:
    """The fast path, or, inside ``record_affinities()``, the explicit one, recorded under the block's path."""
    recorder = current_recorder()
    if recorder is None:
        return fast(projected)
    out, record = explicit(projected)
    recorder.add(replace(record, name=block.record_name or ""))
    return out


class CBlock(_ResidualBlock):
    """Container-Light's conv-only block (stages 1-3): ``A`` is a static ``5 x 5`` depthwise conv, named ``attn``."""

    def __init__(self, dim: int, mlp_ratio: float = 4.0, kernel_size: int = 5) -> None:
        super().__init__()
        self._init_common(dim, mlp_ratio, value_channels=dim)
        self.attn = DepthwiseConvAggregation(dim, kernel_size)

    def aggregate(self, v: Tensor) -> Tensor:
        return _aggregate(self, self.attn, self.attn.explicit, v)


class MixBlock(_ResidualBlock):
    """Container-Light's mixed block (stage 4): ``Y = alpha Attn(Q, K, V) + beta (Conv(V) + b)``.

    ``alpha = sigmoid(s)``, ``beta = 1 - alpha``. The block owns the parts of
    its mix under the released checkpoint's top-level keys: ``attn`` (the
    parameter-free attention), ``conv`` (the ``k x k`` depthwise conv) and
    ``sa_weight`` (``s``), next to ``pos_embed``, ``norm1``, ``conv1``
    (``W_q, W_k, W_v``: ``C -> 3C``), ``conv2`` (``W_o``), ``norm2`` and ``mlp``.
    The blend itself is :func:`~container_edu.ops.aggregation.blended_forward`,
    the function :class:`~container_edu.ops.aggregation.ContainerLightMix` runs too.
    """

    kind = "container_light"

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, kernel_size: int = 5) -> None:
        super().__init__()
        aff._check_heads(dim, num_heads)
        # The mix's parts first: the state-dict order of the reference MixBlock's keys stays as it was.
        self.attn = MultiHeadSelfAttention(num_heads)
        self.conv = DepthwiseConvAggregation(dim, kernel_size)
        self.sa_weight = nn.Parameter(torch.zeros(1))
        self._init_common(dim, mlp_ratio, value_channels=3 * dim)

    def blend_weights(self) -> tuple[Tensor, Tensor]:
        """``(alpha, beta)`` as learned: ``(sigmoid(s), 1 - sigmoid(s))``."""
        return sigmoid_blend(self.sa_weight)

    def aggregate(self, qkv: Tensor) -> Tensor:
        alpha, beta = blend_override(self) or self.blend_weights()
        return _aggregate(
            self,
            lambda x: blended_forward(self.attn, self.conv, alpha, beta, x),
            lambda x: blended_explicit(self.kind, self.attn, self.conv, alpha, beta, x),
            qkv,
        )


class AggregationBlock(_ResidualBlock):
    """A Container block around any aggregation module ``mix`` (the zoo's mixed stage)."""

    def __init__(self, dim: int, mix: Aggregation, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self._init_common(dim, mlp_ratio, value_channels=3 * dim if mix.uses_query_key else dim)
        self.mix = mix

    def aggregate(self, projected: Tensor) -> Tensor:
        # An override_blend that names this block (its path or the block) applies to its mix.
        override = blend_override(self)
        with override_blend({self.mix: override}) if override else contextlib.nullcontext():
            return _aggregate(self, self.mix, self.mix.explicit, projected)


def blend_parameters(model: nn.Module) -> dict[str, tuple[float, float]]:
    """The learned ``(alpha, beta)`` of every mixed block, keyed by block path."""
    weights: dict[str, tuple[float, float]] = {}
    for name, module in model.named_modules():
        if isinstance(module, MixBlock):
            learned = module.blend_weights
        elif isinstance(module, AggregationBlock) and isinstance(module.mix, _BlendedMix):
            learned = module.mix.blend_weights
        else:
            continue
        with torch.no_grad():
            alpha, beta = learned()
        weights[name] = (float(alpha.detach()), float(beta.detach()))
    return weights
