"""Reader for the Fashion-MNIST dataset stored as IDX files.

The Debian package ``dataset-fashion-mnist`` installs the four gzip'd IDX files
in ``/usr/share/datasets/fashion-mnist/``::

    train-images-idx3-ubyte.gz   train-labels-idx1-ubyte.gz
    t10k-images-idx3-ubyte.gz    t10k-labels-idx1-ubyte.gz

Uncompressed files with the same names minus ``.gz`` are accepted too.

Where the files are looked for, in order of precedence:

1. the ``data_dir`` argument of each function,
2. the environment variable ``CONTAINER_EDU_FASHION_MNIST``,
3. :data:`DEFAULT_DATA_DIR`.

IDX format (http://yann.lecun.com/exdb/mnist/): two zero bytes, one dtype
byte, one byte giving the number of dimensions, then one big-endian uint32 per
dimension, then the payload in big-endian order (row-major).

Nothing is cached here: callers that load repeatedly should keep the tensors.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import torch

from container_edu.errors import ContainerEduError
from container_edu.text import N_, Message

__all__ = [
    "CLASS_NAMES",
    "DEFAULT_DATA_DIR",
    "ENV_VAR",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "IDX_DTYPES",
    "IMAGE_SIZE",
    "NUM_CLASSES",
    "SPLIT_FILES",
    "DatasetError",
    "load_fashion_mnist",
    "read_idx",
    "resolve_data_dir",
    "to_model_input",
    "train_val_split",
]

DEFAULT_DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "CONTAINER_EDU_FASHION_MNIST"

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SIZE = 28

# Per-pixel mean and standard deviation of the pixel values scaled to [0, 1],
# computed from the 60000 images of the *training* split (all pixels pooled,
# population std), rounded to 4 decimals: 0.28604..., 0.35302...
# The test split was not used to compute them.
FASHION_MNIST_MEAN = 0.2860
FASHION_MNIST_STD = 0.3530

# IDX dtype code -> numpy dtype (payload is big-endian).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# split -> (images file, labels file), without the optional ".gz".
SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
# Refuse headers that promise more than this many payload bytes (the largest
# Fashion-MNIST file holds 47 MB); protects against absurd or hostile headers.
_MAX_PAYLOAD = 1 << 31

# What a learner can do on any machine; the hints name no system package manager because the message reaches
# the app's pages, and most machines have none of Debian's packages.
_FILES = Message(N_("{first}, {second}, {third} and {fourth}"),
                 {"first": "train-images-idx3-ubyte.gz", "second": "train-labels-idx1-ubyte.gz",
                  "third": "t10k-images-idx3-ubyte.gz", "fourth": "t10k-labels-idx1-ubyte.gz"})
_SOURCE = Message(N_("the Fashion-MNIST project, {address}"), {"address": "github.com/zalandoresearch/fashion-mnist"})
_INSTALL_HINT = Message(N_(
    "The full set (60,000 training and 10,000 test images) is optional: where it is missing, the app's lessons "
    "use the small class-balanced subset shipped with the package. To use the full set, save its four files "
    "({files}, from {source}; uncompressed copies without .gz work too) in one folder and give that folder "
    "with --data-dir or the environment variable {env}."), {"files": _FILES, "source": _SOURCE, "env": ENV_VAR})
_REINSTALL_HINT = Message(N_(
    "The file is damaged: replace it with an intact copy (the four files are {files}, from {source}), or give a "
    "folder holding intact copies with --data-dir or the environment variable {env}. A damaged full set is never "
    "replaced by the shipped subset silently: to use the subset instead, move the damaged files away."),
    {"files": _FILES, "source": _SOURCE, "env": ENV_VAR})


class DatasetError(ContainerEduError, RuntimeError):
    """The Fashion-MNIST files are missing or corrupt.

    The message always says what is wrong and how to fix it.
    """


def _corrupt(path: Path, problem: str, **fields: object) -> DatasetError:
    """``problem``: a template (with ``fields``) saying what is wrong with the file."""
    return DatasetError(N_("Corrupt IDX file {path}: {problem}. {hint}"), path=str(path),
                        problem=Message(problem, fields), hint=_REINSTALL_HINT)


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Folder to read Fashion-MNIST from.

    ``data_dir`` wins if given, else the environment variable
    ``CONTAINER_EDU_FASHION_MNIST`` (if set and non-empty), else
    :data:`DEFAULT_DATA_DIR`. The folder is not checked for existence here.
    """
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return DEFAULT_DATA_DIR


def _read_at_most(f: BinaryIO, n: int) -> bytes:
    """Read up to ``n`` bytes in bounded chunks (never a single huge read)."""
    parts: list[bytes] = []
    remaining = n
    while remaining > 0:
        chunk = f.read(min(remaining, _CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _parse_stream(f: BinaryIO, path: Path) -> np.ndarray:
    head = _read_at_most(f, 4)
    if len(head) < 4:
        raise _corrupt(path, N_("only {count} byte(s), too short for an IDX header"), count=len(head))
    if head[0] != 0 or head[1] != 0:
        raise _corrupt(path, N_("bad magic {magic} (an IDX file starts with two zero bytes)"), magic=head[:2].hex())
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        raise _corrupt(path, N_("unknown IDX dtype code {code} (expected one of {codes})"), code=f"0x{code:02X}",
                       codes=", ".join(f"0x{c:02X}" for c in IDX_DTYPES))
    if ndim == 0:
        raise _corrupt(path, N_("header declares 0 dimensions"))
    raw_dims = _read_at_most(f, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise _corrupt(path, N_("header truncated (expected {count} dimension sizes)"), count=ndim)
    dims = struct.unpack(f">{ndim}I", raw_dims)
    dtype = IDX_DTYPES[code]
    count = 1
    for d in dims:
        count *= d  # Python ints: no overflow
    needed = count * dtype.itemsize
    if needed > _MAX_PAYLOAD:
        raise _corrupt(path, N_("header claims shape {shape}, {size} bytes, which is implausibly large"), shape=dims,
                       size=needed)
    # Read exactly what the header promises plus one byte to detect trailing data.
    payload = _read_at_most(f, needed + 1)
    if len(payload) < needed:
        raise _corrupt(path, N_("truncated: shape {shape} needs {size} payload bytes, found {found}"), shape=dims,
                       size=needed, found=len(payload))
    if len(payload) > needed:
        raise _corrupt(path, N_("trailing bytes after the {size} payload bytes of shape {shape}"), size=needed,
                       shape=dims)
    arr = np.frombuffer(bytearray(payload), dtype=dtype).reshape(dims)
    if dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))
    return arr


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Parse one IDX file (gzip'd or plain, detected by the magic bytes 1f 8b).

    Returns a writable array in native byte order with the shape from the
    header. Raises :class:`DatasetError` if the file is missing, unreadable or
    not a well-formed IDX file (bad magic, unknown dtype, truncated payload,
    trailing bytes, broken gzip stream). Decompression is bounded by the size
    the header announces.
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            magic = raw.read(2)
            raw.seek(0)
            if magic == _GZIP_MAGIC:
                with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                    return _parse_stream(gz, path)
            return _parse_stream(raw, path)
    except DatasetError:
        raise
    except FileNotFoundError as exc:
        raise DatasetError(N_("IDX file {path} not found. {hint}"), path=str(path), hint=_INSTALL_HINT) from exc
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _corrupt(path, N_("broken gzip stream ({error})"), error=str(exc)) from exc
    except OSError as exc:
        raise DatasetError(N_("Cannot read IDX file {path}: {error}. {hint}"), path=str(path), error=str(exc),
                           hint=_REINSTALL_HINT) from exc


def _find_file(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    raise DatasetError(N_("Fashion-MNIST not found in {folder}: neither {stem}.gz nor {stem} exists there. {hint}"),
                       folder=str(directory), stem=stem, hint=_INSTALL_HINT)


def load_fashion_mnist(
    split: Literal["train", "test"],
    data_dir: str | os.PathLike[str] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load one split of Fashion-MNIST.

    Returns ``(images, labels)``: images a ``torch.uint8`` tensor of shape
    ``(N, 28, 28)``, labels a ``torch.int64`` tensor of shape ``(N,)`` with
    values in ``0..9`` (indices into :data:`CLASS_NAMES`). ``"train"`` has
    60000 images, ``"test"`` 10000. Nothing is cached.
    """
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    directory = resolve_data_dir(data_dir)
    if not directory.is_dir():
        raise DatasetError(N_("Fashion-MNIST not found in {folder} (no such directory). {hint}"), folder=str(directory),
                           hint=_INSTALL_HINT)
    img_stem, lbl_stem = SPLIT_FILES[split]
    img_path = _find_file(directory, img_stem)
    lbl_path = _find_file(directory, lbl_stem)
    images = read_idx(img_path)
    labels = read_idx(lbl_path)

    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (
        IMAGE_SIZE,
        IMAGE_SIZE,
    ):
        raise _corrupt(img_path, N_("expected uint8 images of shape (N, {size}, {size}), got {dtype} {shape}"),
                       size=IMAGE_SIZE, dtype=images.dtype, shape=images.shape)
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise _corrupt(lbl_path, N_("expected a 1-D uint8 label array, got {dtype} {shape}"), dtype=labels.dtype,
                       shape=labels.shape)
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(N_("Fashion-MNIST in {folder} is inconsistent: {images_file} holds {images} images but "
                              "{labels_file} holds {labels} labels. {hint}"), folder=str(directory),
                           images_file=img_path.name, images=images.shape[0], labels_file=lbl_path.name,
                           labels=labels.shape[0], hint=_REINSTALL_HINT)
    if labels.size and int(labels.max()) >= NUM_CLASSES:
        bad = int(np.count_nonzero(labels >= NUM_CLASSES))
        raise _corrupt(lbl_path, N_("{count} label(s) outside 0..{last} (max {max})"), count=bad, last=NUM_CLASSES - 1,
                       max=int(labels.max()))
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def to_model_input(images_uint8: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 images ``(N, 28, 28)`` or ``(N, 1, 28, 28)`` -> float32 ``(N, 1, 28, 28)``.

    Pixels are scaled to [0, 1] and then normalised with
    :data:`FASHION_MNIST_MEAN` / :data:`FASHION_MNIST_STD`.
    """
    x = torch.as_tensor(images_uint8)
    if x.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images, got {x.dtype}")
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(f"expected shape (N, H, W) or (N, 1, H, W), got {tuple(x.shape)}")
    return (x.to(torch.float32) / 255.0 - FASHION_MNIST_MEAN) / FASHION_MNIST_STD


def train_val_split(
    n: int, val_fraction: float = 0.1, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic hold-out split of the *training* set for model selection.

    Returns ``(train_idx, val_idx)``: disjoint, sorted ``int64`` index tensors
    covering ``range(n)``; ``val_idx`` has ``round(n * val_fraction)`` entries
    (at least one, and at least one index is left for training). The same
    ``(n, val_fraction, seed)`` always gives the same split. The test set is
    never used for choices; evaluate on it only once at the end.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    n = int(n)
    if n < 2:
        raise ValueError(f"need at least 2 samples to split, got n={n}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n_val = min(max(1, round(n * val_fraction)), n - 1)
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(n, generator=gen)
    val_idx = perm[:n_val].sort().values
    train_idx = perm[n_val:].sort().values
    return train_idx, val_idx
