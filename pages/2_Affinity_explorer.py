"""Affinity explorer: any operator's N x N affinity on a small grid, per head, checked against the module."""

import streamlit as st

from app.caching import explore_cached
from app.explorer import OPERATORS, RELATIVE_TOLERANCE, ExplorerSpec, head_choices, matrix_for_head
from app.page import PageContext, run_page
from app.url_state import UrlState, choice, integer, number
from app.widgets import query_click_handler, query_slider
from container_edu import figures

MAX_SMALL_MULTIPLES = 8


CHANNELS = [4, 8, 16, 32]
KERNELS = [1, 3, 5, 7]
GRID_SIZES = (3, 12)
MAX_SEED = 100_000


def controls(url: UrlState) -> ExplorerSpec:
    """The settings column; each setting is also a parameter of the address (restored first, then written)."""
    url.restore("op", "ex_operator", choice(list(OPERATORS), what="operator"))
    op_key = st.selectbox("Operator", list(OPERATORS), format_func=lambda k: OPERATORS[k].label, key="ex_operator")
    op = OPERATORS[op_key]
    st.caption(op.description)
    url.restore("h", "ex_height", integer(*GRID_SIZES))
    height = st.slider("Grid height n_y (rows)", *GRID_SIZES, 5, key="ex_height")
    url.restore("w", "ex_width", integer(*GRID_SIZES))
    width = st.slider("Grid width n_x (columns)", *GRID_SIZES, 7, key="ex_width")
    url.restore("c", "ex_channels", choice(CHANNELS, what="channel count"))
    channels = st.select_slider("Channels C", CHANNELS, value=16, key="ex_channels")
    choices = head_choices(channels)
    url.restore("heads", "ex_heads", choice(choices, what=f"head count for C = {channels}"))
    if st.session_state.get("ex_heads") not in choices:
        st.session_state["ex_heads"] = 4 if 4 in choices else choices[0]
    heads = st.selectbox("Heads M", choices, key="ex_heads", disabled=not op.uses_heads,
                         help="Each head owns C/M contiguous channels. A depthwise conv always has M = C "
                         "(one kernel per channel); the MLP-Mixer has M = 1.")
    url.restore("k", "ex_kernel", choice(KERNELS, what="kernel size"))
    kernel = st.select_slider("Kernel size k", KERNELS, value=3, key="ex_kernel", disabled=not op.uses_kernel)
    if op.blend == "sigmoid":
        url.restore("alpha", "ex_alpha_light", number(0.0, 1.0))
        alpha = st.slider("α = sigmoid(sa_weight)", 0.0, 1.0, 0.5, 0.05, key="ex_alpha_light")
        beta = 1.0 - alpha
        st.caption(f"β = 1 − α = {beta:.2f}")
    else:
        url.restore("alpha", "ex_alpha", number(0.0, 1.0))
        alpha = st.slider("α (weight of A(X))", 0.0, 1.0, 0.5, 0.05, key="ex_alpha", disabled=not op.uses_blend)
        url.restore("beta", "ex_beta", number(0.0, 1.0))
        beta = st.slider("β (weight of A_static)", 0.0, 1.0, 0.5, 0.05, key="ex_beta", disabled=not op.uses_blend)
    url.restore("seed", "ex_seed", integer(0, MAX_SEED))
    seed = st.number_input("Seed (input and weights)", 0, MAX_SEED, 0, step=1, key="ex_seed")
    blend_shown = op.blend == "sigmoid" or op.uses_blend
    for name, value in (("op", op_key), ("h", height), ("w", width), ("c", channels), ("heads", heads),
                        ("k", kernel if op.uses_kernel else None), ("alpha", alpha if blend_shown else None),
                        ("beta", beta if op.uses_blend and op.blend != "sigmoid" else None), ("seed", int(seed))):
        url.publish(name, value)
    return ExplorerSpec(op_key, int(height), int(width), int(channels), int(heads), int(kernel), float(alpha),
                        float(beta), int(seed))


def equivalence(result) -> None:
    tolerance = RELATIVE_TOLERANCE * max(result.max_abs_output, 1e-12)
    text = (f"max |concat(A_m V_m) + b − module(x)| = {result.max_abs_diff:.2e} "
            f"(relative {result.relative_diff:.1e}; tolerance {RELATIVE_TOLERANCE:g} × max|module(x)| = {tolerance:.1e})")
    if result.passed:
        st.success(f"Equivalence check passed: {text}", icon=":material/check_circle:")
    else:
        st.error(f"Equivalence check FAILED: {text}", icon=":material/cancel:")


def body(ctx: PageContext) -> None:
    with UrlState("explorer").notes_here() as url:  # the settings live in the address: a link restores them
        view(url)


def view(url: UrlState) -> None:
    left, right = st.columns([1, 3], gap="large")
    with left:
        spec = controls(url)
    result = explore_cached(spec)
    op = result.operator
    with right:
        st.markdown(f"**{op.label}** · affinity `{op.formula}` · {op.traits} · "
                    f"N = {spec.height}×{spec.width} = {spec.num_tokens} tokens (n_y × n_x) · "
                    f"{len(result.matrix_labels)} matrix(es)")
        equivalence(result)
        count = len(result.matrix_labels)
        labels = list(range(count))
        url.restore("matrix", "ex_matrix", integer(0, count - 1))
        if st.session_state.get("ex_matrix", 0) >= count:
            st.session_state["ex_matrix"] = 0
        col_m, col_y, col_x = st.columns(3)
        matrix = col_m.selectbox("Show matrix", labels, format_func=lambda i: result.matrix_labels[i], key="ex_matrix")
        url.restore("qy", "ex_qy", integer(0, spec.height - 1))
        url.restore("qx", "ex_qx", integer(0, spec.width - 1))
        qy = query_slider("Query row y", spec.height, "ex_qy", col_y)
        qx = query_slider("Query column x", spec.width, "ex_qx", col_x)
        for name, value in (("matrix", matrix), ("qy", qy), ("qx", qx)):
            url.publish(name, value)
        query_token = qy * spec.width + qx
        symbol = op.symbol
        signed = not op.rows_are_probabilities  # probabilities on a scale from 0, everything else centred on 0
        col_matrix, col_row = st.columns([1.15, 1])
        col_matrix.plotly_chart(figures.affinity_matrix(
            result.matrices[matrix],
            f"{symbol}, {result.matrix_labels[matrix]} — N×N, query row {query_token} outlined",
            grid=(spec.height, spec.width), colorbar_title=f"{symbol}[i, j]", signed=signed,
            query_token=query_token, title_width=55,
        ), key="ex_matrix_fig")
        col_row.plotly_chart(
            figures.grid_row(
                result.row(matrix, (qy, qx)),
                f"Row i = {query_token} on the n_y×n_x grid: {symbol}, {result.matrix_labels[matrix]}, query ({qy}, {qx})",
                colorbar_title=f"{symbol}[{query_token}, j]", query=(qy, qx), signed=signed, clickable=True,
                title_width=50,
            ),
            key="ex_row_fig", on_select=query_click_handler("ex_row_fig", "ex_qy", "ex_qx"),
            selection_mode="points",
        )
        st.caption("Click a cell of the grid (or use the sliders) to choose the query token; the red cross marks it.")

        shown = min(count, MAX_SMALL_MULTIPLES)
        more = f" (first {shown} of {count})" if count > shown else ""
        st.plotly_chart(figures.panels(
            [figures.Panel(result.matrices[k], result.matrix_labels[k], f"{symbol}[i, j]", signed)
             for k in range(shown)],
            f"Every {'channel' if op.view_unit == 'channel' else 'head'}'s N×N affinity {symbol}{more}, one colour scale",
            cols=4, shared_scale=True, axis_titles=("key j", "query i"), panel_height=230,
        ), key="ex_all_heads")

    st.subheader("All operators on the same input")
    head = matrix if op.uses_heads else 0
    st.caption(f"Same grid, channels, heads, kernel, blend and seed; head {head} (the conv shows that head's "
               "first channel, the mixer its single matrix). Each panel has its own colour scale.")
    comparison = {key: explore_cached(ExplorerSpec(**{**spec.__dict__, "operator": key})) for key in OPERATORS}
    chosen = {key: matrix_for_head(other, head) for key, other in comparison.items()}
    matrices = {key: other.matrices[chosen[key]] for key, other in comparison.items()}
    labels = {key: other.matrix_labels[chosen[key]] for key, other in comparison.items()}
    st.plotly_chart(figures.operator_comparison(
        matrices, (spec.height, spec.width), labels=labels, head=head, query=(qy, qx),
        title=f"Row of query ({qy}, {qx}) on the grid, per operator: A[i = {query_token}, :] reshaped to n_y×n_x",
    ), key="ex_compare_rows")
    with st.expander("The full N×N matrices side by side"):
        st.plotly_chart(figures.operator_comparison(
            matrices, (spec.height, spec.width), labels=labels, head=head, panel_height=280,
            title="N×N affinity A per operator (rows: query i, columns: key j)",
        ), key="ex_compare_matrices")
    checks = ", ".join(f"{OPERATORS[k].label}: {r.max_abs_diff:.1e}" for k, r in comparison.items())
    st.caption(f"Equivalence check for every operator (max abs difference): {checks}.")


run_page(
    "Affinity explorer", body,
    intro="Pick an operator and a small grid. The page builds its affinity matrix **A** explicitly from the "
    "module's random (seeded) weights, draws every head, and checks that `concat(A_m V_m)` reproduces the "
    "module's own output.",
)
