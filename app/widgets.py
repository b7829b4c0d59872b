"""Widgets shared by the pages: the image picker, and the block / head / query selectors.

The current image is kept in ``st.session_state[CURRENT_IMAGE_KEY]`` so the
Image inspector and the Blend page work on the same picture.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import MutableMapping
from dataclasses import dataclass

import streamlit as st
from PIL import Image

from container_edu.data.images import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_UPLOAD_BYTES,
    SHARED_FORMAT_MAX_PIXELS,
    SHARED_MAX_PIXELS,
    UPLOAD_MAX_ASPECT,
    UPLOAD_MAX_SIDE,
    ImageError,
    image_digest,
    load_image,
)
from container_edu.record.inspection import Inspection, clamp_query
from container_edu.ops.kinds import KINDS

from app import deployment, session_keys
from app.errors import logger, raise_if_unexpected_under_tests
from app.i18n import N_, _
from app.samples import list_samples
from app.url_state import UrlState, choice, integer

__all__ = [
    "UPLOAD_TYPES",
    "CurrentImage",
    "decode_upload",
    "image_picker",
    "block_head_query",
    "query_click_handler",
]

UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"]
CURRENT_IMAGE_KEY = session_keys.CURRENT_IMAGE_KEY
_SOURCE_KEY = "image_source"
_SAMPLE_KEY = "image_sample"
_UPLOAD_KEY = "image_upload"
# The radio's values (kept in the session and compared in tests) are the English texts; drawn translated.
SAMPLE, UPLOAD = N_("Sample gallery"), N_("Upload an image")


@dataclass(frozen=True)
class CurrentImage:
    """The picture being inspected: decoded RGB, its content hash (the cache key) and a label."""

    image: Image.Image
    digest: str
    label: str  # language-neutral ("sample: <file>", "upload: <name>"), made once for every session

    @property
    def shown_label(self) -> str:
        """The label in the session's language."""
        source, _colon, name = self.label.partition(": ")
        if source == "sample":
            return _("sample: {file}").format(file=name)
        if source == "upload":
            return _("upload: {name}").format(name=name)
        return self.label


#: session_state: (content sha256, name) -> CurrentImage or the ImageError of an upload, most recent last.
DECODED_UPLOADS_KEY = "_decoded_uploads"
#: Decoded uploads one session keeps: the current one and the one before (two pickers on the Analysis page).
DECODED_UPLOADS_MAX = 2


def decode_upload(name: str, data: bytes,
                  session_state: MutableMapping | None = None) -> tuple[CurrentImage | None, str | None]:
    """Decode uploaded bytes safely: ``(image, None)`` or ``(None, message for the user)``.

    Each upload is decoded once: the result (or the refusal) is kept in the
    session by the bytes' hash, so a rerun (any widget change) costs a hash,
    not a decode. Only a copy shrunk to :data:`UPLOAD_MAX_SIDE` is kept, and
    a shared server decodes at most :data:`SHARED_MAX_PIXELS`.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        # not bytes at all: a programming error upstream, still no traceback for the user
        return None, _("Could not use {name!r}: {error}").format(
            name=name, error=f"expected the file's bytes, got {type(data).__name__}")
    state = st.session_state if session_state is None else session_state
    key = (hashlib.sha256(data).hexdigest(), name)
    decoded = state.get(DECODED_UPLOADS_KEY)
    if decoded is None:
        decoded = state[DECODED_UPLOADS_KEY] = OrderedDict()
    if key in decoded:
        decoded.move_to_end(key)
        outcome = decoded[key]
    else:
        outcome = _decoded(name, data)
        decoded[key] = outcome
        while len(decoded) > DECODED_UPLOADS_MAX:
            decoded.popitem(last=False)
    if isinstance(outcome, ImageError):
        return None, _("Could not use {name!r}: {error}").format(name=name, error=deployment.without_server_folders(outcome.shown(_)))
    return outcome, None


def _decoded(name: str, data: bytes) -> CurrentImage | ImageError:
    shared = deployment.shared_mode()
    try:
        image = load_image(data, max_bytes=DEFAULT_MAX_UPLOAD_BYTES,
                           max_pixels=SHARED_MAX_PIXELS if shared else DEFAULT_MAX_PIXELS,
                           format_max_pixels=SHARED_FORMAT_MAX_PIXELS if shared else None,
                           max_side=UPLOAD_MAX_SIDE, max_aspect=UPLOAD_MAX_ASPECT)
    except ImageError as error:
        return error
    return CurrentImage(image, image_digest(image), f"upload: {name}")


@st.cache_data(show_spinner=False, max_entries=32)
def _sample(path: str) -> CurrentImage:
    image = load_image(path)
    return CurrentImage(image, image_digest(image), f"sample: {path.rsplit('/', 1)[-1]}")


def image_picker(*, compact: bool = False, url: UrlState | None = None) -> CurrentImage | None:
    """Choose a sample or upload a picture; bad uploads show ``st.error`` and return ``None``.

    With ``url`` the chosen sample is kept in the address (``sample=<file>``); an upload cannot be.
    """
    samples = list_samples()
    sources = [SAMPLE, UPLOAD] if samples else [UPLOAD]
    if url is not None and samples and url.restore("sample", _SAMPLE_KEY,
                                                   choice([s.file for s in samples], what=_("sample image"))):
        st.session_state[_SOURCE_KEY] = SAMPLE
    if st.session_state.get(_SOURCE_KEY) not in sources:
        st.session_state[_SOURCE_KEY] = sources[0]
    source_labels = {source: _(source) for source in sources}
    source = st.radio(_("Image"), sources, key=_SOURCE_KEY, format_func=source_labels.__getitem__, horizontal=True,
                      label_visibility="collapsed" if compact else "visible")
    if source == SAMPLE:
        files = [s.file for s in samples]
        labels = {s.file: s.shown_label for s in samples}
        if st.session_state.get(_SAMPLE_KEY) not in files:
            st.session_state[_SAMPLE_KEY] = files[0]
        file = st.selectbox(_("Sample"), files, format_func=labels.get, key=_SAMPLE_KEY,
                            help=_("Fashion-MNIST test images and synthetic photos (see "
                                   "container_edu/samples/README.md)."))
        current = _sample(str(next(s.path for s in samples if s.file == file)))
        st.session_state[CURRENT_IMAGE_KEY] = current
        if url is not None:
            url.publish("sample", file)
        return current
    if url is not None:
        url.publish("sample", None)
        st.caption(_(":material/link_off: An uploaded image cannot travel in a link: whoever opens this page's "
                     "address sees the same settings on a sample image."))
    uploaded = st.file_uploader(
        _("PNG, JPEG, WebP, GIF (first frame), BMP or TIFF, up to 20 MB"), type=UPLOAD_TYPES, key=_UPLOAD_KEY,
    )
    if uploaded is None:
        previous = st.session_state.get(CURRENT_IMAGE_KEY)
        if previous is not None and previous.label.startswith("upload:"):
            return previous
        st.info(_("Upload a picture, or switch to the sample gallery."), icon=":material/upload:")
        return None
    current, message = decode_upload(uploaded.name, uploaded.getvalue())
    if message:
        st.error(message, icon=":material/broken_image:")
        return None
    st.session_state[CURRENT_IMAGE_KEY] = current
    return current


def _pair(custom) -> tuple[int, int] | None:
    """``customdata`` of a clicked point as ``(y, x)``: a list, or an object ``{"0": y, "1": x}`` from a typed array."""
    if isinstance(custom, dict):
        custom = [custom[k] for k in sorted(custom, key=lambda k: int(k))]
    if isinstance(custom, (list, tuple)) and len(custom) == 2:
        return int(custom[0]), int(custom[1])
    return None


def query_click_handler(chart_key: str, y_key: str, x_key: str):
    """An ``on_select`` callback that moves the query sliders to the clicked cell (``customdata = [y, x]``).

    Callbacks run outside the page's error wrapper, so this one never raises.
    """

    def handle() -> None:
        try:
            event = st.session_state.get(chart_key) or {}
            selection = event.get("selection", {}) if hasattr(event, "get") else {}
            for point in selection.get("points", []) or []:
                pair = _pair(point.get("customdata")) if hasattr(point, "get") else None
                if pair is not None:
                    st.session_state[y_key], st.session_state[x_key] = pair
                    return
        except Exception as error:  # noqa: BLE001 - a click must never break the page
            logger.exception("could not read the clicked point of %s", chart_key)
            raise_if_unexpected_under_tests(error)

    return handle


def query_slider(label: str, size: int, key: str, container=None) -> int:
    """A slider for one coordinate of the query token (centre by default, kept inside ``0..size-1``)."""
    container = container or st
    if key not in st.session_state:
        st.session_state[key] = size // 2
    st.session_state[key] = min(max(int(st.session_state[key]), 0), size - 1)
    if size <= 1:
        return 0
    return int(container.slider(label, 0, size - 1, key=key))


def block_head_query(inspection: Inspection, prefix: str, *, scope: str = "", prefer_mixed: bool = True,
                     blocks: list[str] | None = None, url: UrlState | None = None) -> tuple[str, int, tuple[int, int]]:
    """Block, head and query selectors for an inspected image (keys start with ``prefix``).

    ``scope`` names the model: when it changes, the block goes back to the
    default (the last mixed block), since two models may share block names
    with different meanings. The query is kept per grid size, so moving
    between blocks of the same grid keeps the chosen token. With ``url`` the
    choices are kept in the address (``block``, ``head``, ``qy``, ``qx``).
    """
    blocks = blocks or inspection.blocks
    block_key = f"{prefix}_block"
    scope_key = f"{prefix}_scope"
    if st.session_state.get(scope_key) != scope:
        st.session_state[scope_key] = scope
        st.session_state.pop(block_key, None)
    mixed = [name for name in blocks if name in inspection.mixed_blocks]
    default = (mixed or blocks)[-1 if prefer_mixed else 0]
    if url is not None:
        url.restore("block", block_key, choice(blocks, what=_("block of this model")))
    if st.session_state.get(block_key) not in blocks:
        st.session_state[block_key] = default
    col_block, col_head, col_y, col_x = st.columns([3, 1, 1.3, 1.3])
    block_labels = {name: describe_block(inspection.records[name]) for name in blocks}
    block = col_block.selectbox(_("Block"), blocks, key=block_key, format_func=block_labels.__getitem__,
                                help=_("Module path in the state dict. Early blocks are conv only (static); the "
                                       "mixed stage has the dynamic affinity A(X)."))
    record = inspection.records[block]
    heads = record.num_heads
    head_key = f"{prefix}_head"
    if st.session_state.get(head_key, 0) >= heads:
        st.session_state[head_key] = 0
    grid = record.grid
    y_key, x_key = query_keys(prefix, grid)
    if url is not None:
        url.publish("block", block)
        url.restore("head", head_key, integer(0, heads - 1))
        url.restore("qy", y_key, integer(0, grid[0] - 1))
        url.restore("qx", x_key, integer(0, grid[1] - 1))
    head = col_head.selectbox(_("Head m"), list(range(heads)), key=head_key) if heads > 1 else 0
    qy = query_slider(_("Query row y"), grid[0], y_key, col_y)
    qx = query_slider(_("Query column x"), grid[1], x_key, col_x)
    if url is not None:
        url.publish("head", head if heads > 1 else None)
        url.publish("qy", qy)
        url.publish("qx", qx)
    return block, int(head), clamp_query((qy, qx), grid)


def describe_block(record) -> str:
    """``container_edu.record.inspection.describe_block`` in the session's language: name, kind, traits, grid, heads."""
    kind = KINDS.get(record.kind)
    fields = dict(name=record.name, height=record.grid[0], width=record.grid[1], heads=record.num_heads,
                  kind=record.kind if kind is None else _("{label}, {traits}").format(label=_(kind.label),
                                                                                        traits=_(kind.traits)))
    if record.attention is not None:
        return _("{name} — {kind} — {height}×{width} grid, {heads} heads").format(**fields)
    return _("{name} — {kind} — {height}×{width} grid").format(**fields)


def query_keys(prefix: str, grid: tuple[int, int]) -> tuple[str, str]:
    """The session-state keys of the query sliders for a grid (for click handlers)."""
    return f"{prefix}_qy_{grid[0]}x{grid[1]}", f"{prefix}_qx_{grid[0]}x{grid[1]}"
