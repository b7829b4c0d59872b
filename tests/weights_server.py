"""A stand-in for the authors' release: a checkpoint in their format, and a local HTTP server that serves it.

Used by the weights-store, app and browser tests (no internet). The server
listens on 127.0.0.1 only and serves, under fixed paths:

* ``/file/container_light.pth``: the checkpoint, as a file host sends it;
* ``/drive/uc?id=ID&export=download``: an HTML page shaped like Google Drive's
  large-file warning (a ``download-form`` whose hidden ``confirm`` / ``uuid``
  fields lead to ``/drive/download``, which sends the file only with them);
* ``/drive/quota?id=ID``: Drive's "too many users" error page;
* ``/missing``: an ordinary HTML error page (HTTP 404);
* ``/truncated.pth``: the first 60% of the checkpoint, sent completely;
* ``/cut.pth``: the checkpoint announced at full length, connection closed halfway;
* ``/evil.pth``: a torch.save file whose pickle runs a shell command when unpickled unsafely;
* ``/zoo.pth``: a checkpoint of another architecture (a Fashion-MNIST zoo model).
"""

from __future__ import annotations

import argparse
import http.server
import os
import socketserver
import threading
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path

import torch

DRIVE_ID = "1WMOWoxTX7AQDCbfMYh7naqIHube3K85A"


class RunsShell:
    """Unpickled unsafely, touches ``marker`` through ``os.system``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def authors_checkpoint(seed: int = 0) -> dict:
    """A DeiT-style training checkpoint of a randomly initialised Container-Light, as the authors' release holds.

    ``model_ema`` differs from ``model`` (every float tensor + 0.5) so a test
    can tell which entry was installed.
    """
    from container_edu.models import create_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = create_model("container_light")
        for module in model.modules():  # trained BatchNorm statistics are not the initial 0 / 1
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 2.0)
                module.num_batches_tracked.fill_(1234)
    state = model.state_dict()
    ema = {key: value + 0.5 if value.is_floating_point() else value.clone() for key, value in state.items()}
    first = next(iter(model.parameters()))
    optimizer = {
        "state": {0: {"step": torch.tensor(375300.0), "exp_avg": torch.zeros_like(first),
                      "exp_avg_sq": torch.zeros_like(first)}},
        "param_groups": [{"lr": 1e-5, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.05, "amsgrad": False,
                          "maximize": False, "foreach": None, "capturable": False, "differentiable": False,
                          "fused": None, "params": list(range(len(list(model.parameters()))))}],
    }
    lr_scheduler = {"param_group_field": "lr", "t_initial": 300, "lr_min": 1e-5, "cycle_mul": 1.0, "warmup_t": 5,
                    "warmup_lr_init": 1e-6, "noise_range_t": None, "base_values": [0.001]}
    scaler = {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
              "_growth_tracker": 812}
    args = argparse.Namespace(model="container_v1_light", batch_size=128, epochs=300, lr=0.001, input_size=224,
                              model_ema=True, model_ema_decay=0.99996, opt="adamw", sched="cosine",
                              train_interpolation="bicubic", data_path="/datasets/imagenet", output_dir="./output")
    return {"model": state, "model_ema": ema, "optimizer": optimizer, "lr_scheduler": lr_scheduler, "epoch": 299,
            "scaler": scaler, "args": args}


@dataclass
class Release:
    """Files written once per test session: ``checkpoint`` (authors' format) and the refusals."""

    folder: Path
    checkpoint: Path
    truncated: Path
    evil: Path
    zoo: Path
    marker: Path  # created only if the evil pickle ever runs


def write_release(folder: Path) -> Release:
    from container_edu.models import create_model

    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = folder / "container_light.pth"
    torch.save(authors_checkpoint(), checkpoint)
    data = checkpoint.read_bytes()
    truncated = folder / "truncated.pth"
    truncated.write_bytes(data[: len(data) * 6 // 10])
    marker = folder / "evil-ran"
    evil = folder / "evil.pth"
    torch.save({"model": {"patch_embed1.proj.weight": torch.ones(2)}, "args": RunsShell(marker)}, evil)
    zoo = folder / "zoo.pth"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        torch.save({"model": create_model("fmnist_container_light").state_dict(), "epoch": 9}, zoo)
    return Release(folder, checkpoint, truncated, evil, zoo, marker)


def drive_warning_page(action: str, file_id: str, token: str, name: str, size_mb: int) -> str:
    """The shape of Google Drive's "can't scan this file for viruses" page (the form on one line, as Drive sends it)."""
    return (
        "<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title>"
        '<meta http-equiv="content-type" content="text/html; charset=utf-8"/></head>\n'
        '<body><div class="uc-main"><div id="uc-text"><p class="uc-warning-caption">Google Drive can\'t scan this '
        'file for viruses.</p><p class="uc-warning-subcaption"><span class="uc-name-size">'
        f'<a href="/open?id={file_id}">{name}</a> ({size_mb}M)</span> is too large for Google to scan for viruses. '
        'Would you still like to download this file?</p>'
        f'<form id="download-form" action="{action}" method="get"><input type="submit" id="uc-download-link" '
        'class="goog-inline-block jfk-button jfk-button-action" value="Download anyway"/>'
        f'<input type="hidden" name="id" value="{file_id}"><input type="hidden" name="export" value="download">'
        f'<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="{token}"></form>'
        "</div></div></body></html>\n"
    )


QUOTA_PAGE = (
    "<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head>\n"
    '<body><div class="uc-main"><div id="uc-text"><p class="uc-error-caption">Sorry, you can\'t view or download '
    'this file at this time.</p>\n<p class="uc-error-subcaption">Too many users have viewed or downloaded this file '
    "recently. Please try accessing the file again later.</p>\n</div></div></body></html>\n"
)
MISSING_PAGE = "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format, *args):  # noqa: A002 - quiet test output
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        release = self.server.release
        self.server.hits.append(url.path)
        if url.path == "/file/container_light.pth":
            self._send_file(release.checkpoint)
        elif url.path == "/drive/uc" and query.get("id") == [DRIVE_ID]:
            action = f"http://127.0.0.1:{self.server.server_address[1]}/drive/download"
            size_mb = release.checkpoint.stat().st_size // 2**20
            page = drive_warning_page(action, DRIVE_ID, self.server.token, "container_light.pth", size_mb)
            self._send_page(200, page)
        elif url.path == "/drive/download":
            wanted = {"id": [DRIVE_ID], "export": ["download"], "confirm": ["t"], "uuid": [self.server.token]}
            if all(query.get(key) == value for key, value in wanted.items()):
                self._send_file(release.checkpoint)
            else:
                self._send_page(200, QUOTA_PAGE)
        elif url.path == "/drive/quota":
            self._send_page(200, QUOTA_PAGE)
        elif url.path == "/truncated.pth":
            self._send_file(release.truncated)
        elif url.path == "/cut.pth":
            self._send_file(release.checkpoint, cut_at=release.checkpoint.stat().st_size // 2)
        elif url.path == "/evil.pth":
            self._send_file(release.evil)
        elif url.path == "/zoo.pth":
            self._send_file(release.zoo)
        else:
            self._send_page(404, MISSING_PAGE)

    def _send_page(self, status: int, page: str) -> None:
        body = page.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_file(self, path: Path, cut_at: int | None = None) -> None:
        size = path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.send_header("Content-Disposition", f'attachment; filename="{path.name}"')
        self.end_headers()
        with open(path, "rb") as handle:
            remaining = size if cut_at is None else cut_at
            while remaining > 0:
                chunk = handle.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return
                remaining -= len(chunk)
        if cut_at is not None:
            self.close_connection = True


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def __init__(self, release: Release) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.release = release
        self.token = uuid.uuid4().hex
        self.hits: list[str] = []


class ReleaseServer:
    """The local server in a background thread; ``url(path)`` gives full addresses."""

    def __init__(self, release: Release) -> None:
        self.release = release
        self._server = _Server(release)
        self._thread = threading.Thread(target=self._server.serve_forever, name="release-server", daemon=True)

    def __enter__(self) -> ReleaseServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    @property
    def hits(self) -> list[str]:
        return self._server.hits

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    @property
    def drive_url(self) -> str:
        return self.url(f"/drive/uc?id={DRIVE_ID}&export=download")


def main() -> None:
    """``python tests/weights_server.py FOLDER``: serve a release until interrupted (for trying the app by hand)."""
    import sys
    import time

    release = write_release(Path(sys.argv[1]))
    with ReleaseServer(release) as server:
        print(server.drive_url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
