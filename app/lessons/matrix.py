"""The ``matrix`` lesson: aggregation as a matrix, ``Y = A V``."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from app.i18n import N_, _
from container_edu.ops import affinity as aff

from app.figure_view import show_figure
from app.lessons.parts import figures
from app.lessons.parts.network import show_block
from app.lessons.parts.steps import Step
from app.lessons.parts.widgets import (Prediction, Question, check_close, check_prediction, goals, math_block,
                                      quiz, revealed, verify_panel)

KEY = "matrix"
TITLE = N_("Aggregation as a matrix")

GRID = (2, 2)  # H x W: four tokens
NUM_TOKENS = GRID[0] * GRID[1]
CHANNELS = 3
TOKEN_LABELS = [f"t{i} (y={i // GRID[1]}, x={i % GRID[1]})" for i in range(NUM_TOKENS)]
SHORT_LABELS = [f"t{i}" for i in range(NUM_TOKENS)]
CHANNEL_LABELS = [f"c{c}" for c in range(CHANNELS)]

GOALS = [
    N_("Read a C × n_y × n_x feature map (n_y rows, n_x columns of tokens) as N = n_y·n_x tokens with C channels."),
    N_("Compute Y = A V and read row i of A as the recipe for output token i."),
    N_("See that an operator that mixes tokens is fully described by its N × N affinity A."),
]


def values() -> torch.Tensor:
    """A fixed ``V`` (N x C) with easy numbers: each token has its own pattern of channels."""
    generator = torch.Generator().manual_seed(7)
    return torch.randint(-3, 4, (NUM_TOKENS, CHANNELS), generator=generator).double()


def presets() -> dict[str, torch.Tensor]:
    n = NUM_TOKENS
    shift = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        y, x = divmod(i, GRID[1])
        if x > 0:
            shift[i, i - 1] = 1.0  # copy the left neighbour; the left column has none (zero padding)
    logits = torch.randn(n, n, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    rows = logits.softmax(-1).round(decimals=2)
    rows[:, -1] = 1 - rows[:, :-1].sum(-1)  # keep each row summing to 1 after rounding
    return {  # the names are English (the radio's values), shown translated
        N_("identity (copy)"): torch.eye(n, dtype=torch.float64),
        N_("average of all tokens"): torch.full((n, n), 1.0 / n, dtype=torch.float64),
        N_("left neighbour (a shift)"): shift,
        N_("random, rows sum to 1"): rows,
    }


_C, _SIDE = 64, 14
_N = _SIDE * _SIDE

QUESTIONS = (
    Question(
        N_("A feature map has C = {c} channels on a {side} × {side} grid. What are the shapes of V and of one "
           "affinity A?"),
        (
            (N_("V is {n} × {c}, A is {n} × {n}"),
             N_("N = {side}·{side} = {n} tokens; V holds one row of C = {c} channels per token, and A relates every "
                "token to every token.")),
            (N_("V is {side} × {side}, A is {c} × {c}"),
             N_("That mixes up the roles: A mixes tokens, not channels, so it is N × N with N = n_y·n_x = {n}.")),
            (N_("V is {c} × {n} (a row per channel), A is {c} × {c}"),
             N_("In this course tokens are rows: V is N × C, and the channel-mixing matrices (W_v, W_o) are C × C, "
                "not A.")),
        ),
        0,
        fields={"c": _C, "side": _SIDE, "n": _N},
    ),
    Question(
        N_("Row i of A is (0, 0.5, 0.5, 0). What is output token Y_i?"),
        (
            (N_("The average of V_1 and V_2"), N_("Y_i = Σ_j A_ij V_j = 0.5·V_1 + 0.5·V_2, every channel alike.")),
            (N_("The average of rows 1 and 2 of A"),
             N_("A's rows are recipes; what gets averaged are the value vectors V_j.")),
            (N_("0.5 times the sum of all tokens"),
             N_("Only tokens with a non-zero weight in row i contribute: here tokens 1 and 2.")),
        ),
        0,
    ),
    Question(
        N_("Does the same A act on every channel of V in Y = A V?"),
        (
            (N_("Yes: every channel is mixed by the same A"),
             N_("Y[:, c] = A V[:, c]. Giving groups of channels their own A is what multiple heads do.")),
            (N_("No: each channel has its own row of A"),
             N_("A has one row per output token (N rows), not per channel.")),
        ),
        0,
    ),
)


SHIFT_PRESET = N_("left neighbour (a shift)")
PREDICTION = Prediction(
    "matrix_prediction",
    N_("What is output token Y_1 (top row, right column)?"),
    (N_("V_0: the value of its left neighbour"), N_("V_1: its own value"),
     N_("0: the top row has nothing to its left"), N_("the average of V_0 and V_1")),
)
PREDICTION_OPTIONS = PREDICTION.options


def _why() -> None:
    st.markdown(_(
        "A vision Transformer, a ConvNet and an MLP-Mixer look like three different machines. The Container paper "
        "shows that the part of each that mixes information *between* positions is one and the same operation: "
        "every output token is a weighted sum of value tokens, and only the table of weights (the affinity A) "
        "changes. Once you can read A, you can compare the three families on one page, and see what Container "
        "gains by blending two of them."))
    goals(GOALS)


def _idea() -> None:
    math_block(
        r"Y = A\,V,\qquad Y_i = \sum_{j=0}^{N-1} A_{ij}\, V_j \qquad (A \in \mathbb{R}^{N\times N},\; V \in \mathbb{R}^{N\times C})",
        r"Y = \operatorname{concat}(A_0 V_0, \dots, A_{M-1} V_{M-1})\, W_o",
        caption=_("Tokens, heads and channels are numbered from 0, as in the widgets: token i = y·n_x + x in "
                  "row-major order (n_x tokens per row; W always names a weight matrix). Row i of A says how much "
                  "each token j contributes to output token i. With M heads, the C channels are split into M groups, "
                  "each mixed by its own A_m; W_o then mixes channels. Every operator in these lessons is this "
                  "formula with a different A."),
    )
    with st.expander(_("Where Y = A V sits in the network: the Container block")):
        show_block("matrix_block_diagram")


def _aby_figures(matrix: torch.Tensor, v: torch.Tensor, y: torch.Tensor, prefix: str) -> None:
    col_a, col_v, col_y = st.columns([1.15, 1, 1])
    with col_a:
        show_figure(figures.heatmap(
            matrix, _("Affinity A (N × N)"), "A[i, j]",
            x_title=_("input token j"), y_title=_("output token i"), x_labels=SHORT_LABELS, y_labels=SHORT_LABELS,
            diverging=True, show_values=True), key=f"{prefix}_fig_a")
    with col_v:
        show_figure(figures.heatmap(
            v, _("Values V (N × C)"), "V[j, c]", x_title=_("channel c"), y_title=_("token j"),
            x_labels=CHANNEL_LABELS, y_labels=SHORT_LABELS, diverging=True, show_values=True), key=f"{prefix}_fig_v")
    with col_y:
        show_figure(figures.heatmap(
            y, _("Output Y = A V (N × C)"), "Y[i, c]", x_title=_("channel c"), y_title=_("output token i"),
            x_labels=CHANNEL_LABELS, y_labels=SHORT_LABELS, diverging=True, show_values=True), key=f"{prefix}_fig_y")


def measured_answer(y: torch.Tensor, v: torch.Tensor) -> str:
    """The prediction option that the shift's output token Y_1 matches, read off the computed Y."""
    candidates = {PREDICTION_OPTIONS[0]: v[0], PREDICTION_OPTIONS[1]: v[1],
                  PREDICTION_OPTIONS[2]: torch.zeros_like(v[0]), PREDICTION_OPTIONS[3]: (v[0] + v[1]) / 2}
    return min(candidates, key=lambda option: float((candidates[option] - y[1]).abs().max()))


def _predict_and_reveal() -> None:
    st.markdown(_("Take A = the **left neighbour** shift on a {rows} × {columns} grid of four tokens: row i of A "
                  "holds a single 1, on the token to the left of token i, if there is one.").format(
        rows=GRID[0], columns=GRID[1]))
    choice = PREDICTION.ask(KEY)
    if not revealed(KEY, choice):
        return
    matrix = presets()[SHIFT_PRESET]
    v = values()
    y = aff.aggregate(matrix[None], v[None])[0]
    _aby_figures(matrix, v, y, "matrix_reveal")
    st.caption(_("Row t1 of A has its 1 in column t0, so Y_1 = V_0; row t0 is all zeros (t0 has no left "
                 "neighbour, as with zero padding), so Y_0 = 0."))
    by_hand = torch.stack([sum(matrix[i, j] * v[j] for j in range(NUM_TOKENS)) for i in range(NUM_TOKENS)])
    per_channel = torch.stack([matrix @ v[:, c] for c in range(CHANNELS)], dim=1)
    verify_panel(
        [check_prediction(choice, measured_answer(y, v)),
         check_close(_("aggregate(A, V) equals Σ_j A_ij V_j written out per token"), y, by_hand),
         check_close(_("each channel c is mixed by the same A: Y[:, c] = A V[:, c]"), y, per_channel)],
        _("Y = A V is exactly 'output token i = weighted sum of the value rows, weights from row i of A'"),
        lesson=KEY,
    )


def _try_it() -> None:
    st.markdown(_("**Try it.** Four tokens on a {rows} × {columns} grid, {channels} channels each. "
                  "Pick a starting A, then edit its cells: Y follows.").format(rows=GRID[0], columns=GRID[1],
                                                                               channels=CHANNELS))
    preset_names = list(presets())
    preset_labels = {name: _(name) for name in preset_names}
    preset = st.radio(_("Start from"), preset_names, horizontal=True, key="matrix_preset",
                      format_func=preset_labels.__getitem__)
    base = presets()[preset]
    frame = pd.DataFrame(base.numpy(), index=TOKEN_LABELS, columns=SHORT_LABELS)
    # One editor per preset: the editor keeps edits as a delta on its input, so a new preset gets a fresh editor.
    edited = st.data_editor(
        frame, key=f"matrix_A_{preset_names.index(preset)}", width="stretch",
        column_config={name: st.column_config.NumberColumn(name, format="%.2f", step=0.05) for name in SHORT_LABELS},
    )
    matrix = torch.tensor(edited.to_numpy(dtype=float), dtype=torch.float64)
    v = values()
    y = aff.aggregate(matrix[None], v[None])[0]  # (N, C): the core's concat(A_m V_m) with M = 1
    _aby_figures(matrix, v, y, "matrix")

    challenge = st.toggle(_("Challenge: edit row t0 of A so that Y_0 is the average of V_1 and V_2 "
                            "(the Verify panel checks your edit)"), key="matrix_challenge")

    st.markdown(_("**Read one row.**"))
    row = st.select_slider(_("output token i"), options=list(range(NUM_TOKENS)), value=0, key="matrix_row",
                           format_func=lambda i: TOKEN_LABELS[i])
    weights = matrix[row]
    terms = [rf"{float(w):+.2f}\,V_{{{j}}}" for j, w in enumerate(weights) if abs(float(w)) > 0]
    vector = ", ".join(f"{float(value):.2f}" for value in y[row])
    st.latex(rf"Y_{{{row}}} = " + (" ".join(terms) if terms else "0") + rf" = ({vector})")
    if float(weights.abs().max()) == 0:
        st.caption(_("Row {row} of A is all zeros: no token contributes, so Y_{row} = 0.").format(row=row))
    else:
        st.caption(_("Row {row} of A sums to {total:.2f}; its largest weight is on token t{largest}.").format(
            row=row, total=float(weights.sum()), largest=int(weights.abs().argmax())))

    if challenge:
        verify_panel([check_close(_("your edit: Y_0 = (V_1 + V_2) / 2, computed from V alone"), y[0],
                                  (v[1] + v[2]) / 2)],
                     _("your row t0 averages V_1 and V_2"))


def _check() -> None:
    quiz(KEY, QUESTIONS)


STEPS = (
    Step("why", N_("Why it matters"), _why),
    Step("idea", N_("The idea and the math"), _idea),
    Step("predict", N_("Predict, then see"), _predict_and_reveal),
    Step("try", N_("Try it"), _try_it),
    Step("check", N_("Check your understanding"), _check),
)
KEPT = ("matrix_preset", "matrix_challenge", "matrix_row")


def render() -> None:
    """Every step, one after another (the notebook and the worksheet; the page shows one step at a time)."""
    for step in STEPS:
        step.draw()
