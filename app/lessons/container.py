"""The ``container`` lesson: Container, ``alpha A(X) + beta A_static``;
moving Container-Light's blend on a trained model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from app.i18n import N_, _
from container_edu.ops import affinity as aff
from container_edu.models import blend_parameters
from container_edu.record.trace import override_blend, record_affinities

from app.lessons.parts import figures
from app.lessons.parts.blend_accuracy import (ALL_BLOCKS, SWEEP, accuracy_at, accuracy_sweep, accuracy_with_fresh_batchnorm,
                                   slider_start, weights_for)
from app.lessons.parts.course import lesson_ref
from app.lessons.parts.network import meet_the_network
from app.lessons.parts.pam import pam_view
from app.lessons.parts.resources import (alpha_from_behaviour, block_outputs_along_alpha, class_name, lesson_model, source_label,
                              standard_error, test_source, train_command, train_images, try_test_batch)
from app.lessons.parts.widgets import (Question, check_close, check_prediction, goals, math_block, predict, quiz,
                            random_weights_warning, verify_panel)

KEY = "container"
TITLE = N_("Container: mixing dynamic and static")
MODEL = "fmnist_container_light"
MOVED_KEY = "container_moved"  # the targets whose slider the learner has moved: no override before that
PREDICTION_KEY = "container_prediction"
PREDICTIONS = (N_("all blocks at α = 0 (conv only) costs more accuracy"),
               N_("all blocks at α = 1 (attention only) costs more accuracy"))

GOALS = [
    N_("Write Container's affinity α A(X) + β A^static and recognise attention, conv and Mixer as corner cases."),
    N_("Read Container-Light's blend α = sigmoid(sa_weight), β = 1 − α, one scalar per block."),
    N_("Move the blend of a trained network and measure what each branch is worth to it."),
]

QUESTIONS = (
    Question(
        N_("In A_m = α A_m(X) + β A_m^static with a depthwise-conv static part, which setting gives a plain "
           "depthwise-conv block?"),
        (
            (N_("(α, β) = (0, 1)"), N_("Only the static conv affinity is left: a depthwise-conv block.")),
            (N_("(α, β) = (1, 0)"), N_("That keeps only attention: a Transformer block.")),
            (N_("(α, β) = (0.5, 0.5)"),
             N_("That is Container-Light at initialisation (sa_weight = 0): both branches, equally weighted.")),
        ),
        0,
    ),
    Question(
        N_("Container-Light's block has sa_weight = 0. What are α and β?"),
        (
            (N_("α = β = 0.5"), N_("α = sigmoid(0) = 0.5 and β = 1 − α = 0.5; this is where training starts.")),
            (N_("α = 0, β = 1"), N_("α = sigmoid(sa_weight), and sigmoid(0) is 0.5, not 0.")),
            (N_("α = 1, β = 1"),
             N_("In Container-Light β = 1 − α, so α + β = 1 always (the general Container has two free scalars).")),
        ),
        0,
    ),
    Question(
        N_("You set α = 1 on a trained Container-Light and accuracy collapses. What does that show?"),
        (
            (N_("That this trained network relies on its conv branch"),
             N_("The other weights were trained for the learned blend. A network trained with α = 1 could adapt; "
                "this one was never asked to.")),
            (N_("That attention is useless on Fashion-MNIST, since dropping its partner branch breaks it"),
             N_("Too strong: the network was trained with both branches, so removing one tests this network, not "
                "attention.")),
            (N_("That the learned α was wrong"),
             N_("The learned α is where training put it; moving it away costs accuracy by design.")),
        ),
        0,
    ),
)


def _family_table() -> None:
    """Container's corner cases and variants in one table; the general Container's row is read from its weights."""
    general = lesson_model("fmnist_container")
    learned = "; ".join(f"{name}: α = {a:.3f}, β = {b:.3f}" for name, (a, b) in blend_parameters(general.model).items())
    learned_text = _("{model}: {learned}").format(model=general.label, learned=learned) if learned else general.label
    free, this_lesson = _("free"), _("this lesson")
    rows = [
        (_("Transformer block"), "1", "0", "—", lesson_ref("attention")),
        (_("depthwise-conv block"), "0", "1", _("k × k conv (sparse)"), lesson_ref("conv")),
        (_("MLP-Mixer block"), "0", "1", _("learned N × N (dense)"), lesson_ref("mixer")),
        ("Container-PAM", "1", "1", _("learned N × N added to the softmax output"), this_lesson),
        (_("Container (general)"), free, free, _("multi-head learned N × N (dense)"), learned_text),
        ("Container-Light", "σ(s)", "1 − σ(s)", _("k × k conv (sparse), any grid"), this_lesson),
    ]
    st.dataframe(pd.DataFrame(rows, columns=[_("block"), "α", "β", "A^static", _("where")]), hide_index=True,
                 width="stretch")
    st.caption(_("In the general Container α and β are two free scalars, so compare α with β, not α with 0.5. Its "
                 "dense static part ties it to one grid ({mixer_lesson}); Container-Light's conv static part works on "
                 "any grid, which is what detection needs.").format(mixer_lesson=lesson_ref("mixer")))


def alpha_key(target: str) -> str:
    return f"container_alpha_{target}"


def _mark_moved(target: str) -> None:
    st.session_state.setdefault(MOVED_KEY, set()).add(target)


def render() -> None:
    goals(GOALS)
    math_block(
        r"A_m = \alpha\, A_m(X) + \beta\, A_m^{\mathrm{static}}",
        r"\text{Container-Light:}\quad \alpha = \sigma(s),\ \ \beta = 1 - \sigma(s),\qquad "
        r"Y_c = \sigma(s)\, A_m^{\mathrm{sa}} V_c + \big(1 - \sigma(s)\big)\big(A_c^{\mathrm{conv}} V_c + b_c\big)",
        caption=_("s is the block's sa_weight (initialised to 0, so α = β = ½). (α, β) = (1, 0) is a Transformer "
                  "block, (0, 1) with a conv affinity a depthwise-conv block, (0, 1) with a dense learned affinity an "
                  "MLP-Mixer block. Both branches aggregate the same V; channel c of head m uses its head's attention "
                  "and its own conv kernel."),
    )

    _family_table()
    meet_the_network(expanded=False)
    loaded = lesson_model(MODEL)
    if loaded.is_random:
        random_weights_warning(_("the {model} zoo model").format(model=MODEL), train_command("container_light"))
    model = loaded.model
    learned = blend_parameters(model)  # {block: (alpha, beta)}
    blocks = list(learned)
    data = try_test_batch()
    cache_key = f"{loaded.cache_key}|{test_source().directory}"  # results differ between the full set and the subset
    suffix = _(" — random weights") if loaded.is_random else ""
    st.markdown(_("Learned blend of {model}: {blends}.").format(model=loaded.label, blends=", ".join(
        f"`{name}` α = {a:.3f}, β = {b:.3f}" for name, (a, b) in learned.items())))

    c1, c2 = st.columns([1, 2])
    # The options stay English (the value names the slider's key); ALL_BLOCKS is shown translated.
    target_labels = {ALL_BLOCKS: _(ALL_BLOCKS), **{name: name for name in blocks}}
    target = c1.selectbox(_("move the blend of"), [ALL_BLOCKS] + blocks, format_func=target_labels.__getitem__,
                          key="container_target")
    # One slider per target, starting at that block's learned α (all blocks: their mean); until it moves,
    # nothing is overridden.
    label = _("α for every block (β = 1 − α), starts at their mean learned α") if target == ALL_BLOCKS else "α (β = 1 − α)"
    alpha = c2.slider(label, 0.0, 1.0, slider_start(target, learned), 0.01, key=alpha_key(target),
                      on_change=_mark_moved, args=(target,))
    alpha = round(float(alpha), 2)
    moved = target in st.session_state.get(MOVED_KEY, set())
    override = weights_for(target, blocks, alpha) if moved else {}
    if not moved:
        own = ", ".join(f"{name} {a:.2f}" for name, (a, _beta) in learned.items())
        start = (_("the mean of the blocks' learned α ({alphas})").format(alphas=own) if target == ALL_BLOCKS
                 else _("this block's learned α"))
        st.caption(_("The slider starts at {start}; the network runs with each block's learned blend until you move "
                     "it.").format(start=start))

    # The blended affinity of one image, recorded with the moved blend.
    if data is not None:
        images, labels = data
        index = st.slider(_("test image"), 0, len(images) - 1, 0, key="container_image")
        image = images[index : index + 1]
        st.caption(_("Test image {index}, label: {label}.").format(index=index, label=class_name(int(labels[index]))))
    else:
        image = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    d1, d2, d3 = st.columns(3)
    block = d1.selectbox(_("block to look at"), blocks, key="container_block")
    head = d2.radio(_("head m"), list(range(model.config.num_heads)), horizontal=True, key="container_head")
    height, width = model.config.mixed_grid
    query = d3.select_slider(_("query token i"), options=list(range(height * width)),
                             value=aff.token_index(height // 2, width // 2, width), key="container_query")
    with torch.no_grad(), override_blend(override), record_affinities() as records:
        model(image.to(loaded.device))
    record = records[block]
    panels = [
        (record.alpha * record.attention_row(query)[head], f"α·A_{head}(X), α = {record.alpha:.2f}"),
        (record.beta * record.static_head_row(query)[head],
         _("β·A_{head}^conv (head mean), β = {beta:.2f}").format(head=head, beta=record.beta)),
        (record.blended_row(query)[head], _("blended row")),
    ]
    st.plotly_chart(figures.heatmaps_side_by_side(
        panels, _("Row i = t{query} of {block}'s affinity on the {height} × {width} grid, head {head}{suffix}").format(
            query=query, block=block, height=height, width=width, head=head, suffix=suffix),
        _("weight on token j"), diverging=True, grid=True, query=divmod(query, width), height=360),
        key="container_fig_rows")

    if data is not None:
        count = len(data[1])
        learned_accuracy = accuracy_at(cache_key, target, None, loaded, data)
        moved_accuracy = accuracy_at(cache_key, target, alpha if moved else None, loaded, data)
        m1, m2 = st.columns(2)
        m1.metric(_("accuracy, learned blend ({count} test images, ± 1 standard error)").format(count=count),
                  f"{learned_accuracy:.1f}% ± {standard_error(learned_accuracy, count):.1f}")
        m2.metric(_("accuracy, α = {alpha:.2f} on {target}").format(alpha=alpha, target=target_labels[target])
                  if moved else _("accuracy, slider not moved yet"),
                  f"{moved_accuracy:.1f}% ± {standard_error(moved_accuracy, count):.1f}",
                  delta=_("{change:+.1f} points").format(change=moved_accuracy - learned_accuracy))
        st.caption(_("Test images: {source}. Both accuracies use the same images, so their difference is less noisy "
                     "than the two standard errors suggest. Moving α at test time also feeds the BatchNorm layers "
                     "after the moved block with activations whose mean and variance differ from the running "
                     "statistics frozen at the learned α: part of any drop is that mismatch, not a lost "
                     "branch.").format(source=source_label(test_source())))
        if moved and st.toggle(_("re-estimate the BatchNorm statistics at this α (on 1,000 training images)"),
                               key="container_fresh_bn"):
            training = train_images(1000)
            with st.spinner(_("Re-estimating BatchNorm statistics at this α…")):
                fresh = accuracy_with_fresh_batchnorm(cache_key, target, alpha, loaded, data, training)
            st.metric(_("accuracy, α = {alpha:.2f} with BatchNorm statistics re-estimated").format(alpha=alpha),
                      f"{fresh:.1f}% ± {standard_error(fresh, count):.1f}",
                      delta=_("{change:+.1f} points against the frozen statistics").format(change=fresh - moved_accuracy))
            st.caption(_("Only the running means and variances change; every weight stays as trained. What this "
                         "recovers was the statistics' mismatch; what remains is what the moved branch was worth."))
        prediction = predict(PREDICTION_KEY, _("Predict before the sweep is shown: which costs this network more?"),
                             PREDICTIONS)
        with st.spinner(_("Measuring accuracy over a sweep of α…")):
            sweeps = {ALL_BLOCKS: accuracy_sweep(cache_key, ALL_BLOCKS, loaded, data)}
        measured = PREDICTIONS[0] if sweeps[ALL_BLOCKS][0] < sweeps[ALL_BLOCKS][-1] else PREDICTIONS[1]
    if data is not None and prediction is None:
        st.info(_("Make your prediction to see the sweep; the Verify panel below then checks it."))
    elif data is not None:
        show_each = st.toggle(_("also sweep each block alone"), value=False, key="container_each")
        for name in blocks if show_each else []:
            with st.spinner(_("Measuring accuracy over a sweep of α…")):
                sweeps[name] = accuracy_sweep(cache_key, name, loaded, data)
        fig = figures.lines([(target_labels[name], SWEEP, values) for name, values in sweeps.items()],
                            _("Accuracy vs α on {count} Fashion-MNIST test images ({model})").format(
                                count=count, model=loaded.label),
                            _("α (attention weight; β = 1 − α)"), _("top-1 accuracy (%)"))
        for number, (name, (a, _beta)) in enumerate(learned.items()):
            fig.add_vline(x=a, line_dash="dot", annotation_text=_("learned α {block}").format(block=name),
                          annotation_position="top" if number % 2 == 0 else "bottom")
        fig.add_trace(go.Scatter(x=[alpha], y=[moved_accuracy], mode="markers", name=_("your α"),
                                 marker=dict(size=14, symbol="star", color="#ff2d55")))
        st.plotly_chart(fig, key="container_fig_sweep")
        best = int(np.argmax(sweeps[ALL_BLOCKS]))
        st.caption(_(
            "Setting every block to α = 0 (conv only) gives {conv_only:.1f}%, α = 1 (attention only) "
            "{attention_only:.1f}%, the best sweep point α = {best_alpha:.1f} {best:.1f}%, the learned blend "
            "{learned:.1f}% (each ± about {error:.1f}). The rest of the network was trained around the learned α, so "
            "this measures what each branch is worth to this network, not what a network trained at that α would "
            "reach.").format(conv_only=sweeps[ALL_BLOCKS][0], attention_only=sweeps[ALL_BLOCKS][-1],
                             best_alpha=SWEEP[best], best=sweeps[ALL_BLOCKS][best], learned=learned_accuracy,
                             error=standard_error(learned_accuracy, count)))
    else:
        prediction, measured = None, None
        st.info(_("The accuracy sweep needs the Fashion-MNIST test images."))

    st.markdown(_("**Container-PAM, live**: the same image, head and query through a PAM block, "
                  "A_m = A_m(X) + P_m."))
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
        check_close(_("explicit path (records A) equals the fast path at α = {alpha:.2f}").format(alpha=alpha)
                    if moved else _("explicit path (records A) equals the fast path"), explicit, fast),
        check_close(_("{block}: α·A(X)V + β·(A_conv V + b), from recorded parts, = block output").format(block=block),
                    by_parts, rec.aggregated),
        check_close(_("{block}: output is linear in α: Y(α = {probe:.2f}) = Y(0) + α (Y(1) − Y(0))").format(
                    block=block, probe=probe), at_probe, at_zero + probe * direction),
        check_close(_("{block}: α fitted from the block's outputs = sigmoid(sa_weight) = {sigma:.4f}").format(
                    block=block, sigma=sigma), [fitted_alpha], [sigma]),
        pam_check,
    ]
    if prediction is not None:
        checks.append(check_prediction(prediction, measured))
    verify_panel(checks, _("Container-Light's mix is σ(s)·attention + (1 − σ(s))·conv, override_blend moves exactly "
                           "that, and PAM's added affinity is exact"))
    quiz(KEY, QUESTIONS)
