"""The affinity explorer's computations: one aggregation operator on a random input, made explicit.

Every operator is a module of :mod:`container_edu.ops.aggregation` with
seeded random weights; the explorer builds its affinity ``A`` explicitly and
checks the unified formula ``concat(A_m V_m) (+ b)`` against the module's own
fast forward. The app's Affinity explorer draws what :func:`explore` returns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from container_edu.ops import affinity as aff
from container_edu.ops.kinds import KINDS, AggregationKind
from container_edu.record.trace import override_blend
from container_edu.text import N_, Message

__all__ = [
    "OPERATORS",
    "ExplorerSpec",
    "ExplorerResult",
    "RELATIVE_TOLERANCE",
    "explore",
    "build",
    "blend_of",
    "head_choices",
    "matrix_for_head",
]

#: The equivalence check passes when max|explicit - fast| <= RELATIVE_TOLERANCE * max|fast|.
RELATIVE_TOLERANCE = 1e-5


#: The explorer's operators: every aggregation kind of the registry, in its order.
OPERATORS: dict[str, AggregationKind] = KINDS

def head_choices(channels: int) -> list[int]:
    """Head counts that divide ``channels`` (each head needs the same number of channels)."""
    return [m for m in range(1, channels + 1) if channels % m == 0]


@dataclass(frozen=True)
class ExplorerSpec:
    """Everything that determines one explorer run (hashable: a cache key)."""

    operator: str = "attention"
    height: int = 5
    width: int = 7
    channels: int = 16
    heads: int = 4
    kernel_size: int = 3
    alpha: float = 0.5
    beta: float = 0.5
    seed: int = 0

    @property
    def num_tokens(self) -> int:
        return self.height * self.width


@dataclass(frozen=True)
class ExplorerResult:
    """An operator's affinity and the equivalence check.

    Attributes:
        matrices: ``(K, N, N)`` float64, the affinity of each head (``K = M``),
            channel (conv: ``K = C``) or the single mixer matrix (``K = 1``).
            For Container-Light the head-level view (conv averaged over each head's channels).
        matrix_labels: ``"head m"`` / ``"channel c"`` / ``"shared"`` per matrix.
        max_abs_diff: ``max |concat(A_m V_m) + b - module(x)|``.
        max_abs_output: ``max |module(x)|`` (the scale the tolerance is relative to).
        passed: ``max_abs_diff <= RELATIVE_TOLERANCE * max_abs_output``.
    """

    spec: ExplorerSpec
    operator: AggregationKind
    matrices: np.ndarray
    matrix_labels: tuple[Message, ...]
    max_abs_diff: float
    max_abs_output: float
    passed: bool
    explicit_shape: tuple[int, ...]

    @property
    def relative_diff(self) -> float:
        return self.max_abs_diff / max(self.max_abs_output, 1e-30)

    def row(self, matrix: int, query: tuple[int, int]) -> np.ndarray:
        """Row ``i`` (the query token) of matrix ``matrix`` on the ``H x W`` grid."""
        y, x = query
        i = aff.token_index(y, x, self.spec.width)
        return self.matrices[matrix, i].reshape(self.spec.height, self.spec.width)


def _check(spec: ExplorerSpec) -> AggregationKind:
    if spec.operator not in OPERATORS:
        raise ValueError(f"unknown operator {spec.operator!r}; choose one of {', '.join(OPERATORS)}")
    for name in ("height", "width", "channels"):
        if getattr(spec, name) < 1:
            raise ValueError(f"{name} must be at least 1")
    if spec.channels % spec.heads:
        raise ValueError(f"{spec.heads} heads do not divide {spec.channels} channels; pick one of {head_choices(spec.channels)}")
    if spec.kernel_size % 2 == 0:
        raise ValueError("the kernel size must be odd (3, 5, 7, ...)")
    return OPERATORS[spec.operator]


def build(spec: ExplorerSpec) -> tuple[nn.Module, torch.Tensor]:
    """The operator with seeded random weights and its seeded random input.

    The input is ``[Q | K | V]`` (``3C`` channels) for operators with a dynamic
    part and ``V`` (``C`` channels) for purely static ones, as in the blocks
    (the ``V`` of a static operator equals the last third of the dynamic one's input).
    The blend is not built in: :func:`explore` applies ``spec.alpha`` / ``spec.beta``
    with ``override_blend`` (:func:`blend_of`).
    """
    op = _check(spec)
    generator = torch.Generator().manual_seed(spec.seed)
    qkv = torch.randn(1, 3 * spec.channels, spec.height, spec.width, generator=generator)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed + 1)
        module = op.build(spec.channels, spec.heads, (spec.height, spec.width), spec.kernel_size)
    module.eval()
    x = qkv if getattr(module, "uses_query_key", False) else qkv[:, 2 * spec.channels :]
    return module, x


def blend_of(spec: ExplorerSpec, module: nn.Module) -> dict[nn.Module, float | tuple[float, float]]:
    """The spec's blend as an ``override_blend`` of the module itself (the module's parameters stay as built).

    Container-Light has one weight, ``alpha = sigmoid(sa_weight)`` and ``beta = 1 - alpha``; Container two.
    """
    if spec.operator == "container_light":
        return {module: spec.alpha}
    if spec.operator == "container":
        return {module: (spec.alpha, spec.beta)}
    return {}


@torch.no_grad()
def explore(spec: ExplorerSpec) -> ExplorerResult:
    """Build the operator's affinity and check ``concat(A_m V_m) + b`` against its fast forward."""
    op = _check(spec)
    module, x = build(spec)
    with override_blend(blend_of(spec, module)):
        affinity = module.affinity(x)  # (B, K, N, N) or (K, N, N)
        explicit = aff.aggregate(affinity, module.values(x)) + module.output_bias(x)  # (B, N, C)
        fast = aff.map_to_tokens(module(x))  # (B, N, C)
    max_abs_diff = float((explicit - fast).abs().max())
    max_abs_output = float(fast.abs().max())
    matrices = affinity[0] if affinity.dim() == 4 else affinity  # (K, N, N)
    if op.affinity_per == "channel" and op.uses_heads:
        matrices = aff.head_mean(matrices, spec.heads)  # a per-channel blend, seen per head
    count = matrices.shape[0]
    if op.view_unit == "channel":
        labels = tuple(Message(N_("channel {c}"), {"c": c}) for c in range(count))
    elif op.view_unit == "shared":
        labels = (Message(N_("shared by all channels")),)
    else:
        labels = tuple(Message(N_("head {m}"), {"m": m}) for m in range(count))
    return ExplorerResult(
        spec=spec,
        operator=op,
        matrices=matrices.double().numpy(),
        matrix_labels=labels,
        max_abs_diff=max_abs_diff,
        max_abs_output=max_abs_output,
        passed=max_abs_diff <= RELATIVE_TOLERANCE * max(max_abs_output, 1e-12),
        explicit_shape=tuple(explicit.shape),
    )


def matrix_for_head(result: ExplorerResult, head: int) -> int:
    """Which of ``result.matrices`` corresponds to head ``head`` of the spec.

    Operators with one matrix per head use it directly; the mixer has one; a
    depthwise conv has one per channel, so head ``m`` shows its first channel.
    """
    count = result.matrices.shape[0]
    if count == 1:
        return 0
    if result.operator.view_unit == "channel":
        return min(head * (result.spec.channels // result.spec.heads), count - 1)
    return min(head, count - 1)
