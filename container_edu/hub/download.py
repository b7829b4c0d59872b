"""Downloading one large file over HTTP(S), including from Google Drive, with one-line errors.

The bytes are streamed by ``gdown`` (chunked writes to a temporary ``.part``
file that is moved into place only when complete, a check of the received
size against ``Content-Length``, retries that resume with a ``Range``
request, and a progress callback). ``gdown`` only runs its Google Drive
logic for the Drive host names and rewrites those addresses to Google's own
host, so it cannot walk a confirmation page served by a mirror or by a
local test server. Resolving the address is therefore done here, with
``requests`` and gdown's own parser of Drive's pages
(``get_url_from_gdrive_confirmation``: the "can't scan this file for
viruses" form with its ``confirm`` / ``uuid`` fields, the older
``/uc?export=download&confirm=`` link, and the quota / error notice), for
every host alike; the tests drive exactly this path against 127.0.0.1.

Public API: :func:`download_file`, :func:`normalise_url`, :class:`DownloadError`.
"""

from __future__ import annotations

import http.cookiejar
import importlib
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from container_edu.errors import ContainerEduError
from container_edu.text import N_

if TYPE_CHECKING:
    import requests

__all__ = ["DownloadError", "Downloaded", "Progress", "download_file", "normalise_url"]

#: ``progress(bytes_so_far, bytes_total_or_None)``, called after every chunk.
Progress = Callable[[int, "int | None"], None]

# Drive answers a non-browser user agent with different pages; gdown sends a browser's, and so do we.
_USER_AGENT: Final[str] = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_10_1) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/39.0.2171.95 Safari/537.36"
)
_TIMEOUT: Final[tuple[float, float]] = (15.0, 60.0)  # (connect, between bytes), seconds
_MAX_PAGES: Final[int] = 4  # confirmation pages followed before giving up
_MAX_PAGE_BYTES: Final[int] = 2 * 1024 * 1024  # an HTML page larger than this is not a confirmation page
_RETRIES: Final[int] = 2


class DownloadError(ContainerEduError, RuntimeError):
    """The file could not be downloaded; the message is one line a user can act on."""


class _TooLarge(Exception):
    pass


def normalise_url(url: str) -> str:
    """``url`` checked (http or https) and, for a Google Drive share link, turned into its download address."""
    import gdown.parse_url

    url = url.strip()
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise DownloadError(N_("{url} is not an http(s) address; give the full address, starting with https://"),
                            url=repr(url))
    file_id, _ = gdown.parse_url.parse_url(url)
    if file_id:  # ".../file/d/ID/view", "open?id=ID", "uc?id=ID": all the same file
        return f"https://drive.google.com/uc?id={file_id}&export=download"
    return url


@dataclass(frozen=True)
class Downloaded:
    """Where the bytes finally came from, and the file name the server gave (else the address's last part)."""

    url: str
    filename: str


def download_file(url: str, destination: Path, *, progress: Progress | None = None,
                  max_bytes: int | None = None) -> Downloaded:
    """Download ``url`` into the file ``destination`` (written only when the transfer is complete).

    Follows redirects and Google Drive's large-file confirmation page.
    Returns where the bytes came from (:class:`Downloaded`). Raises
    :class:`DownloadError` with one line: no connection, a time-out, an HTTP
    error, a web page instead of the file (Drive's quota or error notice
    quoted), a file larger than ``max_bytes``, or a transfer that stopped
    before the announced size. ``gdown`` may leave a ``.part`` file next to
    ``destination`` on failure: the caller downloads into a folder of its
    own and removes it.
    """
    import gdown
    import gdown.exceptions
    import requests  # imported here: it costs ~0.15 s, and every app page imports this module

    start = normalise_url(url)
    host = urllib.parse.urlparse(start).netloc
    destination = Path(destination)
    with requests.Session() as session:
        session.headers["User-Agent"] = _USER_AGENT
        session.max_redirects = 10
        try:
            final, filename = _resolve(session, start, max_bytes)
        except requests.RequestException as error:
            raise _request_error(error, host) from None
        cookies_file = _save_cookies(session, destination.parent)

    received = [0, None]  # bytes so far, bytes announced

    def report(done: int, total: int | None) -> None:
        received[:] = [done, total]
        if max_bytes is not None and done > max_bytes:
            raise _TooLarge
        if progress is not None:
            progress(done, total)

    try:
        gdown.download(
            final, output=str(destination), quiet=True, progress=report, timeout=_TIMEOUT, retries=_RETRIES,
            use_cookies=cookies_file is not None, cookies_file=str(cookies_file) if cookies_file else None,
            user_agent=_USER_AGENT,
        )
    except _TooLarge:
        raise DownloadError(N_("the file at {url} is larger than {size}, far more than a Container-Light checkpoint; "
                               "check the address"), url=url, size=_megabytes(max_bytes)) from None
    except gdown.exceptions.FileURLRetrievalError as error:
        raise _page_error(str(error), url) from None
    except gdown.exceptions.DownloadError:
        # gdown's own wording speaks of the partial file it keeps for resuming; ours is removed, so say what happened.
        done, total = received
        if total:
            raise DownloadError(N_("the connection to {host} closed after {done} of {total} and the transfer could not "
                                   "be resumed; try again"), host=host, done=_megabytes(done),
                                total=_megabytes(total)) from None
        raise DownloadError(N_("the connection to {host} closed after {done} and the transfer could not be resumed; "
                               "try again"), host=host, done=_megabytes(done)) from None
    except requests.RequestException as error:
        raise _request_error(error, host) from None
    finally:
        if cookies_file is not None:
            cookies_file.unlink(missing_ok=True)
    return Downloaded(final, filename)


def _resolve(session: requests.Session, url: str, max_bytes: int | None) -> tuple[str, str]:
    """The address that answers with the file itself, after any confirmation pages, and the file's name."""
    import gdown.exceptions

    # ``gdown.download`` is also the name of gdown's download function, which shadows the module attribute.
    parse_confirmation = importlib.import_module("gdown.download").get_url_from_gdrive_confirmation
    for _ in range(_MAX_PAGES):
        with session.get(url, stream=True, timeout=_TIMEOUT) as response:
            if _is_html(response):
                page = _read_page(response)
                try:
                    target = parse_confirmation(page)
                except gdown.exceptions.FileURLRetrievalError as error:
                    raise _page_error(str(error), url, response.status_code) from None
                url = urllib.parse.urljoin(response.url, target)
                continue
            if response.status_code >= 400:
                raise DownloadError(N_("{host} answered HTTP {status} for {url}"), host=urllib.parse.urlparse(url).netloc,
                                    status=f"{response.status_code} {response.reason or ''}".rstrip(), url=url)
            length = response.headers.get("Content-Length", "")
            if max_bytes is not None and length.isdigit() and int(length) > max_bytes:
                raise DownloadError(N_("the file at {url} is {size}, more than the {limit} a Container-Light checkpoint "
                                       "can be; check the address"), url=url, size=_megabytes(int(length)),
                                    limit=_megabytes(max_bytes))
            return response.url, _filename(response)
    raise DownloadError(N_("{url} kept answering with web pages instead of the file; download it in a browser "
                           "and use `python -m container_edu weights import PATH`"), url=url)


def _filename(response: requests.Response) -> str:
    """The name in ``Content-Disposition`` (``filename*=UTF-8''...`` or ``filename="..."``), else the path's end."""
    disposition = response.headers.get("Content-Disposition", "")
    match = re.search(r"filename\*=UTF-8''([^;]+)", disposition) or re.search(r'filename="?([^";]+)"?', disposition)
    name = urllib.parse.unquote(match.group(1)) if match else urllib.parse.urlparse(response.url).path.rsplit("/", 1)[-1]
    name = Path(name.replace("\\", "/")).name.strip()  # a name, never a path
    return name[:200] or "checkpoint"


def _is_html(response: requests.Response) -> bool:
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml")


def _read_page(response: requests.Response) -> str:
    data = b""
    for chunk in response.iter_content(64 * 1024):
        data += chunk
        if len(data) > _MAX_PAGE_BYTES:
            break
    return data.decode(response.encoding or "utf-8", errors="replace")


def _page_error(detail: str, url: str, status: int | None = None) -> DownloadError:
    detail = " ".join(detail.split())
    code = f" (HTTP {status})" if status and status >= 400 else ""
    if detail.startswith(("Cannot retrieve the public link", "Failed to retrieve file url")):
        return DownloadError(N_("the host answered with a web page{code}, not the checkpoint: {url} points at a page, "
                                "or the file is not shared publicly; download it in a browser and use "
                                "`python -m container_edu weights import PATH`"), code=code, url=url)
    # Drive's own notice, e.g. "Too many users have viewed or downloaded this file recently..."
    return DownloadError(N_("the host answered with a web page{code} instead of the checkpoint, saying: \"{detail}\"; "
                            "try again later, or download it in a browser and use "
                            "`python -m container_edu weights import PATH`"), code=code, detail=detail)


def _request_error(error: requests.RequestException, host: str) -> DownloadError:
    import requests

    if isinstance(error, requests.exceptions.SSLError):
        return DownloadError(N_("the secure connection to {host} failed (certificate or TLS problem)"), host=host)
    if isinstance(error, requests.exceptions.ProxyError):
        return DownloadError(N_("the proxy refused the connection to {host}"), host=host)
    if isinstance(error, requests.exceptions.ConnectionError):
        return DownloadError(N_("could not connect to {host}: no connection to it from this machine (no network, or "
                                "the host is down); on a machine without internet use "
                                "`python -m container_edu weights import PATH`"), host=host)
    if isinstance(error, requests.exceptions.Timeout):
        return DownloadError(N_("{host} stopped answering (timed out); try again later"), host=host)
    if isinstance(error, requests.exceptions.TooManyRedirects):
        return DownloadError(N_("{host} redirected too many times; check the address"), host=host)
    return DownloadError(N_("the download from {host} failed: {detail}"), host=host, detail=" ".join(str(error).split()))


def _save_cookies(session: requests.Session, folder: Path) -> Path | None:
    """The session's cookies (Drive may set one on its confirmation page) as a file gdown can read."""
    if not session.cookies:
        return None
    path = folder / "cookies.txt"
    jar = http.cookiejar.MozillaCookieJar(str(path))
    for cookie in session.cookies:
        jar.set_cookie(cookie)
    jar.save(ignore_discard=True, ignore_expires=True)
    return path


def _megabytes(num_bytes: int | None) -> str:
    return f"{(num_bytes or 0) / (1024 * 1024):.0f} MB"
