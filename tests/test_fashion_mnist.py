"""Tests for container_edu.data.fashion_mnist (IDX reader and loader)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from container_edu.data import (
    CLASS_NAMES,
    DEFAULT_DATA_DIR,
    ENV_VAR,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    DatasetError,
    load_fashion_mnist,
    read_idx,
    resolve_data_dir,
    to_model_input,
    train_val_split,
)

# What every "missing" message must offer a learner on any machine (no system package manager needed).
INSTALL_HINT = "where it is missing, the app's lessons use the small class-balanced subset shipped with the package"
PACKAGE_MANAGERS = ("apt-get", "apt install", "sudo ", "brew ", "dnf ", "yum ", "pacman ")


def assert_names_no_package_manager(message: str) -> None:
    for word in PACKAGE_MANAGERS:
        assert word not in message, f"a learner-facing data message names a package manager: {word!r}"

CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(">i2"): 0x0B,
    np.dtype(">i4"): 0x0C,
    np.dtype(">f4"): 0x0D,
    np.dtype(">f8"): 0x0E,
}


def idx_bytes(arr: np.ndarray, big_endian_dtype: np.dtype | None = None) -> bytes:
    dt = np.dtype(big_endian_dtype) if big_endian_dtype is not None else arr.dtype
    header = bytes([0, 0, CODES[dt], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + np.ascontiguousarray(arr, dtype=dt).tobytes()


def write(path: Path, data: bytes, gz: bool) -> Path:
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def make_dataset(
    directory: Path,
    split: str = "test",
    n: int = 20,
    n_labels: int | None = None,
    labels: np.ndarray | None = None,
    gz: bool = True,
    size: int = 28,
) -> tuple[np.ndarray, np.ndarray]:
    prefix = "train" if split == "train" else "t10k"
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)
    if labels is None:
        labels = (np.arange(n if n_labels is None else n_labels) % 10).astype(np.uint8)
    directory.mkdir(parents=True, exist_ok=True)
    write(directory / f"{prefix}-images-idx3-ubyte", idx_bytes(images), gz)
    write(directory / f"{prefix}-labels-idx1-ubyte", idx_bytes(labels), gz)
    return images, labels


# --------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int8, ">i2", ">i4", ">f4", ">f8"], ids=lambda d: str(d)
)
def test_read_idx_roundtrip(tmp_path, gz, dtype):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    path = write(tmp_path / "x-idx3", idx_bytes(arr), gz)
    out = read_idx(path)
    assert out.shape == (3, 4, 5)
    assert out.dtype.itemsize == np.dtype(dtype).itemsize
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, arr)
    out[0, 0, 0] = 1  # writable


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_1d_and_empty(tmp_path, gz):
    labels = np.array([0, 9, 3], dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write(tmp_path / "l", idx_bytes(labels), gz)), labels)
    empty = np.zeros((0, 28, 28), dtype=np.uint8)
    assert read_idx(write(tmp_path / "e", idx_bytes(empty), gz)).shape == (0, 28, 28)


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_truncated(tmp_path, gz):
    data = idx_bytes(np.zeros((4, 28, 28), dtype=np.uint8))
    path = write(tmp_path / "t", data[:-5], gz)
    with pytest.raises(DatasetError, match="truncated") as ei:
        read_idx(path)
    assert "damaged" in str(ei.value) and "intact copy" in str(ei.value)


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_truncated_header(tmp_path, gz):
    data = idx_bytes(np.zeros((4, 28, 28), dtype=np.uint8))
    for cut in (0, 3, 9):
        path = write(tmp_path / f"h{cut}", data[:cut], gz)
        with pytest.raises(DatasetError):
            read_idx(path)


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_trailing_bytes(tmp_path, gz):
    data = idx_bytes(np.zeros((4, 28, 28), dtype=np.uint8))
    path = write(tmp_path / "t", data + b"\x00", gz)
    with pytest.raises(DatasetError, match="trailing"):
        read_idx(path)


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_wrong_magic(tmp_path, gz):
    data = bytearray(idx_bytes(np.zeros((2, 2), dtype=np.uint8)))
    data[0] = 0x42
    with pytest.raises(DatasetError, match="magic"):
        read_idx(write(tmp_path / "m", bytes(data), gz))


def test_read_idx_unknown_dtype(tmp_path):
    data = bytearray(idx_bytes(np.zeros((2, 2), dtype=np.uint8)))
    data[2] = 0x0A
    with pytest.raises(DatasetError, match="dtype"):
        read_idx(write(tmp_path / "d", bytes(data), False))


def test_read_idx_huge_header_does_not_allocate(tmp_path):
    # Claims 2**32-1 x 2**32-1 elements but holds nothing: must fail fast.
    data = bytes([0, 0, 0x08, 2]) + struct.pack(">2I", 2**32 - 1, 2**32 - 1)
    with pytest.raises(DatasetError, match="implausibly large"):
        read_idx(write(tmp_path / "big", data, True))


def test_read_idx_decompression_is_bounded(tmp_path):
    # A small header followed by a large (highly compressible) payload: the
    # reader must stop after needed + 1 bytes and report trailing data.
    header = bytes([0, 0, 0x08, 1]) + struct.pack(">I", 10)
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb") as f:
        f.write(header)
        f.write(b"\x00" * (64 << 20))
    with pytest.raises(DatasetError, match="trailing"):
        read_idx(path)


def test_read_idx_broken_gzip(tmp_path):
    good = gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)))
    path = tmp_path / "broken.gz"
    path.write_bytes(good[:-12])  # cut the deflate stream and trailer
    with pytest.raises(DatasetError):
        read_idx(path)
    path.write_bytes(good[:2])  # gzip magic only
    with pytest.raises(DatasetError):
        read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="not found") as ei:
        read_idx(tmp_path / "nope.gz")
    assert INSTALL_HINT in str(ei.value)
    assert_names_no_package_manager(str(ei.value))


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    data=st.one_of(
        st.binary(max_size=64),
        # plausible-looking headers with random tails
        st.builds(
            lambda code, ndim, dims, tail: bytes([0, 0, code, ndim])
            + b"".join(struct.pack(">I", d) for d in dims)
            + tail,
            st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x01, 0xFF]),
            st.integers(0, 4),
            st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 6), max_size=4),
            st.binary(max_size=64),
        ),
    ),
    gz=st.booleans(),
    corrupt_gz=st.integers(0, 40),
)
def test_read_idx_random_bytes_parse_or_dataset_error(tmp_path, data, gz, corrupt_gz):
    blob = gzip.compress(data) if gz else data
    if gz and corrupt_gz:
        blob = blob[: max(0, len(blob) - corrupt_gz)]
    path = tmp_path / "fuzz.bin"
    path.write_bytes(blob)
    try:
        out = read_idx(path)
    except DatasetError:
        return
    assert isinstance(out, np.ndarray)
    assert out.ndim == data[3]


# --------------------------------------------------------------------------- dirs


def test_resolve_data_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert resolve_data_dir() == DEFAULT_DATA_DIR == Path("/usr/share/datasets/fashion-mnist")
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir(str(tmp_path / "arg")) == tmp_path / "arg"
    monkeypatch.setenv(ENV_VAR, "")
    assert resolve_data_dir() == DEFAULT_DATA_DIR


def test_env_var_override_loads(tmp_path, monkeypatch):
    images, labels = make_dataset(tmp_path / "fm", "test", n=12)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "fm"))
    x, y = load_fashion_mnist("test")
    assert torch.equal(x, torch.from_numpy(images))
    assert torch.equal(y, torch.from_numpy(labels.astype(np.int64)))
    # explicit data_dir beats the environment variable
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "elsewhere"))
    x2, _ = load_fashion_mnist("test", data_dir=tmp_path / "fm")
    assert torch.equal(x2, x)


# --------------------------------------------------------------------------- loader


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("split", ["train", "test"])
def test_load_small_dataset(tmp_path, gz, split):
    images, labels = make_dataset(tmp_path, split, n=15, gz=gz)
    x, y = load_fashion_mnist(split, data_dir=tmp_path)
    assert x.dtype == torch.uint8 and x.shape == (15, 28, 28)
    assert y.dtype == torch.int64 and y.shape == (15,)
    np.testing.assert_array_equal(x.numpy(), images)
    np.testing.assert_array_equal(y.numpy(), labels)


def test_gz_preferred_over_plain(tmp_path):
    images, _ = make_dataset(tmp_path, "test", n=5, gz=True)
    # a broken plain copy next to the .gz is ignored
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"garbage")
    x, _ = load_fashion_mnist("test", data_dir=tmp_path)
    np.testing.assert_array_equal(x.numpy(), images)


def test_missing_dir(tmp_path):
    missing = tmp_path / "does-not-exist"
    with pytest.raises(DatasetError) as ei:
        load_fashion_mnist("test", data_dir=missing)
    msg = str(ei.value)
    assert f"Fashion-MNIST not found in {missing}" in msg
    assert INSTALL_HINT in msg
    assert ENV_VAR in msg and "--data-dir" in msg and "train-images-idx3-ubyte.gz" in msg
    assert_names_no_package_manager(msg)


def test_missing_file(tmp_path):
    make_dataset(tmp_path, "test", n=5)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte") as ei:
        load_fashion_mnist("test", data_dir=tmp_path)
    assert INSTALL_HINT in str(ei.value)
    # the other split is absent entirely
    with pytest.raises(DatasetError, match="train-images-idx3-ubyte"):
        load_fashion_mnist("train", data_dir=tmp_path)


def test_count_mismatch(tmp_path):
    make_dataset(tmp_path, "test", n=10, n_labels=9)
    with pytest.raises(DatasetError, match="10 images but .* 9 labels") as ei:
        load_fashion_mnist("test", data_dir=tmp_path)
    message = str(ei.value)
    assert "damaged" in message and ENV_VAR in message and "--data-dir" in message
    assert_names_no_package_manager(message)


def test_label_out_of_range(tmp_path):
    make_dataset(tmp_path, "test", n=4, labels=np.array([0, 1, 10, 2], dtype=np.uint8))
    with pytest.raises(DatasetError, match="outside 0..9") as ei:
        load_fashion_mnist("test", data_dir=tmp_path)
    assert "damaged" in str(ei.value) and "github.com/zalandoresearch/fashion-mnist" in str(ei.value)


def test_wrong_image_size(tmp_path):
    make_dataset(tmp_path, "test", n=4, size=27)
    with pytest.raises(DatasetError, match=r"\(N, 28, 28\)"):
        load_fashion_mnist("test", data_dir=tmp_path)


def test_corrupt_file_in_dataset(tmp_path):
    make_dataset(tmp_path, "test", n=4)
    p = tmp_path / "t10k-images-idx3-ubyte.gz"
    p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:-1]))
    with pytest.raises(DatasetError, match="truncated") as ei:
        load_fashion_mnist("test", data_dir=tmp_path)
    assert "damaged" in str(ei.value) and ENV_VAR in str(ei.value)
    assert_names_no_package_manager(str(ei.value))


def test_bad_split(tmp_path):
    with pytest.raises(ValueError):
        load_fashion_mnist("val", data_dir=tmp_path)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- helpers


def test_class_names():
    assert CLASS_NAMES == (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    )


def test_to_model_input():
    imgs = torch.tensor([[[0, 255], [128, 64]]], dtype=torch.uint8).expand(3, 2, 2)
    out = to_model_input(imgs)
    assert out.shape == (3, 1, 2, 2) and out.dtype == torch.float32
    expected = (imgs.float() / 255 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD
    torch.testing.assert_close(out[:, 0], expected)
    assert to_model_input(imgs.unsqueeze(1)).shape == (3, 1, 2, 2)
    assert to_model_input(imgs.numpy()).shape == (3, 1, 2, 2)
    with pytest.raises(TypeError):
        to_model_input(imgs.float())
    with pytest.raises(ValueError):
        to_model_input(torch.zeros(2, 3, 4, 4, dtype=torch.uint8))


def test_train_val_split():
    tr, va = train_val_split(60000)
    assert va.numel() == 6000 and tr.numel() == 54000
    assert tr.dtype == va.dtype == torch.int64
    both = torch.cat([tr, va]).sort().values
    assert torch.equal(both, torch.arange(60000))
    tr2, va2 = train_val_split(60000)
    assert torch.equal(tr, tr2) and torch.equal(va, va2)
    _, va3 = train_val_split(60000, seed=1)
    assert not torch.equal(va, va3)
    assert train_val_split(2, 0.01)[1].numel() == 1
    assert train_val_split(10, 0.99)[0].numel() == 1
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError):
            train_val_split(100, bad)
    with pytest.raises(ValueError):
        train_val_split(1)


# --------------------------------------------------------------------------- real data


@pytest.mark.dataset
def test_real_test_split():
    # The folder the reader would use, so that CONTAINER_EDU_FASHION_MNIST hides the system's copy (.ci/run).
    from container_edu.data import full_set_present

    folder = resolve_data_dir()
    if not full_set_present(folder):
        pytest.skip(
            f"Fashion-MNIST not found in {folder}: install it with "
            f"`sudo apt-get install dataset-fashion-mnist`, or point {ENV_VAR} at its files"
        )
    x, y = load_fashion_mnist("test", data_dir=folder)
    assert x.shape == (10000, 28, 28) and x.dtype == torch.uint8
    assert y.shape == (10000,) and y.dtype == torch.int64
    assert torch.equal(torch.bincount(y, minlength=10), torch.full((10,), 1000))
    m = to_model_input(x[:2000])
    assert abs(m.mean().item()) < 0.1 and abs(m.std().item() - 1) < 0.1


# ----------------------------------------------------------------------------- the shipped subset


def test_shipped_subset_is_class_balanced_and_read_by_the_same_reader():
    from container_edu.data import NUM_CLASSES, SUBSET_DIR, SUBSET_PER_CLASS

    for split, per_class in SUBSET_PER_CLASS.items():
        images, labels = load_fashion_mnist(split, SUBSET_DIR)
        assert images.shape == (per_class * NUM_CLASSES, 28, 28) and images.dtype == torch.uint8
        assert torch.bincount(labels, minlength=NUM_CLASSES).tolist() == [per_class] * NUM_CLASSES
    assert (SUBSET_DIR / "LICENSE").is_file()
    total = sum(path.stat().st_size for path in SUBSET_DIR.iterdir())
    assert total < 4 * 2**20, f"the shipped subset should stay a few MB, it is {total} bytes"


def test_data_source_falls_back_to_the_subset_only_when_the_full_set_is_absent(tmp_path, monkeypatch):
    from container_edu.data import SUBSET_DIR, data_source, load_split

    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    source = data_source()
    assert source.is_subset and source.directory == SUBSET_DIR and "bundled" in source.label
    images, labels, used = load_split("test")
    assert used == source and len(images) == len(labels) == 1000
    # A full set that is present is used, not the subset: write a tiny one (all four files).
    for name, array in {
        "train-images-idx3-ubyte": np.zeros((3, 28, 28), np.uint8), "train-labels-idx1-ubyte": np.zeros(3, np.uint8),
        "t10k-images-idx3-ubyte": np.zeros((2, 28, 28), np.uint8), "t10k-labels-idx1-ubyte": np.zeros(2, np.uint8),
    }.items():
        header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        (tmp_path / name).write_bytes(header + array.tobytes())
    images, _, used = load_split("test")
    assert not used.is_subset and used.directory == tmp_path and len(images) == 2
    assert "full Fashion-MNIST" in used.label
