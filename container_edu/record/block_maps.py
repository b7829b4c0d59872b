"""One block's affinity rows for one query: plain data, made by :func:`container_edu.record.inspection.block_maps`
and drawn by :mod:`container_edu.figures.maps` (which needs only this type, not the inspection)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BlockMaps", "clamp_query"]


@dataclass(frozen=True)
class BlockMaps:
    """One block's affinity rows for one query, on the block's ``H x W`` grid.

    ``*_heads`` are ``(M, H, W)`` (``None`` when the block lacks that part);
    ``attention`` / ``static`` / ``blended`` are the chosen head's ``(H, W)``.
    """

    block: str
    kind: str
    grid: tuple[int, int]
    head: int
    query: tuple[int, int]
    alpha: float
    beta: float
    attention_heads: np.ndarray | None
    static_heads: np.ndarray | None
    blended_heads: np.ndarray

    @property
    def num_heads(self) -> int:
        return self.blended_heads.shape[0]

    @property
    def parts(self) -> list[str]:
        """The parts worth showing: the blend only when there are two things to blend."""
        parts = [name for name, rows in (("attention", self.attention_heads), ("static", self.static_heads))
                 if rows is not None]
        return parts + ["blended"] if len(parts) == 2 else parts

    @property
    def attention(self) -> np.ndarray | None:
        return None if self.attention_heads is None else self.attention_heads[self.head]

    @property
    def static(self) -> np.ndarray | None:
        return None if self.static_heads is None else self.static_heads[self.head]

    @property
    def blended(self) -> np.ndarray:
        return self.blended_heads[self.head]


def clamp_query(query: tuple[int, int], grid: tuple[int, int]) -> tuple[int, int]:
    """The nearest valid grid position (a query kept from a block with a larger grid)."""
    return min(max(int(query[0]), 0), grid[0] - 1), min(max(int(query[1]), 0), grid[1] - 1)
