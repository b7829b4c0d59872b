"""Getting the authors' ImageNet Container-Light from inside the app: a short panel with a download button.

The button runs the same :func:`container_edu.hub.weights_store.fetch` as
``python -m container_edu weights fetch`` (same checks, same folder, same
address: ``$CONTAINER_EDU_WEIGHTS_URL`` or the authors' Google Drive file),
with a Streamlit progress bar fed by the download's progress callback. Once
installed, the weights are in the shared weights folder, so every session
and every later start of the app lists them in the model picker.
"""

from __future__ import annotations

import time

import streamlit as st

from container_edu.hub import weights_store

from app import deployment
from app.errors import friendly_message, logger, raise_if_unexpected_under_tests
from app.i18n import N_, _
from app.session_keys import MODEL_KEY

__all__ = ["PANEL_TITLE", "FETCH_BUTTON", "weights_panel", "installed_note"]

PANEL_TITLE = N_("Get the ImageNet weights")  # English here; drawn as _(PANEL_TITLE)
FETCH_BUTTON = N_("Download and install")
_NOTICE_KEY = "_imagenet_weights_notice"
_MB = 1024 * 1024


def installed_note() -> str | None:
    """One line about the installed weights (for the sidebar), or ``None`` when they are absent."""
    card = weights_store.installed_card()
    if card is None:
        return None
    if deployment.shared_mode():  # the folder would name the server's account
        return _("ImageNet weights: the authors' Container-Light is installed (sha256 `{sha}…`).").format(
            sha=card.sha256[:12])
    return _("ImageNet weights: the authors' Container-Light is installed (sha256 `{sha}…`, in `{folder}`).").format(
        sha=card.sha256[:12], folder=weights_store.weights_dir())


def weights_panel(where: str) -> bool:
    """The offer to fetch the weights, when they are absent; returns whether it was shown.

    ``where`` keeps the widget keys of the sidebar's panel and the page's panel apart.
    """
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice:
        st.success(notice, icon=":material/check_circle:")
    if weights_store.installed_card() is not None:
        return False
    if deployment.shared_mode():
        # On a shared server a visitor may neither start a download nor learn the server's folders.
        with st.container(border=True):
            st.markdown(f"**{_(PANEL_TITLE)}**")
            st.caption(_("Not installed on this shared server. The administrator installs them once for everyone "
                         "with `python -m container_edu weights fetch`."))
        return True
    with st.container(border=True):
        st.markdown(f"**{_(PANEL_TITLE)}**")
        st.caption(_(
            "The paper's own Container-Light, trained by its authors on ImageNet (1000 classes of everyday "
            "photos; 82.3% top-1 as they report it). With it, a photo is classified for real and every head's "
            "maps show what a trained network attends to. About {size:.0f} MB "
            "once installed; the download is the authors' training checkpoint, which can be larger. "
            "It is checked before use (safe loader, every tensor's name and shape) and stored in "
            "`{folder}` for every session."
        ).format(size=weights_store.installed_size() / _MB, folder=weights_store.weights_dir()))
        if st.button(_(FETCH_BUTTON), key=f"{where}_fetch_imagenet_weights", icon=":material/download:"):
            _fetch()
        st.caption(_("No internet on this machine? Download the checkpoint elsewhere "
                     "([the authors' release](https://github.com/allenai/container)), then run:"))
        st.code("python -m container_edu weights import PATH", language="bash", wrap_lines=True)
    return True


def _fetch() -> None:
    if deployment.shared_mode():
        st.error(_("Downloads are for the administrator on a shared server."))
        return
    bar = st.progress(0.0, text=_("Connecting…"))
    shown = {"fraction": -1.0, "at": 0.0}

    def progress(done: int, total: int | None) -> None:
        now = time.monotonic()
        fraction = min(done / total, 1.0) if total else 0.0
        # Every chunk is 512 KB: redraw on each whole percent or every half second, not hundreds of times.
        if fraction - shown["fraction"] < 0.01 and now - shown["at"] < 0.5:
            return
        shown.update(fraction=fraction, at=now)
        if total:
            text = _("Downloading… {done:.0f} MB of {total:.0f} MB").format(done=done / _MB, total=total / _MB)
        else:
            text = _("Downloading… {done:.0f} MB").format(done=done / _MB)
        bar.progress(fraction, text=text)

    def status(text: str) -> None:
        bar.progress(1.0 if shown["fraction"] >= 0 else 0.0, text=text)

    try:
        card = weights_store.fetch(progress=progress, status=status)
    except weights_store.WeightsError as error:
        bar.empty()
        st.error(error.shown(_), icon=":material/error:")
        return
    except Exception as error:  # noqa: BLE001 - the app must keep working whatever the download does
        logger.exception("fetching the ImageNet weights failed")
        bar.empty()
        st.error(friendly_message(error, _("installing the ImageNet weights")), icon=":material/error:")
        raise_if_unexpected_under_tests(error)
        return
    from app import registry

    refs = registry.installed_refs()
    if refs:
        st.session_state[MODEL_KEY] = refs[0].key
    st.session_state[_NOTICE_KEY] = _("Installed the authors' ImageNet Container-Light (sha256 {sha}…); "
                                      "it is now the chosen model.").format(sha=card.sha256[:12])
    st.rerun()
