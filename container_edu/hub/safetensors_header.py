"""Checking a ``.safetensors`` file's header with bounded reads, before any tensor is loaded.

A safetensors file is an 8-byte little-endian header length ``n``, ``n`` bytes of JSON (``{name: {"dtype",
"shape", "data_offsets": [begin, end]}, "__metadata__": {...}}``) and the tensors' bytes. The length is read
first and refused when it is absurd (more than :data:`MAX_HEADER_BYTES`, or more than the file holds), so a
hostile file never makes this read a gigabyte of "header"; then every entry must be a known dtype with a shape
whose bytes equal its offsets, and the entries must tile the data exactly (no gap, no overlap, nothing after).
A file that is not safetensors at all (a web page, a pickle, an LFS pointer) is named from its first bytes.

Public API: :func:`read_header`, :class:`TensorInfo`, :class:`SafetensorsError`, :data:`MAX_HEADER_BYTES`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from container_edu.errors import ContainerEduError
from container_edu.files import MB
from container_edu.hub.safe_load import describe_head, is_pickle_or_torch_zip, refused_globals
from container_edu.text import N_

__all__ = ["MAX_HEADER_BYTES", "DTYPE_BYTES", "TensorInfo", "SafetensorsError", "read_header"]

#: Largest header accepted. timm's largest headers are tens of kB (a name, dtype, shape and offsets per tensor);
#: 8 MB leaves room for any real model and still refuses a length field that asks for gigabytes.
MAX_HEADER_BYTES: Final[int] = 8 * MB
#: Bytes per element of the dtypes safetensors writes.
DTYPE_BYTES: Final[dict[str, int]] = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}
_MAX_DIMS: Final[int] = 8


class SafetensorsError(ContainerEduError, ValueError):
    """The file is not a well-formed safetensors file; the message says what it is instead, in one line."""


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the header declares it."""

    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


def read_header(path: str | os.PathLike[str], *, what: str) -> dict[str, TensorInfo]:
    """The tensors the safetensors file at ``path`` declares, checked against its size (``what`` names it).

    Raises :class:`SafetensorsError` for an empty or short file, another kind of file (web page, pickle, image,
    LFS pointer), an absurd or impossible header length, a header that is not JSON, an unknown dtype, a shape
    that disagrees with its offsets, or offsets that do not tile the data exactly (a truncated or padded file).
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(64)
        if size < 8 + 2:
            raise _not_safetensors(path, head, what, size)
        length = int.from_bytes(head[:8], "little")
        if head[8:9] != b"{":
            raise _not_safetensors(path, head, what, size)
        if length > MAX_HEADER_BYTES:
            raise SafetensorsError(N_("{what} was refused: its safetensors header claims {length:,} bytes, more than "
                                      "the {limit:,} any weights file needs; nothing was loaded."), what=what,
                                   length=length, limit=MAX_HEADER_BYTES)
        if length < 2 or 8 + length > size:
            raise SafetensorsError(N_("{what} is truncated or corrupt: its safetensors header claims {length:,} bytes "
                                      "but the file holds {size:,} in all; download it again."), what=what,
                                   length=length, size=size)
        handle.seek(8)
        raw = handle.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SafetensorsError(N_("{what} is corrupt: its safetensors header is not JSON ({error}); download it "
                                  "again."), what=what, error=str(error)[:120]) from None
    if not isinstance(header, dict):
        raise SafetensorsError(N_("{what} is corrupt: its safetensors header is not a JSON object."), what=what)
    tensors = {name: _entry(name, value, what) for name, value in header.items() if name != "__metadata__"}
    _check_tiling(tensors, size - 8 - length, what)
    return tensors


def _entry(name: str, value: object, what: str) -> TensorInfo:
    bad = SafetensorsError(N_("{what} is corrupt: the header entry {name} is not a tensor (dtype, shape, "
                              "data_offsets)."), what=what, name=repr(name[:80]))
    if not isinstance(value, dict):
        raise bad
    dtype, shape, offsets = value.get("dtype"), value.get("shape"), value.get("data_offsets")
    if dtype not in DTYPE_BYTES:
        raise SafetensorsError(N_("{what} was refused: the tensor {name} has dtype {dtype}, which weights files do not "
                                  "use."), what=what, name=repr(name[:80]), dtype=repr(str(dtype)[:20]))
    if (not isinstance(shape, list) or len(shape) > _MAX_DIMS
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
        raise bad
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)):
        raise bad
    begin, end = offsets
    if end - begin != math.prod(shape) * DTYPE_BYTES[dtype]:
        raise SafetensorsError(N_("{what} is corrupt: the tensor {name} of shape {shape} ({dtype}) needs {need:,} "
                                  "bytes but its offsets give {have:,}."), what=what, name=repr(name[:80]),
                               shape=tuple(shape), dtype=dtype, need=math.prod(shape) * DTYPE_BYTES[dtype],
                               have=end - begin)
    return TensorInfo(dtype, tuple(shape), begin, end)


def _check_tiling(tensors: dict[str, TensorInfo], data_size: int, what: str) -> None:
    position = 0
    for info in sorted(tensors.values(), key=lambda t: (t.begin, t.end)):
        if info.begin != position:
            raise SafetensorsError(N_("{what} is corrupt: its tensors overlap or leave gaps (at byte {position:,} of "
                                      "the data); download it again."), what=what, position=position)
        position = info.end
    if position != data_size:
        if position > data_size:
            raise SafetensorsError(N_("{what} is truncated: its header declares {declared:,} bytes of tensors but "
                                      "the file holds {held:,}; download it again."), what=what, declared=position,
                                   held=data_size)
        raise SafetensorsError(N_("{what} is corrupt: {extra:,} bytes follow its last tensor; download it again."),
                               what=what, extra=data_size - position)


def _not_safetensors(path: Path, head: bytes, what: str, size: int) -> SafetensorsError:
    if size == 0:
        return SafetensorsError(N_("{what} is empty (0 bytes); download it again."), what=what)
    if is_pickle_or_torch_zip(head):
        names = refused_globals(str(path), head)
        if names:
            return SafetensorsError(N_("{what} was refused: it is a pickle, not safetensors, and it asks Python to run "
                                       "{names}; nothing in it was executed."), what=what, names=", ".join(names))
        return SafetensorsError(N_("{what} was refused: it is a pickle (a torch.save file), not the safetensors file "
                                   "asked for; nothing in it was loaded."), what=what)
    described = describe_head(head)
    if described is not None:
        return SafetensorsError(N_("{what} is not a safetensors file: {description}."), what=what,
                                description=described)
    return SafetensorsError(N_("{what} is not a safetensors file (its first bytes are not a safetensors header); "
                               "download it again."), what=what)
