"""Pieces of the Analysis page: figure export, image choice, the gallery's image set, and the page's figures.

The measures come from :mod:`container_edu.analysis`; this module only picks
images, caches, and draws. Figure builders (``*_figure``, ``*_table``) take
plain results and return Plotly figures or DataFrames, without Streamlit.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch
from torch import nn

from container_edu import analysis as an
from container_edu import record_affinities
from container_edu.hub.cards import ModelCard, Preprocessing
from container_edu.data import DatasetError, load_fashion_mnist, resolve_data_dir, to_model_input
from container_edu.data.images import image_digest, load_image
from container_edu.record.trace import AggregationRecord
from container_edu.models import weights_version
from container_edu.text import Message

from container_edu import figures

from app import deployment, figure_view, registry
from app.i18n import N_, Text, _
from app.registry import ModelRef
from app.samples import list_samples
from app.widgets import UPLOAD_TYPES, CurrentImage, decode_upload

__all__ = [
    "EXPORT_FORMAT_KEY", "export_config", "export_format_picker", "show_figure", "file_stem",
    "pick_image", "sample_image", "ImageSet", "gallery_image_set", "compute_gallery", "gallery_table", "gallery_scatter",
    "threshold_kernel_of", "verdict", "comparison_table", "pair_figures",
    "RolloutView", "rollout_view", "rollout_figure", "rollout_table", "distance_from_query",
]

EXPORT_FORMAT_KEY = "an_export_format"
EXPORT_FORMATS = {"PNG": "png", "SVG": "svg"}
#: Images the head gallery averages over for a Fashion-MNIST model: the first ones of the test split.
GALLERY_TEST_IMAGES = 200
GALLERY_BATCH = 50
_UPLOAD = "__upload__"
_SESSION_GALLERIES_KEY = "_analysis_galleries"
BLOCK_COLOURS = ["#2f6f8f", "#d08c3c", "#5a9e5a", "#b5495b", "#7a5fa6", "#4b4b4b", "#c7a100", "#1f9e9e"]


# --------------------------------------------------------------------------
# Export: the camera button of every figure saves PNG or SVG
# --------------------------------------------------------------------------


def file_stem(*parts: object) -> str:
    """A safe file name from its parts: ``fmnist_container_light_blocks2.1_head0_q3-3``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(str(part) for part in parts if part != "")).strip("_")


def export_config(filename: str, fmt: str) -> dict:
    """Plotly config: the toolbar's camera button saves ``filename.fmt`` (PNG at twice the size on screen)."""
    if fmt not in EXPORT_FORMATS.values():
        raise ValueError(f"format must be one of {sorted(EXPORT_FORMATS.values())}, got {fmt!r}")
    return {"displaylogo": False,
            "toImageButtonOptions": {"format": fmt, "filename": filename, "scale": 2 if fmt == "png" else 1}}


def export_format_picker() -> str:
    """The page-wide choice of what the camera buttons save."""
    label = st.radio(_("Figures save as"), list(EXPORT_FORMATS), horizontal=True, key=EXPORT_FORMAT_KEY,
                     help=_("Each figure's toolbar (top right, on hover) has a camera button that downloads it, "
                            "query cross included. SVG is vector graphics for papers and slides."))
    return EXPORT_FORMATS[label]


def show_figure(fig: go.Figure, key: str, filename: str, **kwargs):
    """``st.plotly_chart`` with the export settings of this page (the core's phrases in the session's language)."""
    fmt = EXPORT_FORMATS.get(st.session_state.get(EXPORT_FORMAT_KEY, "PNG"), "png")
    return figure_view.show_figure(fig, key, config=export_config(filename, fmt), **kwargs)


# --------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=32)
def _sample(path: str) -> CurrentImage:
    image = load_image(path)
    return CurrentImage(image, image_digest(image), f"sample: {path.rsplit('/', 1)[-1]}")


def sample_image(path: str) -> CurrentImage:
    """A sample of the gallery, decoded once for every session."""
    return _sample(path)


def pick_image(label: str, key: str, default: int = 0) -> CurrentImage | None:
    """A sample from the gallery or an upload (decoded with limits); ``None`` with a message when there is none."""
    samples = list_samples()
    options = [sample.file for sample in samples] + [_UPLOAD]
    labels = {sample.file: sample.shown_label for sample in samples} | {_UPLOAD: _("Upload an image…")}
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[min(default, len(options) - 1)]
    choice = st.selectbox(label, options, format_func=labels.get, key=key)
    if choice != _UPLOAD:
        picture = _sample(str(next(s.path for s in samples if s.file == choice)))
        return dataclasses.replace(picture, label=_("sample: {file}").format(file=choice))
    uploaded = st.file_uploader(_("{label}: PNG, JPEG, WebP, GIF, BMP or TIFF, up to 20 MB").format(label=label),
                                type=UPLOAD_TYPES, key=f"{key}_upload")
    if uploaded is None:
        st.info(_("Upload a picture, or pick a sample."), icon=":material/upload:")
        return None
    current, message = decode_upload(uploaded.name, uploaded.getvalue())
    if message:
        st.error(message, icon=":material/broken_image:")
    return current


# --------------------------------------------------------------------------
# Head gallery
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageSet:
    """The images a gallery averages over: ``x`` preprocessed for the model, ``key`` for caches."""

    key: str
    description: Text  # drawn with .shown(): the set is cached for every session, whatever its language
    x: torch.Tensor


def gallery_image_set(card: ModelCard) -> ImageSet:
    """The first :data:`GALLERY_TEST_IMAGES` Fashion-MNIST test images, or the sample gallery when they are missing
    (and always for an ImageNet model), preprocessed as ``card`` says."""
    with st.spinner(_("Preparing the images…")):
        return _image_set(registry.dataset_label(card), str(resolve_data_dir()), card.preprocessing,
                          deployment.shared_mode())


@st.cache_data(show_spinner=False, max_entries=4)
def _image_set(dataset: str, directory: str, preprocessing: Preprocessing, shared: bool) -> ImageSet:
    """``shared``: on a shared server the sentences leave out the folder (it would show the server's layout)."""
    missing = None
    if dataset == registry.FASHION_MNIST:
        try:
            images = load_fashion_mnist("test", directory)[0][:GALLERY_TEST_IMAGES].numpy()
        except (DatasetError, OSError) as error:
            # Drawn in each session's language (this set is cached for all of them); a shared server names no folder.
            if shared:
                missing = Message(N_("not installed on this server"))
            else:
                missing = error.message if isinstance(error, DatasetError) else str(error)
        else:
            counts = (("count", len(images)), ("last", len(images) - 1))
            description = (
                Text(N_("the first {count} images of the Fashion-MNIST test split (indices 0–{last})"), counts)
                if shared else
                Text(N_("the first {count} images of the Fashion-MNIST test split (indices 0–{last}, "
                        "from {directory})"), counts + (("directory", directory),)))
            return ImageSet(f"fmnist-test-{len(images)}", description, to_model_input(images))
    samples = list_samples()
    if not samples:
        raise DatasetError(N_("No images to average over: the sample gallery is empty and Fashion-MNIST is not "
                              "installed."))
    pictures = [_sample(str(sample.path)) for sample in samples]
    x = torch.cat([registry.preprocess(preprocessing, picture.image)[0] for picture in pictures])
    key = f"samples-{dataset}-" + "-".join(picture.digest[:8] for picture in pictures)
    description = (Text(N_("the {count} bundled sample images"), (("count", len(pictures)),)) if missing is None else
                   Text(N_("the {count} bundled sample images (the Fashion-MNIST files were not found: {error})"),
                        (("count", len(pictures)), ("error", missing))))
    return ImageSet(key, description, x)


def _measure_batch(model: nn.Module, x: torch.Tensor) -> an.GalleryBatch:
    device = next(model.parameters()).device
    with torch.no_grad(), record_affinities() as recorder:
        model(x.to(device))
    return an.gallery_batch_stats(recorder)


@st.cache_data(show_spinner=False, max_entries=64)
def _shared_batch(model_key: str, set_key: str, start: int, _model: nn.Module, _x: torch.Tensor) -> an.GalleryBatch:
    return _measure_batch(_model, _x)


def threshold_kernel_of(model: nn.Module) -> int:
    """The model's conv kernel size (5 for the zoo and Container-Light): the flat kernel of the local/global threshold."""
    size = getattr(getattr(model, "config", None), "kernel_size", 5)
    return size if isinstance(size, int) and size % 2 == 1 else 5


def compute_gallery(ref: ModelRef, model: nn.Module, image_set: ImageSet) -> an.Gallery:
    """Every head over ``image_set``, in batches with a progress bar; each batch cached (per user for own models)."""
    session_key = (ref.key, weights_version(model), image_set.key)  # before the copy: the weights measured
    if model.training:  # a model still training in this session: measure a frozen copy
        model = copy.deepcopy(model).eval()
    store = st.session_state.setdefault(_SESSION_GALLERIES_KEY, {})
    if not ref.shared and session_key in store:
        return store[session_key]
    total = image_set.x.shape[0]
    bar = st.progress(0.0, text=_("Running the model on {total} images, recording every block…").format(total=total))
    batches = []
    for start in range(0, total, GALLERY_BATCH):
        x = image_set.x[start:start + GALLERY_BATCH]
        batches.append(_shared_batch(ref.key, image_set.key, start, model, x) if ref.shared else _measure_batch(model, x))
        done = min(start + GALLERY_BATCH, total)
        bar.progress(done / total, text=_("{done} of {total} images measured").format(done=done, total=total))
    bar.empty()
    gallery = an.combine_gallery(batches, threshold_kernel_of(model))
    if not ref.shared:
        store.clear()  # one gallery per session for own models: they can be large and retrained at any time
        store[session_key] = gallery
    return gallery


def _number(value: float | None) -> float:
    return float("nan") if value is None else float(value)


#: The core's head labels (container_edu.analysis.LOCAL, GLOBAL, KERNEL), as shown.
HEAD_LABELS = {an.LOCAL: N_("local (conv-like)"), an.GLOBAL: N_("global"),
               an.KERNEL: N_("local by construction (k×k kernel)")}
STATIC_PARTS = {"kernel": N_("k×k kernel, mean |w| of the head's channels"),
                "dense": N_("learned N×N, |A| rows normalised")}


def head_label(label: str) -> str:
    return _(HEAD_LABELS[label]) if label in HEAD_LABELS else label


def gallery_table(gallery: an.Gallery) -> pd.DataFrame:
    """One row per head: its measures, its static part's and its label (NaN where a block lacks a part)."""
    return pd.DataFrame([{
        _("block"): h.block, _("head"): h.head, _("kind"): h.kind, _("label"): head_label(h.label),
        _("attention distance (tokens)"): _number(h.attention_distance),
        # Translators: a column after "attention distance"; it must differ from the one after "attention entropy"
        _("± sd over images"): _number(h.attention_distance_std),
        _("attention entropy (nats)"): _number(h.attention_entropy),
        # Translators: the same as "± sd over images" with a space at the end (two table columns need two names)
        _("± sd over images "): _number(h.attention_entropy_std),
        _("static part"): _(STATIC_PARTS[h.static_kind]) if h.static_kind in STATIC_PARTS else _("none"),
        _("static distance (tokens)"): _number(h.static_distance),
        _("static entropy (nats)"): _number(h.static_entropy),
    } for h in gallery.heads])


def gallery_scatter(gallery: an.Gallery, title: str) -> go.Figure:
    """Distance against entropy, one point per head (error bars: sd over images), static parts and references marked."""
    fig = go.Figure()
    blocks = list(dict.fromkeys(h.block for h in gallery.heads))
    for index, block in enumerate(blocks):
        colour = BLOCK_COLOURS[index % len(BLOCK_COLOURS)]
        heads = [h for h in gallery.heads if h.block == block]
        dynamic = [h for h in heads if h.attention_distance is not None]
        if dynamic:
            fig.add_trace(go.Scatter(
                x=[h.attention_distance for h in dynamic], y=[h.attention_entropy for h in dynamic],
                error_x=dict(array=[h.attention_distance_std for h in dynamic], thickness=1, width=0, color=colour),
                error_y=dict(array=[h.attention_entropy_std for h in dynamic], thickness=1, width=0, color=colour),
                mode="markers", name=_("{block}: attention heads").format(block=block), legendgroup=block,
                marker=dict(color=colour, size=12, line=dict(color="white", width=1)),
                customdata=[[h.block, h.head, head_label(h.label)] for h in dynamic],
                hovertemplate=_("%{customdata[0]} head %{customdata[1]}: %{customdata[2]}<br>distance %{x:.3f} tokens"
                                "<br>entropy %{y:.3f} nats<extra>attention, mean over images</extra>")))
        static = [h for h in heads if h.static_distance is not None]
        if static:
            kind = static[0].static_kind
            fig.add_trace(go.Scatter(
                x=[h.static_distance for h in static], y=[h.static_entropy for h in static], mode="markers",
                name=(_("{block}: conv kernels") if kind == "kernel" else _("{block}: learned static N×N")).format(
                    block=block), legendgroup=block,
                marker=dict(color=colour, size=11, symbol="diamond-open" if kind == "kernel" else "square-open",
                            line=dict(width=2)),
                customdata=[[h.block, h.head, head_label(h.label)] for h in static],
                hovertemplate=_("%{customdata[0]} head %{customdata[1]}, static part<br>distance %{x:.3f} tokens<br>"
                                "entropy %{y:.3f} nats<extra>image-independent</extra>")))
    for grid in dict.fromkeys(h.grid for h in gallery.heads):
        distance, entropy = an.uniform_attention_reference(grid)
        fig.add_trace(go.Scatter(
            x=[distance], y=[entropy], mode="markers",
            name=_("uniform attention on {height}×{width}").format(height=grid[0], width=grid[1]),
            marker=dict(symbol="star", size=15, color="#222"),
            hovertemplate=_("uniform rows over {count} tokens<br>distance %{{x:.3f}}, entropy log N = "
                            "%{{y:.3f}}<extra></extra>").format(count=grid[0] * grid[1])))
    fig.add_vline(x=gallery.local_threshold, line=dict(color="#555", dash="dash"))
    fig.add_annotation(x=gallery.local_threshold, xanchor="right", y=1.0, yref="paper", yanchor="top", showarrow=False,
                       text=_("local ≤ {threshold:.3f} tokens<br>(flat {k}×{k} kernel) ").format(
                           threshold=gallery.local_threshold, k=gallery.threshold_kernel),
                       align="right", font=dict(size=11, color="#555"))
    fig.update_xaxes(title_text=_("mean distance of a row from its query (tokens)"), rangemode="tozero")
    fig.update_yaxes(title_text=_("mean row entropy (nats)"), rangemode="tozero")
    title = figures.wrap_title(title, 95)
    lines = title.count("<br>") + 1
    fig.update_layout(
        title=dict(text=title, x=0.0, xanchor="left", y=1.0, yanchor="top", yref="container", pad=dict(t=10, l=4),
                   font=dict(size=15)),
        height=470 + 21 * lines, margin=dict(l=60, r=20, t=40 + 21 * lines, b=50), font=figures.FONT,
        paper_bgcolor="white", plot_bgcolor="white", clickmode="event+select",
        legend=dict(orientation="v", x=1.02, xanchor="left", y=1, yanchor="top"),
    )
    fig.update_xaxes(showgrid=True, gridcolor="#eee", zeroline=False)
    fig.update_yaxes(showgrid=True, gridcolor="#eee", zeroline=False)
    return fig


# --------------------------------------------------------------------------
# Same query, two images
# --------------------------------------------------------------------------


def verdict(comparison: an.RowComparison) -> str:
    """What the measured difference says, over every head (every channel for a conv)."""
    if comparison.max_abs_diff_all == 0.0:
        return _("identical (difference exactly 0)")
    if comparison.max_abs_diff_all <= 1e-6 * max(comparison.scale, 1e-30):
        return _("equal to float precision")
    return _("differs: depends on the image")


MADE_FROM = {"attention": N_("the image (dynamic)"), "static": N_("the weights only (static)"),
             "blended": N_("both (its attention part is dynamic)")}
#: The parts of a recorded affinity (container_edu.ops.kinds.PARTS), as named in tables and panels.
PART_NAMES = {"attention": N_("attention"), "static": N_("static"), "blended": N_("blended")}
#: The comparison table's number columns (the page formats them).
COMPARISON_NUMBERS = (N_("max |A − B|, this head"), N_("Σ |A − B|, this head"), N_("max |A − B|, all heads/channels"),
                      N_("largest |entry|"))


def comparison_table(comparisons: Sequence[an.RowComparison]) -> pd.DataFrame:
    return pd.DataFrame([{
        _("affinity"): _(PART_NAMES[c.kind]), _("made from"): _(MADE_FROM[c.kind]),
        **dict(zip(map(_, COMPARISON_NUMBERS), (c.max_abs_diff, c.l1_diff, c.max_abs_diff_all, c.scale))),
        _("verdict"): verdict(c),
    } for c in comparisons])


KIND_TITLES = {"attention": N_("dynamic A_m(X)"), "static": N_("static A_m^static"),
               "blended": N_("blended α A_m(X) + β A_m^static")}


def pair_figures(comparisons: Sequence[an.RowComparison], seen_a: np.ndarray, seen_b: np.ndarray,
                 query: tuple[int, int], where: str) -> tuple[go.Figure, go.Figure, go.Figure]:
    """Image A's rows, image B's rows (one colour scale per kind across both), and their differences A − B."""
    per_image = []
    for name, seen, attribute in (("A", seen_a, "row_a"), ("B", seen_b, "row_b")):
        items = []
        for c in comparisons:
            values = getattr(c, attribute).numpy()
            signed = c.kind != "attention"
            items.append(figures.Panel(values, _(KIND_TITLES[c.kind]), f"{c.kind}[i, j]", signed,
                                       bound=c.scale if signed else None))
        fig = figures.panels(items, _("Image {name}: {where}").format(name=name, where=where), cols=len(items),
                             query=query, image=seen,
                             panel_height=260, clickable=name == "A")
        heatmaps = [trace for trace in fig.data if trace.type == "heatmap"]
        for c, heat in zip(comparisons, heatmaps):
            if c.kind == "attention":  # the same 0..max range on both images, so equal colours mean equal weights
                heat.update(zmin=0.0, zmax=c.scale if c.scale > 0 else 1.0)
        per_image.append(fig)
    differences = [figures.Panel(c.row_a.numpy() - c.row_b.numpy(),
                                 _("{part}<br>max |A − B| = {diff:.3g}").format(part=_(PART_NAMES[c.kind]),
                                                                                diff=c.max_abs_diff), "A − B", True)
                   for c in comparisons]
    diff_fig = figures.panels(differences, _("Difference A − B of each row (white = 0): {where}").format(where=where),
                              cols=len(differences), query=query, panel_height=230)
    return per_image[0], per_image[1], diff_fig


# --------------------------------------------------------------------------
# Rollout
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RolloutView:
    """The stage's blocks and three rows on its grid ``(H, W)``: hybrid rollout, attention-only rollout, one block."""

    blocks: list[str]
    grid: tuple[int, int]
    query: tuple[int, int]
    hybrid: np.ndarray
    attention: np.ndarray | None
    single_block: str
    single: np.ndarray
    blends: dict[str, tuple[float, float]]


def rollout_view(records: Mapping[str, AggregationRecord], query: tuple[int, int], single_block: str) -> RolloutView:
    blocks = an.stage_blocks(records)
    grid = records[blocks[-1]].grid
    index = query[0] * grid[1] + query[1]
    hybrid = an.stage_rollout(records, index, "blended")
    has_attention = all(records[name].attention is not None for name in blocks)
    attention = an.stage_rollout(records, index, "attention") if has_attention else None
    single = an.block_rollout_matrix(records[single_block], "blended")[index]
    return RolloutView(blocks, grid, query, hybrid.reshape(grid).numpy(),
                       None if attention is None else attention.reshape(grid).numpy(), single_block,
                       single.reshape(grid).numpy(),
                       {name: (float(records[name].alpha), float(records[name].beta)) for name in blocks})


def distance_from_query(row: np.ndarray, query: tuple[int, int]) -> float:
    """``sum_j r_j ||p_j - p_query||``: how far from the query a row's weight lies, in tokens."""
    height, width = row.shape
    ys, xs = np.mgrid[0:height, 0:width]
    return float((row * np.hypot(ys - query[0], xs - query[1])).sum())


def rollout_figure(view: RolloutView, seen: np.ndarray, title: str) -> go.Figure:
    chain = " → ".join(view.blocks)
    items = [figures.Panel(view.hybrid, _("hybrid rollout through {chain}<br>(|α| A(X) + |β| S per block)").format(
        chain=chain), _("rollout weight"), False)]
    if view.attention is not None:
        items.append(figures.Panel(view.attention, _("attention-only rollout through {chain}<br>(A(X) per block)")
                                   .format(chain=chain), _("rollout weight"), False))
    items.append(figures.Panel(view.single, _("one block: {block}<br>(|α| A(X) + |β| S, no residual)").format(
        block=view.single_block), _("row weight"), False))
    return figures.panels(items, title, cols=len(items), query=view.query, image=seen, panel_height=300, clickable=True)


def rollout_table(view: RolloutView) -> pd.DataFrame:
    """Per row: its sum, the weight it keeps on the query itself, how far from the query its weight lies, its peak."""
    rows = {_("hybrid rollout"): view.hybrid, _("attention-only rollout"): view.attention,
            _("one block ({block})").format(block=view.single_block): view.single}
    return pd.DataFrame([{
        _("row"): name, _("sum of the row"): float(row.sum()),
        _("weight on the query's own token"): float(row[view.query]),
        _("mean distance from the query (tokens)"): distance_from_query(row, view.query),
        _("largest weight"): float(row.max()),
    } for name, row in rows.items() if row is not None])
