"""The ``cost`` lesson: what each affinity costs, like with like, as N grows (measured); the benefit side is the
``reach`` lesson."""

from __future__ import annotations

import math
import os
import platform
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

from app.figure_view import show_figure
from app.lessons.parts import figures
from app.lessons.parts.cost_compare import DETECTION_INPUT, detection_stage1_grid, like_with_like
from app.lessons.parts.course import lesson_ref
from app.lessons.parts.math_text import math_sentence
from app.lessons.parts.steps import Step
from app.lessons.parts.widgets import (Prediction, Question, check_close, check_prediction, goals, math_block, quiz,
                                      revealed, verify_panel)

KEY = "cost"
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
            # Best of three against a busy machine; attention's largest grid once (it alone takes most of a second).
            repeats = 3
            affinity = attention.affinity(qkv)
            output = conv(v)
            rows.append(CostRow(
                side=side,
                tokens=tokens,
                attention_ms=_best_time(lambda: aff.aggregate(attention.affinity(qkv), attention.values(qkv)),
                                        1 if tokens > 1000 else repeats),
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


def this_machine() -> str:
    """What the timings depend on besides the sizes: the host, its cores and the torch build."""
    return f"{platform.node()}|{platform.machine()}|{os.cpu_count()}|torch {torch.__version__}"


# The same for every learner on this server: measured once, by the first learner to reveal, then shared (the page
# says when). Language-neutral: rows, seconds and the time measured (UTC seconds since the epoch).
@st.cache_data(show_spinner=False, max_entries=4)
def server_costs(sides: tuple[int, ...], machine: str) -> tuple[list[CostRow], float, float]:
    rows, seconds = measure_costs(sides)
    return rows, seconds, time.time()


def measured_when(epoch_seconds: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch_seconds))


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



#: The prediction compares the smallest-but-one and the largest grid: N grows 16×, N² 256×.
PREDICT_SIDES = (14, 56)
#: A time "grows like N²" when it grew more than this: the geometric middle of N's 16× and N²'s 256×.
N_SQUARED_GROWTH = math.sqrt((56**2 / 14**2) * (56**4 / 14**4))
BOTH_QUADRATIC = N_("attention and the mixer: both do N²·C work per image")
PREDICTION = Prediction(
    "cost_prediction",
    N_("The grid grows from {small} × {small} to {big} × {big} tokens: N grows {growth}×, N² {squared}×. Whose "
       "measured time grows far faster than N?"),
    (N_("only attention: its softmax is what costs"), BOTH_QUADRATIC, N_("all three, the conv included"),
     N_("none: all three grow about like N")),
    fields={"small": PREDICT_SIDES[0], "big": PREDICT_SIDES[1], "growth": _GROWTH, "squared": _GROWTH ** 2},
)
_OTHER_PATTERN = N_("another pattern (see the table)")


def time_growth(rows: list[CostRow]) -> dict[str, float]:
    """How many times each operator's measured time grew between the prediction's two grids."""
    by_side = {row.side: row for row in rows}
    small, big = by_side[PREDICT_SIDES[0]], by_side[PREDICT_SIDES[1]]
    return {"attention": big.attention_ms / small.attention_ms, "conv": big.conv_ms / small.conv_ms,
            "mixer": big.mixer_ms / small.mixer_ms}


def measured_answer(growth: dict[str, float]) -> str:
    """The option that the measured growth matches: which operators grew more than :data:`N_SQUARED_GROWTH`×."""
    fast = {name for name, times in growth.items() if times > N_SQUARED_GROWTH}
    options = PREDICTION.options
    return {frozenset({"attention"}): options[0], frozenset({"attention", "mixer"}): options[1],
            frozenset({"attention", "conv", "mixer"}): options[2], frozenset(): options[3]}.get(frozenset(fast),
                                                                                              _OTHER_PATTERN)


def _why() -> None:
    st.markdown(_(
        "Attention's dynamic, global affinity is not free: it is an N × N matrix, built again for every image. "
        "Before asking where a network can afford it, measure what each of the three operators costs in time and "
        "memory as the grid grows, counted the same way for each."))
    goals(GOALS)


def _idea() -> None:
    math_block(
        math_sentence(_("attention: {entries} affinity entries built per image, {time} time"),
                      entries=r"M \cdot N^2", time="O(N^2 C)"),
        math_sentence(_("depthwise conv: {weights} kernel weights ({affinity} is never built), {time} time"),
                      weights="C k^2", affinity="A", time="O(N k^2 C)"),
        math_sentence(_("mixer: {parameters} parameters per matrix, {time} time"), parameters="N^2", time="O(N^2 C)")
        + r";\qquad " + math_sentence(_("every operator: {outputs} output activations"), outputs=r"C \cdot N"),
        caption=_("Measured with C = {channels} channels, M = {heads} heads, a {kernel} × {kernel} conv, batch 1, "
                  "float32, one CPU thread. Attention is timed as its explicit affinity plus A V; the conv as conv2d "
                  "(A V without building A); the mixer as its matrix product.").format(
            channels=CHANNELS, heads=HEADS, kernel=KERNEL),
    )


def _measured_rows() -> tuple[list[CostRow], float]:
    remeasure = st.button(_("Measure again"), key="cost_remeasure")
    stored = st.session_state.get("cost_costs")
    if stored is None or remeasure:
        with st.spinner(_("Timing the three operators on this machine…")):
            if remeasure:  # this learner's own, fresh measurement; the server's shared one stays as it was
                rows, seconds = measure_costs()
                when, shared = time.time(), False
            else:
                rows, seconds, when = server_costs(SIDES, this_machine())
                shared = True
        stored = (rows, seconds)
        st.session_state["cost_costs"] = stored
        st.session_state["cost_measured"] = (when, shared)
    when, shared = st.session_state.get("cost_measured", (time.time(), False))
    st.caption(_("Measured on this server at {time}, once for every learner; press Measure again for your own "
                 "measurement.").format(time=measured_when(when)) if shared else
               _("Measured again for you at {time}.").format(time=measured_when(when)))
    return stored


def _cost_figures(rows: list[CostRow]) -> None:
    stages = container_light_stages()
    tokens = [row.tokens for row in rows]
    time_fig = figures.lines(
        [(_("attention (A(X), then A V)"), tokens, [r.attention_ms for r in rows]),
         (_("depthwise conv {kernel}×{kernel}").format(kernel=KERNEL), tokens, [r.conv_ms for r in rows]),
         (_("mixer (A V)"), tokens, [r.mixer_ms for r in rows])],
        _("Measured time per image vs tokens N (C = {channels}, this machine)").format(channels=CHANNELS),
        _("tokens N (log)"), _("time (ms, log)"), log_x=True, log_y=True, colors=OPERATOR_LINE_COLORS, height=300)
    memory_fig = figures.lines(
        [(_("attention: the M·N² affinity it builds ({heads} heads, per image)").format(heads=HEADS), tokens,
          [r.attention_bytes for r in rows]),
         (_("conv: its C·k² kernel weights (A never built)"), tokens, [r.conv_bytes for r in rows]),
         (_("mixer: its N² parameters"), tokens, [r.mixer_bytes for r in rows]),
         (_("any of the three: its C·N output (C = {channels}, per image)").format(channels=CHANNELS), tokens,
          [r.output_bytes for r in rows])],
        _("What each operator stores vs tokens N (float32 bytes, measured)"), _("tokens N (log)"), _("bytes (log)"),
        log_x=True, log_y=True, colors=OPERATOR_LINE_COLORS + ["gray"], height=300)
    memory_fig.data[-1].line.dash = "dash"  # shared by all three operators, not an affinity
    for fig in (time_fig, memory_fig):
        figures.add_vertical_markers(fig, [stage["tokens N"] for stage in stages],
                                     [_("stage {stage}").format(stage=stage["stage"]) for stage in stages])
    # One chart at a time, at full width: side by side, their text alternatives wrapped into tall narrow columns.
    time_tab, memory_tab = st.tabs([_("Time"), _("Memory")])
    with time_tab:
        show_figure(time_fig, key="cost_fig_time")
    with memory_tab:
        show_figure(memory_fig, key="cost_fig_memory")
    stage_of = {stage["tokens N"]: stage for stage in stages}
    with st.expander(_("The measured numbers, per grid")):
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


def _predict_and_reveal() -> None:
    choice = PREDICTION.ask(KEY)
    if not revealed(KEY, choice):
        return
    rows, seconds = _measured_rows()
    _cost_figures(rows)
    growth = time_growth(rows)
    text = _("Measured in {seconds:.2f} s. From {small}×{small} to {big}×{big} (N × {tokens}, N² × {squared}), "
             "attention's time grew {attention:,.0f}×, the mixer's {mixer:,.0f}×, the conv's {conv:,.0f}×.").format(
        seconds=seconds, small=PREDICT_SIDES[0], big=PREDICT_SIDES[1], tokens=_GROWTH, squared=_GROWTH ** 2,
        attention=growth["attention"], mixer=growth["mixer"], conv=growth["conv"])
    if growth["conv"] < _GROWTH / 2:
        text += " " + _("The conv's work grows {growth}× (O(N k² C)); fixed per-call costs hide it on small "
                        "grids.").format(growth=_GROWTH)
    st.caption(text)  # what each operator stores is on the Memory tab and in the Verify panel below

    # Verify: the learner's prediction against the measured times; what each operator stores, counted from the
    # modules and tensors actually built.
    small_sides = [s for s in SIDES if s <= 28]
    verify_panel(
        [check_prediction(choice, measured_answer(growth)),
         check_close(_("attention: bytes of the affinity built for one image = M·N²·4"),
                     [r.attention_bytes for r in rows], [HEADS * r.tokens**2 * FLOAT_BYTES for r in rows]),
         check_close(_("conv: bytes of its kernel = C·k²·4 on every grid (no N in it)"),
                     [r.conv_bytes for r in rows], [CHANNELS * KERNEL**2 * FLOAT_BYTES] * len(rows)),
         check_close(_("mixer: parameters of TokenMixing(N) = N²"),
                     [count_parameters(TokenMixing(s * s)) for s in small_sides], [(s * s) ** 2 for s in small_sides]),
         check_close(_("output of each operator: bytes = C·N·4"),
                     [r.output_bytes for r in rows], [CHANNELS * r.tokens * FLOAT_BYTES for r in rows])],
        _("attention's and the mixer's time grow with N², the conv's with N. Per image, only attention's activation "
          "memory grows with N² (its M·N² affinity); the conv keeps C·k² weights on any grid, and the mixer's N² "
          "per matrix are parameters, the same for every image"),
        lesson=KEY,
    )


def _like_with_like() -> None:
    side = SIDES[-1]
    tokens = side * side
    st.markdown(_("**Like with like.** The three operators on one grid ({side} × {side}, N = {tokens:,}), counted "
                  "the same way for each:").format(side=side, tokens=tokens))
    st.dataframe(pd.DataFrame(like_with_like(tokens, CHANNELS, HEADS, KERNEL, translate=_)), hide_index=True,
                 width="stretch")
    det_h, det_w = detection_stage1_grid(ContainerLightConfig())
    det_tokens = det_h * det_w
    st.markdown(_(
        "Only attention holds an N × N affinity per image: the conv computes A V straight from its kernel, and the "
        "mixer's matrices are its parameters. At detection size, {image_h} × {image_w} pixels, Container-Light's "
        "stage 1 has a {grid_h} × {grid_w} grid: {tokens:,} tokens, so one head's affinity would hold {entries:,} "
        "entries ({gigabytes:,.1f} GB in float32) per image, and a mixer could not run at all on a grid other than "
        "the one it was trained on.").format(
        image_h=DETECTION_INPUT[0], image_w=DETECTION_INPUT[1], grid_h=det_h, grid_w=det_w, tokens=det_tokens,
        entries=det_tokens ** 2, gigabytes=det_tokens ** 2 * FLOAT_BYTES / 1e9))
    st.markdown(_("What attention buys for this cost is the subject of {reach_lesson}.").format(
        reach_lesson=lesson_ref("reach")))


def _check() -> None:
    quiz(KEY, QUESTIONS)


STEPS = (
    Step("why", N_("Why it matters"), _why),
    Step("idea", N_("The idea and the math"), _idea),
    Step("predict", N_("Predict, then measure"), _predict_and_reveal),
    Step("scale", N_("Like with like, at detection size"), _like_with_like),
    Step("check", N_("Check your understanding"), _check),
)
KEPT = ()


def render() -> None:
    """Every step, one after another (the notebook and the worksheet; the page shows one step at a time)."""
    for step in STEPS:
        step.draw()
