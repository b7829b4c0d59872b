"""Loading model weights safely, with errors a learner can act on.

A checkpoint is untrusted input: a ``.pth`` file is a pickle, and an
ordinary ``torch.load`` of a hostile pickle runs whatever code it asks for.
Everything here loads with ``torch.load(..., weights_only=True)``, which only
rebuilds tensors and plain Python values (dict, list, tuple, str, int, float,
bool, None), plus the few extra harmless types a DeiT-style training
checkpoint holds (:data:`SAFE_CHECKPOINT_GLOBALS`: the ``argparse.Namespace``
of the training arguments). A pickle that asks for anything else (``os.system``,
``eval``, ``builtins.exec``, a class of some library) is refused before any of
it runs. ``.safetensors`` files are read with ``safetensors`` (no pickle at all).

Wrappers understood (the official Container-Light release is a DeiT-style
training checkpoint, see ``docs``):

* a bare state dict ``{"patch_embed1.proj.weight": tensor, ...}``;
* ``{"model": state_dict, "optimizer": ..., "lr_scheduler": ..., "epoch": ...,
  "model_ema": ..., "scaler": ..., "args": Namespace(...)}``;
* ``{"state_dict": state_dict, ...}``;
* ``{"model_ema": state_dict, ...}`` when there is no ``"model"``;
* keys prefixed with ``module.`` (saved from ``DataParallel`` /
  ``DistributedDataParallel``) or ``_orig_mod.`` (saved from ``torch.compile``).

Public API: :func:`load_checkpoint_state_dict`, :func:`load_uploaded_checkpoint`,
:func:`load_model_checkpoint`, :func:`load_official_checkpoint`,
:class:`CheckpointError`, :data:`CHECKPOINT_MAX_BYTES`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import pickle
import pickletools
import re
import threading
import zipfile
from collections.abc import Iterator, Mapping
from typing import IO, Final, Union

import torch
from torch import Tensor, nn

__all__ = [
    "CHECKPOINT_MAX_BYTES",
    "SAFE_CHECKPOINT_GLOBALS",
    "CheckpointError",
    "CheckpointSource",
    "extract_state_dict",
    "load_checkpoint_object",
    "load_checkpoint_state_dict",
    "load_model_checkpoint",
    "load_official_checkpoint",
    "load_uploaded_checkpoint",
    "state_dict_mismatch",
]

#: Largest checkpoint accepted by default (the official Container-Light
#: training checkpoint, with optimizer state and EMA copy, is well below this).
CHECKPOINT_MAX_BYTES: Final[int] = 512 * 1024 * 1024

#: The only classes, beyond torch's own tensor rebuilding and plain Python
#: values, that a checkpoint may ask for. ``argparse.Namespace`` is a plain
#: attribute bag (its unpickling only sets attributes); DeiT-style training
#: checkpoints store their command-line arguments in one. The optimizer
#: (AdamW), learning-rate scheduler and AMP ``GradScaler`` states are plain
#: dicts of tensors, numbers, tuples and ``None`` and need nothing extra.
SAFE_CHECKPOINT_GLOBALS: Final[tuple[type, ...]] = (argparse.Namespace,)

CheckpointSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]

_MB: Final[int] = 1024 * 1024
_PREFIXES: Final[tuple[str, ...]] = ("module.", "_orig_mod.")
_MAX_LISTED: Final[int] = 10

# ``torch.serialization.safe_globals`` is a context manager, but what it
# changes is torch's *process-wide* allow-list (it adds on enter and removes
# on exit). Two threads loading at once could therefore remove the entry
# while the other is still unpickling. This lock serialises our loads so the
# allow-list is always intact for the load in progress; checkpoint loads are
# rare and slow enough that serialising them costs nothing noticeable.
_LOAD_LOCK = threading.Lock()


class CheckpointError(RuntimeError):
    """The weights could not be loaded; the message says why and what to do."""


# --------------------------------------------------------------------------
# Reading the source
# --------------------------------------------------------------------------


def load_checkpoint_state_dict(
    source: CheckpointSource, *, max_bytes: int = CHECKPOINT_MAX_BYTES
) -> dict[str, Tensor]:
    """Load a checkpoint safely and return its model state dict (tensors on the CPU).

    Args:
        source: a file path (``str`` / ``os.PathLike``), the file's bytes, or a
            binary file-like object (read from its current position, at most
            ``max_bytes + 1`` bytes).
        max_bytes: refuse anything larger than this (default 512 MB).

    Returns:
        ``{key: tensor}`` unwrapped from whichever wrapper the file used, with
        ``module.`` / ``_orig_mod.`` prefixes removed; non-tensor entries dropped.

    Raises:
        CheckpointError: missing, empty, too large, truncated or corrupt file;
            not a checkpoint; a pickle that asks for code that is not allowed;
            or a checkpoint with no tensors in it.
    """
    _check_max_bytes(max_bytes)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise CheckpointError("The checkpoint is empty (0 bytes). Choose the .pth file you downloaded.")
        if len(data) > max_bytes:
            raise _too_big(max_bytes, len(data))
        return extract_state_dict(_load_from_buffer(data, "The checkpoint"))
    if isinstance(source, (str, os.PathLike)):
        return extract_state_dict(_load_from_path(os.fspath(source), max_bytes))
    if callable(getattr(source, "read", None)):
        return load_uploaded_checkpoint(source, max_bytes)
    raise TypeError(
        "a checkpoint source is a path, bytes or a binary file-like object, "
        f"not {type(source).__name__}"
    )


def load_uploaded_checkpoint(file_like: IO[bytes], max_bytes: int = CHECKPOINT_MAX_BYTES) -> dict[str, Tensor]:
    """Load the state dict of an uploaded checkpoint (e.g. Streamlit's ``UploadedFile``).

    Reads at most ``max_bytes + 1`` bytes into memory and loads from there:
    nothing is written to disk, not even a temporary file. Same result and
    errors as :func:`load_checkpoint_state_dict`.
    """
    _check_max_bytes(max_bytes)
    data = _read_capped(file_like, max_bytes)
    if not data:
        raise CheckpointError(
            "The uploaded checkpoint is empty (0 bytes). If you passed a file object that was "
            "already read, call .seek(0) first."
        )
    return extract_state_dict(_load_from_buffer(data, "The uploaded checkpoint"))


def _check_max_bytes(max_bytes: int) -> None:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        raise ValueError(f"max_bytes must be a positive integer, got {max_bytes!r}")


def _read_capped(stream: IO[bytes], max_bytes: int) -> bytes:
    limit = max_bytes + 1
    chunks: list[bytes] = []
    total = 0
    while total < limit:
        chunk = stream.read(min(limit - total, 16 * _MB))
        if isinstance(chunk, str):
            raise TypeError("the checkpoint file object was opened in text mode; open it with 'rb'")
        if not chunk:
            break
        chunks.append(bytes(chunk))
        total += len(chunk)
    if total > max_bytes:
        raise _too_big(max_bytes, None)
    return b"".join(chunks)


def _too_big(max_bytes: int, actual: int | None) -> CheckpointError:
    size = f" ({_format_size(actual)})" if actual is not None else ""
    return CheckpointError(
        f"The checkpoint is too large{size}; the limit is {_format_size(max_bytes)}. "
        "Check that this is the right file (a Container-Light checkpoint is about 80-250 MB); "
        "if it is, raise the limit (max_bytes)."
    )


def _format_size(num_bytes: int) -> str:
    if num_bytes >= _MB:
        return f"{num_bytes / _MB:.0f} MB"
    return f"{num_bytes} bytes"


def _load_from_path(path: str, max_bytes: int) -> object:
    what = f"The checkpoint {path!r}"
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise CheckpointError(f"No checkpoint found at {path!r}. Check the path (and that the download finished).") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path!r} is a folder, not a checkpoint file. Point at the .pth file inside it.") from None
    except PermissionError:
        raise CheckpointError(f"Permission denied when reading the checkpoint {path!r}.") from None
    except OSError as error:
        raise CheckpointError(f"Could not open the checkpoint {path!r}: {error.strerror or error}.") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size  # the size of the file we actually read
        if size == 0:
            raise CheckpointError(f"{what} is empty (0 bytes): the download or copy probably failed. Get the file again.")
        if size > max_bytes:
            raise _too_big(max_bytes, size)
        head = handle.read(64)
        handle.seek(0)
        return _load(handle, head, what, raw=None)


def _load_from_buffer(data: bytes, what: str) -> object:
    return _load(io.BytesIO(data), data[:64], what, raw=data)


# --------------------------------------------------------------------------
# Recognising the format, loading, and explaining failures
# --------------------------------------------------------------------------

_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTO = b"\x80"
# torch.save's legacy (pre-1.6, non-zip) format starts with a pickled magic
# number, 0x1950a86a20f9469cfc6c, written as a LONG1 opcode.
_LEGACY_TORCH_MAGIC = b"\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"


def _load(handle: IO[bytes], head: bytes, what: str, raw: bytes | None) -> object:
    if _looks_like_safetensors(head):
        return _load_safetensors(handle, what)
    if not (head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_PROTO)):
        raise CheckpointError(f"{what} is not a PyTorch checkpoint{_describe_foreign(head)}. "
                              "Choose the .pth file of the model weights.")
    if head.startswith(_PICKLE_PROTO) and _LEGACY_TORCH_MAGIC not in head[:32]:
        # A plain pickle, not written by torch.save: never handed to an unpickler.
        raise _plain_pickle_error(handle, head, what, raw)
    try:
        with _allow_checkpoint_globals():
            return torch.load(handle, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise _unpickling_error(error, handle, head, what, raw) from None
    except MemoryError:
        raise CheckpointError(f"{what} is too large to load in the available memory.") from None
    except Exception as error:  # noqa: BLE001 - any failure to decode untrusted bytes is "corrupt"
        # (torch raises RuntimeError, EOFError, struct.error, KeyError, ... depending on the damage)
        raise _corrupt_error(error, handle, head, what) from None


@contextlib.contextmanager
def _allow_checkpoint_globals() -> Iterator[None]:
    """Allow :data:`SAFE_CHECKPOINT_GLOBALS` for one ``torch.load``, under :data:`_LOAD_LOCK`.

    Only the entries not already allowed are added, so leaving does not remove
    an entry that other code allowed on purpose.
    """
    with _LOAD_LOCK:
        already = set(torch.serialization.get_safe_globals())
        extra = [cls for cls in SAFE_CHECKPOINT_GLOBALS if cls not in already]
        with torch.serialization.safe_globals(extra):
            yield


def _corrupt_error(error: BaseException, handle: IO[bytes], head: bytes, what: str) -> CheckpointError:
    text = str(error).strip()
    # The first sentence of the first line ("PytorchStreamReader failed reading zip archive: ...").
    detail = re.split(r"(?<=\w)\. ", text.splitlines()[0])[0].rstrip(".") if text else type(error).__name__
    if head.startswith(_ZIP_MAGIC) and _is_foreign_zip(handle):
        return CheckpointError(
            f"{what} is a zip archive, but not one written by torch.save (it has no data.pkl). "
            "If the weights are inside it, extract them first."
        )
    # Only zip (torch >= 1.6) and legacy torch.save files reach torch.load, so a failure
    # here means a damaged file, almost always an incomplete download.
    return CheckpointError(
        f"{what} is truncated or corrupt (details: {detail[:200]}). It probably did not download "
        "completely: download it again and compare its size with the one published."
    )


_GLOBAL_IN_MESSAGE = re.compile(r"GLOBAL ([A-Za-z_][\w.]*)")
_FRIENDLY_MODULES = {"posix": "os", "nt": "os", "__builtin__": "builtins"}


def _unpickling_error(
    error: pickle.UnpicklingError, handle: IO[bytes], head: bytes, what: str, raw: bytes | None
) -> CheckpointError:
    message = str(error)
    names = _disallowed_globals(handle, head, raw)
    if not names:
        names = [name if "." in name else f"builtins.{name}" for name in _GLOBAL_IN_MESSAGE.findall(message)]
    if names:
        return _refused(what, names)
    if "truncated" in message.lower() or head.startswith(_ZIP_MAGIC):
        return CheckpointError(
            f"{what} is truncated or corrupt: its data could not be decoded. Download it again."
        )
    return CheckpointError(
        f"{what} is not a PyTorch checkpoint that can be loaded safely: it is a pickle that uses "
        "features plain weight files never need. Choose the .pth file of the model weights."
    )


def _plain_pickle_error(handle: IO[bytes], head: bytes, what: str, raw: bytes | None) -> CheckpointError:
    names = _disallowed_globals(handle, head, raw)
    if names:
        return _refused(what, names)
    return CheckpointError(
        f"{what} is not a PyTorch checkpoint: it is a plain Python pickle, not a file written by "
        "torch.save. Choose the .pth file of the model weights (or re-save the weights with torch.save)."
    )


def _refused(what: str, names: list[str]) -> CheckpointError:
    shown = ", ".join(dict.fromkeys(_friendly(name) for name in names))
    return CheckpointError(
        f"{what} was refused: it asks Python to run code that is not allowed when loading "
        f"weights ({shown}). A checkpoint should hold only tensors and plain values; this one "
        "could run commands on this computer, so nothing in it was executed. Use the official "
        "checkpoint from a source you trust."
    )


def _disallowed_globals(handle: IO[bytes], head: bytes, raw: bytes | None) -> list[str]:
    pickle_bytes = _pickle_bytes(handle, head, raw)
    if pickle_bytes is None:
        return []
    return [name for name in _pickle_globals(pickle_bytes) if not _is_allowed_global(name)]


def _is_foreign_zip(handle: IO[bytes]) -> bool:
    """A readable zip archive without the ``data.pkl`` every torch.save zip has."""
    try:
        handle.seek(0)
        with zipfile.ZipFile(handle) as archive:
            return not any(name.endswith("data.pkl") for name in archive.namelist())
    except (OSError, ValueError, EOFError, RuntimeError, zipfile.BadZipFile):
        return False


def _friendly(name: str) -> str:
    module, _, attr = name.rpartition(".")
    alias = _FRIENDLY_MODULES.get(module)
    return f"{alias}.{attr} ({name})" if alias else name


def _is_allowed_global(name: str) -> bool:
    if name.startswith("torch.") or name in ("collections.OrderedDict", "builtins.set", "builtins.frozenset"):
        return True
    return any(f"{cls.__module__}.{cls.__qualname__}" == name for cls in SAFE_CHECKPOINT_GLOBALS)


def _pickle_bytes(handle: IO[bytes], head: bytes, raw: bytes | None, limit: int = 64 * _MB) -> bytes | None:
    """The pickle stream of the checkpoint (``data.pkl`` inside a zip), for inspection only."""
    try:
        handle.seek(0)
        if head.startswith(_ZIP_MAGIC):
            with zipfile.ZipFile(handle) as archive:
                for info in archive.infolist():
                    if info.filename.endswith("data.pkl") and info.file_size <= limit:
                        return archive.read(info)
            return None
        return raw if raw is not None else handle.read(limit)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, RuntimeError):
        return None


def _pickle_globals(data: bytes, max_pickles: int = 8) -> list[str]:
    """Names of the globals a pickle asks for, found by reading its opcodes (never executing them).

    Reads up to ``max_pickles`` pickles one after another (the legacy torch
    format is several pickles in a row).
    """
    names: list[str] = []
    stream = io.BytesIO(data)
    for _ in range(max_pickles):
        if stream.tell() >= len(data):
            break
        if not _scan_one_pickle(stream, names):
            break
    return names


def _scan_one_pickle(stream: IO[bytes], names: list[str]) -> bool:
    stack: list[object] = []  # a rough model: only what GLOBAL / STACK_GLOBAL need
    memo: dict[int, object] = {}
    try:
        for opcode, arg, _ in pickletools.genops(stream):
            name = opcode.name
            if name in ("GLOBAL", "INST") and isinstance(arg, str):
                names.append(arg.replace(" ", "."))
                stack.append(None)
            elif name == "STACK_GLOBAL":
                if len(stack) >= 2 and isinstance(stack[-2], str) and isinstance(stack[-1], str):
                    names.append(f"{stack[-2]}.{stack[-1]}")
                else:
                    names.append("<unknown global>")
                del stack[-2:]
                stack.append(None)
            elif name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE",
                          "SHORT_BINSTRING", "BINSTRING", "STRING"):
                stack.append(arg)
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1] if stack else None
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = stack[-1] if stack else None
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo.get(int(arg)))
            else:
                stack.append(None)
            if len(stack) > 64:
                del stack[:-8]
    except Exception:  # a damaged pickle, or not a pickle: report what was found before
        return False
    return True


def _looks_like_safetensors(head: bytes) -> bool:
    if len(head) < 10:
        return False
    header_len = int.from_bytes(head[:8], "little")
    return 2 <= header_len < 100 * _MB and head[8:9] == b"{" and head[9:10] in (b'"', b"}")


def _load_safetensors(handle: IO[bytes], what: str) -> dict[str, Tensor]:
    try:
        from safetensors.torch import load as load_safetensors
    except ImportError:
        raise CheckpointError(
            f"{what} is a .safetensors file, but the 'safetensors' package is not installed "
            "(pip install safetensors)."
        ) from None
    handle.seek(0)
    try:
        return load_safetensors(handle.read())
    except Exception as error:  # safetensors raises its own SafetensorError
        raise CheckpointError(f"{what} is a damaged .safetensors file ({error}). Get the file again.") from None


def _describe_foreign(head: bytes) -> str:
    stripped = head.lstrip().lower()
    signatures = (
        (b"\x89PNG", "it is a PNG image"),
        (b"\xff\xd8\xff", "it is a JPEG image"),
        (b"GIF8", "it is a GIF image"),
        (b"%PDF", "it is a PDF document"),
        (b"\x1f\x8b", "it is gzip-compressed (decompress it first)"),
        (b"BZh", "it is bzip2-compressed (decompress it first)"),
        (b"\xfd7zXZ", "it is xz-compressed (decompress it first)"),
        (b"7z\xbc\xaf", "it is a 7-Zip archive (extract it first)"),
        (b"\x93NUMPY", "it is a NumPy .npy array"),
        (b"\x89HDF", "it is an HDF5 (Keras / TensorFlow) file"),
    )
    for magic, description in signatures:
        if head.startswith(magic):
            return f" ({description})"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return " (it is a WebP image)"
    if stripped.startswith(b"version https://git-lfs"):
        return " (it is a Git LFS pointer, not the weights: run `git lfs pull` or download the file itself)"
    if stripped.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")):
        return " (it is a web page: the download link probably pointed at a page, not at the file)"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    if all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return " (it looks like a text file)"
    return ""


# --------------------------------------------------------------------------
# Unwrapping
# --------------------------------------------------------------------------


def extract_state_dict(checkpoint: object) -> dict[str, Tensor]:
    """The model state dict inside a loaded checkpoint object (see the module docstring)."""
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(
            f"The checkpoint holds a {type(checkpoint).__name__}, not a dict of weights; "
            "it is not a model checkpoint."
        )
    state = _find_state(checkpoint, depth=0)
    if state is None:
        keys = ", ".join(map(str, list(checkpoint)[:_MAX_LISTED])) or "none"
        raise CheckpointError(
            f"The checkpoint holds no tensors (top-level keys: {keys}), so there are no weights in it. "
            "It may be a training log or a config file rather than a model checkpoint."
        )
    tensors = {str(key): value for key, value in state.items() if isinstance(value, Tensor)}
    return _strip_prefixes(tensors)


def _find_state(checkpoint: Mapping, depth: int) -> Mapping | None:
    if _has_tensor_values(checkpoint):
        return checkpoint  # a bare state dict
    # "model_ema" only when there is no "model": the EMA copy is a fallback.
    for key in ("model", "state_dict", "model_ema"):
        if key not in checkpoint:
            continue
        inner = checkpoint[key]
        found = _find_state(inner, depth + 1) if isinstance(inner, Mapping) and depth < 2 else None
        if found is None:
            raise CheckpointError(
                f"The checkpoint's {key!r} entry holds no tensors ({type(inner).__name__}), so there "
                "are no weights in it."
            )
        return found
    return None


def _has_tensor_values(mapping: Mapping) -> bool:
    return any(isinstance(value, Tensor) for value in mapping.values())


def _strip_prefixes(state: dict[str, Tensor]) -> dict[str, Tensor]:
    changed = True
    while changed and state:
        changed = False
        for prefix in _PREFIXES:
            if all(key.startswith(prefix) for key in state):
                state = {key[len(prefix):]: value for key, value in state.items()}
                changed = True
    return state


# --------------------------------------------------------------------------
# Loading into a model
# --------------------------------------------------------------------------


def state_dict_mismatch(model: nn.Module, state: Mapping[str, Tensor]) -> tuple[list[str], list[str], list[str]]:
    """``(missing, unexpected, shape_mismatches)`` of ``state`` against ``model.state_dict()``."""
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    shapes = [
        f"{key}: checkpoint {tuple(state[key].shape)}, model {tuple(value.shape)}"
        for key, value in expected.items()
        if key in state and tuple(state[key].shape) != tuple(value.shape)
    ]
    return missing, unexpected, shapes


def _listing(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_LISTED])
    more = f", ... and {len(keys) - _MAX_LISTED} more" if len(keys) > _MAX_LISTED else ""
    return shown + more


def _mismatch_message(model_name: str, missing: list[str], unexpected: list[str], shapes: list[str]) -> str:
    parts = []
    if missing:
        parts.append(f"{len(missing)} keys the model needs are missing ({_listing(missing)})")
    if unexpected:
        parts.append(f"{len(unexpected)} keys in the checkpoint are not in the model ({_listing(unexpected)})")
    if shapes:
        parts.append(f"{len(shapes)} tensors have the wrong shape ({_listing(shapes)})")
    return (
        f"The checkpoint does not fit {model_name}: " + "; ".join(parts) + ". "
        f"It was probably saved from a different architecture or configuration than {model_name}."
    )


def _head_message(model_name: str, state: Mapping[str, Tensor], model: nn.Module) -> str | None:
    head = getattr(model, "head", None)
    weight = state.get("head.weight")
    if not isinstance(head, nn.Linear) or weight is None or weight.ndim != 2:
        return None
    if weight.shape[0] == head.out_features or weight.shape[1] != head.in_features:
        return None
    return (
        f"The checkpoint's classifier head has {weight.shape[0]} classes, but {model_name} here has "
        f"{head.out_features} (head.weight: checkpoint {tuple(weight.shape)}, model "
        f"{(head.out_features, head.in_features)}). It was fine-tuned for another dataset; "
        "use an ImageNet-1k checkpoint (1000 classes)."
    )


def _load_into(model: nn.Module, state: Mapping[str, Tensor], model_name: str) -> nn.Module:
    missing, unexpected, shapes = state_dict_mismatch(model, state)
    if shapes and not missing and not unexpected and all(s.startswith("head.") for s in shapes):
        message = _head_message(model_name, state, model)
        if message:
            raise CheckpointError(message)
    if missing or unexpected or shapes:
        raise CheckpointError(_mismatch_message(model_name, missing, unexpected, shapes))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:  # e.g. a dtype that cannot be copied
        raise CheckpointError(f"The checkpoint could not be loaded into {model_name}: {error}") from None
    return model


def load_model_checkpoint(
    source: CheckpointSource, model: nn.Module, *, max_bytes: int = CHECKPOINT_MAX_BYTES
) -> nn.Module:
    """Load the weights in ``source`` into ``model`` strictly (all keys, all shapes) and return ``model``.

    The model keeps its device and mode. On a mismatch nothing is loaded and
    :class:`CheckpointError` lists the missing and unexpected keys and the
    shape mismatches.
    """
    state = load_checkpoint_state_dict(source, max_bytes=max_bytes)
    return _load_into(model, state, type(model).__name__)


def load_official_checkpoint(
    path: CheckpointSource,
    device: str | torch.device | None = None,
    *,
    max_bytes: int = CHECKPOINT_MAX_BYTES,
) -> nn.Module:
    """Container-Light (``create_model("container_light")``) with the weights of ``path``, in eval mode.

    ``path`` is usually the ``.pth`` file of the paper's release (a DeiT-style
    training checkpoint); bytes and file-like objects work too. The model is
    moved to ``device`` or :func:`~container_edu.device.default_device`.
    """
    from .device import default_device
    from .models import create_model

    target = default_device(device)
    state = load_checkpoint_state_dict(path, max_bytes=max_bytes)
    model = create_model("container_light")
    _load_into(model, state, "Container-Light")
    return model.eval().to(target)


def load_checkpoint_object(path: str | os.PathLike[str], *, max_bytes: int = CHECKPOINT_MAX_BYTES) -> object:
    """The whole checkpoint in the file at ``path``, loaded safely, before any unwrapping.

    For callers that must know which wrapper entry held the weights (the
    weights store records whether ``model`` or ``model_ema`` was used); pass
    the result to :func:`extract_state_dict`. Same checks and errors as
    :func:`load_checkpoint_state_dict`.
    """
    _check_max_bytes(max_bytes)
    return _load_from_path(os.fspath(path), max_bytes)
