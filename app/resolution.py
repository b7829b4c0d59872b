"""The ImageNet model's input size in the Image inspector (224, 320 or 448), and a note of what it costs.

Container-Light has no position table, so a larger input simply gives
larger token grids: at 448 the attention stage works on 14 x 14 tokens
instead of 7 x 7 and every map is finer. The FLOPs come from
``torch.utils.flop_counter`` on a meta-device copy of the architecture (not
an estimate by hand); the seconds are the inspection's own measured time.
"""

from __future__ import annotations

import streamlit as st

from container_edu.data.input_size import INPUT_SIZES, forward_flops, stage_grids
from container_edu.record.inspection import Inspection

from app.i18n import _
from app.registry import IMAGENET, ModelRef

__all__ = ["SIZE_KEY", "input_size_picker", "cost_note"]

SIZE_KEY = "insp_input_size"
DEFAULT_SIZE = INPUT_SIZES[0]


def input_size_picker(ref: ModelRef) -> int | None:
    """The chosen input side for an ImageNet model (``None`` for the 28 x 28 Fashion-MNIST models)."""
    if ref.dataset != IMAGENET:
        return None
    if st.session_state.get(SIZE_KEY) not in INPUT_SIZES:
        st.session_state[SIZE_KEY] = DEFAULT_SIZE
    size = st.segmented_control(
        _("Input size"), INPUT_SIZES, key=SIZE_KEY, format_func=lambda s: f"{s}×{s}",
        help=_("224 is the size the weights were trained and evaluated at. Container-Light has no position table, "
               "so larger inputs run unchanged and give finer maps (the attention stage's grid grows from 7×7 to "
               "10×10 or 14×14), at a higher cost."),
    )
    return int(size) if size in INPUT_SIZES else DEFAULT_SIZE


def cost_note(size: int, inspection: Inspection, device: str) -> str:
    """One caption: the grids at this size, the FLOPs against 224, and the measured time of this forward pass."""
    grids = stage_grids(size)
    last = grids[-1][0] * grids[-1][1]
    flops, base = forward_flops(size), forward_flops(DEFAULT_SIZE)
    fields = dict(size=size, grids=_(", ").join(f"{h}×{w}" for h, w in grids), tokens=last, weights=last * last,
                  gflops=flops / 1e9, ratio=flops / base, base=DEFAULT_SIZE, seconds=inspection.seconds, device=device)
    if size == DEFAULT_SIZE:
        return _("At {size}×{size} the four stages work on {grids} token grids; stage 4's attention compares "
                 "{tokens} tokens with each other ({weights:,} weights per head). One forward pass is {gflops:.1f} "
                 "GFLOPs (counted by torch.utils.flop_counter). This recorded pass took {seconds:.2f} s on "
                 "{device}.").format(**fields)
    return _("At {size}×{size} the four stages work on {grids} token grids; stage 4's attention compares "
             "{tokens} tokens with each other ({weights:,} weights per head). One forward pass is {gflops:.1f} "
             "GFLOPs, {ratio:.1f}× the {base}×{base} input (counted by torch.utils.flop_counter). This recorded "
             "pass took {seconds:.2f} s on {device}.").format(**fields)
