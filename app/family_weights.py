"""Getting the three families' ImageNet weights from inside the app: one panel, one download button per family.

For each of DeiT-Small/16, ConvNeXt-Tiny and MLP-Mixer-B/16 the panel says whether its weights are installed, how
large they are, which hub repository and revision they come from and the accuracy their publishers report
(labelled as reported, never as measured here). On a private server (not :func:`app.deployment.shared_mode`) each
missing family has a button that runs :func:`container_edu.hub.families.fetch_family`, the same fetch as
``python -m container_edu weights fetch NAME`` (same pins, same checks, same folder, huggingface_hub's cache and
``HF_ENDPOINT``), with a Streamlit progress bar fed by the download's bytes, then reruns the page so that every view
reads the installed weights. A refused or failed download is one line (the core's
:class:`~container_edu.errors.ContainerEduError` sentence, translated), never a traceback, and leaves the weights
folder as it was (``fetch_family`` guarantees that).

The buttons are the only place the app reaches the network, and only when a learner presses one. On a shared server
a visitor may neither start a download nor learn the server's folders: the panel lists the same facts and the
command the administrator runs, without buttons.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import streamlit as st

from container_edu.hub import families as hub_families
from container_edu.hub.cards import ModelCard
from container_edu.hub.family_sources import family_source, is_commit
from container_edu.hub.weights_store import weights_dir
from container_edu.models import FAMILY_LABELS, FAMILY_MODELS

from app import deployment
from app.errors import friendly_message, logger, raise_if_unexpected_under_tests
from app.families import SHORT_NAMES
from app.i18n import N_, _

__all__ = ["PANEL_TITLE", "DOWNLOAD_BUTTON", "INSTALLED", "NOT_INSTALLED", "family_weights_panel", "button_key",
           "fetch_command"]

PANEL_TITLE = N_("The three families' ImageNet weights")  # English here; drawn as _(PANEL_TITLE)
#: A family's button; ``{model}`` is its short name (a label that says what it does, for screen readers too).
DOWNLOAD_BUTTON = N_("Download {model}")
#: The state words of each family's line (the state is written out, not only shown by an icon or a colour).
INSTALLED = N_("Installed")
NOT_INSTALLED = N_("Not installed")
_NOTICE_KEY = "_family_weights_notice"
_MB = 1_000_000  # the hub lists sizes in decimal megabytes ("88.2 MB"); the panel uses the same unit


def button_key(where: str, name: str) -> str:
    """The widget key of family ``name``'s download button in the panel drawn at ``where``."""
    return f"{where}_fetch_family_{name}"


def fetch_command(name: str) -> str:
    """The command that installs family ``name`` (the one the administrator of a shared server runs)."""
    return hub_families.FETCH_COMMAND.format(name=name)


def family_weights_panel(where: str, *, configs: Mapping[str, Mapping[str, Any]] | None = None) -> bool:
    """Draw the panel; returns whether some family is not installed (so an offer or a command was shown).

    ``where`` keeps the widget keys of panels drawn on different pages or tabs apart (e.g. the view's prefix).
    ``configs`` maps a family's name to architecture overrides for :func:`~container_edu.hub.families.fetch_family`
    (small test models served by a stand-in hub); the app passes none and gets the published architectures.
    When every family is installed, the panel folds into a closed expander: the facts stay one click away.
    """
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice:
        st.success(notice, icon=":material/check_circle:")
    installed = hub_families.installed_families()
    # Random stand-ins (tests, screenshots) count as missing: the trained weights can replace them.
    missing = [name for name in FAMILY_MODELS if name not in installed or installed[name].random_weights]
    shared = deployment.shared_mode()
    if not missing:
        box = st.expander(_("{title}: all three installed").format(title=_(PANEL_TITLE)), icon=":material/check:")
    else:
        box = st.container(border=True, key=f"{where}_family_weights")
    with box:
        if missing:
            st.markdown(f"**{_(PANEL_TITLE)}**")
            st.caption(_intro(shared))
        for name in FAMILY_MODELS:
            _family_line(where, name, installed.get(name), shared, (configs or {}).get(name))
        if missing and shared:
            st.caption(_("Not installed on this shared server. The administrator installs them once for everyone "
                         "with:"))
            st.code("\n".join(fetch_command(name) for name in missing), language="bash", wrap_lines=True)
        elif missing:
            st.caption(_("No internet on this machine? Download each family's `model.safetensors` elsewhere (the "
                         "links above), then run:"))
            st.code("\n".join(f"python -m container_edu weights import PATH --model {name}" for name in missing),
                    language="bash", wrap_lines=True)
    return bool(missing)


def _intro(shared: bool) -> str:
    if shared:
        return _("DeiT, ConvNeXt and MLP-Mixer as trained on ImageNet and published on the Hugging Face hub. "
                 "Without them the Three families view shows random weights.")
    return _("DeiT, ConvNeXt and MLP-Mixer as trained on ImageNet and published on the Hugging Face hub. Without "
             "them the Three families view shows random weights. A download asks the hub (or `HF_ENDPOINT`, a "
             "mirror) only when you press its button; each file is checked before use (sha256, safetensors header, "
             "every tensor's name and shape) and stored in `{folder}` for every session.").format(folder=weights_dir())


def _family_line(where: str, name: str, card: ModelCard | None, shared: bool,
                 config: Mapping[str, Any] | None) -> None:
    """One family: its name and state in words, size, source, reported accuracy; its button when it is missing."""
    label = _(FAMILY_LABELS[name])
    if card is None:
        state, icon = _(NOT_INSTALLED), ":material/cloud_download:"
    elif card.random_weights:
        state, icon = _("Installed (random weights: nothing in them was learned)"), ":material/casino:"
    else:
        state, icon = _(INSTALLED), ":material/check_circle:"
    details, button = st.columns([3, 1], vertical_alignment="center")
    with details:
        st.markdown(_("{icon} **{model}**: {state}").format(icon=icon, model=label, state=state))
        st.caption(" · ".join((_size(name, card), _source(name, card, shared), _accuracy(name, card))))
    if (card is None or card.random_weights) and not shared:
        with button:
            # The short name: the full label, already on the line beside it, is cut in a quarter-width button.
            clicked = st.button(_(DOWNLOAD_BUTTON).format(model=SHORT_NAMES[name]), key=button_key(where, name),
                                icon=":material/download:",
                                help=_("Download and install {model} ({size}) from the Hugging Face hub.").format(
                                    model=label, size=_listed(name)))
        if clicked:  # below the line, the panel's full width: the progress bar and any error are read whole
            _fetch(name, config)


def _listed(name: str) -> str:
    return family_source(name).hub_size  # the size the hub's file list shows, e.g. "88.2 MB"


def _size(name: str, card: ModelCard | None) -> str:
    if card is None:
        return _("{size} to download").format(size=_listed(name))
    try:
        size = (weights_dir() / card.weights_file).stat().st_size
    except OSError:  # removed since the listing: the next run says "not installed"
        return _("size unknown")
    return _("{size:.1f} MB installed").format(size=size / _MB)


def _short(revision: str) -> str:
    return revision[:12] if is_commit(revision) else revision


def _source(name: str, card: ModelCard | None, shared: bool) -> str:
    pinned = family_source(name)
    if card is None:
        text = _("from `{repo}@{revision}`").format(repo=pinned.repo_id, revision=_short(pinned.revision))
        # A link for people who fetch the file by hand; a shared server's visitor has no use for it.
        return text if shared else text + " " + _("([file on the hub]({url}))").format(url=pinned.url)
    repo, revision = card.extra.get("hub_repo"), card.extra.get("hub_revision")
    if repo and revision:
        return _("from `{repo}@{revision}`").format(repo=repo, revision=_short(str(revision)))
    if card.random_weights:
        return _("random weights, not from the hub")
    return _("imported from a file (sha256 `{sha}…`)").format(sha=card.sha256[:12])


def _accuracy(name: str, card: ModelCard | None) -> str:
    metrics = family_source(name).reported_metrics if card is None else card.reported_metrics
    if "acc1" not in metrics:
        return _("no accuracy reported for these weights")
    if "acc5" in metrics:
        return _("ImageNet top-1 {acc1:g}%, top-5 {acc5:g}% (reported by the publishers, not measured "
                 "here)").format(acc1=metrics["acc1"], acc5=metrics["acc5"])
    return _("ImageNet top-1 {acc1:g}% (reported by the publishers, not measured here)").format(
        acc1=metrics["acc1"])


def _fetch(name: str, config: Mapping[str, Any] | None) -> None:
    """Download, check and install family ``name``; on success rerun the page, on failure say why in one line."""
    label = _(FAMILY_LABELS[name])
    if deployment.shared_mode():  # no button is drawn then; this guards a crafted widget state
        st.error(_("On a shared server only the administrator installs weights."), icon=":material/block:")
        return
    bar = st.progress(0.0, text=_("Connecting to the hub…"))
    shown = {"fraction": -1.0, "at": 0.0, "steps": 0}

    def progress(done: int, total: int | None) -> None:
        now = time.monotonic()
        fraction = min(done / total, 1.0) if total else 0.0
        # The library reports every chunk: redraw on each whole percent or every half second, not thousands of times.
        if fraction - shown["fraction"] < 0.01 and now - shown["at"] < 0.5 and fraction < 1.0:
            return
        shown.update(fraction=fraction, at=now)
        if total:
            text = _("Downloading {model}… {done:.1f} MB of {total:.1f} MB").format(model=label, done=done / _MB,
                                                                                  total=total / _MB)
        else:
            text = _("Downloading {model}… {done:.1f} MB").format(model=label, done=done / _MB)
        bar.progress(fraction, text=text)

    def status(_step: str) -> None:
        # The core names its steps in English for the command line; the bar says the same in the learner's words.
        shown["steps"] += 1
        if shown["steps"] > 1:
            bar.progress(max(shown["fraction"], 0.0), text=_("Checking {model} (sha256, safetensors header, every "
                                                             "tensor's name and shape) and installing it…").format(
                model=label))

    try:
        card = hub_families.fetch_family(name, config=config, progress=progress, status=status)
    except hub_families.FamilyWeightsError as error:
        logger.warning("fetching %s failed: %s", name, error)
        bar.empty()
        st.error(deployment.without_server_folders(error.shown(_)), icon=":material/error:")
        return
    except Exception as error:  # noqa: BLE001 - the app must keep working whatever the download does
        logger.exception("fetching %s failed", name)
        bar.empty()
        st.error(friendly_message(error, _("installing {model}").format(model=label)), icon=":material/error:")
        raise_if_unexpected_under_tests(error)
        return
    st.session_state[_NOTICE_KEY] = _("Installed {model} (sha256 {sha}…); the views now use these weights.").format(
        model=label, sha=card.sha256[:12])
    st.rerun()
