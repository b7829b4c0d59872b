"""``weights fetch / import / list`` against a local stand-in of the authors' release (no internet).

The release is a DeiT-style checkpoint of a randomly initialised
Container-Light (``tests/weights_server.py``), served on 127.0.0.1 directly
and behind a page shaped like Google Drive's large-file warning. Every
refusal must leave the weights folder exactly as it was.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from container_edu.hub import weights_store as store
from container_edu.hub.cards import read_card
from container_edu.hub.download import DownloadError, download_file, normalise_url
from container_edu.data.imagenet import IMAGENET_MEAN, IMAGENET_STD, imagenet_class_names

from weights_server import DRIVE_ID, Release, ReleaseServer, write_release

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def release(tmp_path_factory) -> Release:
    return write_release(tmp_path_factory.mktemp("release"))


@pytest.fixture(scope="module")
def server(release):
    with ReleaseServer(release) as running:
        yield running


@pytest.fixture(scope="module")
def installed(server, tmp_path_factory) -> Path:
    """A folder with the release fetched into it once (tests that only read it share it)."""
    folder = tmp_path_factory.mktemp("installed")
    store.fetch(server.url("/file/container_light.pth"), folder)
    return folder


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_release(path: Path) -> dict:
    with torch.serialization.safe_globals([argparse.Namespace]):
        return torch.load(path, weights_only=True)


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry in ``folder`` (hidden ones too) with the checksum of its bytes."""
    if not folder.exists():
        return {}
    return {p.name: (sha256(p) if p.is_file() else "<dir>") for p in folder.iterdir()}


# --------------------------------------------------------------------------
# What gets installed
# --------------------------------------------------------------------------


def test_fetch_installs_the_model_entry_with_a_typed_card(installed, release, server):
    assert set(snapshot(installed)) == {"container_light.safetensors", "container_light.json"}
    card = read_card(installed / "container_light.json")
    assert card.name == "container_light" and card.architecture == "container_light"
    assert card.source == server.url("/file/container_light.pth")
    assert card.sha256 == sha256(installed / "container_light.safetensors")
    assert card.extra["original_sha256"] == sha256(release.checkpoint)
    assert card.extra["original_size"] == release.checkpoint.stat().st_size
    assert card.extra["checkpoint_entry"] == "model"
    assert card.extra["original_file"] == "container_light.pth"  # the server's name, not the temporary one
    assert card.reported_metrics == {"acc1": 82.3, "acc5": 96.2}
    assert "as reported by the authors, not measured here" in card.notes
    assert "'model' entry" in card.notes and "model_ema" in card.notes
    assert card.metrics == {}  # nothing measured here
    pre = card.preprocessing
    assert (pre.input_size, pre.resize, pre.interpolation, pre.mode) == (224, 256, "bicubic", "shorter_side_center_crop")
    assert pre.mean == IMAGENET_MEAN and pre.std == IMAGENET_STD
    assert list(card.class_names) == imagenet_class_names() and len(card.class_names) == 1000
    assert card.parameter_count == sum(p.numel() for p in store.load_installed(directory=installed).parameters())


def test_installed_weights_are_the_model_entry_bit_for_bit(installed, release):
    checkpoint = load_release(release.checkpoint)
    weights = load_file(installed / "container_light.safetensors")
    assert weights.keys() == checkpoint["model"].keys()
    for key, value in checkpoint["model"].items():
        assert torch.equal(weights[key], value), key
    assert not torch.equal(weights["head.weight"], checkpoint["model_ema"]["head.weight"])  # the EMA differs


def test_load_installed_predicts_like_the_checkpoint(installed, release):
    from container_edu.hub.checkpoints import load_official_checkpoint

    model = store.load_installed("container_light", installed, device="cpu")
    reference = load_official_checkpoint(release.checkpoint, device="cpu")
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=0)
    assert not model.training


def test_drive_confirmation_page_is_followed(server, release, tmp_path):
    before = len(server.hits)
    card = store.fetch(server.drive_url, tmp_path)
    assert server.hits[before] == "/drive/uc" and "/drive/download" in server.hits[before + 1:]
    assert card.extra["original_sha256"] == sha256(release.checkpoint)
    assert set(snapshot(tmp_path)) == {"container_light.safetensors", "container_light.json"}


def test_drive_share_links_become_download_addresses():
    share = f"https://drive.google.com/file/d/{DRIVE_ID}/view?usp=sharing"  # the README's link
    assert normalise_url(share) == store.DEFAULT_URL
    assert normalise_url("https://example.org/mirror/container_light.pth") == "https://example.org/mirror/container_light.pth"


def test_import_installs_and_leaves_the_file_alone(release, tmp_path):
    before = sha256(release.checkpoint)
    card = store.import_checkpoint(release.checkpoint, tmp_path / "w")
    assert sha256(release.checkpoint) == before
    assert card.source == f"imported from the file {release.checkpoint.resolve()}"
    assert store.installed_card(tmp_path / "w") == card


def test_ema_only_checkpoint_says_which_entry(release, tmp_path):
    checkpoint = load_release(release.checkpoint)
    path = tmp_path / "ema_only.pth"
    torch.save({"model_ema": checkpoint["model_ema"], "epoch": 3}, path)
    card = store.import_checkpoint(path, tmp_path / "w")
    assert card.extra["checkpoint_entry"] == "model_ema"
    assert "no 'model' entry" in card.notes
    weights = load_file(tmp_path / "w" / "container_light.safetensors")
    assert torch.equal(weights["head.weight"], checkpoint["model_ema"]["head.weight"])


# --------------------------------------------------------------------------
# Refusals: one line, nothing left behind, a previous install untouched
# --------------------------------------------------------------------------

REFUSALS = {
    "drive quota page": ("/drive/quota?id=x", r"web page instead of the checkpoint, saying: \"Too many users"),
    "html error page": ("/missing", r"web page \(HTTP 404\), not the checkpoint"),
    "truncated file": ("/truncated.pth", r"The downloaded file is truncated or corrupt"),
    "connection cut": ("/cut.pth", r"connection to 127\.0\.0\.1:\d+ closed after \d+ MB of \d+ MB"),
    "code-running pickle": ("/evil.pth", r"asks Python to run code that is not allowed .*os\.system"),
    "other architecture": ("/zoo.pth", r"does not fit Container-Light: \d+ keys the model needs are missing .* "
                                       r"saved from a different architecture"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
@pytest.mark.parametrize("start", ["empty", "installed"])
def test_refusals_leave_the_folder_as_it_was(case, start, server, release, installed, tmp_path):
    path, pattern = REFUSALS[case]
    folder = tmp_path / "w"
    folder.mkdir()
    if start == "installed":
        for name in ("container_light.safetensors", "container_light.json"):
            (folder / name).write_bytes((installed / name).read_bytes())
    before = snapshot(folder)
    with pytest.raises(store.WeightsError, match=pattern) as caught:
        store.fetch(server.url(path), folder)
    assert "\n" not in str(caught.value)
    assert snapshot(folder) == before
    assert not release.marker.exists()  # the pickle's command never ran
    if start == "installed":
        assert store.load_installed(directory=folder) is not None


def test_no_connection(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(store.WeightsError, match=rf"could not connect to 127\.0\.0\.1:{port}"):
        store.fetch(f"http://127.0.0.1:{port}/container_light.pth", tmp_path / "w")
    assert snapshot(tmp_path / "w") == {}


def test_not_an_http_address(tmp_path):
    with pytest.raises(store.WeightsError, match="not an http"):
        store.fetch("file:///etc/passwd", tmp_path / "w")


def test_too_large_is_refused_before_the_body(server, tmp_path):
    with pytest.raises(DownloadError, match="more than the 0 MB"):
        download_file(server.url("/file/container_light.pth"), tmp_path / "x.pth", max_bytes=1000)
    assert not (tmp_path / "x.pth").exists()


def test_interrupted_download_leaves_nothing(server, tmp_path):
    calls = []

    def progress(done, total):
        calls.append((done, total))
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the transfer

    with pytest.raises(KeyboardInterrupt):
        store.fetch(server.url("/file/container_light.pth"), tmp_path / "w", progress=progress)
    assert calls[0][1] == calls[-1][1] and calls[-1][0] < calls[-1][1]  # stopped partway, total was known
    assert snapshot(tmp_path / "w") == {}


def test_leftovers_of_a_killed_install_are_removed(release, tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    folder = tmp_path / "w"
    leftover = folder / f".container_light.partial-{dead_pid}-abc123"
    leftover.mkdir(parents=True)
    (leftover / "download.pth").write_bytes(b"half")
    store.import_checkpoint(release.checkpoint, folder)
    assert set(snapshot(folder)) == {"container_light.safetensors", "container_light.json"}


def test_one_install_at_a_time(release, tmp_path):
    with store._INSTALL_LOCK:
        with pytest.raises(store.WeightsError, match="already being installed"):
            store.import_checkpoint(release.checkpoint, tmp_path / "w")
    assert snapshot(tmp_path / "w") == {}


def test_missing_file_to_import(tmp_path):
    with pytest.raises(store.WeightsError, match="No file at"):
        store.import_checkpoint(tmp_path / "nope.pth", tmp_path / "w")


# --------------------------------------------------------------------------
# Listing, loading, the folder
# --------------------------------------------------------------------------


def test_list_shows_installed_and_bundled_with_real_checksums(installed):
    from container_edu.hub.bundled import WEIGHTS_DIR

    listed = store.list_installed(installed)
    mine = [item for item in listed if item.kind == "installed"]
    assert [item.name for item in mine] == ["container_light"]
    assert mine[0].sha256 == sha256(installed / "container_light.safetensors") and mine[0].intact
    bundled = {item.name: item for item in listed if item.kind == "bundled"}
    assert set(bundled) == {p.stem for p in WEIGHTS_DIR.glob("*.safetensors")}
    for item in bundled.values():
        assert item.sha256 == sha256(item.weights_path) and item.size == item.weights_path.stat().st_size


def test_damaged_weights_are_detected(installed, tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    for name in ("container_light.safetensors", "container_light.json"):
        (folder / name).write_bytes((installed / name).read_bytes())
    data = bytearray((folder / "container_light.safetensors").read_bytes())
    data[-5] ^= 0xFF
    (folder / "container_light.safetensors").write_bytes(bytes(data))
    with pytest.raises(store.WeightsError, match="does not match its card"):
        store.load_installed(directory=folder)
    assert not [item for item in store.list_installed(folder) if item.kind == "installed"][0].intact


def test_not_installed(tmp_path):
    assert store.installed_card(tmp_path) is None
    with pytest.raises(store.WeightsError, match="not installed .*weights fetch"):
        store.load_installed(directory=tmp_path)


def test_weights_folder_precedence(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.delenv(store.DIR_ENV, raising=False)
    assert store.weights_dir() == Path(platformdirs.user_data_dir("container_edu", appauthor=False)) / "weights"
    monkeypatch.setenv(store.DIR_ENV, str(tmp_path / "shared"))
    assert store.weights_dir() == tmp_path / "shared"
    assert store.weights_dir(tmp_path / "given") == tmp_path / "given"


def test_default_url(monkeypatch):
    monkeypatch.delenv(store.URL_ENV, raising=False)
    assert store.default_url() == f"https://drive.google.com/uc?id={DRIVE_ID}&export=download"
    monkeypatch.setenv(store.URL_ENV, "http://127.0.0.1:1/mirror.pth")
    assert store.default_url() == "http://127.0.0.1:1/mirror.pth"


def test_installed_size_counts_every_tensor(installed):
    weights = load_file(installed / "container_light.safetensors")
    assert store.installed_size() == sum(t.numel() * t.element_size() for t in weights.values())


def test_concurrent_fetches_give_one_clear_refusal(server, tmp_path):
    """A second fetch while one is downloading (two app sessions clicking) is refused; the first completes."""
    errors: list[BaseException] = []
    downloading, second_tried = threading.Event(), threading.Event()

    def hold_the_download(done, total):
        downloading.set()
        second_tried.wait(60)

    def first():
        try:
            store.fetch(server.url("/file/container_light.pth"), tmp_path / "a", progress=hold_the_download)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert downloading.wait(60)
        with pytest.raises(store.WeightsError, match="already being installed"):
            store.fetch(server.url("/file/container_light.pth"), tmp_path / "b")
    finally:
        second_tried.set()
        thread.join(120)
    assert not errors
    assert store.installed_card(tmp_path / "a") is not None
    assert snapshot(tmp_path / "b") == {}


# --------------------------------------------------------------------------
# The command line (a real subprocess, as a user runs it)
# --------------------------------------------------------------------------


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "container_edu", "weights", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def test_cli_fetch_then_list(server, tmp_path):
    folder = tmp_path / "w"
    done = cli("fetch", "--url", server.drive_url, "--dir", folder)
    assert done.returncode == 0, done.stderr
    assert f"installed container_light in {folder}" in done.stdout
    assert "as reported by the authors, not measured here" in done.stdout
    listing = cli("list", "--dir", folder)
    assert listing.returncode == 0, listing.stderr
    digest = sha256(folder / "container_light.safetensors")
    assert any(line.split()[:2] == ["container_light", "installed"] and digest in line
               for line in listing.stdout.splitlines())
    assert any(line.split()[:2] == ["fmnist_container_light", "bundled"] for line in listing.stdout.splitlines())


def test_cli_failure_is_one_line_and_nonzero(server, tmp_path):
    folder = tmp_path / "w"
    done = cli("fetch", "--url", server.url("/drive/quota?id=x"), "--dir", folder)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: Download failed: the host answered with a web page")
    assert "Traceback" not in done.stderr
    assert snapshot(folder) == {}


def test_cli_import_refuses_code_and_env_names_the_folder(release, server, tmp_path):
    folder = tmp_path / "shared"
    done = cli("import", release.evil, env={store.DIR_ENV: str(folder)})
    assert done.returncode != 0 and "os.system" in done.stderr and "Traceback" not in done.stderr
    assert not release.marker.exists()
    done = cli("fetch", env={store.DIR_ENV: str(folder), store.URL_ENV: server.url("/file/container_light.pth")})
    assert done.returncode == 0, done.stderr
    assert store.installed_card(folder) is not None
    assert cli("list", env={store.DIR_ENV: str(folder)}).stdout.startswith(f"weights folder: {folder}")


def test_cli_list_without_weights_says_how_to_get_them(tmp_path):
    done = cli("list", "--dir", tmp_path / "none")
    assert done.returncode == 0
    assert "container_light (ImageNet, the authors' weights): not installed" in done.stdout
    assert "weights fetch" in done.stdout


# --------------------------------------------------------------------------
# Found everywhere after: predict and inspect without --checkpoint
# --------------------------------------------------------------------------


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "container_edu", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    import numpy as np
    from PIL import Image

    yy, xx = np.mgrid[0:300, 0:400]
    pixels = np.stack([xx * 255 // 399, yy * 255 // 299, (xx * yy) % 256], axis=-1).astype(np.uint8)
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.fromarray(pixels).save(path)
    return path


def test_predict_finds_the_installed_weights(installed, photo):
    import json

    from PIL import Image

    from container_edu.data.transforms import imagenet_transform

    done = run_cli("predict", "--model", "container_light", "--weights-dir", installed, photo, "--json",
                   "--device", "cpu")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    model = store.load_installed(directory=installed, device="cpu")
    with torch.no_grad():
        probs = torch.softmax(model(imagenet_transform(Image.open(photo)).unsqueeze(0)), -1)[0]
    top = torch.topk(probs, 5)
    assert [row["index"] for row in rows] == top.indices.tolist()
    assert [row["label"] for row in rows] == [imagenet_class_names()[i] for i in top.indices.tolist()]
    torch.testing.assert_close(torch.tensor([row["probability"] for row in rows]), top.values, rtol=1e-4, atol=1e-6)
    by_env = run_cli("predict", "--model", "container_light", photo, "--json", "--device", "cpu",
                     env={store.DIR_ENV: str(installed)})
    assert by_env.returncode == 0 and json.loads(by_env.stdout) == rows


def test_inspect_finds_the_installed_weights(installed, photo, tmp_path):
    done = run_cli("inspect", "--model", "container_light", "--weights-dir", installed, photo, "--out", tmp_path,
                   "--block", "blocks1.0", "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "heads.png").is_file() and list(tmp_path.glob("blocks1.0_y28_x28_conv_head*.png"))


def test_predict_without_installed_weights_says_how_to_get_them(photo, tmp_path):
    done = run_cli("predict", "--model", "container_light", "--weights-dir", tmp_path, photo)
    assert done.returncode == 2
    assert done.stderr.startswith("error: The ImageNet weights are not installed in") and "weights fetch" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
