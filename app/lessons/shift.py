"""The ``shift`` lesson: shared weights make a depthwise conv translation-equivariant; a dense matrix is not."""

from __future__ import annotations

import streamlit as st
import torch

from app.figure_view import show_figure
from app.i18n import N_, _
from container_edu.figures import colors
from container_edu.ops.aggregation import TokenMixing

from app.lessons.conv import CHANNELS, make_conv
from app.lessons.parts import figures
from app.lessons.parts.course import lesson_ref
from app.lessons.parts.steps import Step
from app.lessons.parts.widgets import (Prediction, Question, check_close, check_differ, check_prediction, goals,
                                      math_block, quiz, revealed, tex_words, verify_panel)

KEY = "shift"
TITLE = N_("Shifts and shared weights")
SHIFTS = {N_("right (+x)"): (0, 1), N_("left (−x)"): (0, -1), N_("down (+y)"): (1, 0), N_("up (−y)"): (-1, 0)}

GOALS = [
    N_("See that a conv's weights repeat along the diagonals of A_c: A_c[i+1, j+1] = A_c[i, j]."),
    N_("Verify translation equivariance numerically: f(shift V) = shift(f V) away from the border."),
    N_("See that a dense N × N matrix with free weights (as {mixer_lesson}'s Mixer learns) does not have it."),
]

QUESTIONS = (
    Question(
        N_("Why does shifting the input by one token shift a conv's output by one token (away from the border)?"),
        (
            (N_("The same kernel is used at every position"),
             N_("Weight sharing along the diagonals (a Toeplitz-like matrix) is exactly translation equivariance.")),
            (N_("A_c's rows sum to 1, so the output can only move, not change"),
             N_("Conv rows need not sum to 1 (the kernel here does not); that is not the reason.")),
            (N_("A_c is recomputed from the shifted input and follows its content"),
             N_("The conv's A_c is static: it never looks at the input. Equivariance comes from the shared kernel.")),
        ),
        0,
    ),
    Question(
        N_("Near the border the conv's f(shift V) and shift(f V) differ. Why?"),
        (
            (N_("Zero padding: a shifted-in token meets a zero"),
             N_("The token shifted in at the edge is zero-filled, and the kernel elements outside the grid see zero "
                "padding: the two orders see different zeros there. Inside the grid the shared kernel makes them "
                "equal.")),
            (N_("The kernel changes near the border to fit the grid"),
             N_("The same kernel is used everywhere; only its elements outside the grid are cut (they meet zero "
                "padding).")),
            (N_("Rounding errors grow near the edge of the grid"),
             N_("The gap there is of the size of the data, not 1e-16: it comes from the zeros, not from rounding.")),
        ),
        0,
    ),
)


PREDICTION = Prediction(
    "shift_prediction",
    N_("Whose output shifts along with its input, away from the border?"),
    (N_("the conv's only"), N_("the dense matrix's only"), N_("both"), N_("neither")),
)
SHIFT_PREDICTIONS = PREDICTION.options
KEPT = (PREDICTION.key,)


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


def make_dense(size: int) -> TokenMixing:
    """A dense N × N token mixing with seeded random weights (no structure along its diagonals)."""
    with torch.random.fork_rng():
        torch.manual_seed(1)
        dense = TokenMixing(size * size).double()
        torch.nn.init.normal_(dense.weight, std=(size * size) ** -0.5)
    return dense.eval()


def _why() -> None:
    st.markdown(_(
        "A shoe is a shoe wherever it sits in the picture. A layer that moves its output when its input moves "
        "(translation equivariance) does not have to learn the same pattern again at every position; a conv has "
        "it built in. Here you measure which operators have it, and "
        "see that sharing one kernel across positions is what gives it."))
    goals([_(goal).format(mixer_lesson=lesson_ref("mixer")) for goal in GOALS])


def _idea() -> None:
    math_block(
        r"A_c[i + 1,\ j + 1] = A_c[i, j] \quad " + tex_words(_("(both tokens one step right, inside the grid)")),
        r"f(\mathrm{shift}\,V) = \mathrm{shift}\,f(V) \quad "
        + tex_words(_("(translation equivariance, away from the border)")),
        caption=_("A_c[i, j] depends only on the offset between the tokens ({conv_lesson}), so moving both tokens "
                  "one step leaves the weight unchanged. Next, V is shifted by one token (zero fill) and f(shift V) "
                  "is compared with shift(f V) for the conv and for a dense N × N matrix with random weights: any A "
                  "of {matrix_lesson}, the kind {mixer_lesson}'s Mixer learns.").format(
            conv_lesson=lesson_ref("conv"), matrix_lesson=lesson_ref("matrix"), mixer_lesson=lesson_ref("mixer")),
    )


def measured_answer(conv_follows: bool, dense_follows: bool) -> str:
    """The prediction option that the two measured outcomes match."""
    return SHIFT_PREDICTIONS[{(True, False): 0, (False, True): 1, (True, True): 2, (False, False): 3}[
        (conv_follows, dense_follows)]]


def _predict_and_reveal() -> None:
    c1, c2, c3 = st.columns(3)
    size = c1.slider(_("grid side n_y = n_x"), 7, 12, 9, key="shift_size")
    kernel_size = c2.radio(_("kernel k"), [3, 5], horizontal=True, key="shift_k")
    shift_labels = {name: _(name) for name in SHIFTS}
    direction = c3.selectbox(_("shift the input by one token"), list(SHIFTS), key="shift_direction",
                             format_func=shift_labels.__getitem__)
    choice = PREDICTION.ask(KEY)
    if not revealed(KEY, choice):
        return
    pad = kernel_size // 2
    conv, dense = make_conv(kernel_size), make_dense(size)
    dy, dx = SHIFTS[direction]
    with torch.no_grad():
        v = torch.randn(1, CHANNELS, size, size, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
        v_shifted = shift_tokens(v, dy, dx)
        conv_pair = conv(v_shifted), shift_tokens(conv(v), dy, dx)  # f(shift V), shift(f V)
        dense_pair = dense(v_shifted), shift_tokens(dense(v), dy, dx)
        conv_gap = (conv_pair[0] - conv_pair[1]).abs().amax(dim=1)[0]  # (H, W), max over channels
        dense_gap = (dense_pair[0] - dense_pair[1]).abs().amax(dim=1)[0]
    lo, hi = pad + 1, size - 2 - pad  # at least p + 1 tokens from every border: both windows lie inside
    interior = (slice(lo, hi + 1), slice(lo, hi + 1))
    box = (lo, hi, lo, hi)
    g1, g2 = st.columns(2)
    zmax = float(max(conv_gap.max(), dense_gap.max()))
    with g1:
        show_figure(figures.grid_map(
            conv_gap, _("Conv: |f(shift V) − shift(f V)| (max over channels)"), _("|difference|"),
            colorscale=colors.MAGNITUDE, zmin=0, zmax=zmax, box=box, box_label=_("interior")), key="shift_fig_conv_eq")
    with g2:
        show_figure(figures.grid_map(
            dense_gap, _("Dense N × N matrix: |f(shift V) − shift(f V)| (max over channels)"), _("|difference|"),
            colorscale=colors.MAGNITUDE, zmin=0, zmax=zmax, box=box, box_label=_("interior")), key="shift_fig_mix_eq")
    st.caption(_(
        "Inside the dashed interior the conv's largest gap is {conv_gap:.1e}; the dense matrix's is {dense_gap:.3f}. "
        "The conv differs only near the border, where the zero fill meets the zero padding. A dense matrix could "
        "hold a banded pattern, but nothing forces its weights to repeat along the diagonals."
    ).format(conv_gap=float(conv_gap[interior].max()), dense_gap=float(dense_gap[interior].max())))

    num_tokens = size * size
    with torch.no_grad():
        matrices = conv.affinity(torch.zeros(1, CHANNELS, size, size))  # (C, N, N)
    i_idx, j_idx = torch.meshgrid(torch.arange(num_tokens), torch.arange(num_tokens), indexing="ij")
    both_move = ((i_idx % size) < size - 1) & ((j_idx % size) < size - 1)
    moved = matrices[:, i_idx[both_move] + 1, j_idx[both_move] + 1]
    original = matrices[:, i_idx[both_move], j_idx[both_move]]
    inside = (..., slice(lo, hi + 1), slice(lo, hi + 1))
    conv_follows = check_close("", conv_pair[0][inside], conv_pair[1][inside]).passed
    dense_follows = check_close("", dense_pair[0][inside], dense_pair[1][inside]).passed
    verify_panel(
        [check_prediction(choice, measured_answer(conv_follows, dense_follows)),
         check_close(_("A_c[i+1, j+1] = A_c[i, j] wherever both tokens move right inside the grid "
                       "(shared weights)"), moved, original),
         check_close(_("conv: f(shift V) = shift(f V) in the interior (translation equivariance)"),
                     conv_pair[0][inside], conv_pair[1][inside]),
         check_differ(_("dense matrix: f(shift V) ≠ shift(f V) in the interior (no equivariance)"),
                      dense_pair[0][inside], dense_pair[1][inside])],
        _("the conv's shared weights make it commute with shifts away from the border; a dense matrix does not"),
        lesson=KEY,
    )


def _check() -> None:
    quiz(KEY, QUESTIONS)


STEPS = (
    Step("why", N_("Why it matters"), _why),
    Step("idea", N_("The idea and the math"), _idea),
    Step("predict", N_("Predict, then see"), _predict_and_reveal),
    Step("check", N_("Check your understanding"), _check),
)


def render() -> None:
    """Every step, one after another (the notebook and the worksheet; the page shows one step at a time)."""
    for step in STEPS:
        step.draw()
