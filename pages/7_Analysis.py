"""Analysis: one query on two images, every head of the mixed stage summarised, rollout through the hybrid stage, and
the paper's three families (DeiT, ConvNeXt, MLP-Mixer) beside Container-Light on one photo."""

import streamlit as st

from app import analysis_views as av
from app import caching, i18n, registry, url_state, views
from app.families_view import three_families
from app.i18n import N_, _
from app.page import PageContext, run_page
from app.widgets import block_head_query, query_click_handler, query_keys, query_slider
from container_edu import analysis as an

TABS = [N_("Same query, two images"), N_("Head gallery"), N_("Rollout"), N_("Three families")]
TAB_KEY = "an_tab"
INSPECTOR = "pages/3_Image_inspector.py"
OPEN_HEAD_KEY = "an_open_head"
NUMBER = st.column_config.NumberColumn(format="%.4g")


def body(ctx: PageContext) -> None:
    ref = ctx.model_ref
    url_state.UrlState("analysis").show_notes()  # e.g. a link that named a model this app does not have
    av.export_format_picker()
    pair_tab, gallery_tab, rollout_tab, families_tab = st.tabs(tab_labels(), key=TAB_KEY, on_change="rerun")
    # Only the open tab runs: the gallery measures hundreds of images and need not run while another tab is shown.
    if pair_tab.open is not False:
        with pair_tab:
            two_images(ref)
    if gallery_tab.open is not False:
        with gallery_tab:
            head_gallery(ref)
    if rollout_tab.open is not False:
        with rollout_tab:
            rollout(ref)
    if families_tab.open is not False:
        with families_tab:
            # Its own models (the three ImageNet families and Container-Light), not the sidebar's: a tab here because
            # it is the first tab's question (does a row change with the image?) asked of the paper's families.
            three_families()


def tab_labels() -> list[str]:
    """The tabs in the session's language; the open tab (kept by its label) stays open when the language changes."""
    shown = [_(tab) for tab in TABS]
    kept = st.session_state.get(TAB_KEY)
    if kept is not None and kept not in shown:
        for language in i18n.LANGUAGES:
            labels = [i18n.translations(language).gettext(tab) for tab in TABS]
            if kept in labels:
                st.session_state[TAB_KEY] = shown[labels.index(kept)]
                break
    return shown


# --------------------------------------------------------------------------
# Same query, two images
# --------------------------------------------------------------------------


def two_images(ref) -> None:
    st.markdown(_("The same block, head and query token on two pictures. A **static** affinity (conv kernel, learned "
                  "N×N matrix) is made from the weights alone, so its row cannot change with the picture; the "
                  "**dynamic** attention row is made from the picture's queries and keys. The differences below are "
                  "measured."))
    col_a, col_b = st.columns(2)
    with col_a:
        first = av.pick_image(_("Image A"), "an_image_a", 0)
    with col_b:
        second = av.pick_image(_("Image B"), "an_image_b", 1)
    if first is None or second is None:
        return
    prepared_a, prepared_b = views.prepare(ref, first), views.prepare(ref, second)
    inspection_a, inspection_b = prepared_a.inspect(), prepared_b.inspect()
    block, head, query = block_head_query(inspection_a, "an_pair", scope=ref.key)
    record = inspection_a.records[block]
    comparisons = an.compare_rows(record, inspection_b.records[block], head, query)
    if first.digest == second.digest:
        st.info(_("Both choices are the same picture, so every difference is 0. Pick two different images."),
                icon=":material/info:")
    where = _("block {block}, head {head}, query ({y}, {x}) = token {token} on the {height}×{width} grid").format(
        block=block, head=head, y=query[0], x=query[1], token=query[0] * record.grid[1] + query[1],
        height=record.grid[0], width=record.grid[1])
    fig_a, fig_b, fig_diff = av.pair_figures(comparisons, prepared_a.seen, prepared_b.seen, query, where)
    stem = av.file_stem(ref.name, block, f"head{head}", f"q{query[0]}-{query[1]}")
    y_key, x_key = query_keys("an_pair", record.grid)
    av.show_figure(fig_a, "an_pair_a", f"{stem}_imageA", on_select=query_click_handler("an_pair_a", y_key, x_key),
                   selection_mode="points")
    av.show_figure(fig_b, "an_pair_b", f"{stem}_imageB")
    av.show_figure(fig_diff, "an_pair_diff", f"{stem}_difference")
    st.markdown(_("**Measured difference between the two rows**"))
    st.dataframe(av.comparison_table(comparisons), hide_index=True, key="an_pair_table",
                 column_config={_(column): NUMBER for column in av.COMPARISON_NUMBERS})
    st.caption(_("Rows as the Image inspector draws them: attention is a probability row; the static row of a conv is "
                 "the head's mean kernel pasted at the query (signed); the blend is α A_m(X) + β A_m^static. "
                 "'All heads/channels' repeats the comparison for every head, and for a conv's static part for every "
                 "one of its per-channel kernels. Click image A's maps to move the query."))


# --------------------------------------------------------------------------
# Head gallery
# --------------------------------------------------------------------------


def head_gallery(ref) -> None:
    model = caching.get_model(ref, st.session_state)
    image_set = av.gallery_image_set(registry.card_of(ref, model))
    gallery = av.compute_gallery(ref, model, image_set)
    if not ref.trained:
        st.warning(_("This model has random weights: its heads show the architecture, not anything learned."),
                   icon=":material/casino:")
    k = gallery.threshold_kernel
    st.markdown(_(
        "Every head of the mixed stage, averaged over **{count} images**: {images}. "
        "**Distance**: the mean over query tokens of Σ_j A[i, j]·‖p_i − p_j‖, in tokens; **entropy**: the mean of "
        "−Σ_j A[i, j] log A[i, j], in nats. A head is labelled **local (conv-like)** when its mean distance is at most "
        "**{threshold:.3f} tokens**, the distance of a flat {k}×{k} kernel (the mean distance of its "
        "{taps} taps from the centre), and **global** above it. Static parts are measured the same way on |weights| "
        "(a kernel at an inside query; a learned N×N on its rows normalised) and do not depend on the images."
    ).format(count=gallery.num_images, images=image_set.description.shown(), threshold=gallery.local_threshold, k=k,
             taps=k * k))
    fig = av.gallery_scatter(gallery, _("Heads of {model}: distance against entropy over {count} images (bars: sd "
                                        "over the images); conv kernels and static matrices marked").format(
        model=ref.name, count=gallery.num_images))
    av.show_figure(fig, "an_gallery_scatter", av.file_stem(ref.name, "head_gallery"), on_select=_pick_point,
                   selection_mode="points")
    st.caption(_("Kernel entropies are over the kernel's k×k taps, attention entropies over all N tokens "
                 "(log N for uniform rows, the star). Click a point to choose that head below."))
    table = av.gallery_table(gallery)
    st.dataframe(table, hide_index=True, key="an_gallery_table", on_select=_pick_row, selection_mode="single-row",
                 column_config={column: NUMBER for column in table.columns if table[column].dtype.kind == "f"})
    st.download_button(_("Download the table (CSV)"), data=table.to_csv(index=False).encode("utf-8"),
                       file_name=f"{av.file_stem(ref.name, 'head_gallery')}.csv", mime="text/csv",
                       key="an_gallery_csv", on_click="ignore", icon=":material/download:")
    open_in_inspector(ref, [(h.block, h.head) for h in gallery.heads])


def _choose(block: str, head: int) -> None:
    st.session_state[OPEN_HEAD_KEY] = f"{block} · head {head}"


def _pick_point() -> None:
    points = (st.session_state.get("an_gallery_scatter") or {}).get("selection", {}).get("points", [])
    for point in points or []:
        custom = point.get("customdata") if hasattr(point, "get") else None
        if isinstance(custom, (list, tuple)) and len(custom) >= 2:
            _choose(str(custom[0]), int(custom[1]))
            return


def _pick_row() -> None:
    rows = (st.session_state.get("an_gallery_table") or {}).get("selection", {}).get("rows", [])
    table = st.session_state.get("_an_gallery_rows") or []
    if rows and rows[0] < len(table):
        _choose(*table[rows[0]])


def open_in_inspector(ref, heads: list[tuple[str, int]]) -> None:
    st.session_state["_an_gallery_rows"] = heads
    options = [f"{block} · head {head}" for block, head in heads]
    if st.session_state.get(OPEN_HEAD_KEY) not in options:
        st.session_state[OPEN_HEAD_KEY] = options[0]
    col_pick, col_go = st.columns([2, 1], vertical_alignment="bottom")
    labels = {f"{block} · head {head}": _("{block} · head {head}").format(block=block, head=head)
              for block, head in heads}
    choice = col_pick.selectbox(_("Head to open (or click a point or a table row)"), options, key=OPEN_HEAD_KEY,
                                format_func=labels.__getitem__)
    if col_go.button(_("Open in the Image inspector"), key="an_open", icon=":material/image_search:"):
        block, head = heads[options.index(choice)]
        # The inspector keeps its block and head under these keys (prefix "insp"); its scope key says the model is
        # unchanged, so it keeps the block instead of resetting it. The address carries them as well, so the
        # inspector's address is a link to this head (app/url_state.py).
        st.session_state.update({"insp_scope": ref.key, "insp_block": block, "insp_head": head})
        params = {"model": url_state.model_param(ref), "block": block, "head": str(head)}
        st.switch_page(INSPECTOR, query_params={k: v for k, v in params.items() if v is not None})


# --------------------------------------------------------------------------
# Rollout
# --------------------------------------------------------------------------


def rollout(ref) -> None:
    col_image, col_block, col_y, col_x = st.columns([2, 1.4, 1, 1])
    with col_image:
        current = av.pick_image(_("Image"), "an_roll_image", 0)
    if current is None:
        return
    prepared = views.prepare(ref, current)
    records = prepared.inspect().records
    blocks = an.stage_blocks(records)
    grid = records[blocks[-1]].grid
    single = col_block.selectbox(_("Single block"), blocks, index=len(blocks) - 1, key="an_roll_block")
    y_key, x_key = query_keys("an_roll", grid)
    query = (query_slider(_("Query row y"), grid[0], y_key, col_y),
             query_slider(_("Query column x"), grid[1], x_key, col_x))
    view = av.rollout_view(records, query, single)
    title = _("Where the query ({y}, {x}) of the last stage gathers from, on {image}: rollout through {count} block(s) "
              "on the {height}×{width} grid, and one block alone").format(
        y=query[0], x=query[1], image=current.shown_label, count=len(blocks), height=grid[0], width=grid[1])
    fig = av.rollout_figure(view, prepared.seen, title)
    chart = "an_rollout"
    av.show_figure(fig, chart, av.file_stem(ref.name, "rollout", f"q{query[0]}-{query[1]}"),
                   on_select=query_click_handler(chart, y_key, x_key), selection_mode="points")
    st.dataframe(av.rollout_table(view), hide_index=True, key="an_rollout_table",
                 column_config={_("sum of the row"): st.column_config.NumberColumn(format="%.6f")})
    if view.attention is None:
        st.info(_("{model} has no attention in this stage: only the static rollout exists.").format(model=ref.name),
                icon=":material/info:")
    what_it_is(records, view)


def what_it_is(records, view: av.RolloutView) -> None:
    record = records[view.blocks[-1]]
    static = {"kernel": N_("the depthwise kernels' |w|, averaged over each head's channels and pasted at every query"),
              "dense": N_("the learned N×N matrices' |A|")}
    kind = "kernel" if record.conv_weight is not None else ("dense" if record.static_affinity is not None else None)
    blends = "; ".join(f"{name}: α = {alpha:.3f}, β = {beta:.3f}" for name, (alpha, beta) in view.blends.items())
    with st.container(border=True):
        st.markdown(_("**What this is and is not**"))
        st.markdown("\n".join([
            _("- **Rolled out**: for each block of the last stage ({blocks}), the affinity recorded in "
              "this forward pass: attention A_m(X) = softmax(Q_m K_mᵀ s) of the block's own queries and keys "
              "(before W_o), and the static part S_m, {static}, with each row normalised to sum to 1.").format(
                blocks=", ".join(view.blocks), static=_(static.get(kind, N_("none in this model")))),
            _("- **Blend**: each block's matrix is (|α| A_m(X) + |β| S_m) / (|α| + |β|) with the weights the block "
              "used ({blends}). **Signed conv or learned-matrix weights** count by magnitude: a negative weight moves "
              "as much of a token as a positive one.").format(blends=blends),
            _("- **Heads** are fused by their plain mean over the {count} head(s); no head is weighted by "
              "its importance.").format(count=record.num_heads),
            _("- **Residual**: each block becomes 0.5·A + 0.5·I with rows renormalised (Abnar and Zuidema, 2020), "
              "then the blocks are multiplied in order. The real residual share is not 0.5."),
            _("- **Left out**: each block's 3×3 positional depthwise conv (it mixes neighbours too), the MLP (it "
              "mixes channels, not tokens), normalisation, W_o, and the earlier stages on other grids."),
            _("- **Not an explanation**: these weights say where values were gathered from, not what the "
              "prediction depends on; attention weights and importance can disagree. To see what depends on the "
              "picture, compare two images (first tab) or move the blend (Blend page)."),
        ]))


run_page(
    _("Analysis"), body, model_picker=True,
    families_left_out=_("This page's head gallery and rollout are built for Container's mixed and hybrid stages, "
                        "which they do not have; see them in the Image inspector."),
    intro=_("Three measurements on the model chosen in the sidebar: whether a row changes with the picture, how far "
            "each head looks compared with a conv kernel, and where a query's context comes from across a whole "
            "stage; and a fourth tab that puts the paper's three families beside Container-Light on one photo. "
            "Every figure saves as PNG or SVG from its toolbar."),
)
