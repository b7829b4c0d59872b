"""Lesson 2: depthwise convolution, a static and sparse affinity: the kernel written as a banded N × N matrix.

Its shift symmetry is the next lesson (``l3b_shift``), which reuses this module's operators."""

from __future__ import annotations

import streamlit as st
import torch

from container_edu import affinity as aff
from container_edu.aggregation import DepthwiseConvAggregation

from . import figures
from .widgets import Question, check_close, check_prediction, goals, math_block, predict, quiz, verify_panel

KEY = "conv"
ROW_PREDICTIONS = ("all k² kernel taps", "fewer than k² (taps cut at the border)", "all N tokens (a dense row)")
TITLE = "Depthwise convolution: static and sparse"

CHANNELS = 4

GOALS = [
    "Write a k × k depthwise conv as one banded N × N affinity A_c per channel (M = C heads of one channel).",
    "Read a row of A_c on the grid: the kernel pasted at the query, cut at the border.",
    "Predict how many non-zeros a row has, then count them in the built matrix.",
]

_K, _SIDE = 5, 56

QUESTIONS = (
    Question(
        f"A {_K} × {_K} depthwise conv runs on a {_SIDE} × {_SIDE} grid (N = {_SIDE ** 2}). How many non-zero "
        "entries can one row of A_c have?",
        (
            (f"At most {_K ** 2} (fewer at the border)",
             f"Row i holds the k² = {_K ** 2} kernel weights at the offsets around token i; near the border some fall "
             f"outside the grid and are cut (zero padding). The other {_SIDE ** 2 - _K ** 2} or more entries are 0: "
             "sparse."),
            (f"{_SIDE ** 2}: a row of A has N entries, and the kernel reaches all of them", "That would be a dense row, as in attention or the mixer; a conv only sees a k × k window."),
            (f"{_K}: one weight per kernel column", f"The kernel has k × k = {_K ** 2} taps, not k."),
        ),
        0,
    ),
    Question(
        "A depthwise conv layer with C channels: how many affinity matrices, and do they depend on the image?",
        (
            ("C matrices (one per channel), the same for every image",
             "M = C heads of one channel each, and A_c is built from the kernel alone: static."),
            ("One matrix, different for every image",
             "One shared matrix is the Mixer layout, and input-dependence is attention's property."),
            ("C matrices, recomputed from each image by sliding the kernel over it",
             "The kernel weights are fixed after training; A_c never looks at the input."),
        ),
        0,
    ),
)


def make_conv(kernel_size: int) -> DepthwiseConvAggregation:
    """The lessons' depthwise conv: seeded random kernels, float64 (the same on every rerun and in lesson 3)."""
    with torch.random.fork_rng():
        torch.manual_seed(1)
        conv = DepthwiseConvAggregation(CHANNELS, kernel_size).double()
        torch.nn.init.normal_(conv.weight, std=0.5)
        torch.nn.init.normal_(conv.bias, std=0.2)
    return conv.eval()


def render() -> None:
    goals(GOALS)
    math_block(
        r"A_c[i,j] = \begin{cases} w_c[\,y_j - y_i + p,\ x_j - x_i + p\,] & |y_j - y_i| \le p \text{ and } "
        r"|x_j - x_i| \le p \\ 0 & \text{otherwise} \end{cases} \qquad p = \lfloor k/2 \rfloor",
        r"Y_c = A_c V_c + b_c \qquad (c = 0, \dots, C - 1:\ M = C \text{ heads of one channel})",
        caption="PyTorch's conv2d is cross-correlation, hence the + offsets. The bias b_c is not part of A_c. "
        "A_c never looks at the input (static), has at most k² non-zeros per row (sparse), and A_c[i, j] depends only "
        "on the 2-D offset (dy, dx) = (y_j − y_i, x_j − x_i) between the two tokens: the same weight wherever that "
        "offset occurs, and 0 when the offset is outside the kernel.",
    )

    c1, c2, c3 = st.columns(3)
    size = c1.slider("grid side n_y = n_x", 7, 12, 9, key="l3_size")
    kernel_size = c2.radio("kernel k", [3, 5], horizontal=True, key="l3_k")
    channel = c3.radio("channel c", list(range(CHANNELS)), horizontal=True, key="l3_channel")
    q1, q2 = st.columns(2)
    qy = q1.slider("query token row y", 0, size - 1, 1, key="l3_qy")
    qx = q2.slider("query token column x", 0, size - 1, 0, key="l3_qx")
    query = aff.token_index(qy, qx, size)
    num_tokens = size * size
    pad = kernel_size // 2

    prediction = predict("l3_row_prediction", "Predict before reading the figures: how many non-zero entries does "
                         "the query's row of A_c have?", ROW_PREDICTIONS)
    conv = make_conv(kernel_size)
    with torch.no_grad():
        matrices = conv.affinity(torch.zeros(1, CHANNELS, size, size))  # (C, N, N)
        row_on_grid = aff.depthwise_conv_row(conv.weight, size, size, (qy, qx))  # (C, H, W)

    left, right = st.columns(2)
    offsets = [f"{d - pad:+d}" for d in range(kernel_size)]
    with left:
        st.plotly_chart(figures.heatmap(
            conv.weight[channel, 0], f"Kernel w_{channel} ({kernel_size} × {kernel_size}), by offset",
            f"w_{channel}[dy, dx]", x_title="x_j − x_i", y_title="y_j − y_i", x_labels=offsets, y_labels=offsets,
            diverging=True, show_values=True, height=360), key="l3_fig_kernel")
    with right:
        st.plotly_chart(figures.grid_map(
            row_on_grid[channel], f"Row i = t{query} of A_{channel} on the grid: the kernel pasted at the query",
            f"A_{channel}[i, j]", query=(qy, qx), diverging=True, height=360), key="l3_fig_row")
    matrix_col, text_col = st.columns([2, 1])
    with matrix_col:
        st.plotly_chart(figures.heatmap(
            matrices[channel], f"Affinity A_{channel} (N × N = {num_tokens} × {num_tokens}): banded and sparse",
            f"A_{channel}[i, j]", x_title="input token j", y_title="output token i", diverging=True, height=520),
            key="l3_fig_matrix")
    nonzero = int((matrices[channel][query] != 0).sum())
    diagonals = sorted({dy * size + dx for dy in range(-pad, pad + 1) for dx in range(-pad, pad + 1)})
    density = float((matrices[channel] != 0).double().mean())
    with text_col:
        st.markdown(
            f"**Reading A_{channel}.** Row t{query} has {nonzero} non-zero entries out of {num_tokens} (a full kernel "
            f"has {kernel_size ** 2}; a query near the border loses the taps that fall outside the grid).\n\n"
            f"Tap (dy, dx) of the kernel fills every entry whose tokens are offset by (dy, dx). In the flat "
            f"index that is the diagonal j − i = dy·n_x + dx (n_x = {size} tokens per row), so the weights lie on "
            f"{len(diagonals)} diagonals, j − i ∈ {{{', '.join(str(d) for d in diagonals)}}}. A diagonal is "
            f"cut where x + dx leaves the row: there the flat offset is the same but the 2-D offset is not.\n\n"
            f"Only {100 * density:.1f}% of A_{channel} is non-zero."
        )

    # Verify.
    with torch.no_grad():
        v = torch.randn(1, CHANNELS, size, size, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
        explicit = aff.aggregate(matrices, conv.values(v)) + conv.output_bias()
        fast = aff.map_to_tokens(conv(v))
    in_grid = ((min(qy + pad, size - 1) - max(qy - pad, 0) + 1)
               * (min(qx + pad, size - 1) - max(qx - pad, 0) + 1))
    measured = ROW_PREDICTIONS[0] if nonzero == kernel_size ** 2 else (
        ROW_PREDICTIONS[2] if nonzero == num_tokens else ROW_PREDICTIONS[1])
    verify_panel(
        ([check_prediction(prediction, measured)] if prediction is not None else []) + [
            check_close("A_c V_c + b_c (explicit matrix) equals conv2d's output", explicit, fast),
            check_close(f"row t{query} of A_c equals depthwise_conv_row (kernel pasted at the query)",
                        matrices[:, query].reshape(CHANNELS, size, size), row_on_grid),
            check_close(f"non-zeros of row t{query} = the kernel taps that land inside the grid",
                        [nonzero], [in_grid]),
        ],
        "a depthwise conv is Y_c = A_c V_c + b_c with a static, banded A_c",
    )
    quiz(KEY, QUESTIONS)
