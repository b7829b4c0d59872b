"""Safe checkpoint loading: every wrapper loads strictly, every bad file gets a clear CheckpointError."""

from __future__ import annotations

import argparse
import io
import os
import pickle
import threading
from pathlib import Path

import pytest
import torch
from torch import nn

from container_edu.hub.checkpoints import (
    CHECKPOINT_MAX_BYTES,
    SAFE_CHECKPOINT_GLOBALS,
    CheckpointError,
    load_checkpoint_state_dict,
    load_model_checkpoint,
    load_official_checkpoint,
    load_uploaded_checkpoint,
)
from container_edu.models import create_model


# --------------------------------------------------------------------------
# Fixtures: one random Container-Light, saved once per module
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    model = create_model("container_light")
    with torch.no_grad():  # make BatchNorm buffers and sa_weight differ from a fresh model's
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and ("running" in name or name.endswith("sa_weight")):
                tensor.uniform_(0.5, 1.5)
    return {key: value.clone() for key, value in model.state_dict().items()}


@pytest.fixture(scope="module")
def bare_path(tmp_path_factory, source_state) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "bare.pth"
    torch.save(source_state, path)
    return path


@pytest.fixture(scope="module")
def target_model() -> nn.Module:
    """A second Container-Light, reused by the loading tests (each load overwrites all of it)."""
    torch.manual_seed(1)
    return create_model("container_light")


def _deit_extras() -> dict:
    """Everything a DeiT-style training checkpoint holds besides the weights."""
    tiny = nn.Linear(4, 3)
    optimizer = torch.optim.AdamW(tiny.parameters(), lr=1e-3, weight_decay=0.05, betas=(0.9, 0.999))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=300)
    tiny(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    scheduler.step()
    timm_like_scheduler = {  # what timm's CosineLRScheduler.state_dict() returns: plain values
        "param_group_field": "lr", "t_initial": 300, "lr_min": 1e-5, "cycle_mul": 1.0,
        "warmup_t": 5, "warmup_lr_init": 1e-6, "warmup_prefix": False, "noise_range_t": None,
        "noise_pct": 0.67, "noise_seed": 42, "base_values": [0.001], "update_groups": [0.001],
    }
    args = argparse.Namespace(
        model="container_v1_light", batch_size=128, epochs=300, lr=0.001, input_size=224,
        drop_path=0.1, model_ema=True, model_ema_decay=0.99996, opt="adamw", opt_eps=1e-8,
        opt_betas=None, clip_grad=None, sched="cosine", lr_noise=None, color_jitter=0.4,
        aa="rand-m9-mstd0.5-inc1", smoothing=0.1, train_interpolation="bicubic", reprob=0.25,
        mixup=0.8, cutmix=1.0, cutmix_minmax=None, data_path="/datasets/imagenet",
        data_set="IMNET", output_dir="./output", device="cuda", seed=0, resume="",
        start_epoch=0, eval=False, dist_eval=False, num_workers=10, pin_mem=True,
        world_size=8, dist_url="env://", distributed=True, gpu=0, rank=0,
        dist_backend="nccl", nested={"a": [1, 2.5, None, True]}, mean=(0.485, 0.456, 0.406),
    )
    return {
        "optimizer": optimizer.state_dict(),
        "lr_scheduler": scheduler.state_dict(),
        "timm_scheduler": timm_like_scheduler,
        "epoch": 299,
        "scaler": torch.amp.GradScaler("cpu").state_dict(),
        "args": args,
        "max_accuracy": 80.1,
    }


def _assert_loaded(model: nn.Module, source: dict[str, torch.Tensor]) -> None:
    state = model.state_dict()
    assert set(state) == set(source)
    for key in ("patch_embed1.proj.weight", "blocks4.2.sa_weight", "blocks4.0.norm1.running_mean", "head.weight"):
        assert torch.equal(state[key], source[key]), key


# --------------------------------------------------------------------------
# Every wrapper loads strictly
# --------------------------------------------------------------------------

WRAPPERS = {
    "bare": lambda sd: sd,
    "model": lambda sd: {"model": sd, "epoch": 3},
    "state_dict": lambda sd: {"state_dict": sd, "epoch": 3},
    "module_prefix": lambda sd: {"model": {f"module.{k}": v for k, v in sd.items()}},
    "model_ema_only": lambda sd: {"model_ema": {f"module.{k}": v for k, v in sd.items()}, "epoch": 3},
}


@pytest.mark.parametrize("wrapper", sorted(WRAPPERS))
def test_each_wrapper_loads_strictly(wrapper, tmp_path, source_state, target_model):
    path = tmp_path / f"{wrapper}.pth"
    torch.save(WRAPPERS[wrapper](source_state), path)
    loaded = load_model_checkpoint(path, target_model)
    assert loaded is target_model
    _assert_loaded(target_model, source_state)


def test_model_wins_over_model_ema():
    model, ema = {"w": torch.ones(3)}, {"w": torch.zeros(3)}
    state = load_checkpoint_state_dict(_to_bytes({"model_ema": ema, "model": model, "epoch": 1}))
    assert torch.equal(state["w"], model["w"])


def test_compile_and_data_parallel_prefixes_are_removed():
    state = load_checkpoint_state_dict(_to_bytes({"state_dict": {"module._orig_mod.w": torch.ones(1)}}))
    assert list(state) == ["w"]
    # a prefix on only some keys is part of the names, not a wrapper
    state = load_checkpoint_state_dict(_to_bytes({"module.w": torch.ones(1), "b": torch.ones(1)}))
    assert sorted(state) == ["b", "module.w"]


def test_legacy_torch_format_loads(source_state):
    buffer = io.BytesIO()
    torch.save({"model": {"w": torch.arange(3.0)}, "args": argparse.Namespace(lr=0.1)}, buffer,
               _use_new_zipfile_serialization=False)
    assert torch.equal(load_checkpoint_state_dict(buffer.getvalue())["w"], torch.arange(3.0))


def test_full_deit_checkpoint_loads_with_only_the_allowed_extra_types(tmp_path, source_state):
    checkpoint = {"model": source_state, "model_ema": source_state, **_deit_extras()}
    path = tmp_path / "deit.pth"
    torch.save(checkpoint, path)
    # Outside our loader, the only thing weights_only would refuse is the Namespace of args ...
    assert sorted(torch.serialization.get_unsafe_globals_in_checkpoint(str(path))) == ["argparse.Namespace"]
    assert SAFE_CHECKPOINT_GLOBALS == (argparse.Namespace,)
    # ... and our loader allows exactly that, without leaving it allowed afterwards.
    # torch keeps the allow-list in a set, so its order is arbitrary: compare contents.
    before = sorted(map(repr, torch.serialization.get_safe_globals()))
    model = load_official_checkpoint(path, device="cpu")
    assert sorted(map(repr, torch.serialization.get_safe_globals())) == before
    assert not model.training
    assert next(model.parameters()).device.type == "cpu"
    _assert_loaded(model, source_state)


def test_bytes_and_file_like_sources(source_state):
    small = {"weight": torch.arange(6.0).reshape(2, 3), "bias": torch.ones(2)}
    data = _to_bytes({"model": small, "args": argparse.Namespace(lr=0.1)})
    for source in (data, bytearray(data), memoryview(data)):
        assert torch.equal(load_checkpoint_state_dict(source)["weight"], small["weight"])
    assert torch.equal(load_checkpoint_state_dict(io.BytesIO(data))["bias"], small["bias"])
    assert torch.equal(load_uploaded_checkpoint(io.BytesIO(data), max_bytes=len(data))["bias"], small["bias"])
    linear = nn.Linear(3, 2)
    load_model_checkpoint(io.BytesIO(data), linear)
    assert torch.equal(linear.weight.detach(), small["weight"])


def test_uploads_write_nothing_to_disk(tmp_path, monkeypatch):
    import tempfile

    def forbidden(*args, **kwargs):
        raise AssertionError("an upload must not touch the file system")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", forbidden)
    monkeypatch.setattr(tempfile, "mkstemp", forbidden)
    data = _to_bytes({"w": torch.ones(3)})
    assert torch.equal(load_uploaded_checkpoint(io.BytesIO(data))["w"], torch.ones(3))


def test_concurrent_loads_do_not_disturb_each_other():
    data = _to_bytes({"model": {"w": torch.ones(4)}, "args": argparse.Namespace(lr=0.1)})
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(10):
                assert torch.equal(load_checkpoint_state_dict(data)["w"], torch.ones(4))
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors


# --------------------------------------------------------------------------
# Wrong architecture, wrong head
# --------------------------------------------------------------------------


def test_wrong_architecture_names_missing_and_unexpected_keys(tmp_path, source_state):
    zoo_state = create_model("fmnist_conv").state_dict()
    path = tmp_path / "zoo.pth"
    torch.save({"model": zoo_state}, path)
    missing = [key for key in source_state if key not in zoo_state]
    unexpected = [key for key in zoo_state if key not in source_state]
    with pytest.raises(CheckpointError) as info:
        load_official_checkpoint(path, device="cpu")
    message = str(info.value)
    assert "Container-Light" in message
    assert f"{len(missing)} keys the model needs are missing ({', '.join(missing[:10])}, ... and" in message
    assert f"{len(unexpected)} keys in the checkpoint are not in the model ({unexpected[0]}" in message
    assert "blocks2.0.mix.weight" in message
    assert "wrong shape" in message
    assert "patch_embed1.proj.weight: checkpoint (32, 1, 2, 2), model (64, 3, 4, 4)" in message


def test_other_number_of_classes_is_named(tmp_path, source_state):
    state = dict(source_state)
    state["head.weight"] = torch.zeros(10, 512)
    state["head.bias"] = torch.zeros(10)
    with pytest.raises(CheckpointError, match="10 classes.*1000"):
        load_official_checkpoint(_to_bytes({"model": state}), device="cpu")


def test_missing_key_is_listed(target_model, source_state):
    state = {key: value for key, value in source_state.items() if key != "blocks4.1.sa_weight"}
    with pytest.raises(CheckpointError, match=r"1 keys the model needs are missing \(blocks4.1.sa_weight\)"):
        load_model_checkpoint(_to_bytes(state), target_model)


# --------------------------------------------------------------------------
# Bad files
# --------------------------------------------------------------------------


def test_missing_empty_and_folder(tmp_path):
    with pytest.raises(CheckpointError, match="No checkpoint found"):
        load_checkpoint_state_dict(tmp_path / "nope.pth")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint_state_dict(tmp_path / "empty.pth")
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint_state_dict(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_uploaded_checkpoint(io.BytesIO(b""))
    with pytest.raises(CheckpointError, match="folder"):
        load_checkpoint_state_dict(tmp_path)


@pytest.mark.parametrize("cut", [0.5, 0.99])
def test_truncated_checkpoint(tmp_path, bare_path, cut):
    data = bare_path.read_bytes()
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint_state_dict(truncated)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint_state_dict(data[:1000])


def test_corrupt_zip_member(source_state):
    data = bytearray(_to_bytes({"w": torch.ones(1000)}))
    index = data.find(b"data.pkl")
    data[index + 200 : index + 260] = b"\xff" * 60  # scribble over the pickle
    with pytest.raises(CheckpointError, match="truncated or corrupt|refused|not a PyTorch"):
        load_checkpoint_state_dict(bytes(data))


@pytest.mark.parametrize(
    ("content", "hint"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "PNG image"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 64, "JPEG image"),
        (b"epoch,loss\n1,0.5\n", "text file"),
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "web page"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1\n", "Git LFS pointer"),
    ],
)
def test_not_a_checkpoint(tmp_path, content, hint):
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint") as info:
        load_checkpoint_state_dict(path)
    assert hint in str(info.value)


def test_plain_pickle_of_numbers_is_not_a_checkpoint():
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_checkpoint_state_dict(pickle.dumps([1, 2, 3], protocol=4))


def test_dict_without_tensors():
    with pytest.raises(CheckpointError, match="no tensors"):
        load_checkpoint_state_dict(_to_bytes({"epoch": 3, "args": argparse.Namespace(lr=0.1)}))
    with pytest.raises(CheckpointError, match="'model' entry holds no tensors"):
        load_checkpoint_state_dict(_to_bytes({"model": {}, "epoch": 3}))
    with pytest.raises(CheckpointError, match="not a dict"):
        load_checkpoint_state_dict(_to_bytes([torch.ones(2)]))


def test_size_cap(tmp_path):
    data = _to_bytes({"w": torch.ones(1000)})
    path = tmp_path / "w.pth"
    path.write_bytes(data)
    assert CHECKPOINT_MAX_BYTES == 512 * 1024 * 1024
    for source in (path, data, io.BytesIO(data)):
        with pytest.raises(CheckpointError, match="too large"):
            load_checkpoint_state_dict(source, max_bytes=len(data) - 1)
    with pytest.raises(CheckpointError, match="too large"):
        load_uploaded_checkpoint(io.BytesIO(data), max_bytes=100)
    assert "w" in load_checkpoint_state_dict(path, max_bytes=len(data))


class _ReadCounter(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def test_size_cap_reads_at_most_one_byte_more():
    stream = _ReadCounter(b"\0" * 10_000)
    with pytest.raises(CheckpointError, match="too large"):
        load_uploaded_checkpoint(stream, max_bytes=1000)
    assert stream.bytes_read == 1001


# --------------------------------------------------------------------------
# Code-running pickles are refused, and do not run
# --------------------------------------------------------------------------


class _RunsShell:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


class _RunsExec:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import builtins

        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').close()",))


class _RunsEval:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import builtins

        return (builtins.eval, (f"open({str(self.marker)!r}, 'w').close()",))


PAYLOADS = {"os.system": _RunsShell, "exec": _RunsExec, "eval": _RunsEval}


def test_payloads_really_run_when_unpickled_unsafely(tmp_path):
    """Control: the exec payload does create its marker under plain pickle.loads."""
    marker = tmp_path / "control"
    pickle.loads(pickle.dumps(_RunsExec(marker)))
    assert marker.exists()


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
@pytest.mark.parametrize("container", ["torch.save", "torch.save-legacy", "raw-pickle-2", "raw-pickle-5"])
def test_code_running_pickle_is_refused_and_does_not_run(tmp_path, payload, container):
    marker = tmp_path / "pwned"
    evil = {"model": {"w": torch.ones(2)}, "args": PAYLOADS[payload](marker)}
    if container == "torch.save":
        data = _to_bytes(evil)
    elif container == "torch.save-legacy":
        buffer = io.BytesIO()
        torch.save(evil, buffer, _use_new_zipfile_serialization=False)
        data = buffer.getvalue()
    else:
        data = pickle.dumps(evil, protocol=int(container[-1]))
    path = tmp_path / "evil.pth"
    path.write_bytes(data)
    for source in (path, data, io.BytesIO(data)):
        with pytest.raises(CheckpointError, match="asks Python to run code that is not allowed"):
            load_checkpoint_state_dict(source)
        assert not marker.exists()
    with pytest.raises(CheckpointError):
        load_model_checkpoint(path, nn.Linear(1, 2))
    assert not marker.exists()


def test_refusal_names_the_call(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(CheckpointError, match=r"os\.system"):
        load_checkpoint_state_dict(_to_bytes({"x": _RunsShell(marker)}))
    with pytest.raises(CheckpointError, match=r"builtins\.exec"):
        load_checkpoint_state_dict(_to_bytes({"x": _RunsExec(marker)}))
    with pytest.raises(CheckpointError, match=r"builtins\.eval"):
        load_checkpoint_state_dict(pickle.dumps({"x": _RunsEval(marker)}, protocol=5))
    assert not marker.exists()


def test_unknown_class_is_refused(tmp_path):
    data = _to_bytes({"model": {"w": torch.ones(2)}, "path": Path("/tmp")})
    with pytest.raises(CheckpointError, match="not allowed.*pathlib"):
        load_checkpoint_state_dict(data)


# --------------------------------------------------------------------------


def _to_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()
