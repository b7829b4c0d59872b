"""Image inspector: a model's prediction on an image, and what each block aggregated, head by head."""

from functools import partial

import streamlit as st

from app import imagenet_weights, photo_notes, resolution, views
from app.page import PageContext, run_page
from app.url_state import UrlState
from app.widgets import block_head_query, image_picker
from container_edu import figures
from container_edu.inspection import (
    MAX_DRAW_TOKENS,
    MAX_EXPORT_TOKENS,
    array_to_npy,
    block_maps,
    head_matrix,
    matrix_to_csv,
)

PREFIX = "insp"


def body(ctx: PageContext) -> None:
    with UrlState("inspector").notes_here() as url:  # the view lives in the address: a link restores it
        view(ctx, url)


def view(ctx: PageContext, url: UrlState) -> None:
    ref = ctx.model_ref
    col_pick, col_seen, col_pred = st.columns([1.1, 1, 1.6], gap="medium")
    with col_pick:
        st.markdown("**Image**")
        current = image_picker(compact=True, url=url)
        input_size = resolution.input_size_picker(ref)
        if ref.source == "random" and ref.dataset == "imagenet":
            st.caption("The ImageNet Container-Light here has random weights: load the released checkpoint in the "
                       "sidebar (*Load ImageNet weights*) for real predictions.")
    imagenet_weights.weights_panel("inspector")  # below the three columns; nothing when installed
    if current is None:
        return
    prepared = views.prepare(ref, current, input_size)
    inspection = prepared.inspect()
    if input_size is not None:
        with col_pick:
            st.caption(resolution.cost_note(input_size, inspection, str(next(prepared.model.parameters()).device)))
    with col_seen:
        st.plotly_chart(figures.image_figure(
            prepared.seen, f"What the model sees ({prepared.x.shape[-2]}×{prepared.x.shape[-1]}, after preprocessing)",
            height=300, title_width=34), key="insp_seen")
    with col_pred:
        st.plotly_chart(figures.topk_bar(inspection.probabilities, prepared.class_names, views.prediction_title(ref),
                                         title_width=60), key="insp_pred")
        if not ref.trained:
            st.warning("Untrained (random weights): the prediction is meaningless, but the maps still show how each "
                       "operator aggregates.", icon=":material/casino:")
        note = photo_notes.fashion_mnist_note(ref, current.image,
                                              imagenet_installed=imagenet_weights.installed_note() is not None)
        if note:
            st.info(note, icon=":material/info:")

    st.divider()
    block, head, query = block_head_query(inspection, PREFIX, scope=ref.key, url=url)
    maps = block_maps(inspection, block, head, query)
    tab_maps, tab_heads, tab_matrix, tab_files = st.tabs(
        ["Maps on the image", "All heads", "N×N matrices", "Downloads"])
    with tab_maps:
        opacity = st.slider("Map opacity", 0.2, 1.0, 0.6, 0.05, key="insp_opacity")
        views.maps_figure(maps, prepared.seen, PREFIX, opacity=opacity)
        st.caption("Each map is row i (the query, red cross) of an affinity: how much every token j contributes to "
                   "the query's output. Click a cell to move the query. Attention is a probability (sums to 1); "
                   "conv and blended maps are signed (blue negative, red positive).")
    with tab_heads:
        short = figures.part_symbols(maps, head="m")
        part = st.radio("Map", maps.parts, horizontal=True, key="insp_grid_part",
                        format_func=lambda p: f"{figures.PART_TITLES[p]} {short[p]}")
        st.plotly_chart(figures.heads_figure(maps, part, prepared.seen,
                                                  opacity=st.session_state.get("insp_opacity", 0.6)),
                        key="insp_heads")
    with tab_matrix:
        record = inspection.records[block]
        if record.num_tokens > MAX_DRAW_TOKENS:
            st.info(f"This block's grid has {record.num_tokens} tokens: an N×N matrix would have "
                    f"{record.num_tokens ** 2:,} entries, too many to draw. Its rows are on the other tabs"
                    + (" and the matrices on the Downloads tab." if record.num_tokens <= MAX_EXPORT_TOKENS else "."))
        else:
            cols = st.columns(3)
            for col, part in zip(cols, maps.parts):
                matrix = head_matrix(inspection, block, head, part)
                if matrix is None:
                    col.caption(f"No {part} part in this block.")
                    continue
                col.plotly_chart(figures.head_matrix_figure(matrix, maps, part), key=f"insp_matrix_{part}")
    with tab_files:
        downloads(inspection, maps, prepared, block, head)


def _matrix_npy(inspection, block, head, part) -> bytes:
    return array_to_npy(head_matrix(inspection, block, head, part))


def _matrix_csv(inspection, block, head, part) -> bytes:
    return matrix_to_csv(head_matrix(inspection, block, head, part))


def downloads(inspection, maps, prepared, block, head) -> None:
    """Download buttons; the files are made only when a button is clicked (deferred ``data`` callables)."""
    stem = f"{prepared.ref.name}_{block}_head{head}_q{maps.query[0]}-{maps.query[1]}".replace("/", "_")
    averaged = figures.averaged_note(maps, head)
    if averaged:
        st.caption(f"The static and blended files hold each head's view: {averaged.lstrip(', ')} (one conv kernel "
                   "per channel, so no single channel's affinity); the attention files are the head's own.")

    def label(part: str, what: str) -> str:
        return f"{part} {what}" + (" · head mean of conv kernels" if averaged and part != "attention" else "")

    st.markdown("**Maps as PNG** (the chosen head's row over the image the model sees)")
    cols = st.columns(3)
    for col, part in zip(cols, maps.parts):
        col.download_button(label(part, "map (PNG)"), data=partial(views.maps_png, maps, prepared.seen, part),
                            file_name=f"{stem}_{part}.png", mime="image/png", key=f"dl_png_{part}", on_click="ignore")
    st.markdown("**Rows of every head** as NumPy arrays `(M, n_y, n_x)` (heads, grid rows, grid columns)")
    cols = st.columns(3)
    for col, part in zip(cols, maps.parts):
        col.download_button(label(part, "rows (NPY)"), data=partial(array_to_npy, getattr(maps, f"{part}_heads")),
                            file_name=f"{stem}_{part}_rows.npy", mime="application/octet-stream",
                            key=f"dl_rows_{part}", on_click="ignore")
    record = inspection.records[block]
    st.markdown(f"**Full N×N matrix of head {head}** (NPY and CSV; grids up to {MAX_EXPORT_TOKENS} tokens)")
    if record.num_tokens > MAX_EXPORT_TOKENS:
        st.caption(f"This block has {record.num_tokens} tokens: its N×N matrices ({record.num_tokens ** 2:,} entries) "
                   "are too large to export; download the rows above instead.")
        return
    cols = st.columns(3)
    for col, part in zip(cols, maps.parts):
        col.download_button(label(part, "N×N (NPY)"), data=partial(_matrix_npy, inspection, block, head, part),
                            file_name=f"{stem}_{part}_matrix.npy", mime="application/octet-stream",
                            key=f"dl_npy_{part}", on_click="ignore")
        col.download_button(label(part, "N×N (CSV)"), data=partial(_matrix_csv, inspection, block, head, part),
                            file_name=f"{stem}_{part}_matrix.csv", mime="text/csv", key=f"dl_csv_{part}",
                            on_click="ignore")


run_page(
    "Image inspector", body, model_picker=True,
    intro="Choose a picture and a model (sidebar). The model runs **once** with every block recording its "
    "affinities; then pick a block, a head and a query token to see where that token gathers its context from.",
)
