"""Everything the app computes once and reuses: model cards, models, per-image inspections, explorer runs.

- Models: ``st.cache_resource`` (one shared, read-only instance per weights,
  bounded by ``max_entries``). Pages never change a model: blends are
  overridden with ``container_edu.override_blend`` inside a forward pass.
- Per-image results: ``st.cache_data`` keyed by the model's key, the image's
  content hash and the blend override; for per-user models (trained in this
  session, uploaded) a small per-session LRU in ``st.session_state`` instead.
- Uploaded checkpoints: loaded from their bytes in memory (never written to a
  file) and kept per session in an LRU of at most :data:`UPLOADED_MODELS_MAX`
  models (:func:`load_uploaded_model`), so a user who uploads many files does
  not make the server hold one model per upload for the life of the session.
- Nothing per-user lives in a module global.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping, MutableMapping
from pathlib import Path

import numpy as np
import streamlit as st
import torch
from PIL import Image
from torch import nn

from container_edu.hub.cards import Preprocessing
from container_edu.record.inspection import Inspection, normalise_overrides, run_inspection
from container_edu.hub.bundled import PretrainedError, load_pretrained
from container_edu.analysis.explore import ExplorerResult, ExplorerSpec, explore
from container_edu.models import weights_version

from app import deployment, registry, session_keys
from app.i18n import N_, Text, _
from app.registry import ModelRef, bundled_cards  # re-exported: pages read the cards through caching

__all__ = [
    "bundled_cards",
    "available_models",
    "get_model",
    "get_input",
    "get_inspection",
    "explore_cached",
    "TRAINED_MODELS_KEY",
    "LOADED_CHECKPOINTS_KEY",
    "UPLOADED_MODELS_KEY",
    "UPLOADED_MODELS_MAX",
    "FAILED_UPLOADS_KEY",
    "FAILED_UPLOADS_MAX",
    "load_uploaded_model",
    "remember_failed_upload",
]

logger = logging.getLogger("container_edu.app")

#: session_state key the lessons' live training writes to: name -> {"model", "history", "settings"}.
TRAINED_MODELS_KEY = session_keys.TRAINED_MODELS_KEY
#: session_state: ModelRef.key -> {"ref", "path", "mtime_ns", "size"} of checkpoints loaded from a server path
#: (the model itself is in the shared resource cache).
LOADED_CHECKPOINTS_KEY = "loaded_checkpoints"
#: session_state: ModelRef.key -> {"ref": ModelRef, "model": nn.Module} for uploaded checkpoints (per user).
UPLOADED_MODELS_KEY = session_keys.UPLOADED_MODELS_KEY
#: Most uploaded checkpoints one session keeps loaded; the least recently used is dropped first.
UPLOADED_MODELS_MAX = 3
#: session_state: checkpoint digest -> error message of an upload that failed (so it is not retried every rerun).
FAILED_UPLOADS_KEY = "_failed_checkpoint_uploads"
FAILED_UPLOADS_MAX = 16
_SESSION_INSPECTIONS_KEY = "_session_inspections"
_SESSION_INSPECTIONS_MAX = 12


# --------------------------------------------------------------------------
# Model cards
# --------------------------------------------------------------------------


def available_models(session_state: Mapping) -> list[ModelRef]:
    """The model picker's choices for this user."""
    loaded = {} if deployment.shared_mode() else {
        key: entry["ref"] for key, entry in session_state.get(LOADED_CHECKPOINTS_KEY, {}).items()}
    loaded.update({key: entry["ref"] for key, entry in session_state.get(UPLOADED_MODELS_KEY, {}).items()})
    return registry.model_refs(bundled_cards(), session_state.get(TRAINED_MODELS_KEY) or {}, loaded,
                               installed=registry.installed_refs(), families=registry.family_refs())


# The spinners' texts are shown by the callers (translated there): a cached function's spinner text is fixed when
# the module is imported, so it could only be English.
@st.cache_resource(max_entries=6, show_spinner=False)
def _bundled_model(name: str, key: str, directory: str) -> nn.Module:
    return load_pretrained(name, weights_dir=Path(directory))


@st.cache_resource(max_entries=6, show_spinner=False)
def _random_model(name: str) -> nn.Module:
    return registry.build_random(name)


@st.cache_resource(max_entries=2, show_spinner=False)
def _checkpoint_model(path: str, mtime_ns: int, size: int) -> nn.Module:
    return registry.load_checkpoint_model(path)


def load_checkpoint_from_path(path: str) -> dict:
    """Load (and cache) a checkpoint file on the server.

    Returns the entry to keep under ``session_state[LOADED_CHECKPOINTS_KEY][ref.key]``:
    ``{"ref", "path", "mtime_ns", "size"}``. Raises ``CheckpointError`` with a message for the user.
    In shared mode it refuses every path before looking at it (one message for all: no file-system oracle).
    """
    from container_edu.hub.checkpoints import CheckpointError

    deployment.refuse_server_paths()
    resolved = Path(path.strip().strip('"').strip("'")).expanduser()
    if not str(path).strip():
        raise CheckpointError(_("Type the path of the checkpoint file first (e.g. {example}).").format(
            example="/home/me/Downloads/container_light.pth"))
    if not resolved.is_file():
        raise CheckpointError(_("No file found at {path}. Check the path (it is a path on the machine running the "
                                "app).").format(path=repr(str(resolved))))
    stat = resolved.stat()
    with st.spinner(_("Loading the checkpoint (this can take a while)…")):
        model = _checkpoint_model(str(resolved.resolve()), stat.st_mtime_ns, stat.st_size)
    dataset = registry.dataset_of(model)
    name = resolved.name
    if dataset == registry.IMAGENET:
        description = Text(N_("Container-Light (ImageNet) loaded from {path}."), (("path", str(resolved)),))
    else:
        description = Text(N_("A zoo model (Fashion-MNIST) loaded from {path}."), (("path", str(resolved)),))
    ref = ModelRef(key=f"checkpoint:{resolved.resolve()}:{stat.st_mtime_ns}:{stat.st_size}", source="checkpoint",
                   name=name, dataset=dataset, trained=True,
                   **registry.texts(Text(N_("{name} · checkpoint"), (("name", name),)), description))
    return {"ref": ref, "path": str(resolved.resolve()), "mtime_ns": stat.st_mtime_ns, "size": stat.st_size}


@st.cache_resource(max_entries=2, show_spinner=False)
def _installed_model(name: str, key: str, directory: str) -> nn.Module:
    from container_edu.hub.weights_store import load_installed

    return load_installed(name, directory)


@st.cache_resource(max_entries=3, show_spinner=False)
def _family_model(name: str, key: str, directory: str) -> nn.Module:
    from container_edu.hub.families import load_family

    return load_family(name, directory)[0]


def get_model(ref: ModelRef, session_state: Mapping) -> nn.Module:
    """The (shared, read-only) model behind a picker entry."""
    if ref.source == registry.FAMILY:
        from container_edu.hub.weights_store import weights_dir

        from container_edu.models import FAMILY_LABELS

        with st.spinner(_("Loading the installed {model} weights…").format(model=_(FAMILY_LABELS[ref.name]))):
            return _family_model(ref.name, ref.key, str(weights_dir()))
    if ref.source == "installed":
        from container_edu.hub.weights_store import weights_dir

        with st.spinner(_("Loading the authors' ImageNet weights…")):
            return _installed_model(ref.name, ref.key, str(weights_dir()))
    if ref.source == "bundled":
        with st.spinner(_("Loading the bundled model…")):
            return _bundled_model(ref.name, ref.key, str(registry.weights_dir()))
    if ref.source == "random":
        with st.spinner(_("Building the model with random weights…")):
            return _random_model(ref.name)
    if ref.source == "checkpoint":
        deployment.refuse_server_paths()  # a hand-made session entry must not reach a path either
        entry = session_state[LOADED_CHECKPOINTS_KEY][ref.key]
        with st.spinner(_("Loading the checkpoint (this can take a while)…")):
            return _checkpoint_model(entry["path"], entry["mtime_ns"], entry["size"])
    if ref.source == "upload":
        uploaded = session_state.get(UPLOADED_MODELS_KEY) or {}
        if ref.key not in uploaded:
            raise PretrainedError(_(
                "The uploaded checkpoint {name} is no longer loaded (a session keeps the last {count} uploads); "
                "upload it again.").format(name=repr(ref.name), count=UPLOADED_MODELS_MAX))
        return uploaded[ref.key]["model"]
    if ref.source == "session":
        entry = (session_state.get(TRAINED_MODELS_KEY) or {}).get(ref.name)
        if not entry or not isinstance(entry.get("model"), nn.Module):
            raise PretrainedError(_("The model {name} trained in this session is gone; train it again on the "
                                    "Lessons page.").format(name=repr(ref.name)))
        return entry["model"]
    raise ValueError(f"unknown model source {ref.source!r}")


def _bounded_put(store: MutableMapping, key, value, max_entries: int) -> None:
    """Insert (or refresh) ``key`` as the most recent entry; drop the oldest beyond ``max_entries``."""
    store.pop(key, None)
    store[key] = value
    while len(store) > max_entries:
        del store[next(iter(store))]  # dicts keep insertion order: the first key is the least recent


def load_uploaded_model(session_state: MutableMapping, name: str, data: bytes) -> tuple[ModelRef, bool]:
    """The model of an uploaded checkpoint for this session: ``(ref, newly_loaded)``.

    ``data`` is the uploaded file's bytes; it is loaded from memory by the safe
    loader (``weights_only``, capped at ``DEFAULT_MAX_UPLOAD_BYTES``) and never
    written to a file. Kept in ``session_state[UPLOADED_MODELS_KEY]``, an LRU
    of at most :data:`UPLOADED_MODELS_MAX` entries (a file uploaded again is
    found by its content hash and not loaded twice). Raises
    :class:`~container_edu.hub.checkpoints.CheckpointError` (or whatever else
    loading raised) and stores nothing on failure.
    """
    import hashlib

    from container_edu.data.images import DEFAULT_MAX_UPLOAD_BYTES

    digest = hashlib.sha256(data).hexdigest()[:16]
    key = f"upload:{digest}"
    uploaded = session_state.get(UPLOADED_MODELS_KEY)
    if uploaded is None:
        uploaded = session_state[UPLOADED_MODELS_KEY] = OrderedDict()
    if key in uploaded:
        entry = uploaded[key]
        _bounded_put(uploaded, key, entry, UPLOADED_MODELS_MAX)  # now the most recently used
        return entry["ref"], False
    model = registry.load_checkpoint_model(data, max_bytes=DEFAULT_MAX_UPLOAD_BYTES)
    dataset = registry.dataset_of(model)
    args = (("file", repr(name)), ("count", UPLOADED_MODELS_MAX))
    if dataset == registry.IMAGENET:
        description = Text(N_("Container-Light (ImageNet), from the uploaded file {file} (kept for this session "
                              "only; the last {count} uploads stay loaded)."), args)
    else:
        description = Text(N_("Zoo model, from the uploaded file {file} (kept for this session only; the last "
                              "{count} uploads stay loaded)."), args)
    ref = ModelRef(key=key, source="upload", name=name, dataset=dataset, trained=True,
                   **registry.texts(Text(N_("{name} · upload"), (("name", name),)), description))
    _bounded_put(uploaded, key, {"ref": ref, "model": model}, UPLOADED_MODELS_MAX)
    return ref, True


def remember_failed_upload(session_state: MutableMapping, digest: str, message: str) -> None:
    """Keep the error of a failed upload (bounded) so the same file is not loaded again on every rerun."""
    failed = session_state.get(FAILED_UPLOADS_KEY)
    if failed is None:
        failed = session_state[FAILED_UPLOADS_KEY] = OrderedDict()
    _bounded_put(failed, digest, message, FAILED_UPLOADS_MAX)


# --------------------------------------------------------------------------
# Per-image results
# --------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=64)
def _input(image_digest: str, preprocessing: Preprocessing, _image: Image.Image) -> tuple[torch.Tensor, np.ndarray]:
    return registry.preprocess(preprocessing, _image)


def get_input(image_digest: str, preprocessing: Preprocessing, image: Image.Image) -> tuple[torch.Tensor, np.ndarray]:
    """``(x, seen)`` for ``image`` under a model card's ``preprocessing``, cached by the image's content hash."""
    return _input(image_digest, preprocessing, image)


@st.cache_data(show_spinner=False, max_entries=32)
def _imagenet_input(image_digest: str, input_size: int, _image: Image.Image) -> tuple[torch.Tensor, np.ndarray]:
    from container_edu.data.input_size import center_crop_input, preprocessing_at
    from container_edu.hub.cards import imagenet_preprocessing

    x, crop = center_crop_input(_image, preprocessing_at(imagenet_preprocessing(), input_size))
    return x.unsqueeze(0), np.asarray(crop)


def get_imagenet_input(image_digest: str, input_size: int, image: Image.Image) -> tuple[torch.Tensor, np.ndarray]:
    """``(x, seen)`` for the ImageNet model at ``input_size`` (resize and crop scaled from 256 / 224)."""
    return _imagenet_input(image_digest, input_size, image)


@st.cache_data(show_spinner=False, max_entries=64)
def _shared_inspection(model_key: str, image_digest: str, overrides: tuple, _model: nn.Module,
                       _x: torch.Tensor) -> Inspection:
    return run_inspection(_model, _x, {name: (alpha, beta) for name, alpha, beta in overrides})


# Fewer entries than Container's: a DeiT-Small inspection holds 12 blocks x 6 heads x 197 x 197 attention weights.
@st.cache_data(show_spinner=False, max_entries=16)
def _family_inspection(model_key: str, image_digest: str, _model: nn.Module, _x: torch.Tensor) -> Inspection:
    from container_edu.record.family_inspection import inspect_family

    return inspect_family(_model, _x)


def get_inspection(
    ref: ModelRef,
    model: nn.Module,
    image_digest: str,
    x: torch.Tensor,
    overrides: Mapping[str, float | tuple[float, float]] | None,
    session_state: MutableMapping,
) -> Inspection:
    """The model's recorded forward pass on one image, computed once per (model, image, blend override)."""
    key = normalise_overrides(overrides)
    if ref.source == registry.FAMILY:
        if key:
            raise ValueError(f"{ref.name} has no blend to override")  # the Blend page leaves the families out
        with st.spinner(_("Running the model once, recording every block…")):
            return _family_inspection(ref.key, image_digest, model, x)
    if ref.shared:
        with st.spinner(_("Running the model once, recording every block…")):
            return _shared_inspection(ref.key, image_digest, key, model, x)
    # Per-user models: cached per session, under the weights' version (retrained, still training, or a new model
    # under the same name: each changes it).
    cache: OrderedDict = session_state.setdefault(_SESSION_INSPECTIONS_KEY, OrderedDict())
    cache_key = (ref.key, weights_version(model), image_digest, key)
    if cache_key in cache:
        cache.move_to_end(cache_key)
        return cache[cache_key]
    with st.spinner(_("Running the model once, recording every block…")):
        inspection = run_inspection(model, x, {name: (alpha, beta) for name, alpha, beta in key})
    cache[cache_key] = inspection
    while len(cache) > _SESSION_INSPECTIONS_MAX:
        cache.popitem(last=False)
    return inspection


# --------------------------------------------------------------------------
# Explorer
# --------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=256)
def explore_cached(spec: ExplorerSpec) -> ExplorerResult:
    """:func:`container_edu.analysis.explore.explore`, cached per spec (the spec includes the seed)."""
    return explore(spec)
