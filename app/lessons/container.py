"""The ``container`` lesson: Container, ``alpha A(X) + beta A_static``;
moving Container-Light's blend on a trained model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from app.figure_view import show_figure
from app.i18n import N_, _
from container_edu.ops import affinity as aff
from container_edu.models import ZooConfig, ZooContainer, blend_parameters
from container_edu.record.trace import override_blend, record_affinities

from app.lessons.parts import figures
from app.lessons.parts.blend_accuracy import (ALL_BLOCKS, SWEEP, accuracy_at, accuracy_sweep,
                                              accuracy_with_fresh_batchnorm, slider_start, weights_for)
from app.lessons.parts.course import lesson_ref
from app.lessons.parts.network import meet_the_network
from app.lessons.parts.pam import pam_view
from app.lessons.parts.resources import (LessonModel, alpha_from_behaviour, block_outputs_along_alpha, class_name,
                                         lesson_model, source_label, standard_error, test_source, train_command,
                                         train_images, try_test_batch)
from app.lessons.parts.steps import Step
from app.lessons.parts.widgets import (Prediction, Question, check_close, check_prediction, goals, math_block, quiz,
                                       random_weights_warning, revealed, verify_panel)

KEY = "container"
TITLE = N_("Container: mixing dynamic and static")
MODEL = "fmnist_container_light"
MOVED_KEY = "container_moved"  # the targets whose slider the learner has moved: no override before that
#: The mixed blocks of the lesson's model, read off a freshly built one (their α sliders are kept across steps).
BLOCKS: tuple[str, ...] = tuple(blend_parameters(ZooContainer(ZooConfig(mixing="container_light"))))

PREDICTION = Prediction(
    "container_prediction",
    N_("Set every block to α = 0 (conv only), or every block to α = 1 (attention only). Which costs this trained "
       "network more accuracy?"),
    (N_("all blocks at α = 0 (conv only) costs more accuracy"),
     N_("all blocks at α = 1 (attention only) costs more accuracy")),
)
PREDICTIONS = PREDICTION.options

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
        N_("On the trained Container-Light, α = 0 in every block and α = 1 in every block both score far below the "
           "learned blend. What does that show?"),
        (
            (N_("That this network, trained with both branches, now depends on both"),
             N_("The other weights were trained around the learned blend, so removing either branch at test time "
                "breaks what they expect. A network trained at α = 0 or α = 1 could adapt; this one was never asked "
                "to.")),
            (N_("That attention alone beats a conv alone on Fashion-MNIST, since α = 1 scores higher"),
             N_("Too strong: this removes a branch from one network trained with both; it says nothing about a "
                "network trained with attention only or with a conv only.")),
            (N_("That the learned α is wrong, since no α on the sweep scores higher"),
             N_("The learned α is where training put it; the rest of the network was fitted to it, so moving α "
                "away costs accuracy by design.")),
        ),
        0,
    ),
)


def _family_table() -> None:
    """Container's corner cases and variants in one table; the general Container's row is read from its weights."""
    general = lesson_model("fmnist_container")
    learned = _("; ").join(f"{name}: α = {a:.3f}, β = {b:.3f}" for name, (a, b) in blend_parameters(general.model).items())
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
    st.caption(_("The general Container's α and β are two free scalars: compare α with β, not with 0.5. Its dense "
                 "static part ties it to one grid ({mixer_lesson}); Container-Light's conv works on any grid, as "
                 "detection needs.").format(mixer_lesson=lesson_ref("mixer")))


def alpha_key(target: str) -> str:
    return f"container_alpha_{target}"


def _mark_moved(target: str) -> None:
    st.session_state.setdefault(MOVED_KEY, set()).add(target)


def _loaded() -> LessonModel:
    """The lesson's Container-Light, with a warning when it is not the trained one."""
    loaded = lesson_model(MODEL)
    if loaded.is_random:
        random_weights_warning(_("the {model} zoo model").format(model=MODEL), train_command("container_light"))
    return loaded


def _cache_key(loaded: LessonModel) -> str:
    return f"{loaded.cache_key}|{test_source().directory}"  # results differ between the full set and the subset


def _moved_blend(learned: dict[str, tuple[float, float]]) -> tuple[str, float, bool, dict[str, float]]:
    """The target, its α, whether its slider has moved and the override it asks for (kept across steps)."""
    target = st.session_state.get("container_target", ALL_BLOCKS)
    if target != ALL_BLOCKS and target not in learned:
        target = ALL_BLOCKS
    alpha = round(float(st.session_state.get(alpha_key(target), slider_start(target, learned))), 2)
    moved = target in st.session_state.get(MOVED_KEY, set())
    return target, alpha, moved, weights_for(target, list(learned), alpha) if moved else {}


def _target_label(target: str) -> str:
    return _(ALL_BLOCKS) if target == ALL_BLOCKS else target


# ----------------------------------------------------------------------------- steps


def _why() -> None:
    st.markdown(_(
        "Attention adapts A to each image but has no built-in sense of neighbourhood; a conv has that sense but the "
        "same A for every image. Container does not choose: each block adds a dynamic and a static affinity, "
        "weighted by learnable scalars, so training decides how much of each to use. Here you take a trained "
        "Container-Light, move its blend and measure what each branch is worth to it."))
    goals(GOALS)


def _idea() -> None:
    math_block(
        r"A_m = \alpha\, A_m(X) + \beta\, A_m^{\mathrm{static}}",
        r"\text{Container-Light:}\quad \alpha = \sigma(s),\ \ \beta = 1 - \sigma(s),\qquad "
        r"Y_c = \sigma(s)\, A_m^{\mathrm{sa}} V_c + \big(1 - \sigma(s)\big)\big(A_c^{\mathrm{conv}} V_c + b_c\big)",
        caption=_("s is the block's sa_weight (0 at initialisation, so α = β = ½). Both branches aggregate the same "
                  "V; channel c of head m uses its head's attention and its own conv kernel."),
    )
    _family_table()
    meet_the_network(expanded=False)


def _predict_and_reveal() -> None:
    loaded = _loaded()
    learned = blend_parameters(loaded.model)
    st.markdown(_("Learned blend of {model}: {blends}.").format(model=loaded.label, blends=", ".join(
        f"`{name}` α = {a:.3f}, β = {b:.3f}" for name, (a, b) in learned.items())))
    choice = PREDICTION.ask(KEY)
    if not revealed(KEY, choice):
        return
    data = try_test_batch()
    checks = []
    if data is None:
        st.info(_("The accuracy sweep needs the Fashion-MNIST test images."))
    else:
        checks.append(_sweep(loaded, learned, data, choice))
    block, batch = _block_shown(learned), _probe_batch(loaded, data)
    checks += _path_checks(loaded, block, batch, {}, None) + _alpha_checks(loaded, block, batch)
    verify_panel(checks, _("Container-Light's mix is σ(s)·attention + (1 − σ(s))·conv, and override_blend moves "
                           "exactly that"), lesson=KEY)


def _sweep(loaded: LessonModel, learned: dict[str, tuple[float, float]], data: tuple, choice: str):
    """The accuracy-against-α figure and its caption; returns the prediction's Verify row."""
    count = len(data[1])
    with st.spinner(_("Measuring accuracy over a sweep of α…")):
        sweeps = {ALL_BLOCKS: accuracy_sweep(_cache_key(loaded), ALL_BLOCKS, loaded, data)}
    measured = PREDICTIONS[0] if sweeps[ALL_BLOCKS][0] < sweeps[ALL_BLOCKS][-1] else PREDICTIONS[1]
    if st.toggle(_("also sweep each block alone"), value=False, key="container_each"):
        for name in learned:
            with st.spinner(_("Measuring accuracy over a sweep of α…")):
                sweeps[name] = accuracy_sweep(_cache_key(loaded), name, loaded, data)
    fig = figures.lines([(_target_label(name), SWEEP, values) for name, values in sweeps.items()],
                        _("Accuracy vs α on {count} Fashion-MNIST test images ({model})").format(
                            count=count, model=loaded.label),
                        _("α (attention weight; β = 1 − α)"), _("top-1 accuracy (%)"), height=320)
    for number, (name, (a, _beta)) in enumerate(learned.items()):
        fig.add_vline(x=a, line_dash="dot", annotation_text=_("learned α {block}").format(block=name),
                      annotation_position="top" if number % 2 == 0 else "bottom")
    learned_accuracy = accuracy_at(_cache_key(loaded), ALL_BLOCKS, None, loaded, data)
    fig.add_trace(go.Scatter(x=[float(np.mean([a for a, _b in learned.values()]))], y=[learned_accuracy],
                             mode="markers", name=_("learned blend (at the mean learned α)"),
                             marker=dict(size=14, symbol="star", color="#ff2d55")))
    show_figure(fig, key="container_fig_sweep")
    best = int(np.argmax(sweeps[ALL_BLOCKS]))
    st.caption(_(
        "Every block at α = 0 (conv only): {conv_only:.1f}%; at α = 1 (attention only): {attention_only:.1f}%; best "
        "sweep point α = {best_alpha:.1f}: {best:.1f}%; learned blend: {learned:.1f}% (each ± about {error:.1f}; "
        "{source}). This measures what each branch is worth to this network, trained around its learned α, not "
        "what a network trained at that α would reach.").format(
            conv_only=sweeps[ALL_BLOCKS][0], attention_only=sweeps[ALL_BLOCKS][-1], best_alpha=SWEEP[best],
            best=sweeps[ALL_BLOCKS][best], learned=learned_accuracy, error=standard_error(learned_accuracy, count),
            source=source_label(test_source())))
    return check_prediction(choice, measured)


def _block_shown(learned: dict) -> str:
    """The block chosen in the rows step (kept across steps), else the first mixed block."""
    chosen = st.session_state.get("container_block")
    return chosen if chosen in learned else next(iter(learned))


def _probe_batch(loaded: LessonModel, data: tuple | None) -> torch.Tensor:
    batch = data[0][:16] if data is not None else torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    return batch.to(loaded.device)


def _path_checks(loaded: LessonModel, block: str, batch: torch.Tensor, override: dict, alpha: float | None) -> list:
    """The fast path against the recorded one, and the block output rebuilt from its recorded parts."""
    with torch.no_grad(), override_blend(override):
        fast = loaded.model(batch)
        with record_affinities() as records:
            explicit = loaded.model(batch)
    rec = records[block]
    conv_part = rec.beta * (aff.aggregate(rec.static_channel_matrices(), rec.v) + rec.conv_bias)
    return [
        check_close(_("explicit path (records A) equals the fast path at α = {alpha:.2f}").format(alpha=alpha)
                    if alpha is not None else _("explicit path (records A) equals the fast path"), explicit, fast),
        check_close(_("{block}: α·A(X)V + β·(A_conv V + b), from recorded parts, = block output").format(block=block),
                    rec.dynamic_output() + conv_part, rec.aggregated),
    ]


def _alpha_checks(loaded: LessonModel, block: str, batch: torch.Tensor) -> list:
    """The block output is linear in α, and the α fitted from its outputs is sigmoid(sa_weight)."""
    probe = 0.3  # any α would do: the claims hold for every α
    with torch.no_grad():
        at_zero, at_one, at_probe = block_outputs_along_alpha(loaded.model, block, batch, (0.0, 1.0, probe))
        fitted_alpha = alpha_from_behaviour(loaded.model, block, batch)
        sigma = float(torch.sigmoid(loaded.model.get_submodule(block).mix.sa_weight.detach().double()))
    return [
        check_close(_("{block}: output is linear in α: Y(α = {probe:.2f}) = Y(0) + α (Y(1) − Y(0))").format(
                    block=block, probe=probe), at_probe, at_zero + probe * (at_one - at_zero)),
        check_close(_("{block}: α fitted from the block's outputs = sigmoid(sa_weight) = {sigma:.4f}").format(
                    block=block, sigma=sigma), [fitted_alpha], [sigma]),
    ]


def _try_it() -> None:
    loaded = _loaded()
    learned = blend_parameters(loaded.model)
    blocks = list(learned)
    c1, c2 = st.columns([1, 2])
    # The options stay English (the value names the slider's key); ALL_BLOCKS is shown translated, with labels
    # built in the run (a format_func may be called outside it, where the language is English).
    target_labels = {target: _target_label(target) for target in [ALL_BLOCKS] + blocks}
    target = c1.selectbox(_("move the blend of"), [ALL_BLOCKS] + blocks, format_func=target_labels.__getitem__,
                          key="container_target")
    # One slider per target, starting at that block's learned α (all blocks: their mean); until it moves,
    # nothing is overridden.
    label = _("α for every block (β = 1 − α), starts at their mean learned α") if target == ALL_BLOCKS else "α (β = 1 − α)"
    c2.slider(label, 0.0, 1.0, slider_start(target, learned), 0.01, key=alpha_key(target),
              on_change=_mark_moved, args=(target,))
    target, alpha, moved, override = _moved_blend(learned)
    if not moved:
        own = ", ".join(f"{name} {a:.2f}" for name, (a, _beta) in learned.items())
        start = (_("the mean of the blocks' learned α ({alphas})").format(alphas=own) if target == ALL_BLOCKS
                 else _("this block's learned α"))
        st.caption(_("The slider starts at {start}; the network keeps each block's learned blend until you move "
                     "it.").format(start=start))
    data = try_test_batch()
    if data is not None:
        _accuracies(loaded, data, target, alpha, moved)
    verify_panel(_path_checks(loaded, _block_shown(learned), _probe_batch(loaded, data), override,
                              alpha if moved else None),
                 _("the moved blend is exactly α·attention + (1 − α)·conv"))


def _accuracies(loaded: LessonModel, data: tuple, target: str, alpha: float, moved: bool) -> None:
    count = len(data[1])
    learned_accuracy = accuracy_at(_cache_key(loaded), target, None, loaded, data)
    moved_accuracy = accuracy_at(_cache_key(loaded), target, alpha if moved else None, loaded, data)
    m1, m2 = st.columns(2)
    m1.metric(_("accuracy, learned blend ({count} test images, ± 1 standard error)").format(count=count),
              f"{learned_accuracy:.1f}% ± {standard_error(learned_accuracy, count):.1f}")
    m2.metric(_("accuracy, α = {alpha:.2f} on {target}").format(alpha=alpha, target=_target_label(target))
              if moved else _("accuracy, slider not moved yet"),
              f"{moved_accuracy:.1f}% ± {standard_error(moved_accuracy, count):.1f}",
              delta=_("{change:+.1f} points").format(change=moved_accuracy - learned_accuracy))
    st.caption(_("Test images: {source}. Both use the same images, so their difference is less noisy than the "
                 "errors suggest. A moved α also feeds the later BatchNorm layers activations unlike their frozen "
                 "statistics: part of a drop is that mismatch.").format(source=source_label(test_source())))
    if moved and st.toggle(_("re-estimate the BatchNorm statistics at this α (on 1,000 training images)"),
                           key="container_fresh_bn"):
        training = train_images(1000)
        with st.spinner(_("Re-estimating BatchNorm statistics at this α…")):
            fresh = accuracy_with_fresh_batchnorm(_cache_key(loaded), target, alpha, loaded, data, training)
        st.metric(_("accuracy, α = {alpha:.2f} with BatchNorm statistics re-estimated").format(alpha=alpha),
                  f"{fresh:.1f}% ± {standard_error(fresh, count):.1f}",
                  delta=_("{change:+.1f} points against the frozen statistics").format(change=fresh - moved_accuracy))
        st.caption(_("Only the running means and variances change; every weight stays as trained. What this "
                     "recovers was the statistics' mismatch; what remains is what the moved branch was worth."))


def _image(data: tuple | None) -> torch.Tensor:
    if data is None:
        return torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    images, labels = data
    index = st.slider(_("test image"), 0, len(images) - 1, 0, key="container_image")
    st.caption(_("Test image {index}, label: {label}.").format(index=index, label=class_name(int(labels[index]))))
    return images[index : index + 1]


def _rows() -> None:
    loaded = _loaded()
    model = loaded.model
    learned = blend_parameters(model)
    target, alpha, moved, override = _moved_blend(learned)
    st.markdown(_("One image's affinity row, split into its two branches, with the blend set in the previous step "
                  "({blend}).").format(blend=_("α = {alpha:.2f} on {target}").format(alpha=alpha,
                                                                                    target=_target_label(target))
                                       if moved else _("the learned blend")))
    image = _image(try_test_batch())
    d1, d2, d3 = st.columns(3)
    block = d1.selectbox(_("block to look at"), list(learned), key="container_block")
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
    suffix = _(" — random weights") if loaded.is_random else ""
    show_figure(figures.heatmaps_side_by_side(
        panels, _("Row i = t{query} of {block}'s affinity on the {height} × {width} grid, head {head}{suffix}").format(
            query=query, block=block, height=height, width=width, head=head, suffix=suffix),
        _("weight on token j"), diverging=True, grid=True, query=divmod(query, width), height=360),
        key="container_fig_rows")


def _pam() -> None:
    st.markdown(_("**Container-PAM, live**: the same image, head and query through a PAM block, "
                  "A_m = A_m(X) + P_m."))
    learned = blend_parameters(lesson_model(MODEL).model)
    block = _block_shown(learned)
    data = try_test_batch()
    index = int(st.session_state.get("container_image", 0))
    image = (data[0][index : index + 1] if data is not None
             else torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    general = lesson_model("fmnist_container")
    head = int(st.session_state.get("container_head", 0))
    height, width = general.model.config.mixed_grid
    query = int(st.session_state.get("container_query", aff.token_index(height // 2, width // 2, width)))
    check = pam_view(general, block, image, head, query)
    verify_panel([check], _("PAM's added affinity is exact: A_m = softmax(Q_m K_mᵀ s) + P_m"))


def _check() -> None:
    quiz(KEY, QUESTIONS)


STEPS = (
    Step("why", N_("Why it matters"), _why),
    Step("idea", N_("The idea and the math"), _idea),
    Step("predict", N_("Predict, then see"), _predict_and_reveal),
    Step("try", N_("Move the blend"), _try_it),
    Step("rows", N_("One row, two branches"), _rows),
    Step("pam", N_("Container-PAM"), _pam),
    Step("check", N_("Check your understanding"), _check),
)
KEPT = ("container_target", *(alpha_key(target) for target in (ALL_BLOCKS, *BLOCKS)), "container_image",
        "container_block", "container_head", "container_query", "container_each")


def render() -> None:
    """Every step, one after another (the notebook and the worksheet; the page shows one step at a time)."""
    for step in STEPS:
        step.draw()
