"""Home: the unified framework in three sentences, one live figure, and where to go next."""

from dataclasses import replace

import streamlit as st
from streamlit.errors import StreamlitAPIException

from app.caching import explore_cached
from app.figure_view import show_figure
from app.i18n import N_, _
from app.page import PageContext, run_page
from container_edu import figures
from container_edu.analysis.explore import ExplorerSpec


def body(ctx: PageContext) -> None:
    st.markdown(_(
        "1. **One operation.** Self-attention, depthwise convolution and MLP-Mixer token mixing all compute "
        "`Y = concat(A₀V₀, …, A_{M−1}V_{M−1}) W_o`: each output token is a weighted sum of value tokens, with the "
        "weights in an N×N **affinity matrix** `A_m` per head `m = 0 … M−1`.\n"
        "2. **Three ways to make `A`.** Attention computes it from the input, `softmax(Q_m K_mᵀ s)` (dynamic, "
        "dense); a depthwise conv fixes it to a small kernel slid over the grid (static, sparse); the MLP-Mixer "
        "learns one dense N×N matrix (static, dense).\n"
        "3. **Container mixes them.** `A_m = α A_m(X) + β A_m^static` with learned `α, β`: Container-Light uses "
        "conv alone in early, high-resolution stages and the blend in the last one, and the learned "
        "`α = sigmoid(sa_weight)` tells how much each block relies on dynamic context."
    ))
    st.header(_("The three affinities of one random input"))
    col_seed, col_grid, _spacer = st.columns([1, 1, 3])
    seed = int(col_seed.number_input(_("Random input (seed)"), 0, 10_000, 0, step=1, key="home_seed"))
    side = int(col_grid.select_slider(_("Grid n_y = n_x"), options=[3, 4, 5, 6, 7], value=5, key="home_grid"))
    base = ExplorerSpec(height=side, width=side, channels=8, heads=2, kernel_size=3, seed=seed)
    # The paper's three operators, each drawn as the kinds registry describes it.
    results = [explore_cached(replace(base, operator=key)) for key in ("attention", "conv", "mixer")]
    n = side * side
    fig = figures.operator_comparison(
        {r.operator.key: r.matrices[0] for r in results}, (side, side),
        labels={r.operator.key: r.matrix_labels[0].shown() for r in results},
        title=_("Three affinity matrices A (N×N, N = {side}×{side} = {n} tokens) of the same input, "
                "random weights").format(side=side, n=n),
    )
    show_figure(fig, "home_affinities")
    st.caption(_(
        "Row i of each matrix says how much each token j contributes to output token i. Attention rows are "
        "probabilities that depend on the input (change the seed); the conv matrix is a band of repeated kernel "
        "taps; the mixer matrix is dense and fixed after training. Each module's explicit `concat(A_m V_m)` "
        "equals its own output: max difference here {diff:.1e}."
    ).format(diff=max(r.max_abs_diff for r in results)))

    st.header(_("Where to go next"))
    links = [
        ("pages/2_Affinity_explorer.py", N_("Affinity explorer"), ":material/grid_on:",
         N_("build any operator's affinity on a small grid, per head, and check that it is exact")),
        ("pages/3_Image_inspector.py", N_("Image inspector"), ":material/image_search:",
         N_("see what a trained model attends to on an image: attention, conv and blended maps per head")),
        ("pages/4_Blend.py", N_("Blend"), ":material/tune:",
         N_("read the learned α of every mixed block and move it to see the prediction change")),
        ("pages/5_Model_zoo.py", N_("Model zoo"), ":material/inventory_2:",
         N_("compare the bundled models: accuracy, parameters, training curves, blend weights")),
        ("pages/6_Lessons.py", N_("Lessons"), ":material/school:",
         N_("guided lessons, from aggregation as a matrix to training your own Container")),
    ]
    for path, label, icon, text in links:
        col_link, col_text = st.columns([1, 3])
        try:
            col_link.page_link(path, label=_(label), icon=icon)
        except StreamlitAPIException:  # the page runs outside the navigation (e.g. on its own)
            col_link.markdown(f"**{_(label)}**")
        col_text.markdown(_(text))


run_page(_("Container: context aggregation, explained"), body,
         intro="*Gao, Lu, Li, Mottaghi, Kembhavi — Container: Context Aggregation Network, NeurIPS 2021.*")
