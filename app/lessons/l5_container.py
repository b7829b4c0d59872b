"""Lesson 5: Container, ``alpha A(X) + beta A_static``; moving Container-Light's blend on a trained model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from container_edu import affinity as aff
from container_edu.models import blend_parameters
from container_edu.trace import override_blend, record_affinities

from . import figures
from .blend_accuracy import (ALL_BLOCKS, SWEEP, accuracy_at, accuracy_sweep, accuracy_with_fresh_batchnorm,
                             slider_start, weights_for)
from .network import meet_the_network
from .pam import pam_view
from .resources import (CLASS_NAMES, alpha_from_behaviour, block_outputs_along_alpha, lesson_model,
                        standard_error, test_source, train_command, train_images, try_test_batch)
from .widgets import (Question, check_close, check_prediction, goals, math_block, predict, quiz, random_weights_warning,
                      verify_panel)

KEY = "container"
TITLE = "Container: mixing dynamic and static"
MODEL = "fmnist_container_light"
MOVED_KEY = "l5_moved"  # the targets whose slider the learner has moved: no override before that
PREDICTION_KEY = "l5_prediction"
PREDICTIONS = ("all blocks at α = 0 (conv only) costs more accuracy", "all blocks at α = 1 (attention only) costs more accuracy")

GOALS = [
    "Write Container's affinity α A(X) + β A^static and recognise attention, conv and Mixer as corner cases.",
    "Read Container-Light's blend α = sigmoid(sa_weight), β = 1 − α, one scalar per block.",
    "Move the blend of a trained network and measure what each branch is worth to it.",
]

QUESTIONS = (
    Question(
        "In A_m = α A_m(X) + β A_m^static with a depthwise-conv static part, which setting gives a plain depthwise-conv block?",
        (
            ("(α, β) = (0, 1)", "Only the static conv affinity is left: a depthwise-conv block."),
            ("(α, β) = (1, 0)", "That keeps only attention: a Transformer block."),
            ("(α, β) = (0.5, 0.5)", "That is Container-Light at initialisation (sa_weight = 0): both branches, equally weighted."),
        ),
        0,
    ),
    Question(
        "Container-Light's block has sa_weight = 0. What are α and β?",
        (
            ("α = β = 0.5", "α = sigmoid(0) = 0.5 and β = 1 − α = 0.5; this is where training starts."),
            ("α = 0, β = 1", "α = sigmoid(sa_weight), and sigmoid(0) is 0.5, not 0."),
            ("α = 1, β = 1", "In Container-Light β = 1 − α, so α + β = 1 always (the general Container has two free scalars)."),
        ),
        0,
    ),
    Question(
        "You set α = 1 on a trained Container-Light and accuracy collapses. What does that show?",
        (
            ("That this trained network relies on its conv branch",
             "The other weights were trained for the learned blend. A network trained with α = 1 could adapt; "
             "this one was never asked to."),
            ("That attention is useless on Fashion-MNIST, since dropping its partner branch breaks it",
             "Too strong: the network was trained with both branches, so removing one tests this network, not attention."),
            ("That the learned α was wrong", "The learned α is where training put it; moving it away costs accuracy by design."),
        ),
        0,
    ),
)


def _family_table() -> None:
    """Container's corner cases and variants in one table; the general Container's row is read from its weights."""
    general = lesson_model("fmnist_container")
    learned = "; ".join(f"{name}: α = {a:.3f}, β = {b:.3f}" for name, (a, b) in blend_parameters(general.model).items())
    rows = [
        ("Transformer block", "1", "0", "—", "lesson 5"),
        ("depthwise-conv block", "0", "1", "k × k conv (sparse)", "lesson 2"),
        ("MLP-Mixer block", "0", "1", "learned N × N (dense)", "lesson 4"),
        ("Container-PAM", "1", "1", "learned N × N added to the softmax output", "this lesson"),
        ("Container (general)", "free", "free", "multi-head learned N × N (dense)",
         f"{general.label}: {learned}" if learned else general.label),
        ("Container-Light", "σ(s)", "1 − σ(s)", "k × k conv (sparse), any grid", "this lesson"),
    ]
    st.dataframe(pd.DataFrame(rows, columns=["block", "α", "β", "A^static", "where"]), hide_index=True,
                 width="stretch")
    st.caption("In the general Container α and β are two free scalars, so compare α with β, not α with 0.5. "
               "Its dense static part ties it to one grid (lesson 4); Container-Light's conv static part works on "
               "any grid, which is what detection needs.")


def alpha_key(target: str) -> str:
    return f"l5_alpha_{target}"


def _mark_moved(target: str) -> None:
    st.session_state.setdefault(MOVED_KEY, set()).add(target)


def render() -> None:
    goals(GOALS)
    math_block(
        r"A_m = \alpha\, A_m(X) + \beta\, A_m^{\mathrm{static}}",
        r"\text{Container-Light:}\quad \alpha = \sigma(s),\ \ \beta = 1 - \sigma(s),\qquad "
        r"Y_c = \sigma(s)\, A_m^{\mathrm{sa}} V_c + \big(1 - \sigma(s)\big)\big(A_c^{\mathrm{conv}} V_c + b_c\big)",
        caption="s is the block's sa_weight (initialised to 0, so α = β = ½). (α, β) = (1, 0) is a Transformer block, "
        "(0, 1) with a conv affinity a depthwise-conv block, (0, 1) with a dense learned affinity an MLP-Mixer block. "
        "Both branches aggregate the same V; channel c of head m uses its head's attention and its own conv kernel.",
    )

    _family_table()
    meet_the_network(expanded=False)
    loaded = lesson_model(MODEL)
    if loaded.is_random:
        random_weights_warning(f"the {MODEL} zoo model", train_command("container_light"))
    model = loaded.model
    learned = blend_parameters(model)  # {block: (alpha, beta)}
    blocks = list(learned)
    data = try_test_batch()
    cache_key = f"{loaded.cache_key}|{test_source().directory}"  # results differ between the full set and the subset
    suffix = " — random weights" if loaded.is_random else ""
    st.markdown("Learned blend of " + loaded.label + ": " + ", ".join(
        f"`{name}` α = {a:.3f}, β = {b:.3f}" for name, (a, b) in learned.items()) + ".")

    c1, c2 = st.columns([1, 2])
    target = c1.selectbox("move the blend of", [ALL_BLOCKS] + blocks, key="l5_target")
    # One slider per target, starting at that block's learned α (all blocks: their mean); until it moves,
    # nothing is overridden.
    label = "α for every block (β = 1 − α), starts at their mean learned α" if target == ALL_BLOCKS else "α (β = 1 − α)"
    alpha = c2.slider(label, 0.0, 1.0, slider_start(target, learned), 0.01, key=alpha_key(target),
                      on_change=_mark_moved, args=(target,))
    alpha = round(float(alpha), 2)
    moved = target in st.session_state.get(MOVED_KEY, set())
    override = weights_for(target, blocks, alpha) if moved else {}
    if not moved:
        own = ", ".join(f"{name} {a:.2f}" for name, (a, _) in learned.items())
        start = f"the mean of the blocks' learned α ({own})" if target == ALL_BLOCKS else "this block's learned α"
        st.caption(f"The slider starts at {start}; the network runs with each block's learned blend until you move it.")

    # The blended affinity of one image, recorded with the moved blend.
    if data is not None:
        images, labels = data
        index = st.slider("test image", 0, len(images) - 1, 0, key="l5_image")
        image = images[index : index + 1]
        st.caption(f"Test image {index}, label: {CLASS_NAMES[int(labels[index])]}.")
    else:
        image = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    d1, d2, d3 = st.columns(3)
    block = d1.selectbox("block to look at", blocks, key="l5_block")
    head = d2.radio("head m", list(range(model.config.num_heads)), horizontal=True, key="l5_head")
    height, width = model.config.mixed_grid
    query = d3.select_slider("query token i", options=list(range(height * width)),
                             value=aff.token_index(height // 2, width // 2, width), key="l5_query")
    with torch.no_grad(), override_blend(override), record_affinities() as records:
        model(image.to(loaded.device))
    record = records[block]
    panels = [
        (record.alpha * record.attention_row(query)[head], f"α·A_{head}(X), α = {record.alpha:.2f}"),
        (record.beta * record.static_head_row(query)[head], f"β·A_{head}^conv (head mean), β = {record.beta:.2f}"),
        (record.blended_row(query)[head], "blended row"),
    ]
    st.plotly_chart(figures.heatmaps_side_by_side(
        panels, f"Row i = t{query} of {block}'s affinity on the {height} × {width} grid, head {head}{suffix}",
        "weight on token j", diverging=True, grid=True, query=divmod(query, width), height=360), key="l5_fig_rows")

    if data is not None:
        count = len(data[1])
        learned_accuracy = accuracy_at(cache_key, target, None, loaded, data)
        moved_accuracy = accuracy_at(cache_key, target, alpha if moved else None, loaded, data)
        m1, m2 = st.columns(2)
        m1.metric(f"accuracy, learned blend ({count} test images, ± 1 standard error)",
                  f"{learned_accuracy:.1f}% ± {standard_error(learned_accuracy, count):.1f}")
        m2.metric(f"accuracy, α = {alpha:.2f} on {target}" if moved else "accuracy, slider not moved yet",
                  f"{moved_accuracy:.1f}% ± {standard_error(moved_accuracy, count):.1f}",
                  delta=f"{moved_accuracy - learned_accuracy:+.1f} points")
        st.caption(f"Test images: {test_source().label}. Both accuracies use the same images, so their difference "
                   "is less noisy than the two standard errors suggest. Moving α at test time also feeds the "
                   "BatchNorm layers after the moved block with activations whose mean and variance differ from the "
                   "running statistics frozen at the learned α: part of any drop is that mismatch, not a lost branch.")
        if moved and st.toggle("re-estimate the BatchNorm statistics at this α (on 1,000 training images)",
                               key="l5_fresh_bn"):
            fresh = accuracy_with_fresh_batchnorm(cache_key, target, alpha, loaded, data, train_images(1000))
            st.metric(f"accuracy, α = {alpha:.2f} with BatchNorm statistics re-estimated",
                      f"{fresh:.1f}% ± {standard_error(fresh, count):.1f}", delta=f"{fresh - moved_accuracy:+.1f} points "
                      "against the frozen statistics")
            st.caption("Only the running means and variances change; every weight stays as trained. What this "
                       "recovers was the statistics' mismatch; what remains is what the moved branch was worth.")
        prediction = predict(PREDICTION_KEY, "Predict before the sweep is shown: which costs this network more?",
                             PREDICTIONS)
        sweeps = {ALL_BLOCKS: accuracy_sweep(cache_key, ALL_BLOCKS, loaded, data)}
        measured = PREDICTIONS[0] if sweeps[ALL_BLOCKS][0] < sweeps[ALL_BLOCKS][-1] else PREDICTIONS[1]
    if data is not None and prediction is None:
        st.info("Make your prediction to see the sweep; the Verify panel below then checks it.")
    elif data is not None:
        show_each = st.toggle("also sweep each block alone", value=False, key="l5_each")
        for name in blocks if show_each else []:
            sweeps[name] = accuracy_sweep(cache_key, name, loaded, data)
        fig = figures.lines([(name, SWEEP, values) for name, values in sweeps.items()],
                            f"Accuracy vs α on {count} Fashion-MNIST test images ({loaded.label})",
                            "α (attention weight; β = 1 − α)", "top-1 accuracy (%)")
        for number, (name, (a, _)) in enumerate(learned.items()):
            fig.add_vline(x=a, line_dash="dot", annotation_text=f"learned α {name}",
                          annotation_position="top" if number % 2 == 0 else "bottom")
        fig.add_trace(go.Scatter(x=[alpha], y=[moved_accuracy], mode="markers", name="your α",
                                 marker=dict(size=14, symbol="star", color="#ff2d55")))
        st.plotly_chart(fig, key="l5_fig_sweep")
        best = int(np.argmax(sweeps[ALL_BLOCKS]))
        st.caption(
            f"Setting every block to α = 0 (conv only) gives {sweeps[ALL_BLOCKS][0]:.1f}%, α = 1 (attention only) "
            f"{sweeps[ALL_BLOCKS][-1]:.1f}%, the best sweep point α = {SWEEP[best]:.1f} {sweeps[ALL_BLOCKS][best]:.1f}%, "
            f"the learned blend {learned_accuracy:.1f}% (each ± about {standard_error(learned_accuracy, count):.1f}). "
            "The rest of the network was trained around the learned α, so this measures what each branch is worth "
            "to this network, not what a network trained at that α would reach."
        )
    else:
        prediction, measured = None, None
        st.info("The accuracy sweep needs the Fashion-MNIST test images.")

    st.markdown("**Container-PAM, live**: the same image, head and query through a PAM block, A_m = A_m(X) + P_m.")
    pam_check = pam_view(lesson_model("fmnist_container"), block, image, head, query)

    # Verify, each claim through a route other than the code that draws it.
    batch = data[0][:16] if data is not None else torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    batch = batch.to(loaded.device)
    probe = alpha if moved else 0.3  # any α would do: the claims hold for every α

    with torch.no_grad():
        with override_blend(override):
            fast = model(batch)
            with record_affinities() as batch_records:
                explicit = model(batch)
        rec = batch_records[block]
        conv_part = rec.beta * (aff.aggregate(rec.static_channel_matrices(), rec.v) + rec.conv_bias)
        by_parts = rec.dynamic_output() + conv_part
        at_zero, at_one, at_probe = block_outputs_along_alpha(model, block, batch, (0.0, 1.0, probe))
        direction = at_one - at_zero
        fitted_alpha = alpha_from_behaviour(model, block, batch)
        sigma = float(torch.sigmoid(model.get_submodule(block).mix.sa_weight.detach().double()))
    checks = [
        check_close(f"explicit path (records A) equals the fast path{f' at α = {alpha:.2f}' if moved else ''}",
                    explicit, fast),
        check_close(f"{block}: α·A(X)V + β·(A_conv V + b), from recorded parts, = block output",
                    by_parts, rec.aggregated),
        check_close(f"{block}: output is linear in α: Y(α = {probe:.2f}) = Y(0) + α (Y(1) − Y(0))",
                    at_probe, at_zero + probe * direction),
        check_close(f"{block}: α fitted from the block's outputs = sigmoid(sa_weight) = {sigma:.4f}",
                    [fitted_alpha], [sigma]),
        pam_check,
    ]
    if prediction is not None:
        checks.append(check_prediction(prediction, measured))
    verify_panel(checks, "Container-Light's mix is σ(s)·attention + (1 − σ(s))·conv, override_blend moves exactly "
                 "that, and PAM's added affinity is exact")
    quiz(KEY, QUESTIONS)
