"""Building blocks shared by Container-Light and the zoo, with the reference key names.

Blocks on top; each has a fast path and, inside ``record_affinities()``, an
explicit path that records what it aggregated under its module path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch
from torch import Tensor, nn

from ..aggregation import Aggregation, ContainerLightMix, DepthwiseConvAggregation, _BlendedMix
from ..trace import AggregationRecord, blend_override, current_recorder

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
    fast: Callable[..., Tensor],
    explicit: Callable[..., tuple[Tensor, AggregationRecord]],
    projected: Tensor,
    **kwargs,
) -> Tensor:
    """The fast path, or, inside ``record_affinities()``, the explicit one, recorded under the block's path."""
    recorder = current_recorder()
    if recorder is None:
        return fast(projected, **kwargs)
    out, record = explicit(projected, **kwargs)
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


class MixBlock(ContainerLightMix, _ResidualBlock):
    """Container-Light's mixed block (stage 4): ``sigmoid(s) A(X) + (1 - sigmoid(s)) A_conv``.

    It *is* a :class:`ContainerLightMix` (``attn``, ``conv``, ``sa_weight`` stay
    top-level keys, as in the released checkpoint), with the block's
    ``pos_embed``, ``norm1``, ``conv1`` (``W_q, W_k, W_v``: ``C -> 3C``),
    ``conv2`` (``W_o``), ``norm2`` and ``mlp`` around it.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, kernel_size: int = 5) -> None:
        ContainerLightMix.__init__(self, dim, num_heads, kernel_size)
        self._init_common(dim, mlp_ratio, value_channels=3 * dim)

    def aggregate(self, qkv: Tensor) -> Tensor:
        # super(): the mix's own forward/explicit, not the block's forward.
        return _aggregate(self, super().forward, super().explicit, qkv, blend=blend_override(self.record_name))

    forward = _ResidualBlock.forward


class AggregationBlock(_ResidualBlock):
    """A Container block around any aggregation module ``mix`` (the zoo's mixed stage)."""

    def __init__(self, dim: int, mix: Aggregation, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self._init_common(dim, mlp_ratio, value_channels=3 * dim if mix.uses_query_key else dim)
        self.mix = mix

    def aggregate(self, projected: Tensor) -> Tensor:
        if isinstance(self.mix, _BlendedMix):
            return _aggregate(self, self.mix, self.mix.explicit, projected, blend=blend_override(self.record_name))
        return _aggregate(self, self.mix, self.mix.explicit, projected)


def blend_parameters(model: nn.Module) -> dict[str, tuple[float, float]]:
    """The learned ``(alpha, beta)`` of every mixed block, keyed by block path."""
    weights: dict[str, tuple[float, float]] = {}
    for name, module in model.named_modules():
        mix = module.mix if isinstance(module, AggregationBlock) else module
        if isinstance(mix, _BlendedMix) and isinstance(module, _ResidualBlock):
            with torch.no_grad():
                alpha, beta = mix.blend_weights()
            weights[name] = (float(alpha.detach()), float(beta.detach()))
    return weights
