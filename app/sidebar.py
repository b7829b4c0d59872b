"""The sidebar every page shares: the language, what the app runs on, which weights it has, and the model picker.

One module, reused by every page (through :func:`app.page.run_page`), so the
pages look and behave alike. The chosen model lives in
``st.session_state[MODEL_KEY]`` and follows the user from page to page.
"""

from __future__ import annotations

import streamlit as st
import torch

from container_edu import default_device
from container_edu.hub.checkpoints import CheckpointError
from container_edu.data.images import DEFAULT_MAX_UPLOAD_BYTES
from container_edu.text import Message

from app import caching, deployment, imagenet_weights, registry, url_state
from app.errors import friendly_errors, friendly_message, logger, raise_if_unexpected_under_tests
from app.i18n import _, language_selector
from app.registry import ModelRef
from app.session_keys import MODEL_KEY, holds_work

__all__ = ["MODEL_KEY", "device_description", "device_parts", "render_sidebar", "model_picker"]

_PICKER_WIDGET = "_model_picker"
_PATH_ERROR_KEY = "_checkpoint_path_error"  # (path, message) of the last failed "Load from path"
_PATH_REQUEST_KEY = "_checkpoint_path_request"  # the path a "Load from path" click asked for, until it is handled
PAPER_URL = "https://arxiv.org/abs/2106.01401"
RELEASE_URL = "https://github.com/allenai/container"
CHECKPOINT_UPLOAD_TYPES = ["pth", "pt", "bin", "safetensors"]


def device_description() -> str:
    """``"cuda (NVIDIA H100)"`` or ``"cpu (no GPU found)"``: where the models run."""
    device = default_device()
    if device.type == "cuda":
        return _("GPU, cuda ({name})").format(name=torch.cuda.get_device_name(device))
    if device.type == "mps":
        return _("GPU, mps (Apple)")
    return _("CPU, no GPU found ({threads} threads)").format(threads=torch.get_num_threads())


def device_parts() -> str:
    """Which part of the app computes where (the lessons pin the CPU)."""
    where = "CPU" if default_device().type == "cpu" else "GPU"
    return _("The model picker's models (ImageNet and Fashion-MNIST) and their inspections run on the {where}. "
             "The Lessons run on the CPU on purpose: small models, the same numbers on every machine.").format(
        where=where)


def render_sidebar(*, with_model_picker: bool = False, weights_offer_in_page: bool = False,
                   families_left_out: str | None = None) -> ModelRef | None:
    """Draw the shared sidebar; returns the chosen model when the page asked for the picker.

    ``weights_offer_in_page``: the page draws the ImageNet-weights offer itself, so the sidebar does not repeat it.
    ``families_left_out``: the page cannot show the three installed families; this sentence says why (see
    :func:`model_picker`).
    """
    chosen = None
    with friendly_errors(_("checking this browser's session")):
        deployment.notice_new_server_session(holds_work(st.session_state))
    with st.sidebar:
        language_selector()  # first: everything below is drawn in the language chosen here
        st.markdown("### " + _("Container, explained"))
        st.caption(_("An interactive companion to [Container: Context Aggregation Network]({url}) (NeurIPS 2021).")
                   .format(url=PAPER_URL))
        with friendly_errors(_("setting up the sidebar")):
            if with_model_picker:
                chosen = model_picker(families_left_out)
            _status()
        with friendly_errors(_("offering the ImageNet weights")):
            _imagenet_weights(offer=not weights_offer_in_page)
    return chosen


def _imagenet_weights(offer: bool) -> None:
    if not offer:
        if (note := imagenet_weights.installed_note()) is not None:
            st.caption(note)
        return
    if not imagenet_weights.weights_panel("sidebar"):  # installed: the panel only showed a fresh install's notice
        st.caption(imagenet_weights.installed_note() or "")


def _status() -> None:
    cards = caching.bundled_cards()
    if deployment.shared_mode():
        st.info(deployment.shared_mode_note(), icon=":material/groups:")
    st.markdown(_("**Device:** {device}").format(device=device_description()))
    st.caption(device_parts())
    if cards:
        st.caption(_("Bundled weights: {count} trained Fashion-MNIST model(s).").format(count=len(cards)))
    else:
        st.caption(_(
            "No bundled weights found yet: the Fashion-MNIST models are **untrained (random weights)** until "
            "they are trained (`python -m container_edu train`)."
        ))


def model_picker(families_left_out: str | None = None) -> ModelRef:
    """The shared model picker (with the checkpoint loader below it); returns the chosen entry.

    ``families_left_out``: the page leaves the installed families out of the list and says so with this reason;
    a family chosen on another page stays the session's choice (``MODEL_KEY``) and comes back on a page that
    shows it, while this page shows the default model.
    """
    refs = caching.available_models(st.session_state)
    # A shared link names the model (?model=...); a family named on a page that leaves it out is kept as below.
    url_state.restore_model(refs, MODEL_KEY)
    left_out = []
    if families_left_out is not None:
        left_out = [ref for ref in refs if ref.source == registry.FAMILY]
        refs = [ref for ref in refs if ref.source != registry.FAMILY]
    by_key = {ref.key: ref for ref in refs}
    current = st.session_state.get(MODEL_KEY)
    if current not in by_key:
        kept = any(ref.key == current for ref in left_out)
        current = registry.default_ref(refs).key
        if not kept:
            st.session_state[MODEL_KEY] = current
    # The widget's own state is dropped when a page without the picker runs; restore it from MODEL_KEY.
    st.session_state[_PICKER_WIDGET] = current

    def remember() -> None:
        st.session_state[MODEL_KEY] = st.session_state[_PICKER_WIDGET]

    if left_out:
        st.caption(_("Not offered on this page: {models}. {reason}").format(
            models=_(", ").join(ref.shown_label for ref in left_out), reason=families_left_out))

    # Labels made now, in this run's language: Streamlit may format the options again outside the run.
    labels = {key: ref.shown_label for key, ref in by_key.items()}
    key = st.selectbox(
        _("Model"), options=list(by_key), format_func=labels.__getitem__, key=_PICKER_WIDGET,
        on_change=remember, help=_("Bundled models are trained on Fashion-MNIST (28×28 grayscale). Untrained ones "
                                   "have random weights: their maps show the architecture, not what was learned."),
    )
    ref = by_key[key]
    url_state.publish_model(ref)
    url_state.show_model_note(ref)
    if ref.description:
        st.caption(ref.shown_description)
    if not ref.trained:
        st.warning(_("This model is **untrained (random weights)**: predictions are guesses."),
                   icon=":material/casino:")
    _checkpoint_loader()
    return ref


def _checkpoint_loader() -> None:
    # Keyed: the panel stays open across reruns whatever else the sidebar draws, so its error stays in view.
    with st.expander(_("Load a checkpoint"), key="checkpoint_expander"):
        if deployment.shared_mode():
            # No server path on a shared server: the field would let any visitor probe the server's files.
            st.caption(_("Upload a small checkpoint below (a zoo model from `python -m container_edu train`), for "
                         "your session only. The ImageNet weights appear in the model list once the administrator "
                         "has installed them."))
        else:
            _path_loader()
        _checkpoint_uploader()


def _path_loader() -> None:
    """The "Checkpoint path" field: a file on the machine that runs the app (never offered in shared mode)."""
    st.caption(_(
        "A checkpoint file on the machine that runs this app: a zoo model, or the authors' ImageNet checkpoint "
        "downloaded from the [paper's release]({url}) (about 80 MB, too large to upload). Files are loaded safely "
        "(`weights_only`), never as arbitrary pickles."
    ).format(url=RELEASE_URL))
    # A form sends the typed path together with the click (or Enter): no rerun for the field alone can race it.
    with st.form("checkpoint_path_form", border=False):
        path = st.text_input(_("Checkpoint path"), key="checkpoint_path", placeholder="/path/to/container_light.pth")
        # The click is kept as a request, not read from the button's return value: that value is True in one run
        # only, and a rerun asked for while that run is still on its way to this line (another widget, a
        # late-drawn element, a second click) starts over without it, so the click would be lost. The callback
        # runs before any script line, and the request stays until a run has handled it.
        st.form_submit_button(_("Load from path"), key="checkpoint_load", on_click=_request_path_load)
    requested = st.session_state.get(_PATH_REQUEST_KEY)
    if requested is not None:
        path = requested
        st.session_state.pop(_PATH_ERROR_KEY, None)
        try:
            with st.spinner(_("Loading the checkpoint…")):
                entry = caching.load_checkpoint_from_path(path)
        except CheckpointError as error:
            st.session_state[_PATH_ERROR_KEY] = (path, error.message)
        except Exception as error:  # noqa: BLE001 - a file can fail in many ways; the app must keep working
            logger.exception("loading checkpoint %r failed", path)
            st.session_state[_PATH_ERROR_KEY] = (path, friendly_message(error, _("loading the checkpoint")))
            raise_if_unexpected_under_tests(error)
        else:
            st.session_state.setdefault(caching.LOADED_CHECKPOINTS_KEY, {})[entry["ref"].key] = entry
            st.session_state[MODEL_KEY] = entry["ref"].key
            st.session_state.pop(_PATH_REQUEST_KEY, None)
            st.rerun()
        st.session_state.pop(_PATH_REQUEST_KEY, None)
    # The error stays until another path is loaded, so that a rerun for any other widget does not hide it.
    failed = st.session_state.get(_PATH_ERROR_KEY)
    if failed is not None and failed[0] == path:
        # Kept as a template and fields: shown in the language chosen now.
        st.error(failed[1].shown(_) if isinstance(failed[1], Message) else failed[1])


def _request_path_load() -> None:
    st.session_state[_PATH_REQUEST_KEY] = st.session_state.get("checkpoint_path", "")


def _checkpoint_uploader() -> None:
    limit_mb = DEFAULT_MAX_UPLOAD_BYTES // (1024 * 1024)
    upload = st.file_uploader(
        _("…or upload a zoo checkpoint (up to {limit} MB)").format(limit=limit_mb), type=CHECKPOINT_UPLOAD_TYPES,
        key="checkpoint_upload",
        help=_("Uploads are limited to {limit} MB (`server.maxUploadSize`): small zoo checkpoints (.safetensors "
               "from `python -m container_edu train`) fit. The ImageNet checkpoint (about 80 MB) does not: give "
               "its path above, or install it once with `python -m container_edu weights import PATH`.").format(
            limit=limit_mb),
    )
    if upload is not None:
        handle_checkpoint_upload(upload.name, upload.getvalue())


def handle_checkpoint_upload(name: str, data: bytes) -> ModelRef | None:
    """Load an uploaded checkpoint into this session (once per file); shows ``st.error`` on failure.

    The bytes are loaded in memory by :func:`app.caching.load_uploaded_model` (safe loader, nothing
    written to disk), which keeps at most ``caching.UPLOADED_MODELS_MAX`` uploaded models per session.
    """
    import hashlib

    digest = hashlib.sha256(data).hexdigest()[:16]
    failed = st.session_state.get(caching.FAILED_UPLOADS_KEY) or {}
    if digest in failed:
        st.error(failed[digest])
        return None
    try:
        with st.spinner(_("Loading the uploaded checkpoint…")):
            ref, newly_loaded = caching.load_uploaded_model(st.session_state, name, data)
    except CheckpointError as error:
        caching.remember_failed_upload(st.session_state, digest, error.shown(_))
        st.error(error.shown(_))
        return None
    except Exception as error:  # noqa: BLE001
        logger.exception("loading uploaded checkpoint %r failed", name)
        message = friendly_message(error, _("loading the uploaded checkpoint"))
        caching.remember_failed_upload(st.session_state, digest, message)
        st.error(message)
        raise_if_unexpected_under_tests(error)
        return None
    if newly_loaded:
        st.session_state[MODEL_KEY] = ref.key
        st.rerun()
    return ref
