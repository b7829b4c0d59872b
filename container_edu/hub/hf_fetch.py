"""Getting one file from the Hugging Face hub through ``huggingface_hub``, with one-line errors.

``huggingface_hub`` brings what a hand-written download would have to redo: its cache (``HF_HOME`` /
``HF_HUB_CACHE``; a second fetch reads the cache), its offline mode (``HF_HUB_OFFLINE=1``: the cache only, no
request), mirrors (``HF_ENDPOINT``), resumed transfers and the size check against what the hub announced. The
library reads those variables once, when it is imported; they are read again here on every call and passed
explicitly, so a variable set later (a test, a classroom server's start script) counts.

The hub stores a large file in Git LFS and announces its sha256 (the LFS object id) as the ``X-Linked-Etag`` of
the download; ``huggingface_hub`` keeps the file in its cache under that name (``blobs/<sha256>``). So the sha256 the
hub vouches for is known online and offline alike, and the caller compares it with the file's own hash.

Public API: :func:`hub_settings`, :func:`download`, :func:`forget`, :class:`HubSettings`, :class:`HubFile`,
:class:`HubError`.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from container_edu.errors import ContainerEduError
from container_edu.text import N_

__all__ = ["DEFAULT_ENDPOINT", "HubSettings", "HubFile", "HubError", "Progress", "hub_settings", "download", "forget"]

#: ``progress(bytes_so_far, bytes_total_or_None)``, called as the bytes arrive (not called for a cached file).
Progress = Callable[[int, "int | None"], None]

DEFAULT_ENDPOINT: Final[str] = "https://huggingface.co"
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_TRUE: Final[frozenset[str]] = frozenset({"1", "on", "yes", "true"})


class HubError(ContainerEduError, RuntimeError):
    """The file could not be had from the hub; the message is one line a user can act on."""


@dataclass(frozen=True)
class HubSettings:
    """Where requests go (``HF_ENDPOINT``), whether any may be made (``HF_HUB_OFFLINE``), where the cache is."""

    endpoint: str
    offline: bool
    cache_dir: Path | None  # None: huggingface_hub's default

    @property
    def host(self) -> str:
        return urllib.parse.urlparse(self.endpoint).netloc or self.endpoint


def hub_settings() -> HubSettings:
    """The settings as the environment says now (``HF_ENDPOINT``, ``HF_HUB_OFFLINE``, ``HF_HUB_CACHE``, ``HF_HOME``)."""
    endpoint = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or DEFAULT_ENDPOINT
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE
    cache = os.environ.get("HF_HUB_CACHE", "").strip()
    home = os.environ.get("HF_HOME", "").strip()
    cache_dir = Path(cache).expanduser() if cache else (Path(home).expanduser() / "hub" if home else None)
    return HubSettings(endpoint, offline, cache_dir)


@dataclass(frozen=True)
class HubFile:
    """A file as the hub gave it: the cached path, the commit it came from, and the sha256 the hub announced."""

    path: Path  # the snapshot entry (a link into blobs/, or a copy)
    blob: Path  # the stored bytes
    commit: str  # the commit the hub resolved the revision to
    hub_sha256: str | None  # the LFS object id the hub announced, when it announced one
    url: str  # where it was asked for


def download(repo_id: str, filename: str, revision: str, *, settings: HubSettings | None = None,
             progress: Progress | None = None, max_bytes: int | None = None) -> HubFile:
    """``filename`` of the model repository ``repo_id`` at ``revision``, from the cache or the hub.

    ``max_bytes``: a file the hub announces as larger is refused before any of it is downloaded (the library
    then checks the bytes received against the announced size), so a hostile mirror cannot fill the disk.
    Raises :class:`HubError` (one line): offline and not cached, no connection, not a hub at ``HF_ENDPOINT``,
    an unknown repository, revision or file, an HTTP error, a file too large, or a transfer that stopped short.
    """
    settings = settings or hub_settings()
    hub_errors = _import_quietly(settings)
    import huggingface_hub

    url = f"{settings.endpoint}/{repo_id}/resolve/{revision}/{filename}"
    cache_dir = str(settings.cache_dir) if settings.cache_dir else None
    try:
        if max_bytes is not None and not settings.offline:
            cached = huggingface_hub.try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir,
                                                            revision=revision)
            if not isinstance(cached, str):  # not cached: ask the hub how large the file is first
                _check_announced_size(huggingface_hub, url, settings, max_bytes, filename)
        path = huggingface_hub.hf_hub_download(
            repo_id, filename, revision=revision, endpoint=settings.endpoint, local_files_only=settings.offline,
            cache_dir=cache_dir, token=False, tqdm_class=_reporter(progress) if progress is not None else None,
        )
    except hub_errors.LocalEntryNotFoundError as error:
        raise _unreachable(error, settings, repo_id, filename) from None
    except hub_errors.RepositoryNotFoundError:
        raise HubError(N_("{host} has no model repository {repo} (or it is private); check the name"),
                       host=settings.host, repo=repo_id) from None
    except hub_errors.RevisionNotFoundError:
        raise HubError(N_("{repo} on {host} has no revision {revision}"), repo=repo_id, host=settings.host,
                       revision=revision) from None
    except (hub_errors.EntryNotFoundError, _remote_entry_not_found(hub_errors)):
        raise HubError(N_("{repo} at revision {revision} on {host} has no file {file}"), repo=repo_id,
                       revision=revision, host=settings.host, file=filename) from None
    except hub_errors.HfHubHTTPError as error:
        status = getattr(getattr(error, "response", None), "status_code", "?")
        raise HubError(N_("{host} answered HTTP {status} for {url}"), host=settings.host, status=status,
                       url=url) from None
    except (OSError, ValueError) as error:  # "Consistency check failed": fewer bytes than the hub announced
        text = " ".join(str(error).split())
        if "consistency check failed" in text.lower():
            raise HubError(N_("the download of {file} from {host} stopped short of the size the hub announced "
                              "({detail}); nothing was kept; try again"), file=filename, host=settings.host,
                           detail=text.split("(")[0].strip()[:160]) from None
        raise HubError(N_("the download of {file} from {host} failed: {detail}"), file=filename, host=settings.host,
                       detail=text[:200]) from None
    except Exception as error:  # noqa: BLE001 - httpx and friends: connection reset, protocol errors
        raise HubError(N_("the download of {file} from {host} failed: {detail}"), file=filename, host=settings.host,
                       detail=" ".join(f"{type(error).__name__}: {error}".split())[:200]) from None
    return _describe(Path(path), url)


def _import_quietly(settings: HubSettings):
    """Import huggingface_hub so that it contacts no host but ``settings.endpoint``.

    Its user-agent telemetry fetches a registry from the endpoint it read at import time (``/api/agent-harnesses``
    on huggingface.co unless ``HF_ENDPOINT`` was set then): a school's mirror, or a test's stand-in, would not stop
    that request. ``HF_HUB_DISABLE_TELEMETRY`` turns it off; a user's own setting of it is kept, except that a
    library imported earlier with another endpoint is told not to reach that other host.
    """
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    from huggingface_hub import constants
    from huggingface_hub import errors as hub_errors

    if constants.ENDPOINT.rstrip("/") != settings.endpoint:
        constants.HF_HUB_DISABLE_TELEMETRY = True
    return hub_errors


def _check_announced_size(huggingface_hub, url: str, settings: HubSettings, max_bytes: int, filename: str) -> None:
    try:
        metadata = huggingface_hub.get_hf_file_metadata(url, token=False, endpoint=settings.endpoint)
    except Exception:  # noqa: BLE001 - no answer here: hf_hub_download meets the same and says why, in its terms
        return
    if metadata.size is not None and metadata.size > max_bytes:
        raise HubError(N_("{host} announces {file} as {size:,} bytes, more than the {limit:,} these weights take; "
                          "nothing was downloaded"), host=settings.host, file=filename, size=metadata.size,
                       limit=max_bytes)


def _reporter(progress: Progress) -> type:
    """A stand-in for the tqdm bar huggingface_hub draws, that hands each step to ``progress`` instead (the app's
    progress bar); a plain class, so the library passes it only the bar's ``total`` and ``initial``."""

    class Reporter:
        def __init__(self, *args, total: int | None = None, initial: int = 0, **kwargs) -> None:
            self.total, self.n = total, initial

        def __enter__(self) -> Reporter:
            return self

        def __exit__(self, *exc) -> None:
            return None

        def update(self, n: int | float | None = 1) -> None:
            self.n += int(n or 0)
            progress(self.n, self.total)

        def close(self) -> None:
            return None

    return Reporter


def _remote_entry_not_found(hub_errors) -> type[Exception]:
    # huggingface_hub >= 1.0 answers a missing file with RemoteEntryNotFoundError (an HTTP error), older ones with
    # EntryNotFoundError.
    return getattr(hub_errors, "RemoteEntryNotFoundError", hub_errors.EntryNotFoundError)


def _describe(path: Path, url: str) -> HubFile:
    blob = path.resolve()
    commit = path.parent.name
    # huggingface_hub names the blob after the ETag it received: the LFS sha256 for a large file.
    announced = blob.name if _SHA256.fullmatch(blob.name) else None
    return HubFile(path=path, blob=blob, commit=commit, hub_sha256=announced, url=url)


def forget(file: HubFile) -> None:
    """Remove a refused file from the cache (its snapshot entry and its blob), so a later fetch downloads it anew."""
    for item in (file.path, file.blob):
        try:
            item.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only cache: the next fetch will meet the same file and refuse it again


def _unreachable(error: Exception, settings: HubSettings, repo_id: str, filename: str) -> HubError:
    if settings.offline:
        return HubError(N_("HF_HUB_OFFLINE is set and {repo}/{file} is not in the Hugging Face cache; unset it to "
                           "download, or use `python -m container_edu weights import PATH --model NAME` with a file "
                           "you have"), repo=repo_id, file=filename)
    cause = error.__cause__ or error
    detail = " ".join(str(cause).split())
    if "X-Repo-Commit" in detail or "Hub-compatible" in detail:
        return HubError(N_("{endpoint} does not answer like a Hugging Face hub (no X-Repo-Commit header); check "
                           "HF_ENDPOINT"), endpoint=settings.endpoint)
    return HubError(N_("could not reach {host} and {repo}/{file} is not in the Hugging Face cache (no network, or the "
                       "host is down); on a machine without internet use `python -m container_edu weights import "
                       "PATH --model NAME`"), host=settings.host, repo=repo_id, file=filename)
