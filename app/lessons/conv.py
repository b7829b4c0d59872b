"""The ``conv`` lesson: depthwise convolution, a static and sparse affinity:
the kernel written as a banded N × N matrix.

Its shift symmetry is the ``shift`` lesson (``shift.py``), which reuses this module's operators."""

from __future__ import annotations

import streamlit as st
import torch

from app.figure_view import show_figure
from app.i18n import N_, _
from container_edu.ops import affinity as aff
from container_edu.ops.aggregation import DepthwiseConvAggregation

from app.lessons.parts import figures
from app.lessons.parts.progress import session_store
from app.lessons.parts.steps import Step
from app.lessons.parts.widgets import (Prediction, Question, check_close, check_prediction, goals, math_block, quiz,
                                      revealed, tex_words, verify_panel)

KEY = "conv"
TITLE = N_("Depthwise convolution: static and sparse")

CHANNELS = 4

GOALS = [
    N_("Write a k × k depthwise conv as one banded N × N affinity A_c per channel (M = C heads of one channel)."),
    N_("Read a row of A_c on the grid: the kernel pasted at the query, cut at the border."),
    N_("Predict how many non-zeros a row has, then count them in the built matrix."),
]

_K, _SIDE = 5, 56

QUESTIONS = (
    Question(
        N_("A {k} × {k} depthwise conv runs on a {side} × {side} grid (N = {n}). How many non-zero "
           "entries can one row of A_c have?"),
        (
            (N_("Up to {taps}, and fewer at the border"),
             N_("Row i holds the k² = {taps} kernel weights at the offsets around token i; near the border some fall "
                "outside the grid and are cut (zero padding). The other {rest} or more entries are 0: sparse.")),
            (N_("Up to {n}: the kernel reaches every token of the row"),
             N_("That would be a dense row, as in attention or the mixer; a conv only sees a k × k window.")),
            (N_("Up to {k}: one per kernel column"),
             N_("The kernel has k × k = {taps} weights, not k.")),
        ),
        0,
        fields={"k": _K, "side": _SIDE, "n": _SIDE ** 2, "taps": _K ** 2, "rest": _SIDE ** 2 - _K ** 2},
    ),
    Question(
        N_("A depthwise conv layer with C channels: how many affinity matrices, and do they depend on the image?"),
        (
            (N_("C matrices (one per channel), the same for every image"),
             N_("M = C heads of one channel each, and A_c is built from the kernel alone: static.")),
            (N_("One matrix, different for every image"),
             N_("One shared matrix is the Mixer layout, and input-dependence is attention's property.")),
            (N_("C matrices, recomputed from each image by sliding the kernel over it"),
             N_("The kernel weights are fixed after training; A_c never looks at the input.")),
        ),
        0,
    ),
)

PREDICTION = Prediction(
    "conv_row_prediction",
    N_("How many non-zero entries does the query's row of A_c have?"),
    (N_("all k² kernel elements"), N_("fewer than k² (elements cut at the border)"),
     N_("all N tokens (a dense row)")),
)
ROW_PREDICTIONS = PREDICTION.options

#: The widgets of the predict step, read again by the matrix step (Streamlit drops a widget's state otherwise).
SETTINGS = ("conv_size", "conv_k", "conv_channel", "conv_qy", "conv_qx")
_DEFAULTS = {"conv_size": 9, "conv_k": 3, "conv_channel": 0, "conv_qy": 1, "conv_qx": 0}
KEPT = SETTINGS + (PREDICTION.key,)


def make_conv(kernel_size: int) -> DepthwiseConvAggregation:
    """The lessons' depthwise conv: seeded random kernels, float64 (the same on every rerun and in ``shift``)."""
    with torch.random.fork_rng():
        torch.manual_seed(1)
        conv = DepthwiseConvAggregation(CHANNELS, kernel_size).double()
        torch.nn.init.normal_(conv.weight, std=0.5)
        torch.nn.init.normal_(conv.bias, std=0.2)
    return conv.eval()


def _settings() -> tuple[int, int, int, int, int]:
    """Grid side, kernel size, channel and query (y, x), as set in the predict step (clamped to the grid)."""
    state = {key: st.session_state.get(key, default) for key, default in _DEFAULTS.items()}
    size = int(state["conv_size"])
    return (size, int(state["conv_k"]), int(state["conv_channel"]), min(int(state["conv_qy"]), size - 1),
            min(int(state["conv_qx"]), size - 1))


def _why() -> None:
    st.markdown(_(
        "Convolution is the workhorse of vision networks, and Container-Light uses one in every block: alone in the "
        "early stages, blended with attention in the last. Written as an "
        "affinity, a k × k depthwise conv is an N × N matrix that is almost all zeros, the same for every image. "
        "Seeing it this way shows what sets a conv apart from attention: it is cheap and local, and it never "
        "adapts to the input."))
    goals(GOALS)


def _idea() -> None:
    math_block(
        r"A_c[i,j] = \begin{cases} w_c[\,y_j - y_i + p,\ x_j - x_i + p\,] & |y_j - y_i| \le p " + tex_words(_(" and "))
        + r" |x_j - x_i| \le p \\ 0 & " + tex_words(_("otherwise")) + r" \end{cases} \qquad p = \lfloor k/2 \rfloor",
        r"Y_c = A_c V_c + b_c \qquad (c = 0, \dots, C - 1:\ M = C " + tex_words(_(" heads of one channel")) + ")",
        caption=_("PyTorch's conv2d is cross-correlation, hence the + offsets; the bias b_c is not part of A_c. "
                  "A_c is static (it never looks at the input) and sparse (at most k² non-zeros per row), and "
                  "A_c[i, j] depends only on the 2-D offset (y_j − y_i, x_j − x_i) between the two tokens."),
    )


def _affinities(size: int, kernel_size: int, qy: int, qx: int):
    conv = make_conv(kernel_size)
    with torch.no_grad():
        matrices = conv.affinity(torch.zeros(1, CHANNELS, size, size))  # (C, N, N)
        row_on_grid = aff.depthwise_conv_row(conv.weight, size, size, (qy, qx))  # (C, H, W)
    return conv, matrices, row_on_grid


def measured_answer(nonzero: int, kernel_size: int, num_tokens: int) -> str:
    """The prediction option that a row with ``nonzero`` non-zero entries matches."""
    if nonzero == kernel_size ** 2:
        return ROW_PREDICTIONS[0]
    return ROW_PREDICTIONS[2] if nonzero == num_tokens else ROW_PREDICTIONS[1]


def _predict_and_reveal() -> None:
    c1, c2, c3, q1, q2 = st.columns([1.1, 0.8, 1.4, 1, 1])  # one row: the prediction stays near the top
    size = c1.slider(_("grid side n_y = n_x"), 7, 12, _DEFAULTS["conv_size"], key="conv_size")
    kernel_size = c2.radio(_("kernel k"), [3, 5], horizontal=True, key="conv_k")
    channel = c3.radio(_("channel c"), list(range(CHANNELS)), horizontal=True, key="conv_channel")
    qy = q1.slider(_("query token row y"), 0, size - 1, _DEFAULTS["conv_qy"], key="conv_qy")
    qx = q2.slider(_("query token column x"), 0, size - 1, _DEFAULTS["conv_qx"], key="conv_qx")
    pad = kernel_size // 2
    st.markdown(_("The query sits at y = {y}, x = {x} on a {side} × {side} grid; the {k} × {k} kernel reaches "
                  "p = {pad} tokens each way.").format(y=qy, x=qx, side=size, k=kernel_size, pad=pad))
    choice = PREDICTION.ask(KEY)
    if not revealed(KEY, choice):
        return
    conv, matrices, row_on_grid = _affinities(size, kernel_size, qy, qx)
    query, num_tokens = aff.token_index(qy, qx, size), size * size
    left, right = st.columns(2)
    offsets = [f"{d - pad:+d}" for d in range(kernel_size)]
    with left:
        show_figure(figures.heatmap(
            conv.weight[channel, 0], _("Kernel w_{channel} ({k} × {k}), by offset").format(channel=channel,
                                                                                            k=kernel_size),
            f"w_{channel}[dy, dx]", x_title="x_j − x_i", y_title="y_j − y_i", x_labels=offsets, y_labels=offsets,
            diverging=True, show_values=True, height=300), key="conv_fig_kernel")
    with right:
        show_figure(figures.grid_map(
            row_on_grid[channel], _("Row i = t{query} of A_{channel} on the grid: the kernel pasted at the query")
            .format(query=query, channel=channel),
            f"A_{channel}[i, j]", query=(qy, qx), diverging=True, height=300), key="conv_fig_row")
    nonzero = int((matrices[channel][query] != 0).sum())
    st.caption(_("Row t{query} has {nonzero} non-zero entries out of {n}; a full kernel has {taps}. Kernel elements "
                 "that fall outside the grid are cut.").format(query=query, nonzero=nonzero, n=num_tokens,
                                                                taps=kernel_size ** 2))
    with torch.no_grad():
        v = torch.randn(1, CHANNELS, size, size, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
        explicit = aff.aggregate(matrices, conv.values(v)) + conv.output_bias()
        fast = aff.map_to_tokens(conv(v))
    in_grid = ((min(qy + pad, size - 1) - max(qy - pad, 0) + 1)
               * (min(qx + pad, size - 1) - max(qx - pad, 0) + 1))
    verify_panel(
        [check_prediction(choice, measured_answer(nonzero, kernel_size, num_tokens)),
         check_close(_("A_c V_c + b_c (explicit matrix) equals conv2d's output"), explicit, fast),
         check_close(_("row t{query} of A_c equals depthwise_conv_row (kernel pasted at the query)").format(
             query=query), matrices[:, query].reshape(CHANNELS, size, size), row_on_grid),
         check_close(_("non-zeros of row t{query} = the kernel elements that land inside the grid").format(
             query=query), [nonzero], [in_grid])],
        _("a depthwise conv is Y_c = A_c V_c + b_c with a static, banded A_c"),
        lesson=KEY,
    )


def _whole_matrix() -> None:
    if session_store().lesson(KEY).prediction is None:
        st.info(_("Make the prediction of the previous step first: this matrix answers it."), icon=":material/lock:")
        return
    size, kernel_size, channel, qy, qx = _settings()
    _conv, matrices, _row = _affinities(size, kernel_size, qy, qx)
    num_tokens, pad = size * size, kernel_size // 2
    st.markdown(_("The whole A_{channel} for the grid, kernel and channel of the previous step.").format(
        channel=channel))
    matrix_col, text_col = st.columns([2, 1])
    with matrix_col:
        show_figure(figures.heatmap(
            matrices[channel], _("Affinity A_{channel} (N × N = {n} × {n}): banded and sparse").format(
                channel=channel, n=num_tokens),
            f"A_{channel}[i, j]", x_title=_("input token j"), y_title=_("output token i"), diverging=True, height=520),
            key="conv_fig_matrix")
    diagonals = sorted({dy * size + dx for dy in range(-pad, pad + 1) for dx in range(-pad, pad + 1)})
    density = float((matrices[channel] != 0).double().mean())
    with text_col:
        st.markdown(_(
            "**Reading A_{channel}.** Kernel element (dy, dx) fills every entry whose tokens are offset by (dy, dx): "
            "in the flat index, the diagonal j − i = dy·n_x + dx (n_x = {side}). So the weights lie on {count} "
            "diagonals, j − i ∈ {{{diagonals}}}, cut where x + dx leaves the row.\n\n"
            "Only {percent:.1f}% of A_{channel} is non-zero."
        ).format(channel=channel, side=size, count=len(diagonals), diagonals=", ".join(str(d) for d in diagonals),
                 percent=100 * density))


def _check() -> None:
    quiz(KEY, QUESTIONS)


STEPS = (
    Step("why", N_("Why it matters"), _why),
    Step("idea", N_("The idea and the math"), _idea),
    Step("predict", N_("Predict, then see"), _predict_and_reveal),
    Step("matrix", N_("The whole matrix"), _whole_matrix),
    Step("check", N_("Check your understanding"), _check),
)


def render() -> None:
    """Every step, one after another (the notebook and the worksheet; the page shows one step at a time)."""
    for step in STEPS:
        step.draw()
