"""Image inspector: a model's prediction on an image, and what each block aggregated, head by head."""

from functools import partial

import streamlit as st

from app import imagenet_weights, photo_notes, resolution, views
from app.figure_view import show_figure
from app.i18n import _
from app.page import PageContext, run_page
from app.registry import FAMILY
from app.url_state import UrlState
from app.widgets import block_head_query, image_picker
from container_edu import figures
from container_edu.record.inspection import (
    MAX_DRAW_TOKENS,
    MAX_EXPORT_TOKENS,
    array_to_npy,
    block_maps,
    head_matrix,
    matrix_to_csv,
)

PREFIX = "insp"
#: What each part of a block's affinity is called (English, marked in the core), translated where drawn.
PART_NAMES = figures.PART_TITLES


def body(ctx: PageContext) -> None:
    with UrlState("inspector").notes_here() as url:  # the view lives in the address: a link restores it
        view(ctx, url)


def view(ctx: PageContext, url: UrlState) -> None:
    ref = ctx.model_ref
    col_pick, col_seen, col_pred = st.columns([1.1, 1, 1.6], gap="medium")
    with col_pick:
        st.markdown(_("**Image**"))
        current = image_picker(compact=True, url=url)
        # The families' cards fix their input (DeiT's and Mixer's position-bound layers take 224 only).
        input_size = None if ref.source == FAMILY else resolution.input_size_picker(ref)
        if ref.source == "random" and ref.dataset == "imagenet":
            st.caption(_("The ImageNet Container-Light here has random weights: load the released checkpoint in the "
                         "sidebar (*Load ImageNet weights*) for real predictions."))
    imagenet_weights.weights_panel("inspector")  # below the three columns; nothing when installed
    if current is None:
        return
    prepared = views.prepare(ref, current, input_size)
    inspection = prepared.inspect()
    if input_size is not None:
        with col_pick:
            st.caption(resolution.cost_note(input_size, inspection, str(next(prepared.model.parameters()).device)))
    with col_seen:
        seen_title = _("What the model sees ({height}×{width}, after preprocessing)").format(
            height=prepared.x.shape[-2], width=prepared.x.shape[-1])
        show_figure(figures.image_figure(prepared.seen, seen_title, height=300, title_width=28,
                                         size=tuple(prepared.x.shape[-2:])), "insp_seen")
        if (dark := photo_notes.dark_view_note(ref, current.image, prepared.seen)) is not None:
            st.caption(dark)
    with col_pred:
        show_figure(figures.topk_bar(inspection.probabilities, views.shown_class_names(prepared),
                                     views.prediction_title(ref), title_width=50), "insp_pred")
        if not ref.trained:
            st.warning(_("Untrained (random weights): the prediction is meaningless, but the maps still show how "
                         "each operator aggregates."), icon=":material/casino:")
        note = photo_notes.fashion_mnist_note(ref, current.image,
                                              imagenet_installed=imagenet_weights.installed_note() is not None)
        if note:
            st.info(note, icon=":material/info:")

    st.divider()
    block, head, query = block_head_query(inspection, PREFIX, scope=ref.key, url=url)
    maps = block_maps(inspection, block, head, query)
    tab_maps, tab_heads, tab_matrix, tab_files = st.tabs(
        [_("Maps on the image"), _("All heads"), _("N×N matrices"), _("Downloads")])
    with tab_maps:
        opacity = st.slider(_("Map opacity"), 0.2, 1.0, 0.6, 0.05, key="insp_opacity")
        views.maps_figure(maps, prepared.seen, PREFIX, opacity=opacity)
        if (note := family_note(inspection, block, head, query)) is not None:
            st.info(note, icon=":material/info:")
        st.caption(_("Each map is row i (the query, white cross edged in black) of an affinity: how much every token j contributes "
                     "to the query's output. Click a cell to move the query. Attention is a probability (sums to "
                     "1); conv and blended maps are signed (blue negative, red positive)."))
    with tab_heads:
        short = figures.part_symbols(maps, head="m")
        labels = {p: f"{_(PART_NAMES[p])} {short[p]}" for p in maps.parts}
        part = st.radio(_("Map"), maps.parts, horizontal=True, key="insp_grid_part", format_func=labels.__getitem__)
        opacity = st.session_state.get("insp_opacity", 0.6)
        show_figure(figures.heads_figure(maps, part, prepared.seen, opacity=opacity), "insp_heads")
    with tab_matrix:
        record = inspection.records[block]
        if record.num_tokens > MAX_DRAW_TOKENS:
            if record.num_tokens <= MAX_EXPORT_TOKENS:
                too_many = _("This block's grid has {count} tokens: an N×N matrix would have {entries:,} entries, too "
                             "many to draw. Its rows are on the other tabs and the matrices on the Downloads tab.")
            else:
                too_many = _("This block's grid has {count} tokens: an N×N matrix would have {entries:,} entries, too "
                             "many to draw. Its rows are on the other tabs.")
            st.info(too_many.format(count=record.num_tokens, entries=record.num_tokens ** 2))
        else:
            # One matrix at a time, at full width: three side by side were too cramped to read, titles misaligned.
            drawn = [part for part in maps.parts if head_matrix(inspection, block, head, part) is not None]
            labels = {part: _(PART_NAMES[part]) for part in drawn}
            part = st.radio(_("Matrix"), drawn, horizontal=True, key="insp_matrix_part",
                            format_func=labels.__getitem__)
            missing = [p for p in maps.parts if p not in drawn]
            if missing:
                st.caption(_("No {part} part in this block.").format(
                    part=_(", ").join(_(PART_NAMES[p]) for p in missing)))
            if part is not None:
                show_figure(figures.head_matrix_figure(head_matrix(inspection, block, head, part), maps, part,
                                                       height=560, title_width=60), key=f"insp_matrix_{part}")
    with tab_files:
        downloads(inspection, maps, prepared, block, head)


def family_note(inspection, block: str, head: int, query: tuple[int, int]) -> str | None:
    """What a family's map leaves out: DeiT's class token (its share, measured), Mixer's GELU (the map is W₂W₁)."""
    record = inspection.records[block]
    share = record.prefix_share(query)
    if share is not None:
        weight = float(share[head])
        return _("The class token is left out of this map: query ({y}, {x}) gives it {share:.1%} of head {head}'s "
                 "attention, and the {count} patches drawn share the other {rest:.1%}.").format(
            y=query[0], x=query[1], share=weight, head=head, count=record.num_tokens, rest=1.0 - weight)
    if inspection.family == "mixer_b16":
        return _("MLP-Mixer mixes tokens with an MLP, W₂ GELU(W₁u + b₁) + b₂, not with one matrix: this map is its "
                 "linear part W₂W₁ (static: the same for every image and channel), not the exact map. The exact, "
                 "image-dependent map of one channel (the MLP's Jacobian) is in the Three families view of the "
                 "Analysis page.")
    return None


def _matrix_npy(inspection, block, head, part) -> bytes:
    return array_to_npy(head_matrix(inspection, block, head, part))


def _matrix_csv(inspection, block, head, part) -> bytes:
    return matrix_to_csv(head_matrix(inspection, block, head, part))


def downloads(inspection, maps, prepared, block, head) -> None:
    """Download buttons; the files are made only when a button is clicked (deferred ``data`` callables)."""
    stem = f"{prepared.ref.name}_{block}_head{head}_q{maps.query[0]}-{maps.query[1]}".replace("/", "_")
    averaged = figures.averaged_note(maps, head)
    if averaged:
        st.caption(_("The static and blended files hold each head's view: {averaged} (one conv kernel per channel, "
                     "so no single channel's affinity); the attention files are the head's own.").format(
            averaged=figures.averaged_note(maps, head, alone=True)))

    def label(part: str, what: str) -> str:
        # Translators: {part} is dynamic, static or blended; {what} says which file, e.g. "map (PNG)".
        text = _("{part} {what}").format(part=_(PART_NAMES[part]), what=what)
        return _("{label} · head mean of conv kernels").format(label=text) if averaged and part != "attention" \
            else text

    st.markdown(_("**Maps as PNG** (the chosen head's row over the image the model sees)"))
    cols = st.columns(3)
    for col, part in zip(cols, maps.parts):
        col.download_button(label(part, _("map (PNG)")), data=partial(views.maps_png, maps, prepared.seen, part),
                            file_name=f"{stem}_{part}.png", mime="image/png", key=f"dl_png_{part}", on_click="ignore")
    st.markdown(_("**Rows of every head** as NumPy arrays `(M, n_y, n_x)` (heads, grid rows, grid columns)"))
    cols = st.columns(3)
    for col, part in zip(cols, maps.parts):
        col.download_button(label(part, _("rows (NPY)")), data=partial(array_to_npy, getattr(maps, f"{part}_heads")),
                            file_name=f"{stem}_{part}_rows.npy", mime="application/octet-stream",
                            key=f"dl_rows_{part}", on_click="ignore")
    record = inspection.records[block]
    st.markdown(_("**Full N×N matrix of head {head}** (NPY and CSV; grids up to {limit} tokens)").format(
        head=head, limit=MAX_EXPORT_TOKENS))
    if record.num_tokens > MAX_EXPORT_TOKENS:
        st.caption(_("This block has {count} tokens: its N×N matrices ({entries:,} entries) are too large to "
                     "export; download the rows above instead.").format(count=record.num_tokens,
                                                                        entries=record.num_tokens ** 2))
        return
    cols = st.columns(3)
    for col, part in zip(cols, maps.parts):
        col.download_button(label(part, _("N×N (NPY)")), data=partial(_matrix_npy, inspection, block, head, part),
                            file_name=f"{stem}_{part}_matrix.npy", mime="application/octet-stream",
                            key=f"dl_npy_{part}", on_click="ignore")
        col.download_button(label(part, _("N×N (CSV)")), data=partial(_matrix_csv, inspection, block, head, part),
                            file_name=f"{stem}_{part}_matrix.csv", mime="text/csv", key=f"dl_csv_{part}",
                            on_click="ignore")


run_page(
    _("Image inspector"), body, model_picker=True, weights_offer_in_page=True,
    intro=_("Choose a picture and a model (sidebar). The model runs **once** with every block recording its "
             "affinities; then pick a block, a head and a query token to see where that token gathers its context "
             "from."),
)
