"""The properties the unified view sorts operators by, measured on small random modules of every kind.

For each aggregation kind of the registry (:data:`container_edu.ops.kinds.KINDS`) a fresh module with random
weights is built in float64 and probed: does ``A`` change with the input (dynamic)? is it non-zero outside a
``k x k`` neighbourhood (dense)? how many parameters does it have on two grids? how do ``A``'s non-zero entries grow
when the grid side doubles (the cost of building and applying ``A`` per channel)? does a module built for one grid
refuse another (tied to the grid)? does shifting the input by one column shift the output, away from the border
(shift-equivariant)? :func:`registry_claims` says what the registry's fields imply for the same columns, so the
closing lesson can show the table and check it against the measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from container_edu.ops.aggregation import count_parameters
from container_edu.ops.kinds import KINDS, AggregationKind

__all__ = ["MeasuredProperties", "measure", "measure_all", "registry_claims", "COST_N_SQUARED", "COST_N_K_SQUARED",
           "SIDE", "CHANNELS", "HEADS", "KERNEL"]

SIDE, CHANNELS, HEADS, KERNEL = 7, 8, 2, 3
#: Growth of A's non-zero entries when the side doubles (N grows 4x): 16x for N², about 4x for N·k².
COST_N_SQUARED, COST_N_K_SQUARED = "N²", "N·k²"
_EXACT = 1e-9  # float64: a gap below this is "the same"


@dataclass(frozen=True)
class MeasuredProperties:
    """One kind, probed: the table's measured columns."""

    key: str
    dynamic: bool
    dense: bool
    parameters: tuple[int, int]  # on a SIDE x SIDE grid, then on a 2 SIDE x 2 SIDE grid
    entries: tuple[int, int]  # non-zero entries of one A on the same two grids
    tied_to_grid: bool
    shift_equivariant: bool

    @property
    def entry_growth(self) -> float:
        return self.entries[1] / self.entries[0]

    @property
    def cost(self) -> str:
        # Dense: 16x when N grows 4x. Banded: 4x in the interior, a little more as the border's share shrinks.
        return COST_N_SQUARED if self.entry_growth > 10 else COST_N_K_SQUARED


def _build(kind: AggregationKind, side: int, seed: int) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = kind.build(CHANNELS, HEADS, (side, side), KERNEL).double().eval()
        with torch.no_grad():  # every parameter random and non-zero (a blend off 1/2, biases that matter)
            for parameter in module.parameters():
                parameter.copy_(torch.randn_like(parameter) * 0.5)
    return module


def _input(module: torch.nn.Module, side: int, seed: int) -> torch.Tensor:
    channels = 3 * CHANNELS if module.uses_query_key else CHANNELS
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(1, channels, side, side, generator=generator, dtype=torch.float64)


def _affinity(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    matrices = module.affinity(x)
    return matrices[0] if matrices.dim() == 4 else matrices  # (K, N, N)


def _outside_kernel(side: int) -> torch.Tensor:
    tokens = torch.arange(side * side)
    ys, xs = tokens // side, tokens % side
    reach = KERNEL // 2
    return ((ys[:, None] - ys[None, :]).abs() > reach) | ((xs[:, None] - xs[None, :]).abs() > reach)


def _refuses(module: torch.nn.Module, side: int) -> bool:
    try:
        module(_input(module, side, seed=5))
    except ValueError:
        return True
    return False


@torch.no_grad()
def measure(kind: AggregationKind, seed: int = 0) -> MeasuredProperties:
    small, large = _build(kind, SIDE, seed), _build(kind, 2 * SIDE, seed)
    first, second = _input(small, SIDE, seed + 1), _input(small, SIDE, seed + 2)
    a_first, a_second = _affinity(small, first), _affinity(small, second)
    dynamic = float((a_first - a_second).abs().max()) > _EXACT * float(a_first.abs().max())
    dense = bool((a_first[:, _outside_kernel(SIDE)] != 0).any())
    entries = (int((a_first[0] != 0).sum()), int((_affinity(large, _input(large, 2 * SIDE, seed + 1))[0] != 0).sum()))
    out = small(first)
    shifted = small(torch.roll(first, 1, dims=-1))
    inner = slice(KERNEL, SIDE - KERNEL)  # far enough from the border (and the wrapped column) for the kernel
    gap = (shifted - torch.roll(out, 1, dims=-1))[..., inner, inner].abs().max() / out.abs().max()
    return MeasuredProperties(
        key=kind.key, dynamic=dynamic, dense=dense,
        parameters=(count_parameters(small), count_parameters(large)), entries=entries,
        tied_to_grid=_refuses(small, SIDE + 1), shift_equivariant=float(gap) < _EXACT)


def measure_all(seed: int = 0) -> dict[str, MeasuredProperties]:
    """Every kind of the registry, in its order."""
    return {key: measure(kind, seed) for key, kind in KINDS.items()}


def registry_claims(kind: AggregationKind) -> dict[str, object]:
    """What the registry's fields say for the measured columns.

    A static dense part (one learned ``N x N`` matrix) ties a kind to one grid and breaks shift-equivariance;
    attention without a position encoding and a conv keep it. A dense kind's ``A`` has ``N²`` entries.
    """
    static = KINDS.get(kind.static_part) if kind.static_part else None
    learned_matrix = static is not None and static.dense and not static.dynamic
    return {"dynamic": kind.dynamic, "dense": kind.dense, "tied_to_grid": learned_matrix,
            "shift_equivariant": not learned_matrix, "cost": COST_N_SQUARED if kind.dense else COST_N_K_SQUARED}
