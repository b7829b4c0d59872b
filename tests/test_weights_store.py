"""``weights fetch / import / list`` against a local stand-in of the authors' release (no internet).

The release is a DeiT-style checkpoint of a randomly initialised
Container-Light (``tests/weights_server.py``), served on 127.0.0.1 directly
and behind a page shaped like Google Drive's large-file warning. Every
refusal must leave the weights folder exactly as it was.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from container_edu.hub import weights_store as store
from container_edu.__main__ import main
from container_edu.hub.cards import read_card
from container_edu.hub.download import DownloadError, download_file, normalise_url
from container_edu.data.imagenet import IMAGENET_MEAN, IMAGENET_STD, imagenet_class_names

from weights_server import DRIVE_ID



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
    """Every entry in ``folder`` (hidden ones too) with the checksum of its bytes, but the empty install lock file."""
    if not folder.exists():
        return {}
    return {p.name: (sha256(p) if p.is_file() else "<dir>") for p in folder.iterdir()
            if not (p.name == store.INSTALL_LOCK_FILE and p.stat().st_size == 0)}


HOLD_THE_INSTALL_LOCK = """
import sys
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire(timeout=0)
print("held", flush=True)
sys.stdin.read()
"""


def other_process_installing(folder: Path) -> subprocess.Popen:
    """Another process (a second app server sharing the folder) holding the install lock until it is killed."""
    folder.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_INSTALL_LOCK, str(folder / store.INSTALL_LOCK_FILE)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


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


def test_every_block_of_the_installed_model_gives_its_maps_at_448(installed):
    """What the Image inspector draws for a block, for all 18 blocks at the largest input size: the maps and their
    figures (without the photo underneath, which costs most and is the same for every block). The app's own test
    draws two of the blocks over the photo (tests/test_app_weights.py)."""
    import numpy as np
    from PIL import Image

    from container_edu.figures.maps import heads_figure, query_maps_figure
    from container_edu.data.input_size import center_crop_input, preprocessing_at, stage_grids
    from container_edu.hub.cards import imagenet_preprocessing
    from container_edu.record.inspection import block_maps, run_inspection

    model = store.load_installed("container_light", installed, device="cpu")
    photo = Image.open(Path(store.__file__).parents[1] / "samples" / "photo_shapes.jpg")
    x, _ = center_crop_input(photo, preprocessing_at(imagenet_preprocessing(), 448))
    with torch.no_grad():
        inspection = run_inspection(model, x.unsqueeze(0))
    assert list(inspection.records) == [f"blocks{stage}.{i}" for stage, depth in zip(range(1, 5), (3, 4, 8, 3))
                                        for i in range(depth)]
    for block in inspection.records:
        grid = stage_grids(448)[int(block[len("blocks")]) - 1]
        maps = block_maps(inspection, block, 0, (grid[0] // 2, grid[1] // 2))
        assert maps.grid == grid, block
        assert maps.parts == (["attention", "static", "blended"] if block.startswith("blocks4") else ["static"])
        for part in maps.parts:
            rows = getattr(maps, f"{part}_heads")
            assert rows.shape[1:] == grid and np.isfinite(rows).all(), (block, part)
            heads_figure(maps, part)
        if maps.attention_heads is not None:
            np.testing.assert_allclose(maps.attention_heads.sum(axis=(1, 2)), 1.0, rtol=1e-5)
        title = query_maps_figure(maps).layout.title.text
        assert f"Block {block}, head 0, query ({grid[0] // 2}, {grid[1] // 2}) on the {grid[0]}×{grid[1]} grid" in title


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
    folder = tmp_path / "w"
    leftover = folder / ".container_light.partial-abc123"
    leftover.mkdir(parents=True)
    (leftover / "download.pth").write_bytes(b"half")
    store.import_checkpoint(release.checkpoint, folder)
    assert set(snapshot(folder)) == {"container_light.safetensors", "container_light.json"}


def test_one_install_at_a_time_across_processes_and_a_killed_one_frees_the_folder(release, tmp_path):
    folder = tmp_path / "w"
    holder = other_process_installing(folder)
    try:
        with pytest.raises(store.WeightsError, match="already being installed"):
            store.import_checkpoint(release.checkpoint, folder)
        assert snapshot(folder) == {}
    finally:
        holder.kill()  # as a crash would: the process never releases the lock itself
        holder.wait(30)
    store.import_checkpoint(release.checkpoint, folder)
    assert set(snapshot(folder)) == {"container_light.safetensors", "container_light.json"}


def test_installs_into_different_folders_do_not_wait_for_each_other(release, tmp_path):
    holder = other_process_installing(tmp_path / "busy")
    try:
        store.import_checkpoint(release.checkpoint, tmp_path / "free")
    finally:
        holder.kill()
        holder.wait(30)
    assert store.installed_card(tmp_path / "free") is not None


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
    """A second fetch into the folder while one is downloading (two app sessions clicking) is refused; the first
    completes."""
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
        before = snapshot(tmp_path / "a")
        with pytest.raises(store.WeightsError, match="already being installed"):
            store.fetch(server.url("/file/container_light.pth"), tmp_path / "a")
        assert snapshot(tmp_path / "a") == before  # the refused fetch touched nothing, the first one's work included
    finally:
        second_tried.set()
        thread.join(120)
    assert not errors
    assert store.installed_card(tmp_path / "a") is not None


# --------------------------------------------------------------------------
# The command line, in this process (tests/test_cli_predict.py runs it as a real process)
# --------------------------------------------------------------------------


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """``python -m container_edu ARGS`` as ``main(ARGS)`` in this process, with ``env`` added to the environment."""
    def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        with monkeypatch.context() as patched:
            for name, value in (env or {}).items():
                patched.setenv(name, value)
            capsys.readouterr()
            code = main([str(arg) for arg in args])
            captured = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, captured.out, captured.err)
    return run


@pytest.fixture
def cli(run_cli):
    """``python -m container_edu weights ARGS``."""
    return lambda *args, env=None: run_cli("weights", *args, env=env)


def test_cli_fetch_then_list(cli, server, tmp_path):
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


def test_cli_failure_is_one_line_and_nonzero(cli, server, tmp_path):
    folder = tmp_path / "w"
    done = cli("fetch", "--url", server.url("/drive/quota?id=x"), "--dir", folder)
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: Download failed: the host answered with a web page")
    assert "Traceback" not in done.stderr
    assert snapshot(folder) == {}


def test_cli_import_refuses_code_and_env_names_the_folder(cli, release, server, tmp_path):
    folder = tmp_path / "shared"
    done = cli("import", release.evil, env={store.DIR_ENV: str(folder)})
    assert done.returncode != 0 and "os.system" in done.stderr and "Traceback" not in done.stderr
    assert not release.marker.exists()
    done = cli("fetch", env={store.DIR_ENV: str(folder), store.URL_ENV: server.url("/file/container_light.pth")})
    assert done.returncode == 0, done.stderr
    assert store.installed_card(folder) is not None
    assert cli("list", env={store.DIR_ENV: str(folder)}).stdout.startswith(f"weights folder: {folder}")


def test_cli_list_without_weights_says_how_to_get_them(cli, tmp_path):
    done = cli("list", "--dir", tmp_path / "none")
    assert done.returncode == 0
    assert "container_light (ImageNet, the authors' weights): not installed" in done.stdout
    assert "weights fetch" in done.stdout


# --------------------------------------------------------------------------
# Found everywhere after: predict and inspect without --checkpoint
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    import numpy as np
    from PIL import Image

    yy, xx = np.mgrid[0:300, 0:400]
    pixels = np.stack([xx * 255 // 399, yy * 255 // 299, (xx * yy) % 256], axis=-1).astype(np.uint8)
    path = tmp_path_factory.mktemp("photo") / "photo.png"
    Image.fromarray(pixels).save(path)
    return path


def test_predict_finds_the_installed_weights(run_cli, installed, photo):
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


def test_inspect_finds_the_installed_weights(run_cli, installed, photo, tmp_path):
    done = run_cli("inspect", "--model", "container_light", "--weights-dir", installed, photo, "--out", tmp_path,
                   "--block", "blocks1.0", "--device", "cpu")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "heads.png").is_file() and list(tmp_path.glob("blocks1.0_y28_x28_conv_head*.png"))


def test_predict_without_installed_weights_says_how_to_get_them(run_cli, photo, tmp_path):
    done = run_cli("predict", "--model", "container_light", "--weights-dir", tmp_path, photo)
    assert done.returncode == 2
    assert done.stderr.startswith("error: The ImageNet weights are not installed in") and "weights fetch" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
