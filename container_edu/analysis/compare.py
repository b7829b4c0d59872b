"""One block, head and query on two images: which kinds of affinity change with the image."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from container_edu import checks
from container_edu.record.trace import AggregationRecord

__all__ = ["RowComparison", "compare_rows"]


@dataclass(frozen=True)
class RowComparison:
    """One kind of affinity, one head, one query, on two images.

    ``row_a`` / ``row_b``: the head's row on the grid ``(H, W)`` (float64);
    ``max_abs_diff`` = ``max_j |row_a[j] - row_b[j]|``, ``l1_diff`` = ``sum_j |row_a[j] - row_b[j]|``;
    ``max_abs_diff_all`` the same maximum over every head (every channel for a conv's static part);
    ``scale`` = ``max |row_a|``, ``max |row_b|``: what the difference is small against.
    """

    kind: str  # "attention", "static" or "blended"
    dynamic: bool
    row_a: Tensor
    row_b: Tensor
    max_abs_diff: float
    l1_diff: float
    max_abs_diff_all: float
    scale: float


def compare_rows(record_a: AggregationRecord, record_b: AggregationRecord, head: int,
                 query: int | tuple[int, int]) -> list[RowComparison]:
    """Each kind's row of one block, head and query on two images (records of one block from two forward passes).

    Rows as the inspector shows them: ``A_m(X)[i]``, the static row of the
    head (a conv averaged over the head's channels, signed) and the blend
    ``alpha A_m(X)[i] + beta A_m^static[i]``. A static kind does not depend
    on the image, so its difference is 0 to float precision; attention's is not.
    """
    for field in ("name", "kind", "grid", "num_heads"):
        if getattr(record_a, field) != getattr(record_b, field):
            raise ValueError(f"the two records are of different blocks: {field} "
                             f"{getattr(record_a, field)!r} vs {getattr(record_b, field)!r}")
    head = checks.head_index(head, record_a.num_heads, where=record_a.name)
    rows = {
        "attention": (record_a.attention_row(query), record_b.attention_row(query), None, None),
        "static": (record_a.static_head_row(query), record_b.static_head_row(query),
                   record_a.static_row(query), record_b.static_row(query)),
    }
    if rows["attention"][0] is not None or rows["static"][0] is not None:
        rows["blended"] = (record_a.blended_row(query), record_b.blended_row(query), None, None)
    results = []
    for kind, (heads_a, heads_b, all_a, all_b) in rows.items():
        if heads_a is None:
            continue
        if kind == "blended" and (rows["attention"][0] is None or rows["static"][0] is None):
            continue  # a blend of one part is that part
        row_a, row_b = heads_a[head].double(), heads_b[head].double()
        every_a = (all_a if all_a is not None else heads_a).double()
        every_b = (all_b if all_b is not None else heads_b).double()
        difference = (row_a - row_b).abs()
        results.append(RowComparison(
            kind=kind, dynamic=kind != "static", row_a=row_a, row_b=row_b,
            max_abs_diff=float(difference.max()), l1_diff=float(difference.sum()),
            max_abs_diff_all=float((every_a - every_b).abs().max()),
            scale=max(float(row_a.abs().max()), float(row_b.abs().max())),
        ))
    return results
