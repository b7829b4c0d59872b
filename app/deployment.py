"""How this app is deployed: a private server on one's own machine, or a server shared by a class.

Shared mode exists because the laptop conveniences become leaks on a shared
server. The sidebar's "Checkpoint path" field, for instance, reads any file of
the server, and its helpful messages ("is a folder", "looks like a text file",
"no file found") tell every visitor what exists on the server's disk. In
shared mode:

- nothing in the app takes a server path from a visitor: models come from the
  bundled weights, the weights folder the administrator installed
  (``CONTAINER_EDU_WEIGHTS_DIR``) and per-session uploads;
- the loaders themselves refuse server paths (:func:`refuse_server_paths`), so
  a crafted widget state cannot get around a hidden widget;
- live training is queued (``container_edu.training.job``) and the learner sees
  their place in the queue;
- the sidebar says that the server is shared.

The switch is ``CONTAINER_EDU_SHARED``: ``1`` forces shared mode, ``0``
forces it off, and when it is unset shared mode follows the address the
server listens on (Streamlit's ``server.address``): on unless that is a
loopback address. The project's ``.streamlit/config.toml`` sets
``127.0.0.1``, so ``streamlit run streamlit_app.py`` is private by default and
``--server.address 0.0.0.0`` (a server for a class) turns shared mode on.
An unset ``server.address`` means "every interface" to Streamlit, so it
counts as shared too.

This module also notices a learner who arrives in a *new* server session while
their browser still shows an earlier one (the server restarted, a replica
behind a load balancer went away, the page was reloaded):
:func:`notice_new_server_session`.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import secrets
import socket
from collections.abc import Callable

import streamlit as st

from container_edu.hub.checkpoints import CheckpointError

from app.i18n import N_, _

__all__ = [
    "SHARED_ENV",
    "SESSION_QUERY_PARAM",
    "shared_mode",
    "listens_on_loopback_only",
    "refuse_server_paths",
    "ServerPathRefused",
    "SERVER_PATHS_REFUSED",
    "shared_mode_note",
    "notice_new_server_session",
    "keep_session_token",
    "without_server_folders",
    "session_owner",
]

logger = logging.getLogger("container_edu.app")

SHARED_ENV = "CONTAINER_EDU_SHARED"
_ON = {"1", "true", "yes", "on"}
_OFF = {"0", "false", "no", "off"}

#: The one message for every refused server path: identical whatever the path, so it reveals nothing.
SERVER_PATHS_REFUSED = N_(
    "This server is shared, so it does not load files by a path on the server. Upload a checkpoint instead, or "
    "ask the administrator to install the weights for everyone (`python -m container_edu weights fetch`)."
)


class ServerPathRefused(CheckpointError):
    """A server path was given to a loader while the app runs in shared mode."""


@functools.lru_cache(maxsize=16)
def _is_loopback(address: str) -> bool:
    host = address.strip().strip("[]")
    if not host:
        return False  # Streamlit binds every interface
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:  # a host name: loopback only if every address it resolves to is
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def listens_on_loopback_only(address: str | None = None) -> bool:
    """Whether the server listens on a loopback address only (``address``: default, Streamlit's ``server.address``)."""
    if address is None:
        from streamlit import config

        address = config.get_option("server.address")
    return _is_loopback(str(address or ""))


def shared_mode() -> bool:
    """Whether the app runs as a server shared by several people (see the module's docstring)."""
    value = os.environ.get(SHARED_ENV, "").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    if value:
        logger.warning("%s=%r is neither 1 nor 0: running in shared mode to be safe", SHARED_ENV, value)
        return True
    return not listens_on_loopback_only()


def refuse_server_paths() -> None:
    """Raise :class:`ServerPathRefused` in shared mode: call it before touching a path a visitor gave."""
    if shared_mode():
        raise ServerPathRefused(_(SERVER_PATHS_REFUSED))


#: What a server folder reads as in a shared server's messages.
SERVER_FOLDER = N_("<a folder on the server>")


def without_server_folders(text: str) -> str:
    """``text`` with the server's folders left out, in shared mode (unchanged on a private server).

    The pages' own sentences have shared-mode forms without folders; this is
    the net under the messages that come from the core (an error naming the
    weights folder, a data-set file, the home folder), which are written for
    a command line where the folder is the user's own.
    """
    if not shared_mode() or not text:
        return text
    for folder in _server_folders():
        text = text.replace(folder, _(SERVER_FOLDER))
    return text


def _server_folders() -> list[str]:
    from pathlib import Path

    from container_edu.data.fashion_mnist import resolve_data_dir
    from container_edu.hub import weights_store

    from app import registry

    folders = {str(weights_store.weights_dir()), str(registry.weights_dir()), str(resolve_data_dir()),
               str(Path(__file__).resolve().parents[1]), str(Path.home())}
    for folder in list(folders):
        folders.add(str(Path(folder).resolve()))
    # Longest first, so a folder inside the home folder goes whole, not as "<...>/.local/...".
    return sorted((f for f in folders if len(f) > 1), key=len, reverse=True)


def session_owner() -> tuple[str | None, Callable[[], bool] | None]:
    """``(id, alive)`` of the session running this script: ``alive()`` says, from any thread, whether its browser
    tab is still connected. ``(None, None)`` outside a Streamlit server (a bare script, ``AppTest``)."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is None or not Runtime.exists():
        return (None if context is None else context.session_id), None
    runtime, session_id = Runtime.instance(), context.session_id
    return session_id, lambda: runtime.is_active_session(session_id)


def shared_mode_note() -> str:
    """What the sidebar says on a shared server."""
    return _(
        "**Shared server.** Everyone in your class uses this server. Models come from the weights installed on it "
        "and from checkpoints you upload (kept for your session only); live training waits its turn in a queue."
    )


# --------------------------------------------------------------------------
# A new server session behind an old page
# --------------------------------------------------------------------------

#: Query parameter holding the current server session's token; the browser keeps it across reconnects.
SESSION_QUERY_PARAM = "session"
_TOKEN_KEY = "_deployment_session_token"
_NOTICE_KEY = "_deployment_new_session_notice"
NEW_SESSION_MESSAGE = N_(
    "**This is a new session.** The session this page belonged to has ended: the server it ran on restarted or "
    "was replaced, the page was reloaded, or the address came from someone else's browser. Nothing from that "
    "session is here any more: **upload your image again** (an upload box may still list the old file, but it is "
    "no longer on the server), pick your model again, and start a training run again if you had one."
)


def notice_new_server_session(holds_work: bool) -> None:
    """Tell a learner whose page outlived its server session that this session is new, until they acknowledge it.

    Streamlit keeps each session in one server process. When that process
    goes away, the browser reconnects (to the same server restarted, or, behind
    a load balancer, to another replica) and keeps showing the old page; the
    next run of the script is the first of a *new* session: its session state
    is empty and uploaded files are gone, although the upload box still lists
    them. A session that holds such work (``holds_work``: an upload, a model
    trained in it) therefore writes a random token into the address
    (``?session=...``); a run that finds a token in the address but none in its
    session state belongs to a page that outlived its session. A session that
    holds nothing to lose keeps the address clean, so that a link copied from it
    opens without the notice and without a stranger's token.
    """
    state = st.session_state
    token = state.get(_TOKEN_KEY)
    if token is None:
        if st.query_params.get(SESSION_QUERY_PARAM):
            state[_NOTICE_KEY] = True
        token = state[_TOKEN_KEY] = secrets.token_urlsafe(9)
    if not holds_work:
        st.query_params.pop(SESSION_QUERY_PARAM, None)
    elif st.query_params.get(SESSION_QUERY_PARAM) != token:
        st.query_params[SESSION_QUERY_PARAM] = token  # page switches drop the query string; put it back
    if state.get(_NOTICE_KEY):
        st.warning(_(NEW_SESSION_MESSAGE), icon=":material/restart_alt:")
        if st.button(_("Got it"), key="_deployment_new_session_ok"):
            state[_NOTICE_KEY] = False
            st.rerun()


def keep_session_token(holds_work: bool) -> None:
    """At the end of a run: put the token into the address once the run has given the session work to lose."""
    token = st.session_state.get(_TOKEN_KEY)
    if holds_work and token is not None and st.query_params.get(SESSION_QUERY_PARAM) != token:
        st.query_params[SESSION_QUERY_PARAM] = token
