"""Recording what each block aggregated, without global hooks.

``record_affinities()`` installs a recorder in a :class:`contextvars.ContextVar`;
every aggregation block that runs inside the ``with`` writes one
:class:`AggregationRecord` under its module path (``"blocks4.0"``). Context
variables are per thread (and per asyncio task), so two users recording on
one shared model never see each other's records, and no module attribute is
ever changed. When nothing records, blocks take their fast path and keep
nothing.

``override_blend()`` works the same way for the blend weights, and is the
only way to move a blend: it changes ``(alpha, beta)`` of named blocks (or of
given modules) for the forward passes inside the ``with``, leaving the shared
model's parameters untouched.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from container_edu.checks import grid_query, head_index
from container_edu.ops import affinity as aff

__all__ = [
    "AggregationRecord",
    "AffinityRecorder",
    "record_affinities",
    "current_recorder",
    "override_blend",
    "blend_override",
    "assign_record_names",
]


@dataclass(frozen=True, eq=False)
class AggregationRecord:
    """What one block aggregated in one forward pass (tensors detached).

    Attributes:
        name: module path of the block in the model's state dict.
        kind: ``"conv"``, ``"attention"``, ``"mixer"``, ``"multihead_mlp"``,
            ``"container"``, ``"container_light"`` or ``"container_pam"``.
        grid: ``(H, W)`` of the token grid, ``N = H * W``.
        num_heads: ``M`` of the dynamic part (1 when there is none).
        v: the aggregated values ``V``, ``(B, N, C)``.
        attention: dynamic affinity ``A(X)``, ``(B, M, N, N)``, or ``None``.
        conv_weight: static depthwise kernel ``(C, 1, k, k)``, or ``None``.
        conv_bias: its bias ``(C,)``, or ``None``.
        static_affinity: dense static affinity ``(S, N, N)`` (mixer, multi-head
            MLP), or ``None``.
        alpha, beta: the blend weights used: ``Y = alpha A(X) V + beta (A_static V + b)``.
        aggregated: ``Y`` before the output projection ``W_o``, ``(B, N, C)``.
        prefix_tokens: ``P``, tokens before the grid's (a ViT's class token: DeiT has 1), 0 for every
            Container block. With ``P > 0`` ``attention`` is ``(B, M, P + N, P + N)`` and ``v`` / ``aggregated``
            are ``(B, P + N, C)`` (prefix first), so ``aggregated == A V`` stays exact; the rows and matrices
            below are the grid's part (what a query gives the patches), and :meth:`prefix_share` is the rest.

    The math a page or lesson needs lives here, so none rebuilds an affinity:
    one query's row on the grid (``attention_row``, ``static_row``,
    ``static_head_row``, ``blended_row``: cheap at any grid size); full
    ``N x N`` matrices per head (``attention_matrix``, ``static_matrix``,
    ``blended_matrix``) and per channel (``static_channel_matrices``,
    ``blended_channel_matrices``), built only when asked for; and each
    branch's output (``dynamic_output() + static_output() == aggregated``).
    """

    name: str
    kind: str
    grid: tuple[int, int]
    num_heads: int
    v: Tensor
    aggregated: Tensor
    alpha: float
    beta: float
    attention: Tensor | None = None
    conv_weight: Tensor | None = None
    conv_bias: Tensor | None = None
    static_affinity: Tensor | None = None
    prefix_tokens: int = 0

    @property
    def num_tokens(self) -> int:
        """``N = H * W``, the grid's tokens (the prefix tokens not counted)."""
        return self.grid[0] * self.grid[1]

    def _query_index(self, query: int | tuple[int, int]) -> int:
        y, x = grid_query(query, *self.grid, where=self.name)
        return aff.token_index(y, x, self.grid[1])

    def attention_row(self, query: int | tuple[int, int], batch_index: int = 0) -> Tensor | None:
        """Row ``i`` of each head's ``A_m(X)`` on the grid: ``(M, H, W)``, or ``None``."""
        if self.attention is None:
            return None
        i, p = self._query_index(query), self.prefix_tokens
        return self.attention[batch_index, :, p + i, p:].reshape(-1, *self.grid)

    def prefix_share(self, query: int | tuple[int, int], batch_index: int = 0) -> Tensor | None:
        """What query ``i`` gives the prefix tokens (the class token), per head: ``(M,)``; ``None`` without any.

        ``prefix_share(i) + attention_row(i).sum((-2, -1)) == 1`` for a softmax attention.
        """
        if self.attention is None or self.prefix_tokens == 0:
            return None
        i, p = self._query_index(query), self.prefix_tokens
        return self.attention[batch_index, :, p + i, :p].sum(-1)

    def static_row(self, query: int | tuple[int, int]) -> Tensor | None:
        """Row ``i`` of the static affinity on the grid: ``(C, H, W)`` for a conv, ``(S, H, W)`` for a mixer."""
        i = self._query_index(query)
        if self.conv_weight is not None:
            return aff.depthwise_conv_row(self.conv_weight, *self.grid, i)
        if self.static_affinity is not None:
            return self.static_affinity[:, i, :].reshape(-1, *self.grid)
        return None

    def static_head_row(self, query: int | tuple[int, int]) -> Tensor | None:
        """The static row at head level ``(M, H, W)``: per-channel kernels averaged over each head's channels."""
        row = self.static_row(query)
        if row is None:
            return None
        if row.shape[0] == self.num_heads:
            return row
        if row.shape[0] == 1:
            return row.expand(self.num_heads, *self.grid)
        return aff.head_mean(row, self.num_heads)

    def blended_row(self, query: int | tuple[int, int], batch_index: int = 0) -> Tensor:
        """``alpha A_m(X)[i] + beta A_m^static[i]`` per head on the grid: ``(M, H, W)``."""
        dynamic = self.attention_row(query, batch_index)
        static = self.static_head_row(query)
        if dynamic is None and static is None:
            raise ValueError(f"block {self.name} recorded no affinity")
        total = torch.zeros(self.num_heads, *self.grid, dtype=self.v.dtype, device=self.v.device)
        if dynamic is not None:
            total = total + self.alpha * dynamic
        if static is not None:
            total = total + self.beta * static
        return total

    # Full N x N matrices, built only when asked for: each refuses (ValueError) beyond
    # affinity.MAX_DENSE_ELEMENTS, and a conv's static matrix is built from its kernel on demand.
    # The rows above stay the cheap way to look at one query on a large grid.

    @property
    def num_channels(self) -> int:
        """``C``, the channels of the aggregated values."""
        return self.v.shape[-1]

    def _head(self, head: int) -> int:
        return head_index(head, self.num_heads, where=self.name)

    def attention_matrix(self, head: int, batch_index: int = 0) -> Tensor | None:
        """``A_m(X)`` of head ``head`` among the grid's tokens: ``(N, N)``, or ``None`` without a dynamic part."""
        head = self._head(head)
        p = self.prefix_tokens
        return None if self.attention is None else self.attention[batch_index, head, p:, p:]

    def static_matrix(self, head: int) -> Tensor | None:
        """``A_m^static`` at head level, ``(N, N)``: the matching row of every ``static_head_row``.

        A conv's per-channel matrices are averaged over the head's channels; being
        linear in the kernel, that is the matrix of the head's mean kernel, so
        only one ``N x N`` matrix is built. ``None`` without a static part.
        """
        head = self._head(head)
        if self.conv_weight is not None:
            weight = self.conv_weight
            group = weight.shape[0] // self.num_heads
            kernel = weight[head * group : (head + 1) * group].mean(0, keepdim=True)  # (1, 1, k, k)
            return aff.depthwise_conv(kernel, *self.grid)[0]
        if self.static_affinity is None:
            return None
        matrices = self.static_affinity
        if matrices.shape[0] == self.num_heads:
            return matrices[head]
        if matrices.shape[0] == 1:
            return matrices[0]
        return aff.head_mean(matrices, self.num_heads)[head]

    def blended_matrix(self, head: int, batch_index: int = 0) -> Tensor:
        """``alpha A_m(X) + beta A_m^static`` at head level: ``(N, N)``, whose row ``i`` is ``blended_row(i)[head]``."""
        dynamic = self.attention_matrix(head, batch_index)
        static = self.static_matrix(head)
        if dynamic is None and static is None:
            raise ValueError(f"block {self.name} recorded no affinity")
        total = torch.zeros(self.num_tokens, self.num_tokens, dtype=self.v.dtype, device=self.v.device)
        if dynamic is not None:
            total = total + self.alpha * dynamic
        if static is not None:
            total = total + self.beta * static
        return total

    def static_channel_matrices(self) -> Tensor | None:
        """The static affinity per channel, ``(C, N, N)``: ``A_c^static``, or ``None`` without a static part.

        A conv has one matrix per channel; a dense static affinity with ``S``
        matrices gives each of its ``C / S`` channels the same one.
        """
        if self.conv_weight is not None:
            return aff.depthwise_conv(self.conv_weight, *self.grid)
        if self.static_affinity is None:
            return None
        matrices = self.static_affinity
        self._check_channel_matrices("the static affinity per channel")
        return matrices.repeat_interleave(self.num_channels // matrices.shape[0], dim=0)

    def blended_channel_matrices(self, batch_index: int = 0) -> Tensor:
        """``alpha A_m(c)(X) + beta A_c^static`` per channel: ``(C, N, N)``.

        Channel ``c`` uses its head's attention ``m(c)``; then ``concat_c(A_c V_c)``
        plus ``beta b`` is exactly :attr:`aggregated` (with prefix tokens these are the grid's ``N x N`` part,
        which leaves out what the prefix tokens give and get).
        """
        if self.attention is None and self.conv_weight is None and self.static_affinity is None:
            raise ValueError(f"block {self.name} recorded no affinity")
        self._check_channel_matrices("the blended affinity per channel")
        total = torch.zeros(self.num_channels, self.num_tokens, self.num_tokens, dtype=self.v.dtype,
                            device=self.v.device)
        if self.attention is not None:
            p = self.prefix_tokens
            per_head = self.attention[batch_index, :, p:, p:]  # (M, N, N)
            total = total + self.alpha * per_head.repeat_interleave(self.num_channels // per_head.shape[0], dim=0)
        static = self.static_channel_matrices()
        if static is not None:
            total = total + self.beta * static
        return total

    def _check_channel_matrices(self, what: str) -> None:
        aff._check_size(f"{what} (C, N, N) of {self.name}", self.num_channels * self.num_tokens**2,
                        " (use the row helpers for one query)")

    # Each branch's output: Y = dynamic_output() + static_output() (a missing branch counts as 0).

    def _values(self) -> Tensor:
        if self.v.shape[1] != self.prefix_tokens + self.num_tokens:
            raise ValueError(
                f"the record of {self.name} was kept without its values V (B, N, C) (the app's inspections drop "
                "them), so its branch outputs cannot be computed; record the forward pass again"
            )
        return self.v

    def dynamic_output(self) -> Tensor | None:
        """The dynamic branch ``alpha A(X) V``: ``(B, P + N, C)``, or ``None`` when the block has none."""
        if self.attention is None:
            return None
        return self.alpha * aff.aggregate(self.attention, self._values())

    def static_output(self) -> Tensor | None:
        """The static branch ``beta (A_static V + b)``: ``(B, N, C)``, or ``None`` when the block has none.

        A conv runs as the convolution it is (``O(N k^2)``), never as an ``N x N`` matrix.
        """
        if self.conv_weight is not None:
            values = aff.tokens_to_map(self._values(), *self.grid)
            out = F.conv2d(values, self.conv_weight, self.conv_bias, padding=self.conv_weight.shape[-1] // 2,
                           groups=self.conv_weight.shape[0])
            return self.beta * aff.map_to_tokens(out)
        if self.static_affinity is None:
            return None
        return self.beta * aff.aggregate(self.static_affinity, self._values())


class AffinityRecorder(Mapping[str, AggregationRecord]):
    """A read-only mapping from block path (``"blocks4.0"``) to its record."""

    def __init__(self) -> None:
        self._records: dict[str, AggregationRecord] = {}

    def add(self, record: AggregationRecord) -> None:
        # A block that runs twice inside one recording keeps its last pass.
        self._records[record.name] = record

    def __getitem__(self, name: str) -> AggregationRecord:
        try:
            return self._records[name]
        except KeyError:
            known = ", ".join(self._records) or "none"
            raise KeyError(f"no block named {name!r} was recorded (recorded: {known})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        return f"AffinityRecorder({list(self._records)})"


_RECORDER: contextvars.ContextVar[AffinityRecorder | None] = contextvars.ContextVar("container_edu_recorder", default=None)
_BLEND_OVERRIDES: contextvars.ContextVar[Mapping[str | nn.Module, tuple[float, float]] | None] = (
    contextvars.ContextVar("container_edu_blend_overrides", default=None)
)


def current_recorder() -> AffinityRecorder | None:
    """The recorder of the innermost active ``record_affinities()``, or ``None``."""
    return _RECORDER.get()


@contextlib.contextmanager
def record_affinities() -> Iterator[AffinityRecorder]:
    """Record every aggregation block that runs inside the ``with``.

    Example::

        with record_affinities() as rec:
            logits = model(x)
        rec["blocks4.0"].attention  # (B, M, N, N)
    """
    recorder = AffinityRecorder()
    token = _RECORDER.set(recorder)
    try:
        yield recorder
    finally:
        _RECORDER.reset(token)


def _as_alpha_beta(value: object) -> tuple[float, float]:
    try:
        if isinstance(value, tuple):
            if len(value) != 2:
                raise TypeError
            return float(value[0]), float(value[1])
        alpha = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"a blend override is alpha or a pair (alpha, beta) of numbers, got {value!r}") from None
    return alpha, 1.0 - alpha


BlendTarget = str | nn.Module


@contextlib.contextmanager
def override_blend(weights: Mapping[BlendTarget, float | tuple[float, float]]) -> Iterator[None]:
    """Use other blend weights inside the ``with``: the one way to move a blend.

    ``weights`` maps a target to ``alpha`` (then ``beta = 1 - alpha``, as in
    Container-Light's ``sigmoid(sa_weight)``) or to an ``(alpha, beta)`` pair.
    A target is

    - a block's path, the name its record carries (``"blocks4.0"``, ``"blocks2.1"``), or
    - a module: a block, or a standalone ``ContainerMix`` / ``ContainerLightMix``
      that is in no model (the affinity explorer's), whose ``forward``,
      ``explicit``, ``affinity`` and ``output_bias`` all follow the override.

    The model's parameters are not touched, and the override is seen only by
    this thread (or asyncio task).
    """
    resolved = {}
    for target, value in weights.items():
        if not isinstance(target, (str, nn.Module)):
            raise ValueError(f"a blend override names a block path or a module, got {target!r}")
        resolved[target] = _as_alpha_beta(value)
    outer = _BLEND_OVERRIDES.get() or {}
    token = _BLEND_OVERRIDES.set({**outer, **resolved})
    try:
        yield
    finally:
        _BLEND_OVERRIDES.reset(token)


def blend_override(module: nn.Module) -> tuple[float, float] | None:
    """The ``(alpha, beta)`` that ``override_blend`` set for ``module`` (itself or its block path), if any."""
    overrides = _BLEND_OVERRIDES.get()
    if not overrides:
        return None
    if module in overrides:
        return overrides[module]
    name = getattr(module, "record_name", None)
    return overrides.get(name) if name else None


def assign_record_names(model: nn.Module) -> nn.Module:
    """Tell each recording block its module path, once, at construction."""
    for name, module in model.named_modules():
        if hasattr(module, "record_name"):
            module.record_name = name
    return model
