"""Blend: the learned α (and β) of every mixed block, and what happens when you move them."""

import numpy as np
import streamlit as st

from app import caching, views
from app.page import PageContext, run_page
from app.widgets import block_head_query, image_picker
from container_edu import figures
from container_edu.aggregation import ContainerMix
from container_edu.inspection import block_maps
from container_edu.models import blend_parameters

PREFIX = "blend"


def slider_key(ref_key: str, block: str, part: str) -> str:
    return f"blend_{part}_{ref_key}_{block}"


def override_controls(ref_key: str, learned: dict, show_beta: bool) -> dict:
    """One slider per mixed block (two for Container's independent α, β); returns the changed blocks only."""

    def reset() -> None:
        for block in learned:
            for part in ("alpha", "beta"):
                st.session_state.pop(slider_key(ref_key, block, part), None)

    st.button("Reset to the learned blend", on_click=reset, key="blend_reset", icon=":material/restart_alt:")
    overrides = {}
    for block, (alpha, beta) in learned.items():
        default_a = round(alpha, 2)
        if show_beta:
            col_a, col_b = st.columns(2)
            low_a, high_a = min(0.0, default_a), max(1.0, default_a)
            a = col_a.slider(f"{block}: α", low_a, high_a, default_a, 0.01, key=slider_key(ref_key, block, "alpha"))
            default_b = round(beta, 2)
            low_b, high_b = min(0.0, default_b), max(1.0, default_b)
            b = col_b.slider(f"{block}: β", low_b, high_b, default_b, 0.01, key=slider_key(ref_key, block, "beta"))
            if a != default_a or b != default_b:
                overrides[block] = (float(a), float(b))
        else:
            a = st.slider(f"{block}: α = sigmoid(sa_weight)   (β = 1 − α)", 0.0, 1.0, default_a, 0.01,
                          key=slider_key(ref_key, block, "alpha"))
            if a != default_a:
                overrides[block] = (float(a), 1.0 - float(a))
    return overrides


def body(ctx: PageContext) -> None:
    ref = ctx.model_ref
    model = caching.get_model(ref, st.session_state)
    learned = blend_parameters(model)
    if not learned:
        st.info(f"**{ref.name}** has no blended blocks: its mixed stage uses one kind of affinity only. Pick "
                "a Container or Container-Light model in the sidebar (e.g. `fmnist_container_light`).",
                icon=":material/info:")
        return
    show_beta = any(isinstance(module, ContainerMix) for module in model.modules())
    what = "α and β, learned independently" if show_beta else "α = sigmoid(sa_weight), β = 1 − α"
    col_bars, col_sliders = st.columns([1.6, 1], gap="large")
    col_bars.plotly_chart(figures.blend_bars(
        learned, f"Learned blend per mixed block of {ref.name}: {what}"
        + ("" if ref.trained else " — untrained (random weights): still the initial values"),
        show_beta=show_beta, title_width=70), key="blend_bars")
    col_bars.caption("α weighs the dynamic affinity A(X) (attention), β the static one (conv or learned MLP). "
                     "Above 0.5 a block leans on attention; below, on its static kernel.")
    with col_sliders:
        st.markdown("**Your blend** — applied with `override_blend` to this image only; the shared model is untouched.")
        overrides = override_controls(ref.key, learned, show_beta)

    left, right = st.columns([1, 2.2], gap="large")
    with left:
        st.markdown("**Image**")
        current = image_picker(compact=True)
    if current is None:
        return
    prepared = views.prepare(ref, current)
    base = prepared.inspect()
    changed = prepared.inspect(overrides) if overrides else base
    with left:
        st.plotly_chart(figures.image_figure(prepared.seen, "What the model sees", height=260, title_width=30),
                        key="blend_seen")
    with right:
        names = prepared.class_names
        top_learned, top_changed = int(np.argmax(base.probabilities)), int(np.argmax(changed.probabilities))
        col1, col2, col3 = st.columns(3)
        col1.metric("Top class, learned blend", names[top_learned],
                    help=f"p = {100 * base.probabilities[top_learned]:.1f}%")
        col1.caption(f"p = {100 * base.probabilities[top_learned]:.1f}%")
        col2.metric("Top class, your blend", names[top_changed],
                    help=f"p = {100 * changed.probabilities[top_changed]:.1f}%")
        col2.caption(f"p = {100 * changed.probabilities[top_changed]:.1f}%")
        shift = 0.5 * float(np.abs(base.probabilities - changed.probabilities).sum())
        col3.metric("Probability moved", f"{100 * shift:.1f}%", help="Total variation distance between the two "
                    "predicted distributions: half the sum of |p_learned − p_yours|.")
        changed_text = ", ".join(f"{b}: α={a:.2f}, β={c:.2f}" for b, (a, c) in overrides.items()) or "none yet"
        st.plotly_chart(figures.probability_comparison(
            base.probabilities, changed.probabilities, names,
            f"p(class | image): learned blend vs yours (changed: {changed_text})"), key="blend_probs")

    st.divider()
    block, head, query = block_head_query(base, PREFIX, scope=ref.key, blocks=list(learned))
    before = block_maps(base, block, head, query)
    after = block_maps(changed, block, head, query)
    fig = figures.blend_change_figure(before, after, prepared.seen)
    st.plotly_chart(fig, key="blend_maps")
    st.caption("Changing an earlier block's blend also changes the input of later blocks, so their attention "
               "A(X) moves too, not only the mix.")


run_page(
    "Blend", body, model_picker=True,
    intro="Container learns how much each mixed block relies on **dynamic** context (attention, α) versus "
    "**static** context (conv or learned MLP, β). Read the learned values, then move them for one image.",
)
