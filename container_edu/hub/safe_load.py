"""Turning a checkpoint file's bytes into Python objects without running code from it.

A ``.pth`` file is a pickle, and an ordinary ``torch.load`` of a hostile
pickle runs whatever code it asks for. :func:`load_checkpoint_object` only
uses ``torch.load(..., weights_only=True)``, which rebuilds tensors and plain
Python values, plus the classes in :data:`SAFE_CHECKPOINT_GLOBALS`; a plain
pickle (not written by ``torch.save``) never reaches an unpickler at all.
``.safetensors`` files are read with ``safetensors`` (no pickle).

Before ``torch.load`` sees a zip (the format of every ``torch.save`` since
torch 1.6), its central directory is read and the archive is refused unless
every member is stored uncompressed and the sizes it declares add up to no
more than the size cap: ``torch.save`` never compresses a record, so a
compressed member can only be a decompression bomb (3 GiB of zeros deflate to
3 MB, and ``torch.load`` would inflate all of it into memory).

When loading fails, the pickle's opcodes are read (never executed) to name
the code it asked for, so the error says what was refused and why.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import pickle
import pickletools
import re
import struct
import threading
import zipfile
from collections.abc import Iterator
from typing import IO, Final

import torch
from torch import Tensor

from container_edu.errors import ContainerEduError
from container_edu.files import MB
from container_edu.text import N_, Message

__all__ = ["SAFE_CHECKPOINT_GLOBALS", "CheckpointError", "load_checkpoint_object", "describe_head",
           "refused_globals", "is_pickle_or_torch_zip"]

#: The only classes, beyond torch's own tensor rebuilding and plain Python
#: values, that a checkpoint may ask for. ``argparse.Namespace`` is a plain
#: attribute bag (its unpickling only sets attributes); DeiT-style training
#: checkpoints store their command-line arguments in one. The optimizer
#: (AdamW), learning-rate scheduler and AMP ``GradScaler`` states are plain
#: dicts of tensors, numbers, tuples and ``None`` and need nothing extra.
SAFE_CHECKPOINT_GLOBALS: Final[tuple[type, ...]] = (argparse.Namespace,)

# ``torch.serialization.safe_globals`` is a context manager, but what it
# changes is torch's *process-wide* allow-list (it adds on enter and removes
# on exit). Two threads loading at once could therefore remove the entry
# while the other is still unpickling. This lock serialises our loads so the
# allow-list is always intact for the load in progress; checkpoint loads are
# rare and slow enough that serialising them costs nothing noticeable.
_LOAD_LOCK = threading.Lock()


class CheckpointError(ContainerEduError, RuntimeError):
    """The weights could not be loaded; the message says why and what to do."""


_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTO = b"\x80"
# torch.save's legacy (pre-1.6, non-zip) format starts with a pickled magic
# number, 0x1950a86a20f9469cfc6c, written as a LONG1 opcode.
_LEGACY_TORCH_MAGIC = b"\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"


#: Most members a checkpoint zip may list: torch.save writes one per storage (a
#: full DeiT training checkpoint, with optimizer state and EMA copy, has about
#: 1,500); reading a central directory of millions would itself cost memory.
MAX_ZIP_MEMBERS: Final[int] = 50_000


def load_checkpoint_object(handle: IO[bytes], head: bytes, what: Message, raw: bytes | None, *,
                           max_unpacked: int) -> object:
    """The object stored in a checkpoint: ``head`` is its first 64 bytes, ``raw`` its bytes when in memory.

    ``what`` names the file in error messages (``Message("The checkpoint {path}", {"path": "'x.pth'"})``);
    ``max_unpacked`` is the most bytes a zip checkpoint may declare in all its
    members together (the size cap of the file itself: they are stored uncompressed).
    Raises :class:`CheckpointError` for anything that is not a checkpoint safe to load.
    """
    if _looks_like_safetensors(head):
        return _load_safetensors(handle, what)
    if not (head.startswith(_ZIP_MAGIC) or head.startswith(_PICKLE_PROTO)):
        foreign = _describe_foreign(head)
        if foreign is None:
            raise CheckpointError(N_("{what} is not a PyTorch checkpoint. Choose the .pth file of the model weights."),
                                  what=what)
        raise CheckpointError(N_("{what} is not a PyTorch checkpoint ({foreign}). Choose the .pth file of the model "
                                 "weights."), what=what, foreign=Message(foreign))
    if head.startswith(_PICKLE_PROTO) and _LEGACY_TORCH_MAGIC not in head[:32]:
        # A plain pickle, not written by torch.save: never handed to an unpickler.
        raise _plain_pickle_error(handle, head, what, raw)
    if head.startswith(_ZIP_MAGIC):
        _check_archive(handle, what, max_unpacked)
        handle.seek(0)
    try:
        with _allow_checkpoint_globals():
            return torch.load(handle, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise _unpickling_error(error, handle, head, what, raw) from None
    except MemoryError:
        raise CheckpointError(N_("{what} is too large to load in the available memory."), what=what) from None
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


_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_LOCATOR_SIZE = 20
_ZIP64_EOCD = b"PK\x06\x06"


def _check_archive(handle: IO[bytes], what: Message, max_unpacked: int) -> None:
    """Refuse a zip that ``torch.load`` would inflate, or that declares more than ``max_unpacked`` bytes.

    Only the directory is read, never a member's data. torch's reader (miniz)
    takes each member's method and sizes from the central directory, the same
    one read here: the end record must be the file's last 22 bytes (torch.save
    writes no archive comment), so both readers find the same directory.
    """
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    members = _declared_member_count(handle, size)
    if members is None:
        raise CheckpointError(N_("{what} is truncated or corrupt (details: {details}). It probably did not download "
                                 "completely: download it again and compare its size with the one published."),
                              what=what, details="the zip archive has no end record")
    if members > MAX_ZIP_MEMBERS:
        raise CheckpointError(N_("{what} was refused: its zip archive lists {members:,} members, more than the "
                                 "{limit:,} any checkpoint has."), what=what, members=members, limit=MAX_ZIP_MEMBERS)
    handle.seek(0)
    try:
        with zipfile.ZipFile(handle) as archive:
            infos = archive.infolist()
    except (OSError, ValueError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile) as error:
        raise CheckpointError(N_("{what} is truncated or corrupt (details: {details}). It probably did not download "
                                 "completely: download it again and compare its size with the one published."),
                              what=what, details=str(error)[:200] or type(error).__name__) from None
    declared = 0
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(N_("{what} was refused: its member {member} is compressed, which torch.save never "
                                     "does; a compressed member can unpack to far more memory than the file's size, so "
                                     "nothing was loaded."), what=what, member=repr(info.filename[:80]))
        if info.compress_size != info.file_size or info.header_offset + info.compress_size > size:
            raise CheckpointError(N_("{what} was refused: its member {member} declares {size:,} bytes, more than the "
                                     "file holds; nothing was loaded."), what=what, member=repr(info.filename[:80]),
                                  size=info.file_size)
        declared += info.file_size
    if declared > max_unpacked:
        raise CheckpointError(N_("{what} was refused: its members declare {declared:,} bytes in all, more than the "
                                 "limit of {limit:,}; nothing was loaded."), what=what, declared=declared,
                              limit=max_unpacked)


def _declared_member_count(handle: IO[bytes], size: int) -> int | None:
    """The member count in the zip end record, which must end the file; ``None`` when there is none."""
    if size < _EOCD_SIZE:
        return None
    handle.seek(size - _EOCD_SIZE)
    end = handle.read(_EOCD_SIZE)
    # A second signature inside the last 22 bytes would let another reader pick another directory.
    if not end.startswith(_EOCD) or end.find(_EOCD, 1) != -1:
        return None
    count = struct.unpack("<H", end[10:12])[0]
    if count != 0xFFFF:
        return count
    # Zip64: the real count is in the zip64 end record, found through the locator just before.
    if size < _EOCD_SIZE + _ZIP64_LOCATOR_SIZE:
        return None
    handle.seek(size - _EOCD_SIZE - _ZIP64_LOCATOR_SIZE)
    locator = handle.read(_ZIP64_LOCATOR_SIZE)
    if not locator.startswith(_ZIP64_LOCATOR):
        return None
    record_offset = struct.unpack("<Q", locator[8:16])[0]
    if record_offset + 56 > size:
        return None
    handle.seek(record_offset)
    record = handle.read(56)
    if not record.startswith(_ZIP64_EOCD):
        return None
    return struct.unpack("<Q", record[32:40])[0]


def _corrupt_error(error: BaseException, handle: IO[bytes], head: bytes, what: Message) -> CheckpointError:
    text = str(error).strip()
    # The first sentence of the first line ("PytorchStreamReader failed reading zip archive: ...").
    detail = re.split(r"(?<=\w)\. ", text.splitlines()[0])[0].rstrip(".") if text else type(error).__name__
    if head.startswith(_ZIP_MAGIC) and _is_foreign_zip(handle):
        return CheckpointError(N_("{what} is a zip archive, but not one written by torch.save (it has no data.pkl). "
                                  "If the weights are inside it, extract them first."), what=what)
    # Only zip (torch >= 1.6) and legacy torch.save files reach torch.load, so a failure
    # here means a damaged file, almost always an incomplete download.
    return CheckpointError(N_("{what} is truncated or corrupt (details: {details}). It probably did not download "
                              "completely: download it again and compare its size with the one published."),
                           what=what, details=detail[:200])


_GLOBAL_IN_MESSAGE = re.compile(r"GLOBAL ([A-Za-z_][\w.]*)")
_FRIENDLY_MODULES = {"posix": "os", "nt": "os", "__builtin__": "builtins"}


def _unpickling_error(
    error: pickle.UnpicklingError, handle: IO[bytes], head: bytes, what: Message, raw: bytes | None
) -> CheckpointError:
    message = str(error)
    names = _disallowed_globals(handle, head, raw)
    if not names:
        names = [name if "." in name else f"builtins.{name}" for name in _GLOBAL_IN_MESSAGE.findall(message)]
    if names:
        return _refused(what, names)
    if "truncated" in message.lower() or head.startswith(_ZIP_MAGIC):
        return CheckpointError(N_("{what} is truncated or corrupt: its data could not be decoded. Download it again."),
                               what=what)
    return CheckpointError(N_("{what} is not a PyTorch checkpoint that can be loaded safely: it is a pickle that uses "
                              "features plain weight files never need. Choose the .pth file of the model weights."),
                           what=what)


def _plain_pickle_error(handle: IO[bytes], head: bytes, what: Message, raw: bytes | None) -> CheckpointError:
    names = _disallowed_globals(handle, head, raw)
    if names:
        return _refused(what, names)
    return CheckpointError(N_("{what} is not a PyTorch checkpoint: it is a plain Python pickle, not a file written by "
                              "torch.save. Choose the .pth file of the model weights (or re-save the weights with "
                              "torch.save)."), what=what)


def _refused(what: Message, names: list[str]) -> CheckpointError:
    shown = ", ".join(dict.fromkeys(_friendly(name) for name in names))
    return CheckpointError(N_("{what} was refused: it asks Python to run code that is not allowed when loading "
                              "weights ({names}). A checkpoint should hold only tensors and plain values; this one "
                              "could run commands on this computer, so nothing in it was executed. Use the official "
                              "checkpoint from a source you trust."), what=what, names=shown)


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


def _pickle_bytes(handle: IO[bytes], head: bytes, raw: bytes | None, limit: int = 64 * MB) -> bytes | None:
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


def describe_head(head: bytes) -> str | None:
    """What a file is, from its first bytes, when it is plainly not weights (a template: an image, a web page,
    an LFS pointer, text, ...); ``None`` when its first bytes do not say."""
    return _describe_foreign(head)


def is_pickle_or_torch_zip(head: bytes) -> bool:
    """Whether the first bytes are a pickle's or a zip's (every ``torch.save`` file is one or the other)."""
    return head.startswith((_ZIP_MAGIC, _PICKLE_PROTO))


def refused_globals(path_or_bytes: str | bytes, head: bytes) -> list[str]:
    """The code a pickle (or a ``torch.save`` zip's ``data.pkl``) asks Python to import that loading weights never
    allows, read from its opcodes without running any of it, each named for a reader (``os.system (posix.system)``).
    """
    if isinstance(path_or_bytes, bytes):
        names = _disallowed_globals(io.BytesIO(path_or_bytes), head, path_or_bytes)
    else:
        with open(path_or_bytes, "rb") as handle:
            names = _disallowed_globals(handle, head, None)
    return list(dict.fromkeys(_friendly(name) for name in names))


def _looks_like_safetensors(head: bytes) -> bool:
    if len(head) < 10:
        return False
    header_len = int.from_bytes(head[:8], "little")
    return 2 <= header_len < 100 * MB and head[8:9] == b"{" and head[9:10] in (b'"', b"}")


def _load_safetensors(handle: IO[bytes], what: Message) -> dict[str, Tensor]:
    try:
        from safetensors.torch import load as load_safetensors
    except ImportError:
        raise CheckpointError(N_("{what} is a .safetensors file, but the 'safetensors' package is not installed "
                                 "(pip install safetensors)."), what=what) from None
    handle.seek(0)
    try:
        return load_safetensors(handle.read())
    except Exception as error:  # safetensors raises its own SafetensorError
        raise CheckpointError(N_("{what} is a damaged .safetensors file ({error}). Get the file again."),
                              what=what, error=str(error)) from None


def _describe_foreign(head: bytes) -> str | None:
    """What the file is instead of a checkpoint (a template without fields), when its first bytes say so."""
    stripped = head.lstrip().lower()
    signatures = (
        (b"\x89PNG", N_("it is a PNG image")),
        (b"\xff\xd8\xff", N_("it is a JPEG image")),
        (b"GIF8", N_("it is a GIF image")),
        (b"%PDF", N_("it is a PDF document")),
        (b"\x1f\x8b", N_("it is gzip-compressed (decompress it first)")),
        (b"BZh", N_("it is bzip2-compressed (decompress it first)")),
        (b"\xfd7zXZ", N_("it is xz-compressed (decompress it first)")),
        (b"7z\xbc\xaf", N_("it is a 7-Zip archive (extract it first)")),
        (b"\x93NUMPY", N_("it is a NumPy .npy array")),
        (b"\x89HDF", N_("it is an HDF5 (Keras / TensorFlow) file")),
    )
    for magic, description in signatures:
        if head.startswith(magic):
            return description
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return N_("it is a WebP image")
    if stripped.startswith(b"version https://git-lfs"):
        return N_("it is a Git LFS pointer, not the weights: run `git lfs pull` or download the file itself")
    if stripped.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")):
        return N_("it is a web page: the download link probably pointed at a page, not at the file")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return N_("it looks like a text file")
    return None
