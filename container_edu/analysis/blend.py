"""The Blend page's arithmetic: which blocks blend, the range a blend may be moved in, a blend written as text,
and how far a moved blend moves the prediction. No Streamlit; the page draws the sliders and figures.

A blend is ``{block: (alpha, beta)}`` as :func:`container_edu.models.blend_parameters` reads it from a model and
:func:`container_edu.override_blend` takes it. Container-Light's ``beta`` is ``1 - alpha``; Container's is free.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from torch import nn

from container_edu.errors import ContainerEduError
from container_edu.ops.kinds import KINDS, AggregationKind
from container_edu.text import N_

__all__ = ["BLEND_STEP", "BlendTextError", "blend_kinds", "learns_beta", "blend_range", "parse_blend", "blend_text",
           "probability_moved"]

#: A moved blend is kept to two decimals (the sliders' step).
BLEND_STEP = 0.01


class BlendTextError(ContainerEduError, ValueError):
    """A blend written as text that the model cannot take (``reason``: a key of ``TEMPLATES``)."""

    TEMPLATES = {
        "unknown_block": N_("no blended block {block} in this model"),
        "alpha_beta": N_("write block:α:β"),
        "alpha_only": N_("write block:α (β = 1 − α)"),
        "not_a_number": N_("{item} is not block:number"),
        "out_of_range": N_("{value:g} is outside the slider's range"),
    }

    def __init__(self, reason: str, /, **fields: object) -> None:
        # A pickled error is rebuilt from its template (ContainerEduError.__reduce__), not its reason.
        super().__init__(self.TEMPLATES.get(reason, reason), **fields)


def blend_kinds(model: nn.Module) -> list[AggregationKind]:
    """The kinds of the model's blended blocks (each aggregation module names its kind), in the registry's order."""
    keys = {getattr(module, "kind", None) for module in model.modules()}
    return [kind for key, kind in KINDS.items() if key in keys and kind.uses_blend]


def learns_beta(kinds: list[AggregationKind]) -> bool:
    """Whether any of these kinds learns ``beta`` apart from ``alpha`` (Container; Container-Light's is ``1 - alpha``)."""
    return any(kind.blend == "alpha_beta" for kind in kinds)


def blend_range(learned: float) -> tuple[float, float]:
    """How far a blend weight may be moved: 0 to 1, widened to include the learned value (rounded to the step)."""
    value = round(learned, 2)
    return min(0.0, value), max(1.0, value)


def parse_blend(text: str, learned: Mapping[str, tuple[float, float]],
                free_beta: bool) -> dict[str, tuple[float, float]]:
    """``"blocks2.0:0.3:0.7,blocks2.1:0.9"`` (β only where it is free) as ``{block: (α, β)}``.

    Raises :class:`BlendTextError` for a block the model does not blend, a wrong count of numbers, a word where a
    number belongs, or a value outside :func:`blend_range` (with the sliders' rounding).
    """
    blend = {}
    for item in filter(None, text.split(",")):
        block, *numbers = item.split(":")
        if block not in learned:
            raise BlendTextError("unknown_block", block=repr(block))
        if len(numbers) != (2 if free_beta else 1):
            raise BlendTextError("alpha_beta" if free_beta else "alpha_only")
        try:
            values = [round(float(n), 2) for n in numbers]
        except ValueError:
            raise BlendTextError("not_a_number", item=repr(item)) from None
        for value, learned_value in zip(values, learned[block]):
            low, high = blend_range(learned_value)
            if not low - BLEND_STEP <= value <= high + BLEND_STEP:
                raise BlendTextError("out_of_range", value=value)
        blend[block] = (values[0], values[1] if free_beta else round(1.0 - values[0], 2))
    return blend


def blend_text(blend: Mapping[str, tuple[float, float]], free_beta: bool) -> str | None:
    """The text :func:`parse_blend` reads back (``None`` for no moved block)."""
    parts = [f"{block}:{a:g}:{b:g}" if free_beta else f"{block}:{a:g}" for block, (a, b) in blend.items()]
    return ",".join(parts) or None


def probability_moved(before: np.ndarray, after: np.ndarray) -> float:
    """Total variation distance between two predicted distributions: half the sum of ``|p_before - p_after|``."""
    return 0.5 * float(np.abs(np.asarray(before, dtype=np.float64) - np.asarray(after, dtype=np.float64)).sum())
