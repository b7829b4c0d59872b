"""Lesson 3: depthwise convolution, a static and sparse affinity."""

from __future__ import annotations

import streamlit as st
import torch

from container_edu import affinity as aff
from container_edu import colors
from container_edu.aggregation import DepthwiseConvAggregation, TokenMixing

from . import figures
from .widgets import Question, check_close, check_prediction, predict, check_differ, goals, math_block, quiz, verify_panel

KEY = "conv"
SHIFT_PREDICTIONS = ("the conv's only", "the mixer's only", "both", "neither")
TITLE = "Depthwise convolution: static and sparse"

CHANNELS = 4
SHIFTS = {"right (+x)": (0, 1), "left (−x)": (0, -1), "down (+y)": (1, 0), "up (−y)": (-1, 0)}

GOALS = [
    "Write a k × k depthwise conv as one banded N × N affinity A_c per channel (M = C heads of one channel).",
    "Read a row of A_c on the grid: the kernel pasted at the query, cut at the border.",
    "Verify translation equivariance numerically, and see that a dense mixer does not have it.",
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
        "Why does shifting the input by one token shift a conv's output by one token (away from the border)?",
        (
            ("The same kernel is used at every position",
             "Weight sharing along the diagonals (a Toeplitz-like matrix) is exactly translation equivariance."),
            ("Because A_c's rows sum to 1, so the output can only move, not change", "Conv rows need not sum to 1 (the kernel here does not); that is not the reason."),
            ("Because A_c is recomputed from the shifted input and follows its content",
             "The conv's A_c is static: it never looks at the input. Equivariance comes from the shared kernel."),
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


def shift_tokens(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Shift a ``(B, C, H, W)`` map by one token with zero fill (``torch.roll``, then zero what wrapped around)."""
    shifted = torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    if dy > 0:
        shifted[..., :dy, :] = 0
    elif dy < 0:
        shifted[..., dy:, :] = 0
    if dx > 0:
        shifted[..., :, :dx] = 0
    elif dx < 0:
        shifted[..., :, dx:] = 0
    return shifted


def make_modules(size: int, kernel_size: int) -> tuple[DepthwiseConvAggregation, TokenMixing]:
    with torch.random.fork_rng():
        torch.manual_seed(1)
        conv = DepthwiseConvAggregation(CHANNELS, kernel_size).double()
        torch.nn.init.normal_(conv.weight, std=0.5)
        torch.nn.init.normal_(conv.bias, std=0.2)
        mixer = TokenMixing(size * size).double()
        torch.nn.init.normal_(mixer.weight, std=(size * size) ** -0.5)
    return conv.eval(), mixer.eval()


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

    c1, c2, c3, c4 = st.columns(4)
    size = c1.slider("grid side n_y = n_x", 7, 12, 9, key="l3_size")
    kernel_size = c2.radio("kernel k", [3, 5], horizontal=True, key="l3_k")
    channel = c3.radio("channel c", list(range(CHANNELS)), horizontal=True, key="l3_channel")
    direction = c4.selectbox("shift the input by one token", list(SHIFTS), key="l3_shift")
    q1, q2 = st.columns(2)
    qy = q1.slider("query token row y", 0, size - 1, 1, key="l3_qy")
    qx = q2.slider("query token column x", 0, size - 1, 0, key="l3_qx")
    query = aff.token_index(qy, qx, size)
    num_tokens = size * size
    pad = kernel_size // 2

    conv, mixer = make_modules(size, kernel_size)
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

    st.markdown(f"**Translation equivariance.** Shift V by one token ({direction}, zero fill) and compare "
                "f(shift V) with shift(f V), for the conv and for a dense mixer with random weights.")
    prediction = predict("l3_prediction", "Predict: whose output shifts along with its input, away from the border?",
                         SHIFT_PREDICTIONS)
    dy, dx = SHIFTS[direction]
    with torch.no_grad():
        v = torch.randn(1, CHANNELS, size, size, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
        v_shifted = shift_tokens(v, dy, dx)
        conv_pair = conv(v_shifted), shift_tokens(conv(v), dy, dx)  # f(shift V), shift(f V)
        mixer_pair = mixer(v_shifted), shift_tokens(mixer(v), dy, dx)
        conv_gap = (conv_pair[0] - conv_pair[1]).abs().amax(dim=1)[0]  # (H, W), max over channels
        mixer_gap = (mixer_pair[0] - mixer_pair[1]).abs().amax(dim=1)[0]
    lo, hi = pad + 1, size - 2 - pad  # at least p + 1 tokens from every border: both windows lie inside
    interior = (slice(lo, hi + 1), slice(lo, hi + 1))
    box = (lo, hi, lo, hi)
    g1, g2 = st.columns(2)
    zmax = float(max(conv_gap.max(), mixer_gap.max()))
    with g1:
        st.plotly_chart(figures.grid_map(
            conv_gap, "Conv: |f(shift V) − shift(f V)| (max over channels)", "|difference|",
            colorscale=colors.MAGNITUDE, zmin=0, zmax=zmax, box=box, box_label="interior"), key="l3_fig_conv_eq")
    with g2:
        st.plotly_chart(figures.grid_map(
            mixer_gap, "Mixer: |f(shift V) − shift(f V)| (max over channels)", "|difference|",
            colorscale=colors.MAGNITUDE, zmin=0, zmax=zmax, box=box, box_label="interior"), key="l3_fig_mix_eq")
    st.caption(
        f"Inside the dashed interior the conv's largest gap is {float(conv_gap[interior].max()):.1e}; "
        f"the mixer's is {float(mixer_gap[interior].max()):.3f}. The conv only differs near the border, where the "
        "zero fill and the zero padding meet. A mixer could learn a conv's banded matrix, but nothing in it forces "
        "the weights to repeat along the diagonals, so it is not equivariant."
    )

    # Verify.
    with torch.no_grad():
        explicit = aff.aggregate(matrices, conv.values(v)) + conv.output_bias()
        fast = aff.map_to_tokens(conv(v))
        i_idx, j_idx = torch.meshgrid(torch.arange(num_tokens), torch.arange(num_tokens), indexing="ij")
        both_move = ((i_idx % size) < size - 1) & ((j_idx % size) < size - 1)
        moved = matrices[:, i_idx[both_move] + 1, j_idx[both_move] + 1]
        original = matrices[:, i_idx[both_move], j_idx[both_move]]
    conv_follows = check_close("", conv_pair[0][..., lo:hi + 1, lo:hi + 1], conv_pair[1][..., lo:hi + 1, lo:hi + 1]).passed
    mixer_follows = check_close("", mixer_pair[0][..., lo:hi + 1, lo:hi + 1],
                                mixer_pair[1][..., lo:hi + 1, lo:hi + 1]).passed
    measured = SHIFT_PREDICTIONS[{(True, False): 0, (False, True): 1, (True, True): 2, (False, False): 3}[
        (conv_follows, mixer_follows)]]
    verify_panel(
        ([check_prediction(prediction, measured)] if prediction is not None else []) + [
            check_close("A_c V_c + b_c (explicit matrix) equals conv2d's output", explicit, fast),
            check_close(f"row t{query} of A_c equals depthwise_conv_row (kernel pasted at the query)",
                        matrices[:, query].reshape(CHANNELS, size, size), row_on_grid),
            check_close("A_c[i+1, j+1] = A_c[i, j] wherever both tokens move right inside the grid (shared weights)",
                        moved, original),
            check_close("conv: f(shift V) = shift(f V) in the interior (translation equivariance)",
                        conv_pair[0][..., lo:hi + 1, lo:hi + 1], conv_pair[1][..., lo:hi + 1, lo:hi + 1]),
            check_differ("mixer: f(shift V) ≠ shift(f V) in the interior (no equivariance)",
                         mixer_pair[0][..., lo:hi + 1, lo:hi + 1], mixer_pair[1][..., lo:hi + 1, lo:hi + 1]),
        ],
        "a depthwise conv is Y_c = A_c V_c + b_c with a static, banded A_c, and it commutes with shifts away from the border",
    )
    quiz(KEY, QUESTIONS)
