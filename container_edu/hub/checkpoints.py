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

import io
import os
from collections.abc import Mapping
from typing import IO, Final, Union

import torch
from torch import Tensor, nn

from container_edu.checks import positive_int
from container_edu.files import format_megabytes, open_for_reading, read_capped
from container_edu.hub.safe_load import SAFE_CHECKPOINT_GLOBALS, CheckpointError, load_checkpoint_object
from container_edu.text import N_, Message

__all__ = [
    "CHECKPOINT_MAX_BYTES",
    "SAFE_CHECKPOINT_GLOBALS",
    "CheckpointError",
    "CheckpointSource",
    "extract_state_dict",
    "load_checkpoint_file",
    "load_checkpoint_state_dict",
    "load_model_checkpoint",
    "load_official_checkpoint",
    "load_state_strictly",
    "load_uploaded_checkpoint",
    "state_dict_mismatch",
]

#: Largest checkpoint accepted by default (the official Container-Light
#: training checkpoint, with optimizer state and EMA copy, is well below this).
CHECKPOINT_MAX_BYTES: Final[int] = 512 * 1024 * 1024

CheckpointSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes]]

_PREFIXES: Final[tuple[str, ...]] = ("module.", "_orig_mod.")
_MAX_LISTED: Final[int] = 10

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
    positive_int("max_bytes", max_bytes)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise CheckpointError(N_("The checkpoint is empty (0 bytes). Choose the .pth file you downloaded."))
        if len(data) > max_bytes:
            raise _too_big(max_bytes, len(data))
        return extract_state_dict(_load_from_buffer(data, Message(N_("The checkpoint")), max_bytes))
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
    positive_int("max_bytes", max_bytes)
    data = read_capped(file_like, max_bytes, lambda size: _too_big(max_bytes, size))
    if not data:
        raise CheckpointError(N_("The uploaded checkpoint is empty (0 bytes). If you passed a file object that was "
                                 "already read, call .seek(0) first."))
    return extract_state_dict(_load_from_buffer(data, Message(N_("The uploaded checkpoint")), max_bytes))


def _too_big(max_bytes: int, actual: int | None) -> CheckpointError:
    if actual is None:
        return CheckpointError(N_("The checkpoint is too large; the limit is {limit}. Check that this is the right file "
                                  "(a Container-Light checkpoint is about 80-250 MB); if it is, raise the limit "
                                  "(max_bytes)."), limit=format_megabytes(max_bytes))
    return CheckpointError(N_("The checkpoint is too large ({size}); the limit is {limit}. Check that this is the right "
                              "file (a Container-Light checkpoint is about 80-250 MB); if it is, raise the limit "
                              "(max_bytes)."), size=format_megabytes(actual), limit=format_megabytes(max_bytes))


def _load_from_path(path: str, max_bytes: int) -> object:
    what = Message(N_("The checkpoint {path}"), {"path": repr(path)})
    handle = open_for_reading(
        path, CheckpointError,
        missing=N_("No checkpoint found at {path}. Check the path (and that the download finished)."),
        folder=N_("{path} is a folder, not a checkpoint file. Point at the .pth file inside it."),
    )
    with handle:
        size = os.fstat(handle.fileno()).st_size  # the size of the file we actually read
        if size == 0:
            raise CheckpointError(N_("The checkpoint {path} is empty (0 bytes): the download or copy probably failed. "
                                     "Get the file again."), path=repr(path))
        if size > max_bytes:
            raise _too_big(max_bytes, size)
        head = handle.read(64)
        handle.seek(0)
        return load_checkpoint_object(handle, head, what, raw=None, max_unpacked=max_bytes)


def _load_from_buffer(data: bytes, what: Message, max_bytes: int) -> object:
    return load_checkpoint_object(io.BytesIO(data), data[:64], what, raw=data, max_unpacked=max_bytes)


# --------------------------------------------------------------------------
# Unwrapping
# --------------------------------------------------------------------------


def extract_state_dict(checkpoint: object) -> dict[str, Tensor]:
    """The model state dict inside a loaded checkpoint object (see the module docstring)."""
    if not isinstance(checkpoint, Mapping):
        raise CheckpointError(N_("The checkpoint holds a {type}, not a dict of weights; it is not a model checkpoint."),
                              type=type(checkpoint).__name__)
    state = _find_state(checkpoint, depth=0)
    if state is None:
        keys = ", ".join(map(str, list(checkpoint)[:_MAX_LISTED])) or "none"
        raise CheckpointError(N_("The checkpoint holds no tensors (top-level keys: {keys}), so there are no weights in "
                                 "it. It may be a training log or a config file rather than a model checkpoint."),
                              keys=keys)
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
            raise CheckpointError(N_("The checkpoint's {key} entry holds no tensors ({type}), so there are no weights "
                                     "in it."), key=repr(key), type=type(inner).__name__)
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
    shown = ", ".join(keys[:_MAX_LISTED]) or "none"
    more = f", ... and {len(keys) - _MAX_LISTED} more" if len(keys) > _MAX_LISTED else ""
    return shown + more


def _head_error(model_name: str, state: Mapping[str, Tensor], model: nn.Module) -> CheckpointError | None:
    head = getattr(model, "head", None)
    weight = state.get("head.weight")
    if not isinstance(head, nn.Linear) or weight is None or weight.ndim != 2:
        return None
    if weight.shape[0] == head.out_features or weight.shape[1] != head.in_features:
        return None
    return CheckpointError(
        N_("The checkpoint's classifier head has {classes} classes, but {model} here has {model_classes} (head.weight: "
           "checkpoint {shape}, model {model_shape}). It was fine-tuned for another dataset; use an ImageNet-1k "
           "checkpoint (1000 classes)."),
        classes=weight.shape[0], model=model_name, model_classes=head.out_features, shape=tuple(weight.shape),
        model_shape=(head.out_features, head.in_features))


def load_state_strictly(model: nn.Module, state: Mapping[str, Tensor], model_name: str) -> nn.Module:
    """Load ``state`` into ``model`` only if every key and every shape fits; else nothing is loaded.

    The one strict loader of the project (checkpoints, the ImageNet weights store): a mismatch raises
    :class:`CheckpointError` with one message naming the missing and unexpected keys and the wrong shapes.
    """
    missing, unexpected, shapes = state_dict_mismatch(model, state)
    if shapes and not missing and not unexpected and all(s.startswith("head.") for s in shapes):
        error = _head_error(model_name, state, model)
        if error is not None:
            raise error
    if missing or unexpected or shapes:
        raise CheckpointError(
            N_("The checkpoint does not fit {model}: {missing} keys the model needs are missing ({missing_keys}); "
               "{unexpected} keys in the checkpoint are not in the model ({unexpected_keys}); {shapes} tensors have "
               "the wrong shape ({shape_keys}). It was probably saved from a different architecture or configuration "
               "than {model}."),
            model=model_name, missing=len(missing), missing_keys=_listing(missing), unexpected=len(unexpected),
            unexpected_keys=_listing(unexpected), shapes=len(shapes), shape_keys=_listing(shapes))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:  # e.g. a dtype that cannot be copied
        raise CheckpointError(N_("The checkpoint could not be loaded into {model}: {error}"), model=model_name,
                              error=str(error)) from None
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
    return load_state_strictly(model, state, type(model).__name__)


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
    from container_edu.device import default_device
    from container_edu.models import create_model

    target = default_device(device)
    state = load_checkpoint_state_dict(path, max_bytes=max_bytes)
    model = create_model("container_light")
    load_state_strictly(model, state, "Container-Light")
    return model.eval().to(target)


def load_checkpoint_file(path: str | os.PathLike[str], *, max_bytes: int = CHECKPOINT_MAX_BYTES) -> object:
    """The whole checkpoint in the file at ``path``, loaded safely, before any unwrapping.

    For callers that must know which wrapper entry held the weights (the
    weights store records whether ``model`` or ``model_ema`` was used); pass
    the result to :func:`extract_state_dict`. Same checks and errors as
    :func:`load_checkpoint_state_dict`.
    """
    positive_int("max_bytes", max_bytes)
    return _load_from_path(os.fspath(path), max_bytes)
