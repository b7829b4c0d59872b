"""The ``cost`` lesson: what each affinity costs, like with like, as N grows (measured); the benefit side is the
``reach`` lesson."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import pandas as pd
import streamlit as st
import torch

from app.i18n import N_, _
from container_edu.ops import affinity as aff
from container_edu.figures import colors
from container_edu.ops.aggregation import DepthwiseConvAggregation, MultiHeadSelfAttention, TokenMixing, count_parameters
from container_edu.models import CBlock, ContainerLight, ContainerLightConfig, MixBlock
from container_edu.record.trace import record_affinities

from app.lessons.parts import figures
from app.lessons.parts.cost_compare import DETECTION_INPUT, detection_stage1_grid, like_with_like
from app.lessons.parts.course import lesson_ref
from app.lessons.parts.math_text import math_sentence
from app.lessons.parts.widgets import Question, check_close, check_prediction, predict, goals, math_block, quiz, verify_panel

KEY = "cost"
GROWTH_PREDICTIONS = ("4 ×", "16 ×", "64 ×", "256 ×")
TITLE = N_("What each affinity costs, like with like")

SIDES = (7, 14, 28, 56)
CHANNELS = 64
HEADS = 2  # 32 channels per head, as in Container-Light's attention stage (512 channels / 16 heads)
KERNEL = 5
FLOAT_BYTES = 4
OPERATOR_LINE_COLORS = [colors.OPERATOR_COLORS[name] for name in ("attention", "conv", "mixer")]


GOALS = [
    N_("Measure on this machine how the time of attention, depthwise conv and token mixing grows with N."),
    N_("Count what each one actually stores: attention's M·N² affinity per image, the conv's C·k² kernel weights (it "
       "never builds A), the mixer's N² parameters per matrix, and every operator's C·N output."),
    N_("Scale the count up to a detection-size input, the case Container-Light was built for."),
]

_GROWTH = 56**2 // 14**2

QUESTIONS = (
    Question(
        N_("The grid grows from 14 × 14 to 56 × 56 tokens. By how much does one attention head's affinity grow?"),
        (
            (N_("{squared} ×"), N_("N grows {growth} × ({small} → {big}), and the affinity has N² entries: "
                                   "{growth}² = {squared} ×.")),
            (N_("{growth} ×, as many times as the number of tokens"),
             N_("That is how N grows; the affinity is N × N, so it grows with N².")),
            (N_("{side_growth} ×, like the side of the grid"),
             N_("The side grows {side_growth} ×, N grows {growth} ×, N² grows {squared} ×.")),
        ),
        0,
        fields={"growth": _GROWTH, "squared": _GROWTH ** 2, "small": 14 ** 2, "big": 56 ** 2, "side_growth": 56 // 14},
    ),
    Question(
        N_("Why not put an MLP-Mixer in stage 1 instead (it has no softmax to compute)?"),
        (
            (N_("{millions:.1f} M parameters per matrix, tied to one input size"),
             N_("A static dense affinity pays N² in parameters and fixes N; the conv pays k² per channel and works on "
                "any grid.")),
            (N_("A Mixer recomputes its matrix for every image, which is too slow at that size"),
             N_("The Mixer's affinity is static; its problem is size and being tied to N.")),
            (N_("A Mixer mixes channels, not tokens, so it gathers no spatial context"),
             N_("Token mixing is exactly what it does, with a dense learned N × N matrix.")),
        ),
        0,
        fields={"millions": 56 ** 4 / 1e6},
    ),
)


@dataclass(frozen=True)
class CostRow:
    side: int
    tokens: int
    attention_ms: float
    conv_ms: float
    mixer_ms: float
    attention_bytes: int  # measured: the affinity tensor attention built, one image
    conv_bytes: int  # measured: the conv's kernel weights, all it stores (conv2d never builds A)
    mixer_bytes: int  # measured: the mixer's parameter tensor
    output_bytes: int  # measured: one operator's output Y (C × N), the activation every operator writes


def _best_time(function, repeats: int) -> float:
    function()  # warm-up
    best = math.inf
    for _repeat in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best * 1000.0


def _measure(sides: tuple[int, ...]) -> list[CostRow]:
    rows = []
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for side in sides:
            tokens = side * side
            qkv = torch.randn(1, 3 * CHANNELS, side, side, generator=generator)
            v = qkv[:, 2 * CHANNELS :]
            attention = MultiHeadSelfAttention(HEADS)
            conv = DepthwiseConvAggregation(CHANNELS, KERNEL)
            mixer = TokenMixing(tokens)
            repeats = 1 if tokens > 1000 else 3
            affinity = attention.affinity(qkv)
            output = conv(v)
            rows.append(CostRow(
                side=side,
                tokens=tokens,
                attention_ms=_best_time(lambda: aff.aggregate(attention.affinity(qkv), attention.values(qkv)), repeats),
                conv_ms=_best_time(lambda: conv(v), repeats),
                mixer_ms=_best_time(lambda: mixer(v), repeats),
                attention_bytes=affinity.numel() * affinity.element_size(),
                conv_bytes=conv.weight.numel() * conv.weight.element_size(),
                mixer_bytes=mixer.weight.numel() * mixer.weight.element_size(),
                output_bytes=output.numel() * output.element_size(),
            ))
            del affinity, output
    return rows


def measure_costs(sides: tuple[int, ...] = SIDES) -> tuple[list[CostRow], float]:
    """Time each operator on this machine (best of a few runs) and count its affinity bytes; returns rows, seconds.

    Runs in a short-lived thread limited to one torch thread: with OpenMP the thread count is per thread, so
    other sessions keep theirs, and one thread gives steadier numbers on a shared machine.
    """
    result: dict = {}

    def work() -> None:
        torch.set_num_threads(1)
        start = time.perf_counter()
        result["rows"] = _measure(sides)
        result["seconds"] = time.perf_counter() - start

    worker = threading.Thread(target=work, name="lesson-cost-benchmark")
    worker.start()
    worker.join()
    return result["rows"], result["seconds"]


@st.cache_data(show_spinner=False)
def container_light_stages() -> list[dict]:
    """Grid, tokens and block type of each Container-Light stage at 224 × 224, read off a recorded forward pass.

    A narrow copy (same strides and block types, tiny widths) runs in well under a second.
    """
    reference = ContainerLightConfig()
    narrow = ContainerLight(ContainerLightConfig(embed_dims=(8, 8, 8, 16), depths=(1, 1, 1, 1), num_heads=2)).eval()
    with torch.no_grad(), record_affinities() as records:
        narrow(torch.zeros(1, 3, reference.img_size, reference.img_size))
    stages = []
    for stage in range(1, 5):
        name = f"blocks{stage}.0"
        block = narrow.get_submodule(name)
        # English in the cache (shared by all sessions); the lessons draw it with _().
        kind = N_("MixBlock (attention + conv)") if isinstance(block, MixBlock) else (
            N_("CBlock (conv only)") if isinstance(block, CBlock) else type(block).__name__)
        height, width = records[name].grid
        stages.append({"stage": stage, "grid": f"{height} × {width}", "side": height, "tokens N": height * width,
                       "channels C": reference.embed_dims[stage - 1], "block": kind,
                       "stride so far": math.prod(reference.patch_sizes[:stage])})
    return stages


def megabytes(count: int) -> str:
    return f"{count / 2**20:,.2f} MiB" if count >= 2**20 else f"{count / 2**10:,.1f} KiB"


def render() -> None:
    goals(GOALS)
    math_block(
        math_sentence(_("attention: {entries} affinity entries built per image, {time} time"),
                      entries=r"M \cdot N^2", time="O(N^2 C)"),
        math_sentence(_("depthwise conv: {weights} kernel weights ({affinity} is never built), {time} time"),
                      weights="C k^2", affinity="A", time="O(N k^2 C)"),
        math_sentence(_("mixer: {parameters} parameters per matrix, {time} time"), parameters="N^2", time="O(N^2 C)")
        + r";\qquad " + math_sentence(_("every operator: {outputs} output activations"), outputs=r"C \cdot N"),
        caption=_("Measured here with C = {channels} channels, M = {heads} heads ({per_head} channels each), a "
                  "{kernel} × {kernel} conv, batch 1, float32, on one CPU thread. Attention is timed as its explicit "
                  "affinity plus A V; the conv as conv2d (which computes A V without building A); the mixer as its "
                  "matrix product.").format(channels=CHANNELS, heads=HEADS, per_head=CHANNELS // HEADS,
                                            kernel=KERNEL),
    )

    prediction = predict("cost_prediction", _("Predict before reading the plots: from 14 × 14 to 56 × 56 tokens, "
                                              "attention's affinity memory per image grows by"), GROWTH_PREDICTIONS)
    remeasure = st.button(_("Measure again"), key="cost_remeasure")
    stored = st.session_state.get("cost_costs")
    if stored is None or remeasure:
        with st.spinner(_("Timing the three operators on this machine…")):
            stored = measure_costs()
        st.session_state["cost_costs"] = stored
    rows, seconds = stored
    stages = container_light_stages()
    stage_of = {stage["tokens N"]: stage for stage in stages}

    tokens = [row.tokens for row in rows]
    time_fig = figures.lines(
        [(_("attention (A(X), then A V)"), tokens, [r.attention_ms for r in rows]),
         (_("depthwise conv {kernel}×{kernel}").format(kernel=KERNEL), tokens, [r.conv_ms for r in rows]),
         (_("mixer (A V)"), tokens, [r.mixer_ms for r in rows])],
        _("Measured time per image vs tokens N (C = {channels}, this machine)").format(channels=CHANNELS),
        _("tokens N (log)"), _("time (ms, log)"), log_x=True, log_y=True, colors=OPERATOR_LINE_COLORS)
    memory_fig = figures.lines(
        [(_("attention: the M·N² affinity it builds ({heads} heads, per image)").format(heads=HEADS), tokens,
          [r.attention_bytes for r in rows]),
         (_("conv: its C·k² kernel weights (A never built)"), tokens, [r.conv_bytes for r in rows]),
         (_("mixer: its N² parameters"), tokens, [r.mixer_bytes for r in rows]),
         (_("any of the three: its C·N output (C = {channels}, per image)").format(channels=CHANNELS), tokens,
          [r.output_bytes for r in rows])],
        _("What each operator stores vs tokens N (float32 bytes, measured)"), _("tokens N (log)"), _("bytes (log)"),
        log_x=True, log_y=True, colors=OPERATOR_LINE_COLORS + ["gray"])
    memory_fig.data[-1].line.dash = "dash"  # shared by all three operators, not an affinity
    for fig in (time_fig, memory_fig):
        figures.add_vertical_markers(fig, [stage["tokens N"] for stage in stages],
                                     [_("stage {stage}").format(stage=stage["stage"]) for stage in stages])
    left, right = st.columns(2)
    left.plotly_chart(time_fig, key="cost_fig_time")
    right.plotly_chart(memory_fig, key="cost_fig_memory")

    st.dataframe(pd.DataFrame([
        {
            _("Container-Light stage"): stage_of[r.tokens]["stage"] if r.tokens in stage_of else "—",
            _("grid"): f"{r.side} × {r.side}", "N": r.tokens,
            _("attention ms"): round(r.attention_ms, 3), _("conv ms"): round(r.conv_ms, 3),
            _("mixer ms"): round(r.mixer_ms, 3),
            _("attention affinity (per image)"): megabytes(r.attention_bytes),
            _("conv kernel"): megabytes(r.conv_bytes), _("mixer parameters"): megabytes(r.mixer_bytes),
            _("output C·N (per image)"): megabytes(r.output_bytes),
        }
        for r in rows
    ]), hide_index=True, width="stretch")
    big, small = rows[-1], rows[0]
    growth = big.tokens // small.tokens
    conv_growth = big.conv_ms / small.conv_ms
    growth_text = _("Measured in {seconds:.2f} s. From {small}×{small} to {big}×{big}, N grows {growth}×: "
                    "attention's time grew {attention_time:,.0f}× and its affinity {attention_memory:,}×; the conv's "
                    "time grew {conv_time:,.0f}×.").format(
        seconds=seconds, small=small.side, big=big.side, growth=growth,
        attention_time=big.attention_ms / small.attention_ms,
        attention_memory=big.attention_bytes // small.attention_bytes, conv_time=conv_growth)
    if conv_growth < growth / 2:
        growth_text += " " + _("The conv's work grows {growth}× too (O(N k² C)); it measured only {conv_time:,.0f}× "
                               "because fixed per-call costs dominate the small grids.").format(
            growth=growth, conv_time=conv_growth)
    st.caption(growth_text + " " + _(
        "At {big}×{big} one image's attention affinity takes {affinity} for just {heads} heads, against {output} for "
        "the output itself; the conv stores {kernel} on any grid, and a mixer would need {parameters:,} parameters "
        "per matrix.").format(big=big.side, affinity=megabytes(big.attention_bytes), heads=HEADS,
                              output=megabytes(big.output_bytes), kernel=megabytes(big.conv_bytes),
                              parameters=big.mixer_bytes // FLOAT_BYTES))
    st.markdown(_("**Like with like.** The three operators on the same grid (the largest measured, N = {tokens:,}), "
                  "counted the same way for each:").format(tokens=big.tokens))
    st.dataframe(pd.DataFrame(like_with_like(big.tokens, CHANNELS, HEADS, KERNEL, translate=_)), hide_index=True,
                 width="stretch")
    det_h, det_w = detection_stage1_grid(ContainerLightConfig())
    det_tokens = det_h * det_w
    st.caption(_(
        "Only attention holds an N × N affinity per image: the conv computes A V straight from its kernel, and the "
        "mixer's matrices are its parameters. At detection size, {image_h} × {image_w} pixels, Container-Light's "
        "stage 1 has a {grid_h} × {grid_w} grid: {tokens:,} tokens, so one head's affinity would hold {entries:,} "
        "entries ({gigabytes:,.1f} GB in float32) per image, and a mixer could not run at all on a grid other than "
        "the one it was trained on. What attention buys for its cost is the subject of {reach_lesson}.").format(
        image_h=DETECTION_INPUT[0], image_w=DETECTION_INPUT[1], grid_h=det_h, grid_w=det_w, tokens=det_tokens,
        entries=det_tokens ** 2, gigabytes=det_tokens ** 2 * FLOAT_BYTES / 1e9, reach_lesson=lesson_ref("reach")))

    # Verify: what each operator stores, counted from the modules and tensors actually built.
    small_sides = [s for s in SIDES if s <= 28]
    by_side = {r.side: r for r in rows}
    growth_measured = by_side[56].attention_bytes / by_side[14].attention_bytes
    measured = min(GROWTH_PREDICTIONS, key=lambda option: abs(float(option.split(" ")[0]) - growth_measured))
    verify_panel(
        ([check_prediction(prediction, measured)] if prediction is not None else []) + [
            check_close(_("attention: bytes of the affinity actually built = M·N²·4"),
                        [r.attention_bytes for r in rows], [HEADS * r.tokens**2 * FLOAT_BYTES for r in rows]),
            check_close(_("conv: bytes of its kernel = C·k²·4 on every grid (no N in it)"),
                        [r.conv_bytes for r in rows], [CHANNELS * KERNEL**2 * FLOAT_BYTES] * len(rows)),
            check_close(_("mixer: parameters of TokenMixing(N) = N²"),
                        [count_parameters(TokenMixing(s * s)) for s in small_sides], [(s * s) ** 2 for s in small_sides]),
            check_close(_("output of each operator: bytes = C·N·4"),
                        [r.output_bytes for r in rows], [CHANNELS * r.tokens * FLOAT_BYTES for r in rows]),
        ],
        _("only attention's memory grows with N², the conv stores C·k² weights on any grid, and the mixer N² per "
          "matrix"),
    )
    quiz(KEY, QUESTIONS)
