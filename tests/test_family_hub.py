"""The three families' weights from a stand-in hub on 127.0.0.1: the good files install and predict, hostile answers
are refused in one line with the weights folder left exactly as it was. No test reaches the real hub: HF_ENDPOINT
points at the stand-in (asserted), the Hugging Face cache is a temporary folder, and telemetry is off."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save

from container_edu.hub import families
from container_edu.hub.family_sources import FAMILY_NAMES, FAMILY_SOURCES
from container_edu.models import FAMILY_MODELS, create_model
from hub_standin import StandInHub, serving_hub
from weights_server import RunsShell

ROOT = Path(__file__).resolve().parents[1]
#: Small configs of each family (the real key names and 1000 classes; a few blocks, few channels).
SMALL = {
    "deit_small": {"embed_dim": 48, "depth": 2, "num_heads": 3},
    "convnext_tiny": {"depths": (1, 1, 1, 1), "dims": (8, 16, 24, 32)},
    "mixer_b16": {"embed_dim": 32, "depth": 2},
}


def _weights(name: str, seed: int = 0) -> bytes:
    torch.manual_seed(seed)
    model = create_model(name, **SMALL[name])
    return save({key: value.contiguous() for key, value in model.state_dict().items()})


def _listing(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with its sha256: what "left as it was" compares."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def hub(tmp_path, monkeypatch):
    with serving_hub(tmp_path, monkeypatch) as standin:
        yield standin


def _publish(hub: StandInHub, name: str, body: bytes, **lies):
    source = FAMILY_SOURCES[name]
    return hub.publish(source.repo_id, source.revision, source.filename, body, **lies)


def test_pins_agree_with_the_models_and_timm_configs():
    assert FAMILY_NAMES == FAMILY_MODELS
    for name, source in FAMILY_SOURCES.items():
        assert source.repo_id == f"timm/{source.timm_name}"
        pre = families.family_preprocessing(name)
        assert (pre.input_size, pre.interpolation) == (224, "bicubic")
        # The file's size follows from the architecture: float32 tensors of create_model(name), as the hub lists.
        nbytes = sum(t.numel() * 4 for t in families.expected_state(name).values())
        listed = float(source.hub_size.split()[0]) * 1e6
        assert abs(nbytes - listed) / listed < 0.005, (name, nbytes, source.hub_size)
    assert families.family_preprocessing("deit_small").resize == 248  # timm deit _cfg: crop_pct 0.9
    assert families.family_preprocessing("convnext_tiny").resize == 256
    assert families.family_preprocessing("mixer_b16").mean == (0.5, 0.5, 0.5)


def test_pins_agree_with_timms_own_pretrained_cfg_in_the_committed_reference():
    """fam-models' tools/timm_reference.py read each tag's pretrained_cfg from timm itself (tests/fixtures)."""
    reference = json.loads((ROOT / "tests" / "fixtures" / "timm_reference.json").read_text())["models"]
    for name, source in FAMILY_SOURCES.items():
        cfg = reference[name]["preprocessing"]
        assert cfg["hf_hub_id"] == source.repo_id
        assert (cfg["crop_pct"], cfg["interpolation"], cfg["crop_mode"]) == (source.crop_pct, "bicubic", "center")
        assert tuple(cfg["mean"]) == source.mean and tuple(cfg["std"]) == source.std
        assert cfg["input_size"] == [3, source.input_size, source.input_size]
        assert reference[name]["parameters"] == sum(p.numel() for p in families.expected_state(name).values())


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_a_published_file_installs_and_loads_strictly(hub, tmp_path, name):
    body = _weights(name)
    published = _publish(hub, name, body)
    folder = tmp_path / "weights"
    steps: list[tuple[int, int | None]] = []
    card = families.fetch_family(name, folder, config=SMALL[name],
                                 progress=lambda done, total: steps.append((done, total)))
    assert steps and steps[-1] == (len(body), len(body))  # the app's progress bar reaches the end
    assert sorted(os.listdir(folder)) == [f"{name}.json", f"{name}.safetensors"]
    assert (folder / f"{name}.safetensors").read_bytes() == body  # the published bytes, unchanged
    assert card.sha256 == hashlib.sha256(body).hexdigest() == card.extra["hub_sha256"]
    assert card.extra["hub_revision"] == FAMILY_SOURCES[name].revision
    assert card.extra["hub_commit"] == published.commit
    assert card.reported_metrics["acc1"] == FAMILY_SOURCES[name].reported_metrics["acc1"]
    assert not card.random_weights
    assert card.preprocessing == families.family_preprocessing(name)
    assert families.installed_families(folder) == {name: card}
    model, loaded = families.load_family(name, folder, device="cpu")
    reference = create_model(name, **SMALL[name])
    from safetensors.torch import load as load_bytes

    reference.load_state_dict(load_bytes(body), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference.eval()(x))
    assert loaded == card


def test_second_fetch_reads_the_cache_and_offline_mode_needs_no_server(hub, tmp_path, monkeypatch):
    _publish(hub, "deit_small", _weights("deit_small"))
    families.fetch_family("deit_small", tmp_path / "a", config=SMALL["deit_small"])
    gets = sum(1 for method, _ in hub.log if method == "GET")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.files.clear()  # even a hub that forgot the file is not asked: the cache answers
    card = families.fetch_family("deit_small", tmp_path / "b", config=SMALL["deit_small"])
    assert card.sha256 == families.installed_families(tmp_path / "a")["deit_small"].sha256
    assert sum(1 for method, _ in hub.log if method == "GET") == gets
    with pytest.raises(families.FamilyWeightsError, match="HF_HUB_OFFLINE is set and .* is not in the Hugging Face"):
        families.fetch_family("mixer_b16", tmp_path / "b", config=SMALL["mixer_b16"])


def _pickle_that_runs_code(marker: Path) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(2), "payload": RunsShell(marker)}, buffer)
    return buffer.getvalue()


def _absurd_header() -> bytes:
    return (1 << 40).to_bytes(8, "little") + b'{"a": {"dtype": "F32"}}' + b"\0" * 64


HOSTILE = {
    "html": (lambda good, marker: {"body": b"<!doctype html><html><body>Sign in to continue</body></html>",
                                   "content_type": "text/html"},
             "is not a safetensors file: it is a web page"),
    "truncated": (lambda good, marker: {"body": good, "send": good[: len(good) * 3 // 5]},
                  "stopped short of the size the hub announced"),
    "wrong_sha256": (lambda good, marker: {"body": good, "announce_sha256": "ab" * 32},
                     "does not match the sha256 the hub announced"),
    "pickle": (lambda good, marker: {"body": _pickle_that_runs_code(marker)},
               r"it is a pickle, not safetensors, and it asks Python to run os.system \(posix.system\); nothing in "
               "it was executed"),
    "absurd_header": (lambda good, marker: {"body": _absurd_header()},
                      "its safetensors header claims 1,099,511,627,776 bytes"),
    "other_architecture": (lambda good, marker: {"body": _weights("convnext_tiny")},
                           "does not fit DeiT-Small/16"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_answers_are_refused_and_change_nothing(hub, tmp_path, monkeypatch, case):
    folder = tmp_path / "weights"
    good = _weights("deit_small")
    # A family already installed must survive a refused fetch of the same family.
    _publish(hub, "deit_small", good)
    families.fetch_family("deit_small", folder, config=SMALL["deit_small"])
    (folder / "notes.txt").write_text("a teacher's file\n")
    before = _listing(folder)
    # A pinned commit is immutable, so the cache would answer without asking the hub: start from an empty cache.
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_second"))
    marker = tmp_path / "pwned"
    answer, expected = HOSTILE[case]
    _publish(hub, "deit_small", **answer(_weights("deit_small", seed=1), marker))
    with pytest.raises(families.FamilyWeightsError, match=expected) as caught:
        families.fetch_family("deit_small", folder, config=SMALL["deit_small"])
    assert "\n" not in str(caught.value)
    assert _listing(folder) == before
    assert not marker.exists()
    # The refused download left the cache too: once the hub serves the right file again, it installs.
    new = _weights("deit_small", seed=2)
    _publish(hub, "deit_small", new)
    assert families.fetch_family("deit_small", folder, config=SMALL["deit_small"]).sha256 == \
        hashlib.sha256(new).hexdigest()


def test_a_commit_other_than_the_pinned_one_is_refused(hub, tmp_path):
    _publish(hub, "mixer_b16", _weights("mixer_b16"), commit="f" * 40)
    with pytest.raises(families.FamilyWeightsError, match="came from commit f{40}, not the pinned c3c4ad9e"):
        families.fetch_family("mixer_b16", tmp_path / "w", config=SMALL["mixer_b16"])
    assert not any((tmp_path / "w").iterdir())


def test_a_pinned_sha256_and_a_server_that_is_no_hub(hub, tmp_path):
    import dataclasses

    body = _weights("deit_small")
    _publish(hub, "deit_small", body)
    pinned = dataclasses.replace(FAMILY_SOURCES["deit_small"], sha256="0" * 64)
    with pytest.raises(families.FamilyWeightsError, match="is not the pinned file: its sha256 is"):
        families.fetch_family("deit_small", tmp_path / "w", config=SMALL["deit_small"], source=pinned)
    _publish(hub, "mixer_b16", _weights("mixer_b16"), commit="")
    with pytest.raises(families.FamilyWeightsError, match="does not answer like a Hugging Face hub"):
        families.fetch_family("mixer_b16", tmp_path / "w", config=SMALL["mixer_b16"])
    assert not any((tmp_path / "w").iterdir())


def test_a_file_announced_too_large_is_not_downloaded(hub, tmp_path):
    published = _publish(hub, "convnext_tiny", _weights("convnext_tiny"), announce_size=50 * 2**30)
    with pytest.raises(families.FamilyWeightsError, match=r"announces model.safetensors as 53,687,091,200 bytes, "
                                                          r"more than the [\d,]+ these weights take"):
        families.fetch_family("convnext_tiny", tmp_path / "w", config=SMALL["convnext_tiny"])
    assert published.requests == ["HEAD"]  # never a GET
    assert not any((tmp_path / "w").iterdir())


def test_missing_file_and_unknown_family_say_so(hub, tmp_path):
    with pytest.raises(families.FamilyWeightsError, match="has no file model.safetensors|answered HTTP 404"):
        families.fetch_family("convnext_tiny", tmp_path / "w", config=SMALL["convnext_tiny"])
    with pytest.raises(families.FamilyWeightsError, match="No family named 'resnet50'"):
        families.fetch_family("resnet50", tmp_path / "w")
    with pytest.raises(families.FamilyNotInstalledError,
                       match="run python -m container_edu weights fetch mixer_b16"):
        families.load_family("mixer_b16", tmp_path / "w")


def test_a_damaged_installed_file_is_not_loaded(hub, tmp_path):
    _publish(hub, "convnext_tiny", _weights("convnext_tiny"))
    folder = tmp_path / "w"
    families.fetch_family("convnext_tiny", folder, config=SMALL["convnext_tiny"])
    path = folder / "convnext_tiny.safetensors"
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(families.FamilyWeightsError, match="does not match its card"):
        families.load_family("convnext_tiny", folder)


def test_import_takes_the_hub_file_and_refuses_a_pickle(tmp_path):
    good = tmp_path / "model.safetensors"
    good.write_bytes(_weights("mixer_b16"))
    folder = tmp_path / "w"
    card = families.import_family(good, "mixer_b16", folder, config=SMALL["mixer_b16"])
    assert card.source.startswith("imported from the file")
    marker = tmp_path / "pwned"
    evil = tmp_path / "pytorch_model.bin"
    evil.write_bytes(_pickle_that_runs_code(marker))
    before = _listing(folder)
    with pytest.raises(families.FamilyWeightsError, match="refused: it asks Python to run code"):
        families.import_family(evil, "mixer_b16", folder, config=SMALL["mixer_b16"])
    assert _listing(folder) == before and not marker.exists()


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "container_edu", *args], capture_output=True, text=True,
                          env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, cwd=ROOT, timeout=300)


def test_command_line_list_predict_inspect_and_refusals(hub, tmp_path):
    folder = tmp_path / "w"
    for name in FAMILY_NAMES:
        _publish(hub, name, _weights(name))
        families.fetch_family(name, folder, config=SMALL[name])
    image = tmp_path / "photo.png"
    Image.new("RGB", (300, 200), (200, 120, 40)).save(image)
    # A cache of its own: the small files fetched above are in the test's cache under the pinned commits.
    env = {"HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "hf_cli"), "HF_HUB_DISABLE_TELEMETRY": "1"}

    listing = _cli("weights", "list", "--dir", str(folder), env=env)
    assert listing.returncode == 0, listing.stderr
    for name in FAMILY_NAMES:
        assert name in listing.stdout

    predicted = _cli("predict", "--model", "deit_small", "--weights-dir", str(folder), "--topk", "3", "--json",
                     str(image), env=env)
    assert predicted.returncode == 0, predicted.stderr
    rows = json.loads(predicted.stdout)
    model, card = families.load_family("deit_small", folder, device="cpu")
    from container_edu.data.transforms import preprocess

    x, _ = preprocess(card, Image.open(image))
    with torch.no_grad():
        probs = torch.softmax(model(x), dim=-1)[0]
    values, indices = torch.topk(probs, 3)
    assert [row["index"] for row in rows] == indices.tolist()
    assert [row["label"] for row in rows] == [card.class_names[i] for i in indices.tolist()]
    for row, value in zip(rows, values.tolist()):
        assert row["probability"] == pytest.approx(value, rel=1e-4)

    out = tmp_path / "maps"
    inspected = _cli("inspect", "--model", "mixer_b16", "--weights-dir", str(folder), "--out", str(out), str(image),
                     env=env)
    assert inspected.returncode == 0, inspected.stderr
    assert (out / "blocks.png").is_file()

    missing = _cli("predict", "--model", "convnext_tiny", "--weights-dir", str(tmp_path / "empty"), str(image), env=env)
    assert missing.returncode == 2
    assert "run python -m container_edu weights fetch convnext_tiny" in missing.stderr
    assert "Traceback" not in missing.stderr and missing.stderr.count("\n") == 1

    _publish(hub, "deit_small", b"<html><body>quota exceeded</body></html>", content_type="text/html")
    before = _listing(folder)
    refused = _cli("weights", "fetch", "deit_small", "--dir", str(folder), env=env)
    assert refused.returncode == 1
    error_lines = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "web page" in error_lines[0], refused.stderr
    assert "Traceback" not in refused.stderr
    assert _listing(folder) == before


def test_ce_inspect_reads_the_installed_families(tmp_path, monkeypatch):
    import container_edu as ce
    from container_edu.record.api import WeightsNotInstalledError

    monkeypatch.setenv("CONTAINER_EDU_WEIGHTS_DIR", str(tmp_path / "w"))
    with pytest.raises(WeightsNotInstalledError, match="run python -m container_edu weights fetch deit_small"):
        ce.inspect("deit_small", np.zeros((40, 60, 3), np.uint8))
    picture = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    for name in FAMILY_NAMES:
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(_weights(name))
        families.import_family(path, name, config=SMALL[name])
    deit = ce.inspect("deit_small", picture)
    model, card = families.load_family("deit_small", device="cpu")
    from container_edu.data.transforms import preprocess

    x, _ = preprocess(card, Image.fromarray(picture))
    with torch.no_grad():
        expected = torch.softmax(model(x), dim=-1)[0].numpy()
    np.testing.assert_allclose(deit.probabilities, expected, rtol=1e-5, atol=1e-7)
    assert deit.prediction[0] == card.class_names[int(expected.argmax())]
    assert deit.row("blocks.1", (7, 7)).shape == (3, 14, 14)  # SMALL: 3 heads on the 14 x 14 patch grid
    row = deit.row("blocks.1", (7, 7), head=2)
    assert row.sum() + deit.recording["blocks.1"].class_weight((7, 7), 2) == pytest.approx(1.0, abs=1e-5)
    assert deit.seen.shape == (224, 224, 3)
    convnext = ce.inspect("convnext_tiny", picture)
    assert convnext.row("stages.0.blocks.0", (0, 0)).shape == (8, 56, 56)  # kernels cut at the border
    mixer = ce.inspect("mixer_b16", picture)
    assert mixer.row("blocks.0", (3, 4)).shape == mixer.row("blocks.0", (3, 4), channel=1).shape == (14, 14)
    assert not np.allclose(mixer.row("blocks.0", (3, 4)), mixer.row("blocks.0", (3, 4), channel=1))
    assert set(FAMILY_NAMES) <= set(ce.available_models())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_installed_family_on_cuda_matches_the_cpu(tmp_path, monkeypatch, name):
    """The loading side of the GPU check: the installed weights, loaded on CUDA (TF32 off through
    ``default_device``), predict within 1e-4 of the CPU, and ``ce.inspect`` records the same rows there."""
    import container_edu as ce

    monkeypatch.setenv("CONTAINER_EDU_WEIGHTS_DIR", str(tmp_path / "w"))
    path = tmp_path / "model.safetensors"
    path.write_bytes(_weights(name))
    families.import_family(path, name, config=SMALL[name])
    picture = np.random.default_rng(1).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    on_cpu, on_gpu = ce.inspect(name, picture, device="cpu"), ce.inspect(name, picture, device="cuda")
    assert next(iter(on_gpu.recording.values())).grid == next(iter(on_cpu.recording.values())).grid
    np.testing.assert_allclose(on_gpu.probabilities, on_cpu.probabilities, atol=1e-4)
    block = on_cpu.blocks[-1]
    np.testing.assert_allclose(on_gpu.row(block, (3, 3)), on_cpu.row(block, (3, 3)), atol=1e-4)


@pytest.fixture(scope="session")
def full_size_deit(tmp_path_factory) -> Path:
    """deit_small at its real size (22,050,664 random float32 parameters, 88.2 MB), written once per session."""
    path = tmp_path_factory.mktemp("full_deit") / "model.safetensors"
    torch.manual_seed(3)
    model = create_model("deit_small")
    from safetensors.torch import save_file

    save_file({key: value.contiguous() for key, value in model.state_dict().items()}, str(path))
    return path


def test_command_line_fetches_and_imports_a_full_size_file(hub, tmp_path, full_size_deit):
    """The pinned path end to end, as a user types it: no test config, the real size, the pinned commit."""
    body = full_size_deit.read_bytes()
    _publish(hub, "deit_small", body)
    env = {"HF_ENDPOINT": hub.endpoint, "HF_HOME": str(tmp_path / "hf_cli"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    fetched = _cli("weights", "fetch", "deit_small", "--dir", str(tmp_path / "a"), env=env)
    assert fetched.returncode == 0, fetched.stderr
    assert f"sha256 {hashlib.sha256(body).hexdigest()}" in fetched.stdout
    card = families.installed_families(tmp_path / "a")["deit_small"]
    assert card.extra["hub_commit"] == FAMILY_SOURCES["deit_small"].revision
    assert card.parameter_count == 22_050_664 and card.config["embed_dim"] == 384
    imported = _cli("weights", "import", str(full_size_deit), "--model", "deit_small", "--dir", str(tmp_path / "b"),
                    env=env)
    assert imported.returncode == 0, imported.stderr
    assert families.installed_families(tmp_path / "b")["deit_small"].sha256 == card.sha256
    with pytest.raises(families.FamilyWeightsError, match="does not fit MLP-Mixer-B/16"):
        families.import_family(full_size_deit, "mixer_b16", tmp_path / "b")
    assert "mixer_b16" not in families.installed_families(tmp_path / "b")


def test_random_stand_in_weights_say_so(tmp_path):
    card = families.install_random_family("convnext_tiny", tmp_path / "w", config=SMALL["convnext_tiny"], seed=4)
    assert card.random_weights and card.source == "random" and card.reported_metrics == {}
    assert sorted(os.listdir(tmp_path / "w")) == ["convnext_tiny.json", "convnext_tiny.safetensors"]
    model, loaded = families.load_family("convnext_tiny", tmp_path / "w", device="cpu")
    assert loaded.random_weights and loaded == card
    again = families.install_random_family("convnext_tiny", tmp_path / "v", config=SMALL["convnext_tiny"], seed=4)
    assert again.sha256 == card.sha256  # seeded: the same stand-in every time
