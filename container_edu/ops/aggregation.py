"""Aggregation modules: each operator family of the paper as an ``nn.Module``.

Every module maps a projected feature map to ``Y = concat(A_m V_m)`` (before
``W_o``) in two ways that tests hold equal:

- ``forward(x)``: the fast path (fused ``scaled_dot_product_attention``,
  ``conv2d``, a matmul), what a prediction runs;
- ``affinity(x)``: the explicit ``A`` it aggregates with, so that
  ``aggregate(m.affinity(x), m.values(x)) + m.output_bias(x)`` equals
  ``map_to_tokens(m(x))``;
- ``explicit(x)``: the forward through explicit affinities, returning the
  output and an :class:`~container_edu.record.trace.AggregationRecord`.

Inputs follow Container's reference blocks, where a ``1 x 1`` convolution
(``conv1``) makes the values: modules with a dynamic affinity take
``qkv = conv1(x)`` of shape ``(B, 3C, H, W)`` laid out ``[Q | K | V]``;
purely static modules take ``V`` itself, ``(B, C, H, W)``.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from container_edu.checks import positive_int
from container_edu.ops import affinity as aff
from container_edu.record.trace import AggregationRecord, blend_override

__all__ = [
    "Aggregation",
    "MultiHeadSelfAttention",
    "DepthwiseConvAggregation",
    "TokenMixing",
    "MultiHeadMLP",
    "ContainerMix",
    "ContainerLightMix",
    "ContainerPAMMix",
    "blended_forward",
    "blended_explicit",
    "sigmoid_blend",
]


def _check_map(x: object, what: str = "the input", channels: int | None = None) -> Tensor:
    """``x`` must be a ``(B, C, H, W)`` map with a non-empty grid (and ``channels`` channels, when given)."""
    if not isinstance(x, Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{what} must be a feature map (B, C, H, W), got {shape}")
    if x.shape[-2] < 1 or x.shape[-1] < 1:
        raise ValueError(f"{what} has an empty {x.shape[-2]} x {x.shape[-1]} grid, got {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{what} must have {channels} channels, got {tuple(x.shape)}")
    return x


def _check_qkv(qkv: object, num_heads: int) -> int:
    """``qkv`` must be ``(B, 3C, H, W)`` laid out ``[Q | K | V]`` with ``num_heads`` dividing ``C``; returns ``C``."""
    _check_map(qkv, "[Q | K | V]")
    if qkv.shape[1] % 3 != 0 or qkv.shape[1] == 0:
        raise ValueError(f"attention expects [Q | K | V] with 3C channels (C >= 1), got {qkv.shape[1]}")
    channels = qkv.shape[1] // 3
    aff._check_heads(channels, num_heads)
    return channels


def _check_blend(alpha: object, beta: object) -> tuple[float | Tensor, float | Tensor]:
    """Blend weights must be real numbers or tensors; returned unchanged (tensors keep their grad)."""
    if not all(isinstance(w, (numbers.Real, Tensor)) for w in (alpha, beta)):
        raise ValueError(f"alpha and beta must be numbers, got {alpha!r} and {beta!r}")
    return alpha, beta


def _record(kind: str, grid: tuple[int, int], num_heads: int, v: Tensor, y: Tensor, **fields) -> AggregationRecord:
    detached = {key: (value.detach() if isinstance(value, Tensor) else value) for key, value in fields.items()}
    return AggregationRecord(
        name="", kind=kind, grid=grid, num_heads=num_heads, v=v.detach(), aggregated=y.detach(), **detached
    )


class Aggregation(nn.Module):
    """Base class: a token mixer with a fast path and an explicit affinity."""

    kind: str = ""
    #: True when the input is ``[Q | K | V]`` (3C channels), False when it is ``V`` (C channels).
    uses_query_key: bool = False

    def values(self, x: Tensor) -> Tensor:
        """The aggregated values ``V`` as tokens, ``(B, N, C)``."""
        if self.uses_query_key:
            _check_qkv(x, getattr(self, "num_heads", 1))
        v = x.chunk(3, dim=1)[2] if self.uses_query_key else _check_map(x)
        return aff.map_to_tokens(v)

    def output_bias(self, x: Tensor) -> Tensor | float:
        """What the operator adds after ``A V`` (a conv bias), broadcastable to ``(B, N, C)``."""
        return 0.0

    def affinity(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def explicit(self, x: Tensor) -> tuple[Tensor, AggregationRecord]:
        raise NotImplementedError


class MultiHeadSelfAttention(Aggregation):
    """Self-attention as aggregation: ``A_m = softmax(Q_m K_m^T s)``, dynamic and dense.

    Parameter-free, like the reference ``Attention_pure``: the projections are
    the block's ``conv1`` (``W_q, W_k, W_v``) and ``conv2`` (``W_o``).
    """

    kind = "attention"
    uses_query_key = True

    def __init__(self, num_heads: int, scale: float | None = None) -> None:
        super().__init__()
        positive_int("num_heads", num_heads)
        if scale is not None and (isinstance(scale, bool) or not isinstance(scale, numbers.Real)):
            raise ValueError(f"scale must be None or a number, got {scale!r}")
        self.num_heads = num_heads
        self.scale = scale

    def _heads(self, qkv: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        channels = _check_qkv(qkv, self.num_heads)
        batch, _, height, width = qkv.shape
        head_dim = channels // self.num_heads
        # (B, 3C, H, W) -> (3, B, M, N, C/M), the reference layout of Attention_pure
        heads = qkv.reshape(batch, 3, self.num_heads, head_dim, height * width).permute(1, 0, 2, 4, 3)
        return heads[0], heads[1], heads[2]

    def affinity(self, qkv: Tensor) -> Tensor:
        """``(B, M, N, N)``."""
        _check_qkv(qkv, self.num_heads)
        q, k, _ = qkv.chunk(3, dim=1)
        return aff.attention(aff.map_to_tokens(q), aff.map_to_tokens(k), self.num_heads, self.scale)

    def forward(self, qkv: Tensor) -> Tensor:
        q, k, v = self._heads(qkv)
        height, width = qkv.shape[-2:]
        scale = self.scale if self.scale is not None else q.shape[-1] ** -0.5
        out = F.scaled_dot_product_attention(q, k, v, scale=scale)  # (B, M, N, C/M)
        batch, num_heads, num_tokens, head_dim = out.shape
        return out.permute(0, 1, 3, 2).reshape(batch, num_heads * head_dim, height, width)

    def explicit(self, qkv: Tensor) -> tuple[Tensor, AggregationRecord]:
        attention = self.affinity(qkv)
        height, width = qkv.shape[-2:]
        v = self.values(qkv)
        y = aff.aggregate(attention, v)
        record = _record(self.kind, (height, width), self.num_heads, v, y, alpha=1.0, beta=0.0, attention=attention)
        return aff.tokens_to_map(y, height, width), record


class DepthwiseConvAggregation(nn.Conv2d):
    """Depthwise convolution as aggregation: one static, sparse ``A_c`` per channel.

    An ``nn.Conv2d(C, C, k, padding=k // 2, groups=C)``, so that its state-dict
    keys are those of the reference (``attn`` in ``CBlock``, ``conv`` in
    ``MixBlock``). ``A_c`` is the banded matrix of :func:`affinity.depthwise_conv`;
    the bias ``b_c`` is added after ``A_c V_c``.
    """

    kind = "conv"
    uses_query_key = False

    def __init__(self, dim: int, kernel_size: int = 5, bias: bool = True) -> None:
        positive_int("dim", dim)
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size % 2 == 0 or kernel_size < 1:
            raise ValueError(f"kernel_size must be odd and positive, got {kernel_size!r}")
        aff._check_size(f"a {dim}-channel {kernel_size} x {kernel_size} depthwise kernel", dim * kernel_size * kernel_size)
        super().__init__(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim, bias=bias)

    values = Aggregation.values

    def forward(self, v: Tensor) -> Tensor:
        _check_map(v, "the values V", self.out_channels)
        return super().forward(v)

    @property
    def num_heads(self) -> int:
        return self.out_channels

    def output_bias(self, x: Tensor | None = None) -> Tensor | float:
        return self.bias if self.bias is not None else 0.0

    def affinity(self, v: Tensor) -> Tensor:
        """``(C, N, N)``: depends only on the grid of ``v``, not its content."""
        _check_map(v, "the values V", self.out_channels)
        return aff.depthwise_conv(self.weight, *v.shape[-2:])

    def explicit(self, v: Tensor) -> tuple[Tensor, AggregationRecord]:
        # The dense (C, N, N) matrix is only built by affinity(); here the kernel
        # is recorded and the aggregation runs as a conv (exact and O(N k^2)).
        out = self(v)
        height, width = v.shape[-2:]
        # num_heads=1: a conv-only block has no attention heads, so its head-level
        # view averages the C per-channel kernels into one map (static_row keeps them apart).
        record = _record(
            self.kind, (height, width), 1, aff.map_to_tokens(v), aff.map_to_tokens(out),
            alpha=0.0, beta=1.0, conv_weight=self.weight, conv_bias=self.bias,
        )
        return out, record


class _DenseStatic(Aggregation):
    """Static dense affinities stored as parameters ``(S, N, N)``: tied to one grid size."""

    def __init__(self, num_tokens: int, num_matrices: int) -> None:
        super().__init__()
        positive_int("num_tokens", num_tokens)
        positive_int("the number of heads (static matrices)", num_matrices)
        aff._check_size(f"{num_matrices} learned {num_tokens} x {num_tokens} matrices",
                        num_matrices * num_tokens * num_tokens)
        self.num_tokens = num_tokens
        self.weight = nn.Parameter(torch.empty(num_matrices, num_tokens, num_tokens))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Start near a uniform average plus noise so that early training mixes all tokens.
        nn.init.normal_(self.weight, mean=1.0 / self.num_tokens, std=0.02)

    @property
    def num_heads(self) -> int:
        return self.weight.shape[0]

    def _check_grid(self, x: Tensor) -> None:
        _check_map(x, "the values V")
        height, width = x.shape[-2:]
        if height * width != self.num_tokens:
            raise ValueError(
                f"this {self.kind} learned a {self.num_tokens} x {self.num_tokens} affinity and cannot aggregate a "
                f"{height} x {width} grid ({height * width} tokens): a static dense affinity is tied to one grid size"
            )

    def affinity(self, v: Tensor) -> Tensor:
        self._check_grid(v)
        return self.weight

    def forward(self, v: Tensor) -> Tensor:
        self._check_grid(v)
        height, width = v.shape[-2:]
        return aff.tokens_to_map(aff.aggregate(self.weight, aff.map_to_tokens(v)), height, width)

    def explicit(self, v: Tensor) -> tuple[Tensor, AggregationRecord]:
        out = self(v)
        record = _record(
            self.kind, tuple(v.shape[-2:]), self.num_heads, aff.map_to_tokens(v), aff.map_to_tokens(out),
            alpha=0.0, beta=1.0, static_affinity=self.weight,
        )
        return out, record


class TokenMixing(_DenseStatic):
    """MLP-Mixer token mixing (its linear part): one learned ``N x N`` matrix shared by all channels."""

    kind = "mixer"

    def __init__(self, num_tokens: int) -> None:
        super().__init__(num_tokens, 1)


class MultiHeadMLP(_DenseStatic):
    """Multi-head MLP: one learned ``N x N`` matrix per head of ``C / M`` channels."""

    kind = "multihead_mlp"

    def __init__(self, num_tokens: int, num_heads: int) -> None:
        super().__init__(num_tokens, num_heads)


def blended_forward(
    attn: MultiHeadSelfAttention, static: Aggregation, alpha: Tensor | float, beta: Tensor | float, qkv: Tensor
) -> Tensor:
    """Fast path of a Container mix: ``alpha * Attn(Q, K, V) + beta * Static(V)``."""
    v = qkv.chunk(3, dim=1)[2]
    return alpha * attn(qkv) + beta * static(v)


def blended_explicit(
    kind: str, attn: MultiHeadSelfAttention, static: Aggregation, alpha: Tensor | float, beta: Tensor | float,
    qkv: Tensor,
) -> tuple[Tensor, AggregationRecord]:
    """Explicit path of a Container mix, recording both affinities and the blend used."""
    height, width = qkv.shape[-2:]
    dynamic_out, dynamic_record = attn.explicit(qkv)
    static_out, static_record = static.explicit(qkv.chunk(3, dim=1)[2])
    out = alpha * dynamic_out + beta * static_out
    alpha_used, beta_used = _alpha_beta_floats(alpha, beta)
    record = _record(
        kind, (height, width), attn.num_heads, dynamic_record.v, aff.map_to_tokens(out),
        alpha=alpha_used, beta=beta_used, attention=dynamic_record.attention,
        conv_weight=static_record.conv_weight, conv_bias=static_record.conv_bias,
        static_affinity=static_record.static_affinity,
    )
    return out, record


class _BlendedMix(Aggregation):
    """Shared parts of the two Container mixes: ``attn`` plus a static aggregation.

    The blend in use is :meth:`blend`: the learned ``blend_weights()``, unless an
    ``override_blend`` names this module (``override_blend({mix: alpha})``) or the
    block around it (``override_blend({"blocks2.0": alpha})``).
    """

    uses_query_key = True
    attn: MultiHeadSelfAttention

    @property
    def static(self) -> Aggregation:
        raise NotImplementedError

    @property
    def num_heads(self) -> int:
        return self.attn.num_heads

    def blend_weights(self) -> tuple[Tensor, Tensor]:
        """``(alpha, beta)`` as learned."""
        raise NotImplementedError

    def blend(self) -> tuple[Tensor | float, Tensor | float]:
        """``(alpha, beta)`` in use: an ``override_blend`` of this module if one is active, else the learned ones."""
        return blend_override(self) or self.blend_weights()

    def output_bias(self, x: Tensor | None = None) -> Tensor | float:
        _, beta = self.blend()
        return beta * self.static.output_bias(x)

    def affinity(self, qkv: Tensor) -> Tensor:
        """The blended affinity ``alpha A(X) + beta A_static``: ``(B, M, N, N)``, or per channel ``(B, C, N, N)`` for a conv."""
        _check_qkv(qkv, self.attn.num_heads)
        alpha, beta = self.blend()
        return aff.blend(self.attn.affinity(qkv), self.static.affinity(qkv.chunk(3, dim=1)[2]), alpha, beta)

    def forward(self, qkv: Tensor) -> Tensor:
        _check_qkv(qkv, self.attn.num_heads)
        alpha, beta = self.blend()
        return blended_forward(self.attn, self.static, alpha, beta, qkv)

    def explicit(self, qkv: Tensor) -> tuple[Tensor, AggregationRecord]:
        _check_qkv(qkv, self.attn.num_heads)
        alpha, beta = self.blend()
        return blended_explicit(self.kind, self.attn, self.static, alpha, beta, qkv)


class ContainerMix(_BlendedMix):
    """Container (the general form): ``alpha A(X) + beta A_static`` with learnable scalars ``alpha, beta``.

    ``static`` is any static aggregation: a :class:`MultiHeadMLP` or
    :class:`TokenMixing` (Container in the paper), or a depthwise conv.
    """

    kind = "container"

    def __init__(self, num_heads: int, static: Aggregation, alpha: float = 1.0, beta: float = 1.0) -> None:
        super().__init__()
        if not isinstance(static, (Aggregation, DepthwiseConvAggregation)) or getattr(static, "uses_query_key", False):
            raise ValueError(
                "static must be a static aggregation (MultiHeadMLP, TokenMixing or DepthwiseConvAggregation), "
                f"got {type(static).__name__}"
            )
        alpha, beta = _check_blend(alpha, beta)
        self.attn = MultiHeadSelfAttention(num_heads)
        self.static_aggregation = static
        self.alpha = nn.Parameter(torch.tensor(float(alpha)))
        self.beta = nn.Parameter(torch.tensor(float(beta)))

    @property
    def static(self) -> Aggregation:
        return self.static_aggregation

    def blend_weights(self) -> tuple[Tensor, Tensor]:
        return self.alpha, self.beta


class ContainerLightMix(_BlendedMix):
    """Container-Light's mix: ``sigmoid(s) A(X) + (1 - sigmoid(s)) A_conv`` with a ``k x k`` depthwise conv.

    Attribute names follow the reference ``MixBlock``: ``attn``, ``conv``,
    ``sa_weight`` (initialised to 0, so both start at one half).
    """

    kind = "container_light"

    def __init__(self, dim: int, num_heads: int, kernel_size: int = 5) -> None:
        super().__init__()
        positive_int("dim", dim)
        aff._check_heads(dim, num_heads)
        self.attn = MultiHeadSelfAttention(num_heads)
        self.conv = DepthwiseConvAggregation(dim, kernel_size)
        self.sa_weight = nn.Parameter(torch.zeros(1))

    @property
    def static(self) -> Aggregation:
        return self.conv

    def blend_weights(self) -> tuple[Tensor, Tensor]:
        return sigmoid_blend(self.sa_weight)


class ContainerPAMMix(_BlendedMix):
    """Container-PAM: ``A_m = softmax(Q_m K_m^T s) + P_m``, attention plus a learned ``N x N`` matrix per head.

    The paper's variant with ``alpha = beta = 1`` fixed (not learned): ``P_m``
    is added to the softmax, so a row of ``A_m`` is no longer a probability
    row. ``P`` is a :class:`MultiHeadMLP` (the general Container's static part),
    so it is tied to one grid size like every dense static affinity.
    """

    kind = "container_pam"

    def __init__(self, num_tokens: int, num_heads: int) -> None:
        super().__init__()
        # The static part is built first, as in the kinds' Container, so a seed draws P before anything else.
        self.pam = MultiHeadMLP(num_tokens, num_heads)
        self.attn = MultiHeadSelfAttention(num_heads)

    @property
    def static(self) -> Aggregation:
        return self.pam

    def blend_weights(self) -> tuple[float, float]:
        """``(1.0, 1.0)``: PAM adds its two parts; nothing is learned about the blend."""
        return 1.0, 1.0


def sigmoid_blend(sa_weight: Tensor) -> tuple[Tensor, Tensor]:
    """Container-Light's blend from its one parameter ``s``: ``(alpha, beta) = (sigmoid(s), 1 - sigmoid(s))``."""
    alpha = torch.sigmoid(sa_weight)
    return alpha, 1 - alpha


def _alpha_beta_floats(alpha: Tensor | float, beta: Tensor | float) -> tuple[float, float]:
    """The blend weights as plain floats for a record (detached: no warning when they require grad)."""
    return tuple(float(w.detach()) if isinstance(w, Tensor) else float(w) for w in (alpha, beta))


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(math.prod(p.shape) for p in module.parameters() if p.requires_grad)
