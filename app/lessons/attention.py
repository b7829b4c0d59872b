"""The ``attention`` lesson: self-attention, a dynamic and dense affinity."""

from __future__ import annotations

import streamlit as st
import torch
from torch import nn

from container_edu.ops import affinity as aff
from app.i18n import N_, _
from container_edu.ops.aggregation import MultiHeadSelfAttention

from app.figure_view import show_figure
from app.lessons.parts import figures
from app.lessons.parts.attention_real import render_real_input
from app.lessons.parts.math_text import math_sentence
from app.lessons.parts.steps import Step
from app.lessons.parts.symmetry import render_recap
from app.lessons.parts.widgets import (Prediction, Question, check_close, check_differ, check_prediction, goals,
                                      math_block, quiz, revealed, verify_panel)

KEY = "attention"
TITLE = N_("Self-attention: dynamic and dense")

HEIGHT = WIDTH = 4
NUM_TOKENS = HEIGHT * WIDTH
CHANNELS = 8
HEADS = 2
#: The prediction's fixed case: only token t5 moves (seed 0, ε = 0.5), and row i = t10 is read.
MOVED_TOKEN, PREDICT_QUERY, PREDICT_SEED, PREDICT_EPSILON = 5, 10, 0, 0.5
#: An entry of A "changed" when it moved by more than this (float64; untouched entries move by exactly 0).
CHANGED = 1e-12

GOALS = [
    N_("Build the attention affinity A_m = softmax(Q_m K_mᵀ s) from queries and keys, one per head."),
    N_("Check that every row of A_m is a probability distribution (non-negative, sums to 1)."),
    N_("See that A depends on the input X (dynamic) and links every token to every token (dense)."),
]

QUESTIONS = (
    Question(
        N_("Which statement holds for every row of an attention affinity A_m?"),
        (
            (N_("Its entries are ≥ 0 and sum to 1"),
             N_("The softmax runs over the keys j of each row i, so each row is a probability distribution.")),
            (N_("A_m is symmetric, so rows equal columns"),
             N_("A_m[i, j] uses q_i·k_j while A_m[j, i] uses q_j·k_i; with W_q ≠ W_k these differ (and the "
                "softmax normalises rows, not columns).")),
            (N_("Each column sums to 1"),
             N_("The softmax normalises over j within a row; columns can sum to anything between 0 and N.")),
        ),
        0,
    ),
    Question(
        N_("Why is self-attention called dynamic?"),
        (
            (N_("A is computed from each input X"),
             N_("A_m = softmax(Q_m K_mᵀ s) with Q = X W_q and K = X W_k: new X, new A. A conv's A is fixed once "
                "trained.")),
            (N_("W_q and W_k change in training"),
             N_("Every layer's weights change during training; 'dynamic' means A changes with the input at "
                "inference.")),
            (N_("Its number of heads can be changed after training"),
             N_("The number of heads is fixed by the architecture; it is not what 'dynamic' refers to.")),
        ),
        0,
    ),
    Question(
        N_("With C = {channels} channels and M = {heads} heads, what does one image's attention produce?"),
        (
            (N_("{heads} matrices, one per head"),
             N_("One A_m per head; head m mixes its own C/M = {per_head} contiguous channels V_m.")),
            (N_("{channels} matrices, one per channel, as in a depthwise conv"),
             N_("One matrix per channel is the depthwise conv's layout (M = C); attention has one per head.")),
            (N_("One matrix, the mean of the heads, shared by all channels"),
             N_("That is the MLP-Mixer layout (M = 1); attention with M heads has M matrices.")),
        ),
        0,
        fields={"channels": CHANNELS, "heads": HEADS, "per_head": CHANNELS // HEADS},
    ),
)


def projection(seed: int = 0) -> nn.Conv2d:
    """``conv1``: the 1 x 1 conv making ``[Q | K | V]`` (C -> 3C), fixed random weights."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        conv1 = nn.Conv2d(CHANNELS, 3 * CHANNELS, 1)
        nn.init.normal_(conv1.weight, std=0.6)
    return conv1.double().eval()


def inputs(seed: int, epsilon: float, target: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """``X`` and ``X' = X + epsilon * Delta`` (Delta on one token when ``target`` is set), ``(1, C, H, W)``."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(1, CHANNELS, HEIGHT, WIDTH, generator=generator, dtype=torch.float64)
    delta = torch.randn(1, CHANNELS, HEIGHT, WIDTH, generator=generator, dtype=torch.float64)
    if target is not None:
        mask = torch.zeros(NUM_TOKENS, dtype=torch.float64)
        mask[target] = 1.0
        delta = delta * mask.view(1, 1, HEIGHT, WIDTH)
    return x, x + epsilon * delta



EVERY_ENTRY = N_("every entry of row i")
PREDICTION = Prediction(
    "attention_prediction",
    N_("Only token t{moved} moves: X' = X + εΔ, with Δ non-zero on t{moved} alone and ε > 0. Which entries of row "
       "i = t{query} of A_m change (t{query} itself does not move)?"),
    (N_("only A[i, t5], the entry in column t5"), EVERY_ENTRY, N_("only the diagonal entry A[i, i]"),
     N_("none: only token t5's own row changes")),
    fields={"moved": MOVED_TOKEN, "query": PREDICT_QUERY},
)
_SOME_ENTRIES = N_("some entries of row i, but not all")


def measured_answer(row_change: torch.Tensor, moved: int = MOVED_TOKEN, query: int = PREDICT_QUERY) -> str:
    """The option that the measured change of row i (``(M, N)``, every head) matches."""
    changed = {int(j) for j in torch.nonzero(row_change.abs().amax(0) > CHANGED).flatten()}
    if not changed:
        return PREDICTION.options[3]
    if changed == {moved}:
        return PREDICTION.options[0]
    if changed == {query}:
        return PREDICTION.options[2]
    return EVERY_ENTRY if len(changed) == row_change.shape[-1] else _SOME_ENTRIES


def affinities(seed: int, epsilon: float, target: int | None):
    """``qkv`` of X', and every head's ``A(X)``, ``A(X')`` (``(M, N, N)``), from the real attention module."""
    conv1 = projection()
    attention = MultiHeadSelfAttention(HEADS)
    x, x_perturbed = inputs(seed, epsilon, target)
    with torch.no_grad():
        qkv, qkv_perturbed = conv1(x), conv1(x_perturbed)  # (1, 3C, H, W)
        return attention, qkv_perturbed, attention.affinity(qkv)[0], attention.affinity(qkv_perturbed)[0]


def _why() -> None:
    st.markdown(_(
        "A conv's weights are the same for every image: a token always listens to the same neighbours. "
        "Self-attention computes its affinity A from the input itself, so what a token listens to depends on "
        "what the image shows, and every token can reach every other. That is what Transformers brought to "
        "vision, and the next lessons weigh what it costs."))
    goals(GOALS)


def _idea() -> None:
    math_block(
        r"Q = X W_q,\quad K = X W_k,\quad V = X W_v \qquad "
        + math_sentence(_("({shape}, split into {heads} heads of {width})"), shape=r"N \times C", heads="M",
                        width="C/M"),
        r"A_m = \operatorname{softmax}\!\big(Q_m K_m^{\top} s\big),\quad s = (C/M)^{-1/2},\qquad "
        r"A_m[i,j] = \frac{\exp(s\, q_i \cdot k_j)}{\sum_{l} \exp(s\, q_i \cdot k_l)}",
        r"Y = \operatorname{concat}(A_0 V_0, \dots, A_{M-1} V_{M-1})\, W_o",
        caption=_("q_i, k_j are rows of Q_m, K_m. The softmax runs along each row, so each row of A_m is a "
                  "probability distribution over the N tokens. The scale s keeps the dot product's variance from "
                  "growing with the head dimension C/M. In Container's blocks W_q, W_k, W_v are the three thirds of "
                  "the 1×1 conv conv1, and W_o is conv2."),
    )


def _predict_and_reveal() -> None:
    st.markdown(_("{tokens} tokens on a {height} × {width} grid, C = {channels} channels, M = {heads} heads, a fixed "
                  "random input X. Look at the formula for A_m[i, j] before you answer.").format(
        tokens=NUM_TOKENS, height=HEIGHT, width=WIDTH, channels=CHANNELS, heads=HEADS))
    choice = PREDICTION.ask(KEY)
    if not revealed(KEY, choice):
        return
    attention, qkv_perturbed, a_x, a_xp = affinities(PREDICT_SEED, PREDICT_EPSILON, MOVED_TOKEN)
    row_change = a_xp[:, PREDICT_QUERY] - a_x[:, PREDICT_QUERY]  # (M, N)
    query = divmod(PREDICT_QUERY, WIDTH)
    left, right = st.columns(2)
    with left:
        show_figure(figures.heatmaps_side_by_side(
            [(a_x[0, PREDICT_QUERY].reshape(HEIGHT, WIDTH), _("row i of A_0(X)")),
             (a_xp[0, PREDICT_QUERY].reshape(HEIGHT, WIDTH), _("row i of A_0(X')"))],
            _("Row i = t{query} of A_0, before and after t{moved} moves").format(query=PREDICT_QUERY,
                                                                                moved=MOVED_TOKEN),
            "A_0[i, j]", x_title="x", y_title="y", grid=True, query=query, height=320),
            key="attention_fig_predict_rows")
    with right:
        # On a log scale: the normalisation's changes are orders of magnitude below t5's, yet none is zero.
        magnitude = row_change.abs().clamp_min(CHANGED / 1e3).log10()
        show_figure(figures.heatmaps_side_by_side(
            [(magnitude[m].reshape(HEIGHT, WIDTH), _("head {m}").format(m=m)) for m in range(HEADS)],
            _("Size of the change of row i = t{query}, every head (log scale)").format(query=PREDICT_QUERY),
            "log₁₀ |ΔA[i, j]|", x_title="x", y_title="y", grid=True, query=query, height=320),
            key="attention_fig_predict_change")
    size = row_change.abs()
    others = torch.cat([size[:, :MOVED_TOKEN], size[:, MOVED_TOKEN + 1:]], dim=1)
    st.caption(_("Entries of row i that changed: {changed} of {entries} (every head). Largest change {largest:.4f}, "
                 "in column t{column}; the smallest of the others {smallest:.1e}. Only the logit q_i·k_{moved} moved, "
                 "but the softmax divides by the sum over every key, so the other weights of the row shift "
                 "too.").format(
        changed=int((size > CHANGED).sum()), entries=size.numel(), largest=float(size.max()),
        column=int(size.amax(0).argmax()), smallest=float(others.min()), moved=MOVED_TOKEN))

    with torch.no_grad():  # the same attention, three ways: written out, fused, and the softmax by hand
        explicit = aff.aggregate(attention.affinity(qkv_perturbed), attention.values(qkv_perturbed))
        fused = aff.map_to_tokens(attention(qkv_perturbed))  # scaled_dot_product_attention
        q, k, _values = (aff.map_to_tokens(part)[0] for part in qkv_perturbed.chunk(3, dim=1))  # (N, C)
        head_dim = CHANNELS // HEADS
        by_hand = torch.stack([
            ((q[:, m * head_dim:(m + 1) * head_dim] @ k[:, m * head_dim:(m + 1) * head_dim].T) * head_dim**-0.5)
            .softmax(dim=-1)
            for m in range(HEADS)
        ])
    row_sums = a_xp.sum(-1)
    verify_panel(
        [check_prediction(choice, measured_answer(row_change)),
         check_close(_("explicit concat(A_m V_m) equals the fused scaled_dot_product_attention output"), explicit,
                     fused),
         check_close(_("softmax(Q_m K_mᵀ s) computed by hand equals the core's attention affinity"), a_xp, by_hand),
         check_close(_("every row of every A_m sums to 1"), row_sums, torch.ones_like(row_sums))],
        _("attention is Y = concat(A_m V_m) with A_m = softmax(Q_m K_mᵀ s), made from the input; moving one token "
          "changes every weight of a row, through the softmax"),
        lesson=KEY,
    )


def _explore() -> None:
    st.markdown(_("**Try it.** Change X, or move one token, and watch A change."))
    c1, c2, c3, c4, c5, c6 = st.columns([1, 1.4, 1.2, 0.8, 1, 1])
    seed = c1.number_input(_("input X: seed"), 0, 999, 0, key="attention_seed")
    epsilon = c2.slider(_("perturbation ε of X' = X + εΔ"), 0.0, 2.0, 0.5, 0.1, key="attention_eps")
    # The options stay English (the widget's value, shared links and tests use them); only what is shown changes.
    target_options = ["every token"] + [f"only token t{i}" for i in range(NUM_TOKENS)]
    target_labels = {"every token": _("every token"),
                     **{f"only token t{i}": _("only token t{index}").format(index=i) for i in range(NUM_TOKENS)}}
    target_label = c3.selectbox(_("perturb"), target_options, format_func=target_labels.__getitem__,
                                key="attention_target")
    head = c4.radio(_("head m"), list(range(HEADS)), horizontal=True, key="attention_head")
    target = None if target_label == "every token" else int(target_label.split("t")[-1])
    qy = c5.slider(_("query token row y"), 0, HEIGHT - 1, 1, key="attention_qy")
    qx = c6.slider(_("query token column x"), 0, WIDTH - 1, 2, key="attention_qx")
    query = aff.token_index(qy, qx, WIDTH)
    _attention, _qkv, a_x, a_xp = affinities(int(seed), float(epsilon), target)

    show_figure(figures.heatmaps_side_by_side(
        [(a_x[head], f"A_{head}(X)"), (a_xp[head], f"A_{head}(X'), ε = {epsilon:.1f}")],
        _("Attention affinity of head {head}: rows = output token i, columns = input token j").format(head=head),
        f"A_{head}[i, j]", x_title=_("input token j"), y_title=_("output token i"), height=280),
        key="attention_fig_a")
    left, right = st.columns(2)
    with left:
        show_figure(figures.heatmaps_side_by_side(
            [(a_x[head, query].reshape(HEIGHT, WIDTH), _("row i of A(X)")),
             (a_xp[head, query].reshape(HEIGHT, WIDTH), _("row i of A(X')"))],
            _("Row i = t{query} of A_{head} on the {height} × {width} grid").format(
                query=query, head=head, height=HEIGHT, width=WIDTH), f"A_{head}[i, j]",
            x_title="x", y_title="y", grid=True, query=(qy, qx), height=250), key="attention_fig_rows")
    with right:
        show_figure(figures.heatmap(
            a_xp[head] - a_x[head], _("Change A_{head}(X') − A_{head}(X)").format(head=head), "ΔA[i, j]",
            x_title=_("input token j"), y_title=_("output token i"), diverging=True, height=250),
            key="attention_fig_diff")
    row_sums = a_xp.sum(-1)
    change = (a_xp - a_x).abs()
    summary = _("Row sums of A(X'): between {low:.6f} and {high:.6f}. Entries that are exactly 0: {zeros} of "
                "{entries} (dense). Mean |ΔA| = {mean:.4f}; largest change {largest:.4f}.").format(
        low=float(row_sums.min()), high=float(row_sums.max()), zeros=int((a_xp == 0).sum()), entries=a_xp.numel(),
        mean=float(change.mean()), largest=float(change.max()))
    if target is not None and epsilon > 0:
        summary += " " + _("Moving only t{target} moves its key (column t{target} of every row) and its query (row "
                           "t{target}); the other entries change through the row normalisation.").format(
            target=target)
    st.caption(summary)
    checks = [check_close(_("every row of every A_m sums to 1"), row_sums, torch.ones_like(row_sums))]
    if epsilon > 0:
        checks.append(check_differ(_("A(X') differs from A(X): the affinity is dynamic"), a_xp, a_x))
    else:
        checks.append(check_close(_("with ε = 0, X' = X and A(X') equals A(X)"), a_xp, a_x))
    verify_panel(checks, _("A is recomputed from the input: each row is a distribution, and A moves when X does"))


def _real_image() -> None:
    checks = render_real_input()
    if checks:
        verify_panel(checks, _("the trained model's attention rows are distributions, and writing A out changes "
                               "nothing"))


def _check() -> None:
    quiz(KEY, QUESTIONS)


STEPS = (
    Step("why", N_("Why it matters"), _why),
    Step("idea", N_("The idea and the math"), _idea),
    Step("predict", N_("Predict, then see"), _predict_and_reveal),
    Step("try", N_("Try it"), _explore),
    Step("real", N_("On a real image"), _real_image),
    Step("recap", N_("Recap: sorting the operators"), render_recap),
    Step("check", N_("Check your understanding"), _check),
)
KEPT = ("attention_seed", "attention_eps", "attention_target", "attention_head", "attention_qy", "attention_qx",
        "attention_real_image", "attention_real_block", "attention_real_query", "recap_empty_cell")


def render() -> None:
    """Every step, one after another (the notebook and the worksheet; the page shows one step at a time)."""
    for step in STEPS:
        step.draw()
