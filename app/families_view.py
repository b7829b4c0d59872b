"""The "Three families" view (Analysis tab, and the measured lesson's step): one photo, one query patch, the rows of
DeiT, ConvNeXt, MLP-Mixer and Container-Light side by side, and which of them change with the image.

Drawing only: the data comes from :mod:`app.families` (models, recordings, rows), the figures from
:mod:`container_edu.figures.families`, the measures from :mod:`container_edu.analysis.families`.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import streamlit as st

from container_edu.analysis import families as fam
from container_edu.models import FAMILY_MODELS
from container_edu.figures.families import family_figure

from app import analysis_views as av
from app import deployment
from app import families as data
from app.family_weights import family_weights_panel
from app.i18n import N_, _
from app.samples import list_samples
from app.widgets import query_click_handler, query_keys, query_slider

__all__ = ["three_families", "family_check", "open_view_button", "random_notice", "change_table", "NOTICE_RANDOM", "CHECK_TITLE", "PART_NAMES"]

#: The first words of the notice when every model has random weights (tests look for them).
NOTICE_RANDOM = N_("The weights are random.")
CHECK_TITLE = N_("Same query, two images: which rows change with the image")
#: Each part of the rows as the check's table names it.
PART_NAMES = {"attention": N_("head rows (every head)"), "class_token": N_("class-token weight (every head)"),
              "kernel": N_("kernel rows (every channel)"), "linear": N_("linear part W₂W₁"),
              "jacobian": N_("Jacobian of channel {channel}"), "blended": N_("blended rows (every head)")}
_INSTALLED_KEY = "_fam_installed_notice"
MADE_FROM = {True: N_("the image (dynamic)"), False: N_("the weights only (static)")}


def random_notice(found: Mapping[str, data.Source], *, families_in_panel: bool = False) -> None:
    """At the top: which models have random weights, and the commands that install the real ones.

    ``families_in_panel``: the families' own offers (buttons, or the administrator's commands) are in the Download
    panel drawn next (:func:`app.family_weights.family_weights_panel`), so only the other models' commands are listed.
    """
    stand_ins = [name for name, source in found.items() if source.random]
    if not stand_ins:
        return
    names = ", ".join(_(data.FAMILY_LABELS[name]) for name in stand_ins)
    if len(stand_ins) == len(found):
        head = _("**{random}** No model in this view is trained: every map below shows what the architecture does "
                 "with random weights, not what a network learned from ImageNet.").format(random=_(NOTICE_RANDOM))
    else:
        head = _("**Some weights are random:** {names}. Their maps show the architecture, not anything "
                 "learned.").format(names=names)
    listed = [name for name in stand_ins if not (families_in_panel and name in FAMILY_MODELS)]
    with st.container(border=True, key="fam_random_notice"):
        st.warning(head, icon=":material/casino:")
        if not listed:
            return
        if deployment.shared_mode():  # a visitor may not start a download on a shared server: commands only
            st.caption(_("On this shared server the administrator installs the trained weights once for everyone, "
                         "with these commands:"))
        else:
            st.caption(_("To get the trained weights (from the Hugging Face hub; the authors' Container-Light from "
                         "its release), run:"))
        st.code("\n".join(f"python -m container_edu weights fetch {data.FETCH_NAMES[name]}".rstrip() for name in listed),
                language="bash", wrap_lines=True)


def _part_name(change: fam.RowChange, channel: int) -> str:
    return _(PART_NAMES[change.part]).format(channel=channel)


def change_table(changes: list[fam.RowChange], channel: int) -> pd.DataFrame:
    """The two-image check as a table: per model and part, ``max |row(img1) − row(img2)|`` and what it says."""
    return pd.DataFrame([{
        _("model"): _(data.FAMILY_LABELS[c.family]), _("rows"): _part_name(c, channel),
        _("made from"): _(MADE_FROM[c.dynamic]),
        _("max |row(img1) − row(img2)|"): c.max_abs_diff, _("largest |entry|"): c.scale,
        _("verdict"): (_("changes with the image") if c.changes else
                       _("identical (difference exactly 0)") if c.max_abs_diff == 0 else
                       _("equal to float precision")),
    } for c in changes])


NUMBER_COLUMNS = (N_("max |row(img1) − row(img2)|"), N_("largest |entry|"))


def shown_table(table: pd.DataFrame) -> pd.DataFrame:
    """The check's numbers written with 4 significant digits (0 stays 0: an exact zero is the finding)."""
    shown = table.copy()
    for column in map(_, NUMBER_COLUMNS):
        shown[column] = [f"{value:.4g}" for value in shown[column]]
    return shown


def _block_picker(name: str, blocks: list[str], key: str, container) -> str:
    if st.session_state.get(key) not in blocks:
        st.session_state[key] = data.default_block(name, blocks)
    return container.selectbox(_("{model}: block").format(model=_(data.FAMILY_LABELS[name])), blocks, key=key)


def _title(name: str, rows: fam.FamilyRows, source: data.Source) -> str:
    weights = _("random weights") if source.random else _("installed weights")
    return _("{model}, {block} ({weights}): rows into query ({y}, {x}) on {height}×{width}").format(
        model=_(data.FAMILY_LABELS[name]), block=rows.block, weights=weights, y=rows.query[0], x=rows.query[1],
        height=rows.grid[0], width=rows.grid[1])


def _mixer_sentence(rows: fam.FamilyRows) -> str:
    gap = rows.gap
    units = ("" if gap.active is None else
             _(" Here the hidden units' mean GELU′ is {mean:.2f}; {active:.0%} of them sit where GELU′ ≈ 1 (it acts "
               "like the identity) and {dead:.0%} where GELU′ ≈ 0 (it cuts the path).").format(
                 mean=gap.mean_slope, active=gap.active, dead=gap.dead))
    return _("**Where \"static and dense\" holds.** The linear part W₂W₁ is one N×N matrix made from the weights "
             "alone, the same for every channel and every image: for it the paper's view of the Mixer as a static, "
             "dense affinity holds exactly. The MLP puts a GELU between W₁ and W₂, so the map an image goes "
             "through is not that matrix: its Jacobian for channel {channel} is W₂ diag(GELU′(W₁x + b₁)) W₁, and "
             "here it differs from W₂W₁ by up to {gap:.3g} (largest |W₂W₁| entry {scale:.3g}; relative L2 gap "
             "{relative:.2f}). It is dense, but it depends on the image and on the channel.{units}").format(
        channel=rows.parts[1].index[0], gap=gap.max_abs, scale=gap.scale, relative=gap.relative, units=units)


def _photos() -> tuple[int, int]:
    """The gallery's first two colour photos (the families were trained on photos, not 28×28 clothes), by index."""
    files = [sample.file for sample in list_samples()]
    photos = [index for index, file in enumerate(files) if file.startswith("photo_")]
    photos += [index for index in range(len(files)) if index not in photos]
    return (photos + [0, 0])[0], (photos + [0, 1])[1]


def three_families(prefix: str = "fam") -> None:
    """The whole view; ``prefix`` keeps the widget keys of the Analysis tab and of a lesson step apart."""
    found = data.sources()
    random_notice(found, families_in_panel=True)
    family_weights_panel(prefix)  # download buttons (private server) or the administrator's commands
    st.markdown(_("One photo and one 16×16-pixel patch of it (the query, on the 14×14 grid of a 224×224 input). "
                  "For each model, the rows that gather context into that patch in one block: how strongly each "
                  "patch is taken in. One colour scale per kind: attention weights (from 0), kernel weights, "
                  "token-mixing weights and Container-Light's blend (signed, white = 0). The model picked in the "
                  "sidebar plays no part here."))
    col_a, col_b, col_y, col_x = st.columns([2, 2, 1, 1])
    photo_a, photo_b = _photos()
    with col_a:
        first = av.pick_image(_("Photo"), f"{prefix}_image_a", photo_a)
    with col_b:
        second = av.pick_image(_("Second photo, for the check"), f"{prefix}_image_b", photo_b)
    y_key, x_key = query_keys(prefix, fam.QUERY_GRID)
    query = (query_slider(_("Query row y"), fam.QUERY_GRID[0], y_key, col_y),
             query_slider(_("Query column x"), fam.QUERY_GRID[1], x_key, col_x))
    if first is None or second is None:
        return
    with st.spinner(_("Running the four models on both photos, recording every block…")):
        recorded_a = {name: data.record(source, first) for name, source in found.items()}
        recorded_b = {name: data.record(source, second) for name, source in found.items()}
    pickers = st.columns(5)
    blocks = {name: _block_picker(name, data.family_blocks(recorded), f"{prefix}_block_{name}", pickers[index])
              for index, (name, recorded) in enumerate(recorded_a.items())}
    channels = data.mixer_channels(recorded_a["mixer_b16"])
    channel_key = f"{prefix}_channel"
    if not 0 <= st.session_state.get(channel_key, 0) < channels:  # e.g. weights of a smaller Mixer installed since
        st.session_state[channel_key] = min(max(int(st.session_state[channel_key]), 0), channels - 1)
    channel = int(pickers[4].number_input(_("Mixer: Jacobian channel"), 0, channels - 1, key=channel_key,
                                          help=_("Which of the {count} channels' token mix to differentiate.").format(
                                              count=channels)))
    rows_a = {name: data.rows_for(recorded, blocks[name], query, channel) for name, recorded in recorded_a.items()}
    rows_b = {name: data.rows_for(recorded, blocks[name], query, channel) for name, recorded in recorded_b.items()}
    if first.digest == second.digest:
        st.info(_("Both photos are the same picture, so every difference is 0. Pick two different photos."),
                icon=":material/info:")
    layout = [st.columns(2), st.columns(2)]
    for index, (name, rows) in enumerate(rows_a.items()):
        on_grid = rows.grid == fam.QUERY_GRID
        fig = family_figure(rows, _title(name, rows, found[name]), image=recorded_a[name].seen, clickable=on_grid)
        chart = f"{prefix}_map_{name}"
        extra = dict(on_select=query_click_handler(chart, y_key, x_key), selection_mode="points") if on_grid else {}
        with layout[index // 2][index % 2]:
            av.show_figure(fig, chart, av.file_stem(name, rows.block, f"q{query[0]}-{query[1]}"), **extra)
            if name == "mixer_b16":
                st.markdown(_mixer_sentence(rows))
            if name == "container_light":
                st.caption(_("Container-Light's attention stage works on {height}×{width} at 224, so the query is "
                             "the cell of that grid that covers the patch: ({y}, {x}).").format(
                    height=rows.grid[0], width=rows.grid[1], y=rows.query[0], x=rows.query[1]))
    with st.container(key=f"{prefix}_check_box"):  # the key lets a browser test find the check
        st.markdown(f"**{_(CHECK_TITLE)}**")
        changes = [change for name in rows_a for change in fam.row_changes(rows_a[name], rows_b[name])]
        # A static table: it wraps its cells to the column's width (a data grid would cut the verdict off).
        st.table(shown_table(change_table(changes, channel)), hide_index=True)
        st.caption(_("Measured on {first} and {second}, the same blocks and query. Attention rows and the Mixer's "
                     "Jacobian are made from the image; kernels and W₂W₁ from the weights alone, so their difference "
                     "is exactly 0. Click a 14×14 map to move the query.").format(first=first.shown_label,
                                                                                 second=second.shown_label))

ANALYSIS_PAGE = "pages/7_Analysis.py"
TAB_LABEL = N_("Three families")


def _open_view() -> None:
    st.session_state["an_tab"] = _(TAB_LABEL)  # the Analysis page's tab key (pages/7_Analysis.py TAB_KEY)


def open_view_button(key: str) -> None:
    """A button that opens the full view on the Analysis page."""
    if st.button(_("Open the Three families view (Analysis page)"), key=key, icon=":material/grid_view:",
                 on_click=_open_view):
        st.switch_page(ANALYSIS_PAGE)


def family_check(prefix: str) -> pd.DataFrame | None:
    """The two-image check alone, on the first two sample photos, at the centre patch and each model's default
    block (a lesson's compact use of the view); ``None`` without two samples."""
    samples = list_samples()
    if len(samples) < 2:
        st.info(_("The sample gallery has fewer than two photos: nothing to compare."), icon=":material/info:")
        return None
    first, second = (av.sample_image(str(samples[index].path)) for index in _photos())
    found = data.sources()
    query = (fam.QUERY_GRID[0] // 2, fam.QUERY_GRID[1] // 2)
    changes = []
    with st.spinner(_("Running the four models on both photos, recording every block…")):
        for name, source in found.items():
            recorded_a, recorded_b = data.record(source, first), data.record(source, second)
            block = data.default_block(name, data.family_blocks(recorded_a))
            changes += fam.row_changes(data.rows_for(recorded_a, block, query), data.rows_for(recorded_b, block, query))
    table = change_table(changes, 0)
    with st.container(key=f"{prefix}_check_box"):
        st.table(shown_table(table), hide_index=True)
    st.caption(_("Measured here on {first} and {second}, query ({y}, {x}), each model's default block.").format(
        first=first.shown_label, second=second.shown_label, y=query[0], x=query[1]))
    return table
