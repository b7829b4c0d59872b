"""The ``reach`` lesson: what attention buys for its cost (the receptive field),
and why Container-Light blends only at 7 × 7."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st
import torch
import torch.nn.functional as F

from app.i18n import N_, _
from container_edu.ops import affinity as aff
from container_edu.figures import colors
from container_edu.ops.aggregation import MultiHeadSelfAttention
from container_edu.models import ContainerLightConfig

from app.figure_view import show_figure
from app.lessons.cost import FLOAT_BYTES, container_light_stages, megabytes
from app.lessons.parts import figures
from app.lessons.parts.course import lesson_ref
from app.lessons.parts.math_text import math_sentence
from app.lessons.parts.progress import session_store
from app.lessons.parts.steps import Step, go_to_step
from app.lessons.parts.widgets import (Prediction, Question, check_close, check_prediction, check_true, goals,
                                      math_block, quiz, revealed, verify_panel)

KEY = "reach"
TITLE = N_("Why static early, dynamic late")

_REFERENCE = ContainerLightConfig()
_STAGE_SIDES = [_REFERENCE.img_size // math.prod(_REFERENCE.patch_sizes[:k]) for k in range(1, 5)]
SIDES = (7, 14, 28, 56)
#: The prediction's fixed case (stage 3's grid at 224 input, 3 × 3 convs), so its options never change.
PREDICT_SIDE, PREDICT_KERNEL = 14, 3
PREDICTION = Prediction(
    "reach_prediction",
    N_("On a {side} × {side} grid, how many stacked {kernel} × {kernel} convs until every token sees every other "
       "token?"),
    (N_("1, as for attention"), "7", "13", N_("196, one per token")),
    fields={"side": PREDICT_SIDE, "kernel": PREDICT_KERNEL},
)
LAYER_PREDICTIONS = PREDICTION.options

GOALS = [
    N_("Measure how far a token sees after L layers of k × k convs, and after one attention layer."),
    N_("Weigh that benefit against the cost measured in {cost_lesson} at each stage of Container-Light."),
    N_("Explain why Container-Light uses conv-only blocks at {early}, and attention (blended with a conv) only at "
       "{late}."),
]
#: The grids the goals name, read off the configuration (filled in after translation, with the cost lesson's name).
GOAL_FIELDS = {"early": ", ".join(f"{side}×{side}" for side in _STAGE_SIDES[:-1]),
               "late": f"{_STAGE_SIDES[-1]}×{_STAGE_SIDES[-1]}"}

QUESTIONS = (
    Question(
        N_("Why does Container-Light use conv-only blocks in stages 1-3?"),
        (
            (N_("Attention's cost grows with N², and N is large there"),
             N_("Dynamic, dense context is affordable only once the grid is small (49 tokens at stage 4); the convs "
                "and the downsampling between stages widen the receptive field until then.")),
            (N_("Attention cannot run on large grids"),
             N_("It can run; it is the N² time and memory that make it a poor deal there.")),
            (N_("Convs are more accurate than attention on high-resolution feature maps"),
             N_("The choice is about cost per token count, not a blanket accuracy claim.")),
        ),
        0,
    ),
    Question(
        N_("A token's receptive field after L layers of 3 × 3 convs (away from the border) is how wide?"),
        (
            (N_("2L + 1 across: one more token per side per layer"),
             N_("Each layer reaches p = 1 token further on each side, so the window is 1 + L(k − 1) = 2L + 1 wide.")),
            (N_("3L across: each layer adds a whole kernel width"),
             N_("Consecutive windows overlap: each layer adds k − 1 = 2 tokens to the width, not k = 3.")),
            (N_("3^L across: each layer multiplies the width by 3"),
             N_("That would need a stride or dilation; a plain stack grows linearly, by k − 1 per layer.")),
        ),
        0,
    ),
)


def reach_per_layer(side: int, kernel: int, token: tuple[int, int], layers: int) -> list[int]:
    """How many tokens ``token`` depends on after 1..layers stacked k × k convs (every weight non-zero).

    A one-hot map goes through an all-ones depthwise conv with zero padding, once per layer; the non-zeros of the
    result are the tokens connected to ``token``, which for a kernel symmetric in its offsets is its receptive field.
    """
    reach = torch.zeros(1, 1, side, side, dtype=torch.float64)
    reach[0, 0, token[0], token[1]] = 1.0
    ones = torch.ones(1, 1, kernel, kernel, dtype=torch.float64)
    counts = []
    for _layer in range(layers):
        reach = (F.conv2d(reach, ones, padding=kernel // 2) != 0).double()
        counts.append(int(reach.sum()))
    return counts


def layers_to_see_everything(side: int, kernel: int) -> int:
    """Stacked convs until the corner token sees the whole grid (then every token does), measured."""
    counts = reach_per_layer(side, kernel, (0, 0), 4 * side)
    return counts.index(side * side) + 1


def _why() -> None:
    st.markdown(_(
        "One attention layer costs N² per image. What does it buy? Reach: every token can draw on every other at "
        "once, while a stack of convs widens its window by a few tokens per layer. Weighing that reach against the "
        "cost, stage by stage, explains Container-Light's layout: convs early, attention late."))
    goals([_(goal).format(**GOAL_FIELDS, cost_lesson=lesson_ref("cost")) for goal in GOALS])


def _idea() -> None:
    math_block(
        math_sentence(_("after {layers} layers of {kernel} convs: a {window} window of tokens"), layers="L",
                      kernel=r"k \times k", window=r"(1 + L(k - 1)) \times (1 + L(k - 1))"),
        math_sentence(_("after one attention layer: all {tokens} tokens"), tokens="N"),
        caption=_("The cost measured in {cost_lesson} buys this: one attention layer lets every token draw on every "
                  "other, chosen by content; a conv stack grows its window layer by layer. The paper adds a second "
                  "argument for convs early: their locality is a prior that speeds up training.").format(
            cost_lesson=lesson_ref("cost")),
    )


def _measured_layers() -> str:
    """The prediction's answer, measured by propagating a token through the stacked convs."""
    needed = str(layers_to_see_everything(PREDICT_SIDE, PREDICT_KERNEL))
    return next((option for option in LAYER_PREDICTIONS if option.split(",")[0] == needed), needed)


def _predict_and_reveal() -> None:
    choice = PREDICTION.ask(KEY)
    if not revealed(KEY, choice):
        return
    c1, c2 = st.columns(2)
    side = c1.select_slider(_("grid side n_y = n_x"), SIDES, value=PREDICT_SIDE, key="reach_side")
    kernel = c2.radio(_("conv kernel k"), [3, 5], horizontal=True, key="reach_k")
    needed = layers_to_see_everything(side, kernel)
    layers = list(range(1, needed + 1))
    tokens = side * side
    corner = reach_per_layer(side, kernel, (0, 0), needed)
    centre = reach_per_layer(side, kernel, (side // 2, side // 2), needed)
    fig = figures.lines(
        [(_("conv stack: corner token"), layers, [100 * c / tokens for c in corner]),
         (_("conv stack: centre token"), layers, [100 * c / tokens for c in centre]),
         (_("attention: any token, from layer 1"), layers, [100.0] * len(layers))],
        _("Share of the {side} × {side} grid a token sees after L layers ({kernel} × {kernel} convs)").format(
            side=side, kernel=kernel),
        _("layers L"), _("tokens seen (% of N)"), y_range=(0, 105),
        colors=[colors.OPERATOR_COLORS["conv"], "#6baed6", colors.OPERATOR_COLORS["attention"]])
    show_figure(fig, key="reach_fig_reach")
    st.caption(_("The centre token sees the whole grid after {centre} layers, the corner token after {corner}: that "
                 "many {kernel} × {kernel} convs for what one attention layer does.").format(
        centre=centre.index(tokens) + 1, corner=needed, kernel=kernel))

    # Verify: the propagation against the built matrices, attention's density, and the learner's prediction.
    check_side, check_kernel = 7, kernel
    ones = aff.depthwise_conv(torch.ones(1, 1, check_kernel, check_kernel, dtype=torch.float64), check_side,
                              check_side)[0]
    power = torch.eye(check_side * check_side, dtype=torch.float64)
    from_matrix = []
    for _power in range(3):
        power = power @ ones
        from_matrix.append(int((power[0] != 0).sum()))
    checks = [
        check_prediction(choice, _measured_layers()),
        check_close(_("reach after 1-3 layers = non-zeros of row t0 of A¹, A², A³ (built, {side} × {side})").format(
                    side=check_side),
                    reach_per_layer(check_side, check_kernel, (0, 0), 3), from_matrix),
        check_close(_("corner token: layers to see the {side} × {side} grid = ⌈(side − 1) / p⌉, p = {p}").format(
                    side=side, p=kernel // 2),
                    [needed], [math.ceil((side - 1) / (kernel // 2))]),
    ]
    if side <= 28:  # at 56 × 56 the float64 affinity alone would take 150 MB
        qkv = torch.randn(1, 3 * 8, side, side, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        attention = MultiHeadSelfAttention(2).affinity(qkv)
        checks.append(check_true(_("attention, {side} × {side}: every entry of A(X) > 0 (sees all N)").format(
            side=side), bool((attention > 0).all()), "softmax > 0"))
    verify_panel(checks, _("a conv stack's receptive field grows by k − 1 per layer, while one attention layer sees "
                           "every token"), lesson=KEY)


def _stages() -> None:
    if session_store().lesson(KEY).prediction is None:  # the table's conv counts would answer the prediction
        st.info(_("Make the prediction first: this table would answer it."), icon=":material/lock:")
        st.button(_("Go to the prediction"), key="reach_to_prediction", on_click=go_to_step, args=(KEY, "predict"))
        return
    st.markdown(_("**Cost against reach, stage by stage** (Container-Light at 224 × 224; a stage's blocks, and the "
                  "downsampling between stages, both widen the receptive field):"))
    stages = container_light_stages()
    st.dataframe(pd.DataFrame([{
        _("stage"): s["stage"], _("grid"): s["grid"], _("tokens N"): s["tokens N"], _("its block"): _(s["block"]),
        _("{kernel}×{kernel} convs to see the whole grid").format(kernel=_REFERENCE.kernel_size):
            layers_to_see_everything(s["side"], _REFERENCE.kernel_size),
        _("one head's attention affinity (per image)"): megabytes(s["tokens N"] ** 2 * FLOAT_BYTES),
    } for s in stages]), hide_index=True, width="stretch")
    first, last = stages[0], stages[-1]
    st.markdown(_(
        "At {first_grid} one head's affinity takes {first_size} per image ({cost_lesson}: far more at detection size), "
        "a price a conv does not pay. At {last_grid} it takes {last_size}, and one attention layer sees all {tokens} "
        "tokens: there the dynamic, global context is cheap, so Container-Light blends it with the conv in its last "
        "stage only.").format(first_grid=first["grid"], first_size=megabytes(first["tokens N"] ** 2 * FLOAT_BYTES),
                              last_grid=last["grid"], last_size=megabytes(last["tokens N"] ** 2 * FLOAT_BYTES),
                              tokens=last["tokens N"], cost_lesson=lesson_ref("cost")))


def _check() -> None:
    quiz(KEY, QUESTIONS)


STEPS = (
    Step("why", N_("Why it matters"), _why),
    Step("idea", N_("The idea and the math"), _idea),
    Step("predict", N_("Predict, then see"), _predict_and_reveal),
    Step("stages", N_("Cost against reach, stage by stage"), _stages),
    Step("check", N_("Check your understanding"), _check),
)
KEPT = ("reach_side", "reach_k")


def render() -> None:
    """Every step, one after another (the notebook and the worksheet; the page shows one step at a time)."""
    for step in STEPS:
        step.draw()
