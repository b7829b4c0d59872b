"""Affinity explorer: any operator's N x N affinity on a small grid, per head, checked against the module."""

import streamlit as st

from app.caching import explore_cached
from app.explorer import shown_description, shown_formula, shown_traits
from app.figure_view import show_figure
from app.i18n import _
from app.page import PageContext, run_page
from app.url_state import UrlState, choice, integer, number
from app.widgets import query_click_handler, query_slider
from container_edu.analysis.explore import (OPERATORS, RELATIVE_TOLERANCE, ExplorerSpec, head_choices,
                                            matrix_for_head)
from container_edu import figures

MAX_SMALL_MULTIPLES = 8


CHANNELS = [4, 8, 16, 32]
KERNELS = [1, 3, 5, 7]
GRID_SIZES = (3, 12)
MAX_SEED = 100_000


def controls(url: UrlState) -> ExplorerSpec:
    """The settings column; each setting is also a parameter of the address (restored first, then written)."""
    url.restore("op", "ex_operator", choice(list(OPERATORS), what=_("operator")))
    operator_labels = {key: _(kind.label) for key, kind in OPERATORS.items()}
    op_key = st.selectbox(_("Operator"), list(OPERATORS), format_func=operator_labels.__getitem__, key="ex_operator")
    op = OPERATORS[op_key]
    st.caption(shown_description(op))
    url.restore("h", "ex_height", integer(*GRID_SIZES))
    height = st.slider(_("Grid height n_y (rows)"), *GRID_SIZES, 5, key="ex_height")
    url.restore("w", "ex_width", integer(*GRID_SIZES))
    width = st.slider(_("Grid width n_x (columns)"), *GRID_SIZES, 7, key="ex_width")
    url.restore("c", "ex_channels", choice(CHANNELS, what=_("channel count")))
    channels = st.select_slider(_("Channels C"), CHANNELS, value=16, key="ex_channels")
    choices = head_choices(channels)
    url.restore("heads", "ex_heads", choice(choices, what=_("head count for C = {channels}").format(channels=channels)))
    if st.session_state.get("ex_heads") not in choices:
        st.session_state["ex_heads"] = 4 if 4 in choices else choices[0]
    heads = st.selectbox(_("Heads M"), choices, key="ex_heads", disabled=not op.uses_heads,
                         help=_("Each head owns C/M contiguous channels. A depthwise conv always has M = C "
                                "(one kernel per channel); the MLP-Mixer has M = 1."))
    url.restore("k", "ex_kernel", choice(KERNELS, what=_("kernel size")))
    kernel = st.select_slider(_("Kernel size k"), KERNELS, value=3, key="ex_kernel", disabled=not op.uses_kernel)
    if op.blend == "sigmoid":
        url.restore("alpha", "ex_alpha_light", number(0.0, 1.0))
        alpha = st.slider("α = sigmoid(sa_weight)", 0.0, 1.0, 0.5, 0.05, key="ex_alpha_light")
        beta = 1.0 - alpha
        st.caption(f"β = 1 − α = {beta:.2f}")
    else:
        url.restore("alpha", "ex_alpha", number(0.0, 1.0))
        alpha = st.slider(_("α (weight of A(X))"), 0.0, 1.0, 0.5, 0.05, key="ex_alpha", disabled=not op.uses_blend)
        url.restore("beta", "ex_beta", number(0.0, 1.0))
        beta = st.slider(_("β (weight of A_static)"), 0.0, 1.0, 0.5, 0.05, key="ex_beta",
                         disabled=not op.uses_blend)
    url.restore("seed", "ex_seed", integer(0, MAX_SEED))
    seed = st.number_input(_("Seed (input and weights)"), 0, MAX_SEED, 0, step=1, key="ex_seed")
    blend_shown = op.blend == "sigmoid" or op.uses_blend
    for name, value in (("op", op_key), ("h", height), ("w", width), ("c", channels), ("heads", heads),
                        ("k", kernel if op.uses_kernel else None), ("alpha", alpha if blend_shown else None),
                        ("beta", beta if op.uses_blend and op.blend != "sigmoid" else None), ("seed", int(seed))):
        url.publish(name, value)
    return ExplorerSpec(op_key, int(height), int(width), int(channels), int(heads), int(kernel), float(alpha),
                        float(beta), int(seed))


def equivalence(result) -> None:
    tolerance = RELATIVE_TOLERANCE * max(result.max_abs_output, 1e-12)
    fields = dict(diff=result.max_abs_diff, relative=result.relative_diff, rtol=RELATIVE_TOLERANCE,
                  tolerance=tolerance)
    if result.passed:
        st.success(_("Equivalence check passed: max |concat(A_m V_m) + b − module(x)| = {diff:.2e} (relative "
                     "{relative:.1e}; tolerance {rtol:g} × max|module(x)| = {tolerance:.1e})").format(**fields),
                   icon=":material/check_circle:")
    else:
        st.error(_("Equivalence check FAILED: max |concat(A_m V_m) + b − module(x)| = {diff:.2e} (relative "
                   "{relative:.1e}; tolerance {rtol:g} × max|module(x)| = {tolerance:.1e})").format(**fields),
                 icon=":material/cancel:")


def body(ctx: PageContext) -> None:
    with UrlState("explorer").notes_here() as url:  # the settings live in the address: a link restores them
        view(url)


def small_multiples_title(view_unit: str, symbol: str, shown: int, count: int) -> str:
    """The title over every head's (or channel's) matrix: whole sentences, since the word order differs by language."""
    if view_unit == "channel":
        if count > shown:
            template = _("Every channel's N×N affinity {symbol} (first {shown} of {count}), one colour scale")
        else:
            template = _("Every channel's N×N affinity {symbol}, one colour scale")
    elif count > shown:
        template = _("Every head's N×N affinity {symbol} (first {shown} of {count}), one colour scale")
    else:
        template = _("Every head's N×N affinity {symbol}, one colour scale")
    return template.format(symbol=symbol, shown=shown, count=count)


def view(url: UrlState) -> None:
    left, right = st.columns([1, 3], gap="large")
    with left:
        spec = controls(url)
    result = explore_cached(spec)
    op = result.operator
    # The labels ("head 0", "channel 3") come from a cached, language-neutral result: translated when drawn.
    matrix_labels = [label.shown() for label in result.matrix_labels]
    with right:
        st.markdown(_("**{label}** · affinity `{formula}` · {traits} · N = {height}×{width} = {tokens} tokens "
                      "(n_y × n_x) · {count} matrix(es)").format(
            label=_(op.label), formula=shown_formula(op), traits=shown_traits(op), height=spec.height,
            width=spec.width, tokens=spec.num_tokens, count=len(result.matrix_labels)))
        equivalence(result)
        count = len(result.matrix_labels)
        labels = list(range(count))
        url.restore("matrix", "ex_matrix", integer(0, count - 1))
        if st.session_state.get("ex_matrix", 0) >= count:
            st.session_state["ex_matrix"] = 0
        col_m, col_y, col_x = st.columns(3)
        matrix = col_m.selectbox(_("Show matrix"), labels, format_func=matrix_labels.__getitem__, key="ex_matrix")
        url.restore("qy", "ex_qy", integer(0, spec.height - 1))
        url.restore("qx", "ex_qx", integer(0, spec.width - 1))
        qy = query_slider(_("Query row y"), spec.height, "ex_qy", col_y)
        qx = query_slider(_("Query column x"), spec.width, "ex_qx", col_x)
        for name, value in (("matrix", matrix), ("qy", qy), ("qx", qx)):
            url.publish(name, value)
        query_token = qy * spec.width + qx
        symbol = op.symbol
        signed = not op.rows_are_probabilities  # probabilities on a scale from 0, everything else centred on 0
        col_matrix, col_row = st.columns([1.15, 1])
        with col_matrix:
            show_figure(figures.affinity_matrix(
                result.matrices[matrix],
                _("{symbol}, {matrix} — N×N, query row {token} outlined").format(
                    symbol=symbol, matrix=matrix_labels[matrix], token=query_token),
                grid=(spec.height, spec.width), colorbar_title=f"{symbol}[i, j]", signed=signed,
                query_token=query_token, title_width=55,
            ), "ex_matrix_fig")
        with col_row:
            show_figure(
                figures.grid_row(
                    result.row(matrix, (qy, qx)),
                    _("Row i = {token} on the n_y×n_x grid: {symbol}, {matrix}, query ({qy}, {qx})").format(
                        token=query_token, symbol=symbol, matrix=matrix_labels[matrix], qy=qy, qx=qx),
                    colorbar_title=f"{symbol}[{query_token}, j]", query=(qy, qx), signed=signed, clickable=True,
                    title_width=46,
                ),
                "ex_row_fig", on_select=query_click_handler("ex_row_fig", "ex_qy", "ex_qx"),
                selection_mode="points",
            )
        st.caption(_("Click a cell of the grid (or use the sliders) to choose the query token; the white cross "
                     "edged in black marks it."))

        shown = min(count, MAX_SMALL_MULTIPLES)
        show_figure(figures.panels(
            [figures.Panel(result.matrices[k], matrix_labels[k], f"{symbol}[i, j]", signed)
             for k in range(shown)],
            small_multiples_title(op.view_unit, symbol, shown, count),
            cols=4, shared_scale=True, axis_titles=(_("key j"), _("query i")), panel_height=230,
        ), "ex_all_heads")

    st.header(_("All operators on the same input"))
    head = matrix if op.uses_heads else 0
    st.caption(_("Same grid, channels, heads, kernel, blend and seed; head {head} (the conv shows that head's "
                 "first channel, the mixer its single matrix). Each panel has its own colour scale.").format(head=head))
    comparison = {key: explore_cached(ExplorerSpec(**{**spec.__dict__, "operator": key})) for key in OPERATORS}
    chosen = {key: matrix_for_head(other, head) for key, other in comparison.items()}
    matrices = {key: other.matrices[chosen[key]] for key, other in comparison.items()}
    labels = {key: other.matrix_labels[chosen[key]].shown() for key, other in comparison.items()}
    show_figure(figures.operator_comparison(
        matrices, (spec.height, spec.width), labels=labels, head=head, query=(qy, qx),
        title=_("Row of query ({qy}, {qx}) on the grid, per operator: A[i = {token}, :] reshaped to n_y×n_x").format(
            qy=qy, qx=qx, token=query_token),
    ), "ex_compare_rows")
    with st.expander(_("The full N×N matrices side by side")):
        show_figure(figures.operator_comparison(
            matrices, (spec.height, spec.width), labels=labels, head=head, panel_height=280,
            title=_("N×N affinity A per operator (rows: query i, columns: key j)"),
        ), "ex_compare_matrices")
    # Translators: the separator between the items of a list
    separator = _(", ")
    checks = separator.join(_("{operator}: {diff:.1e}").format(operator=_(OPERATORS[k].label), diff=r.max_abs_diff)
                            for k, r in comparison.items())
    st.caption(_("Equivalence check for every operator (max abs difference): {checks}.").format(checks=checks))


run_page(
    _("Affinity explorer"), body,
    intro=_("Pick an operator and a small grid. The page builds its affinity matrix **A** explicitly from the "
            "module's random (seeded) weights, draws every head, and checks that `concat(A_m V_m)` reproduces "
            "the module's own output."),
)
