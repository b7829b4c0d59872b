"""A stand-in for the Hugging Face hub on 127.0.0.1, answering what ``huggingface_hub.hf_hub_download`` asks.

``hf_hub_download(repo_id, filename, revision=..., endpoint=HF_ENDPOINT)`` sends ``HEAD`` then ``GET`` to
``{endpoint}/{repo_id}/resolve/{revision}/{filename}`` (``huggingface_hub/file_download.py``:
``get_hf_file_metadata`` and ``http_get``). From the ``HEAD`` answer it needs ``X-Repo-Commit`` (the commit the
revision resolves to; without it the endpoint "does not seem to be a Hub"), ``X-Linked-Etag`` or ``ETag`` (for a
Git LFS file the sha256 of its bytes; the cache stores the blob under that name) and ``X-Linked-Size`` or
``Content-Length`` (the size the download is checked against). No ``X-Xet-*`` header is sent, so the plain HTTP
download is used. The server answers exactly that, from files registered with :meth:`StandInHub.publish`, and
404 with ``X-Error-Code: EntryNotFound`` otherwise; it listens on 127.0.0.1 only and counts the requests.

Each published file may lie in one way, to test what is refused: ``announce_sha256`` (a sha256 that is not the
bytes'), ``announce_size``, ``send`` (bytes other than the announced ones: a transfer cut short), ``content_type``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import socketserver
import threading
import urllib.parse
from dataclasses import dataclass, field


@dataclass
class Published:
    """One file as the stand-in serves it."""

    body: bytes
    commit: str
    announce_sha256: str | None = None  # default: the body's own
    send: bytes | None = None  # what GET sends (default: body); HEAD still announces body's size
    content_type: str = "application/octet-stream"
    announce_size: int | None = None  # default: the body's length
    requests: list[str] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        return self.announce_sha256 or hashlib.sha256(self.body).hexdigest()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class StandInHub:
    """``with StandInHub() as hub: hub.publish(repo, revision, filename, data, commit=...); hub.endpoint``."""

    def __init__(self) -> None:
        self.files: dict[tuple[str, str, str], Published] = {}
        self.log: list[tuple[str, str]] = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _lookup(self) -> Published | None:
                path = urllib.parse.urlparse(self.path).path.lstrip("/")
                # {namespace}/{repo}/resolve/{revision}/{filename}
                parts = path.split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    return None
                repo = "/".join(parts[:2])
                revision = urllib.parse.unquote(parts[3])
                filename = "/".join(parts[4:])
                return hub.files.get((repo, revision, filename))

            def _answer(self, head_only: bool) -> None:
                hub.log.append((self.command, self.path))
                published = self._lookup()
                if published is None:
                    body = b"Entry not found"
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    if not head_only:
                        self.wfile.write(body)
                    return
                published.requests.append(self.command)
                data = published.body if head_only or published.send is None else published.send
                self.send_response(200)
                self.send_header("Content-Type", published.content_type)
                if published.commit:  # "": answer as a plain web server would, not as a hub
                    self.send_header("X-Repo-Commit", published.commit)
                self.send_header("ETag", f'"{published.sha256}"')
                self.send_header("X-Linked-Etag", f'"{published.sha256}"')
                self.send_header("X-Linked-Size", str(published.announce_size or len(published.body)))
                self.send_header("Content-Length", str(len(published.body) if head_only else len(data)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if not head_only:
                    self.wfile.write(data)

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
                self._answer(head_only=True)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(head_only=False)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def publish(self, repo_id: str, revision: str, filename: str, body: bytes, *, commit: str | None = None,
                **lies) -> Published:
        """Serve ``body`` as ``filename`` of ``repo_id`` at ``revision`` (resolving to ``commit``)."""
        if commit is None:
            commit = revision if len(revision) == 40 else hashlib.sha1(repo_id.encode()).hexdigest()
        published = Published(body=body, commit=commit, **lies)
        self.files[(repo_id, revision, filename)] = published
        return published

    def __enter__(self) -> StandInHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=30)


@contextlib.contextmanager
def serving_hub(tmp_path, monkeypatch):
    """A :class:`StandInHub` that huggingface_hub talks to (``HF_ENDPOINT``), with its cache under ``tmp_path``.

    Checks that the library's endpoint is 127.0.0.1 (never the real hub) and, at the end, that every request it
    made asked for a file (``/resolve/``).
    """
    from container_edu.hub import hf_fetch

    with StandInHub() as standin:
        monkeypatch.setenv("HF_ENDPOINT", standin.endpoint)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
        monkeypatch.delenv("HF_HUB_CACHE", raising=False)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        settings = hf_fetch.hub_settings()
        assert settings.host.startswith("127.0.0.1:"), settings  # never the real hub
        assert settings.cache_dir == tmp_path / "hf_home" / "hub"
        yield standin
        assert all("/resolve/" in path for _, path in standin.log), standin.log
