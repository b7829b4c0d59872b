"""The aggregation kinds of the unified view, each described once.

Every operator computes ``Y = concat(A_1 V_1, ..., A_M V_M) W_o``; a kind is
one way of making ``A_m``. :data:`KINDS` holds, per kind, what the pages,
figures, the zoo and the explorer say and do about it: its label, the
paper's symbol and formula (plain text and LaTeX), whether ``A`` depends on
the input, whether it is dense, whether its rows are probabilities, how
many matrices it has, and how to build its module. Adding a kind means
adding its module (:mod:`container_edu.ops.aggregation`) and one entry here;
``tests/test_kinds.py`` checks every claim against the module.

Plain-text symbols use ``m`` for the head and ``c`` for the channel;
:meth:`AggregationKind.symbol_for` writes a head number in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from torch import nn

from container_edu.ops.aggregation import (
    ContainerLightMix,
    ContainerMix,
    ContainerPAMMix,
    DepthwiseConvAggregation,
    MultiHeadMLP,
    MultiHeadSelfAttention,
    TokenMixing,
)
from container_edu.text import N_

__all__ = [
    "AggregationKind",
    "KindArgs",
    "KINDS",
    "PARTS",
    "ZOO_VARIANTS",
    "get_kind",
    "for_variant",
    "part_kind",
    "part_rows_are_probabilities",
]

#: The parts of a recorded block's affinity: the dynamic ``A_m(X)``, the static ``A_m^static``, their blend.
PARTS = ("attention", "static", "blended")

_HEAD = re.compile(r"_m(?![a-z])")
_CHANNEL = re.compile(r"_c(?![a-z])")


@dataclass(frozen=True)
class KindArgs:
    """What building an aggregation module may need.

    ``dim``: channels ``C``; ``num_heads``: heads ``M``; ``grid``: the token
    grid ``(H, W)`` (static dense kinds learn one matrix per grid);
    ``kernel_size``: odd ``k``; ``blend``: the initial ``(alpha, beta)`` of a
    kind with independent blend weights.
    """

    dim: int
    num_heads: int
    grid: tuple[int, int]
    kernel_size: int = 5
    blend: tuple[float, float] = (0.5, 0.5)

    @property
    def num_tokens(self) -> int:
        return self.grid[0] * self.grid[1]


@dataclass(frozen=True)
class AggregationKind:
    """One way of making the affinity ``A``.

    Attributes:
        key: the module's ``kind`` (``AggregationRecord.kind``, the explorer's operator).
        label: a short title ("Self-attention").
        symbol: the paper's symbol of its affinity, plain text ("A_m(X)").
        formula: how it is made, plain text ("A_m(X) = softmax(Q_m K_mᵀ s)").
        latex: the same formula in LaTeX.
        description: one sentence for a caption.
        dynamic: ``A`` depends on the input (else it is static, shared over inputs).
        dense: every token can take from every other (else only from a ``k x k`` neighbourhood).
        rows_are_probabilities: every row is non-negative and sums to 1 (drawn on a scale from 0;
            every other affinity is signed and drawn centred on 0).
        affinity_per: what ``module.affinity(x)`` holds one ``N x N`` matrix for:
            each ``"head"``, each ``"channel"``, or one ``"shared"`` by all channels.
        uses_heads: the number of heads ``M`` is a choice (else fixed by the kind: 1, or one per channel).
        uses_kernel: the kernel size ``k`` matters.
        blend: how the dynamic and static parts are weighted: ``"alpha_beta"`` (two learned scalars),
            ``"sigmoid"`` (``alpha = sigmoid(sa_weight)``, ``beta = 1 - alpha``), ``"fixed"``
            (``alpha = beta = 1``, nothing learned: Container-PAM), or ``None`` (one part only).
        dynamic_part, static_part: the kinds this one is made of (itself for a single-part kind).
        zoo_variant: the zoo model ``fmnist_<zoo_variant>`` whose mixed stage is this kind, if any.
        builder: makes the module from :class:`KindArgs`.
    """

    key: str
    label: str
    symbol: str
    formula: str
    latex: str
    description: str
    dynamic: bool
    dense: bool
    rows_are_probabilities: bool
    affinity_per: Literal["head", "channel", "shared"]
    uses_heads: bool
    uses_kernel: bool
    blend: Literal["alpha_beta", "sigmoid", "fixed"] | None
    dynamic_part: str | None
    static_part: str | None
    zoo_variant: str | None
    builder: Callable[[KindArgs], nn.Module]

    @property
    def uses_blend(self) -> bool:
        """The blend has learned weights that a slider can move (PAM's fixed ``alpha = beta = 1`` has none)."""
        return self.blend in ("alpha_beta", "sigmoid")

    @property
    def traits(self) -> str:
        """``"dynamic, dense"``, ``"static, sparse"``, ...: the two properties the paper sorts operators by."""
        return f"{'dynamic' if self.dynamic else 'static'}, {'dense' if self.dense else 'sparse'}"

    @property
    def view_unit(self) -> Literal["head", "channel", "shared"]:
        """What one matrix of the head-level view stands for (a per-channel blend is averaged per head)."""
        return "head" if self.uses_heads else self.affinity_per

    def symbol_for(self, head: int | str = "m") -> str:
        """:attr:`symbol` with the head ``m`` replaced by ``head``."""
        return _HEAD.sub(f"_{head}", self.symbol)

    def formula_for(self, head: int | str = "m") -> str:
        """:attr:`formula` with the head ``m`` replaced by ``head``."""
        return _HEAD.sub(f"_{head}", self.formula)

    def averaged_symbol(self, head: int | None = None) -> str:
        """The symbol of the mean of the per-channel matrices over head ``head``'s channels, or all channels.

        ``A_c^conv`` averaged over head 2 is ``A_2^conv``; over all channels ``A^conv``.
        """
        return _CHANNEL.sub("" if head is None else f"_{head}", self.symbol)

    def build(self, dim: int, num_heads: int, grid: tuple[int, int], kernel_size: int = 5,
              blend: tuple[float, float] = (0.5, 0.5)) -> nn.Module:
        """A fresh module of this kind (random weights from torch's global generator)."""
        return self.builder(KindArgs(dim, num_heads, tuple(grid), kernel_size, tuple(blend)))


# Builders are module-level functions, not lambdas, so that a kind pickles (Streamlit caches results holding one).


def _attention(args: KindArgs) -> nn.Module:
    return MultiHeadSelfAttention(args.num_heads)


def _conv(args: KindArgs) -> nn.Module:
    return DepthwiseConvAggregation(args.dim, args.kernel_size)


def _mixer(args: KindArgs) -> nn.Module:
    return TokenMixing(args.num_tokens)


def _multihead_mlp(args: KindArgs) -> nn.Module:
    return MultiHeadMLP(args.num_tokens, args.num_heads)


def _container(args: KindArgs) -> nn.Module:
    # The static part is built first: the order in which modules draw random weights is part of a seed's meaning.
    static = MultiHeadMLP(args.num_tokens, args.num_heads)
    return ContainerMix(args.num_heads, static, alpha=args.blend[0], beta=args.blend[1])


def _container_pam(args: KindArgs) -> nn.Module:
    return ContainerPAMMix(args.num_tokens, args.num_heads)


def _container_light(args: KindArgs) -> nn.Module:
    return ContainerLightMix(args.dim, args.num_heads, args.kernel_size)


KINDS: dict[str, AggregationKind] = {
    kind.key: kind
    for kind in (
        AggregationKind(
            key="attention", label=N_("Self-attention"), symbol="A_m(X)", formula="A_m(X) = softmax(Q_m K_mᵀ s)",
            latex=r"A_m(X) = \operatorname{softmax}\left(Q_m K_m^\top s\right)",
            description="Dynamic and dense: every row is a softmax over all N tokens and changes with the input.",
            dynamic=True, dense=True, rows_are_probabilities=True, affinity_per="head", uses_heads=True,
            uses_kernel=False, blend=None, dynamic_part="attention", static_part=None, zoo_variant="attention",
            builder=_attention,
        ),
        AggregationKind(
            key="conv", label=N_("Depthwise convolution"), symbol="A_c^conv",
            formula="A_c^conv: the k×k kernel of channel c pasted at each query (a Toeplitz band)",
            latex=r"A^{\mathrm{conv}}_c[i, j] = w_c\left[y_j - y_i + \lfloor k/2 \rfloor,\ "
                  r"x_j - x_i + \lfloor k/2 \rfloor\right]",
            description="Static and sparse: one banded matrix per channel; a row is the kernel pasted at the query.",
            dynamic=False, dense=False, rows_are_probabilities=False, affinity_per="channel", uses_heads=False,
            uses_kernel=True, blend=None, dynamic_part=None, static_part="conv", zoo_variant="conv",
            builder=_conv,
        ),
        AggregationKind(
            key="mixer", label=N_("MLP-Mixer token mixing"), symbol="A^mix",
            formula="A^mix: one learned N×N matrix, shared by all channels",
            latex=r"A^{\mathrm{mix}} \in \mathbb{R}^{N \times N}\ \text{(learned, shared by all channels)}",
            description="Static and dense: a single learned matrix that ties the model to one grid size.",
            dynamic=False, dense=True, rows_are_probabilities=False, affinity_per="shared", uses_heads=False,
            uses_kernel=False, blend=None, dynamic_part=None, static_part="mixer", zoo_variant=None,
            builder=_mixer,
        ),
        AggregationKind(
            key="multihead_mlp", label=N_("Multi-head MLP"), symbol="A_m^mlp",
            formula="A_m^mlp: one learned N×N matrix per head",
            latex=r"A^{\mathrm{mlp}}_m \in \mathbb{R}^{N \times N}\ \text{(learned, one per head)}",
            description="Static and dense, one learned matrix per head (the zoo's MLP-Mixer variant).",
            dynamic=False, dense=True, rows_are_probabilities=False, affinity_per="head", uses_heads=True,
            uses_kernel=False, blend=None, dynamic_part=None, static_part="multihead_mlp", zoo_variant="mixer",
            builder=_multihead_mlp,
        ),
        AggregationKind(
            key="container", label=N_("Container (attention + multi-head MLP)"), symbol="A_m",
            formula="A_m = α A_m(X) + β A_m^mlp",
            latex=r"A_m = \alpha\, A_m(X) + \beta\, A^{\mathrm{mlp}}_m",
            description="The paper's general Container: a learnable mix of a dynamic and a static dense affinity.",
            dynamic=True, dense=True, rows_are_probabilities=False, affinity_per="head", uses_heads=True,
            uses_kernel=False, blend="alpha_beta", dynamic_part="attention", static_part="multihead_mlp",
            zoo_variant="container", builder=_container,
        ),
        AggregationKind(
            key="container_light", label=N_("Container-Light (attention + conv)"), symbol="A_c",
            formula="A_c = α A_m(X) + β A_c^conv",
            latex=r"A_c = \alpha\, A_m(X) + \beta\, A^{\mathrm{conv}}_c,\quad "
                  r"\alpha = \sigma(\mathtt{sa\_weight}),\ \beta = 1 - \alpha",
            description="Container-Light's MixBlock: α = sigmoid(sa_weight), β = 1 − α, static part a depthwise "
                        "conv, so the blend is per channel (head view: conv averaged over the head's channels).",
            dynamic=True, dense=True, rows_are_probabilities=False, affinity_per="channel", uses_heads=True,
            uses_kernel=True, blend="sigmoid", dynamic_part="attention", static_part="conv",
            zoo_variant="container_light", builder=_container_light,
        ),
        AggregationKind(
            key="container_pam", label=N_("Container-PAM (attention + learned N×N, added)"), symbol="A_m",
            formula="A_m = A_m(X) + P_m",
            latex=r"A_m = \operatorname{softmax}\left(Q_m K_m^\top s\right) + P_m,\quad "
                  r"P_m \in \mathbb{R}^{N \times N}\ \text{(learned, one per head)}",
            description="Container-PAM: attention plus a learned static N×N matrix per head, added with "
                        "α = β = 1 fixed, so its rows are no longer probabilities.",
            dynamic=True, dense=True, rows_are_probabilities=False, affinity_per="head", uses_heads=True,
            uses_kernel=False, blend="fixed", dynamic_part="attention", static_part="multihead_mlp",
            zoo_variant=None, builder=_container_pam,
        ),
    )
}

#: Zoo variant (``ZooConfig.mixing``, ``fmnist_<variant>``) -> the kind of its mixed stage, in the zoo's order.
ZOO_VARIANTS: dict[str, AggregationKind] = {kind.zoo_variant: kind for kind in KINDS.values() if kind.zoo_variant}


def get_kind(key: str) -> AggregationKind:
    """The kind called ``key``; ``ValueError`` naming the known ones otherwise."""
    try:
        return KINDS[key]
    except KeyError:
        raise ValueError(f"unknown aggregation kind {key!r}; choose one of {', '.join(KINDS)}") from None


def for_variant(variant: str) -> AggregationKind:
    """The kind of the zoo variant ``variant`` (``"mixer"`` is the multi-head MLP) or of the kind ``variant``."""
    if variant in ZOO_VARIANTS:
        return ZOO_VARIANTS[variant]
    return get_kind(variant)


def part_kind(key: str, part: str) -> AggregationKind | None:
    """The kind that makes ``part`` (one of :data:`PARTS`) of a ``key`` block; ``None`` when it has no such part."""
    kind = get_kind(key)
    if part == "attention":
        return KINDS.get(kind.dynamic_part) if kind.dynamic_part else None
    if part == "static":
        return KINDS.get(kind.static_part) if kind.static_part else None
    if part == "blended":
        return kind
    raise ValueError(f"part must be one of {', '.join(PARTS)}, got {part!r}")


def part_rows_are_probabilities(key: str, part: str) -> bool:
    """Whether the rows of ``part`` of a ``key`` block are probabilities (else that map is drawn signed).

    Only the dynamic part of a block with attention qualifies: a blend of a
    softmax with a signed static affinity is signed.
    """
    kind = part_kind(key, part)
    if kind is None:
        raise ValueError(f"a {key} block has no {part} part")
    return kind.rows_are_probabilities
