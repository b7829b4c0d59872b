"""Blend: the learned α (and β) of every mixed block, and what happens when you move them."""

import numpy as np
import streamlit as st

from app import caching, views
from app.figure_view import show_figure
from app.i18n import _
from app.page import PageContext, run_page
from app.url_state import UrlState
from app.widgets import block_head_query, image_picker
from container_edu import figures
from container_edu.analysis.blend import (BLEND_STEP, BlendTextError, blend_kinds, blend_range, blend_text,
                                          learns_beta, parse_blend, probability_moved)
from container_edu.record.inspection import block_maps
from container_edu.ops.kinds import AggregationKind
from container_edu.models import blend_parameters

PREFIX = "blend"


def slider_key(ref_key: str, block: str, part: str) -> str:
    return f"blend_{part}_{ref_key}_{block}"


def reading_guide(kinds: list[AggregationKind], learned: dict) -> str:
    """How to read the bars for these kinds: the 0.5 line means something only when β = 1 − α."""
    texts = []
    for kind in kinds:
        if kind.blend == "sigmoid":
            texts.append(_("**{kind}**: α = sigmoid(sa_weight) weighs the dynamic affinity A(X) (attention) and "
                           "β = 1 − α the static depthwise-conv kernel. Since α + β = 1, above 0.5 a block leans on "
                           "attention; below, on its static kernel.").format(kind=_(kind.label)))
        else:
            leaning = ", ".join(f"{block}: α {'>' if a > b else ('<' if a < b else '=')} β"
                                for block, (a, b) in learned.items())
            texts.append(_("**{kind}**: α weighs the dynamic affinity A(X) (attention) and β the static part, a "
                           "learned N × N matrix per head (multi-head MLP); both are free, so compare α with β "
                           "({leaning}), not either with 0.5. The learned matrix's rows need not sum to 1, so the "
                           "weights alone do not say which part moves the output more.").format(
                kind=_(kind.label), leaning=leaning))
    return " ".join(texts)


def override_controls(ref_key: str, learned: dict, show_beta: bool, url: UrlState) -> dict:
    """One slider per mixed block (two for Container's independent α, β); returns the changed blocks only.

    The changed blocks are kept in the address (``blend=block:α[:β],...``).
    """
    raw = url.incoming("blend")
    if raw is not None:
        try:
            for block, (alpha, beta) in parse_blend(raw, learned, show_beta).items():
                st.session_state[slider_key(ref_key, block, "alpha")] = alpha
                if show_beta:
                    st.session_state[slider_key(ref_key, block, "beta")] = beta
        except BlendTextError as error:
            url.note("blend", raw, error.shown(_))

    def reset() -> None:
        for block in learned:
            for part in ("alpha", "beta"):
                st.session_state.pop(slider_key(ref_key, block, part), None)

    st.button(_("Reset to the learned blend"), on_click=reset, key="blend_reset", icon=":material/restart_alt:")
    overrides = {}
    for block, (alpha, beta) in learned.items():
        default_a = round(alpha, 2)
        if show_beta:
            col_a, col_b = st.columns(2)
            a = col_a.slider(f"{block}: α", *blend_range(alpha), default_a, BLEND_STEP,
                             key=slider_key(ref_key, block, "alpha"))
            default_b = round(beta, 2)
            b = col_b.slider(f"{block}: β", *blend_range(beta), default_b, BLEND_STEP,
                             key=slider_key(ref_key, block, "beta"))
            if a != default_a or b != default_b:
                overrides[block] = (float(a), float(b))
        else:
            a = st.slider(f"{block}: α = sigmoid(sa_weight)   (β = 1 − α)", 0.0, 1.0, default_a, BLEND_STEP,
                          key=slider_key(ref_key, block, "alpha"))
            if a != default_a:
                overrides[block] = (float(a), 1.0 - float(a))
    url.publish("blend", blend_text(overrides, show_beta))
    return overrides


def body(ctx: PageContext) -> None:
    with UrlState("blend").notes_here() as url:  # the view lives in the address: a link restores it
        view(ctx, url)


def view(ctx: PageContext, url: UrlState) -> None:
    ref = ctx.model_ref
    model = caching.get_model(ref, st.session_state)
    learned = blend_parameters(model)
    if not learned:
        st.info(_("**{name}** has no blended blocks: its mixed stage uses one kind of affinity only. Pick a "
                  "Container or Container-Light model in the sidebar (e.g. `fmnist_container_light`).").format(
            name=ref.name), icon=":material/info:")
        return
    kinds = blend_kinds(model)
    show_beta = learns_beta(kinds)
    what = _("α and β, learned independently") if show_beta else "α = sigmoid(sa_weight), β = 1 − α"
    if ref.trained:
        bars_title = _("Learned blend per mixed block of {name}: {what}").format(name=ref.name, what=what)
    else:
        bars_title = _("Learned blend per mixed block of {name}: {what} — untrained (random weights): still the "
                       "initial values").format(name=ref.name, what=what)
    col_bars, col_sliders = st.columns([1.6, 1], gap="large")
    with col_bars:
        show_figure(figures.blend_bars(learned, bars_title, show_beta=show_beta, title_width=70), "blend_bars")
        st.caption(reading_guide(kinds, learned))
    with col_sliders:
        st.markdown(_("**Your blend** — applied with `override_blend` to this image only; the shared model is "
                      "untouched."))
        overrides = override_controls(ref.key, learned, show_beta, url)

    left, right = st.columns([1, 2.2], gap="large")
    with left:
        st.markdown(_("**Image**"))
        current = image_picker(compact=True, url=url)
    if current is None:
        return
    prepared = views.prepare(ref, current)
    base = prepared.inspect()
    changed = prepared.inspect(overrides) if overrides else base
    with left:
        seen_title = _("What the model sees")
        show_figure(figures.image_figure(prepared.seen, seen_title, height=260, title_width=30,
                                         size=tuple(prepared.x.shape[-2:])), "blend_seen")
    with right:
        names = views.shown_class_names(prepared)
        top_learned, top_changed = int(np.argmax(base.probabilities)), int(np.argmax(changed.probabilities))
        col1, col2, col3 = st.columns(3)
        col1.metric(_("Top class, learned blend"), names[top_learned],
                    help=f"p = {100 * base.probabilities[top_learned]:.1f}%")
        col1.caption(f"p = {100 * base.probabilities[top_learned]:.1f}%")
        col2.metric(_("Top class, your blend"), names[top_changed],
                    help=f"p = {100 * changed.probabilities[top_changed]:.1f}%")
        col2.caption(f"p = {100 * changed.probabilities[top_changed]:.1f}%")
        shift = probability_moved(base.probabilities, changed.probabilities)
        col3.metric(_("Probability moved"), f"{100 * shift:.1f}%", help=_(
            "Total variation distance between the two predicted distributions: half the sum of "
            "|p_learned − p_yours|."))
        changed_text = ", ".join(f"{b}: α={a:.2f}, β={c:.2f}" for b, (a, c) in overrides.items()) or _("none yet")
        probs_title = _("p(class | image): learned blend vs yours (changed: {changed})").format(changed=changed_text)
        show_figure(figures.probability_comparison(base.probabilities, changed.probabilities, names, probs_title),
                    "blend_probs")

    st.divider()
    block, head, query = block_head_query(base, PREFIX, scope=ref.key, blocks=list(learned), url=url)
    before = block_maps(base, block, head, query)
    after = block_maps(changed, block, head, query)
    fig = figures.blend_change_figure(before, after, prepared.seen)
    show_figure(fig, "blend_maps")
    st.caption(_("Changing an earlier block's blend also changes the input of later blocks, so their attention "
                 "A(X) moves too, not only the mix."))


run_page(
    _("Blend"), body, model_picker=True,
    families_left_out=_("Each of them makes its affinity one way, so there is no blend of a dynamic and a static part "
                        "to move; see them in the Image inspector."),
    intro=_("Container learns how much each mixed block relies on **dynamic** context (attention, α) versus "
            "**static** context (conv or learned MLP, β). Read the learned values, then move them for one image."),
)
