"""Reading untrusted files with a size cap, and checksums of files on disk.

One capped reader serves checkpoints (:mod:`container_edu.hub.checkpoints`) and
images (:mod:`container_edu.data.images`); each passes its own ``too_big`` so the
error names what was too large and what to do about it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Final

from container_edu.text import N_

__all__ = ["MB", "open_for_reading", "read_capped", "format_megabytes", "sha256_file"]

MB: Final[int] = 1024 * 1024
#: Largest single read: a raw stream may hand back less, a huge one should not be asked for all at once.
_CHUNK: Final[int] = 16 * MB


def open_for_reading(path: str, error: Callable[..., Exception], *, missing: str, folder: str) -> IO[bytes]:
    """``open(path, "rb")``, each way it can fail turned into ``error(template, path=..., ...)``.

    ``missing`` and ``folder`` are the templates (field ``{path}``) for a path that does not exist
    and for a folder; permission and other errors name the path and the cause.
    """
    shown = repr(path)
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise error(missing, path=shown) from None
    except IsADirectoryError:
        raise error(folder, path=shown) from None
    except PermissionError:
        raise error(N_("Permission denied when reading {path}."), path=shown) from None
    except OSError as failure:
        raise error(N_("Could not open {path}: {reason}."), path=shown, reason=str(failure.strerror or failure)) from None


def read_capped(stream: IO[bytes], max_bytes: int, too_big: Callable[[int | None], Exception]) -> bytes:
    """Everything left in ``stream``, but never more than ``max_bytes + 1`` bytes read.

    Raises ``too_big(None)`` when the stream holds more than ``max_bytes``
    (its true size is unknown: reading stopped), and ``TypeError`` for a
    stream opened in text mode.
    """
    limit = max_bytes + 1
    chunks: list[bytes] = []
    total = 0
    while total < limit:
        # Loop because raw streams and sockets may return short reads.
        chunk = stream.read(min(limit - total, _CHUNK))
        if isinstance(chunk, str):
            raise TypeError("The file object was opened in text mode; open it with 'rb'.")
        if not chunk:  # b"" at EOF, None for a non-blocking stream with no data
            break
        chunks.append(bytes(chunk))
        total += len(chunk)
    if total > max_bytes:
        raise too_big(None)
    return b"".join(chunks)


def format_megabytes(num_bytes: int) -> str:
    """``"20 MB"``, ``"1.50 MB"``, or for tiny sizes ``"0.00095 MB (1000 bytes)"``."""
    megabytes = num_bytes / MB
    if megabytes >= 10 or megabytes == int(megabytes):
        return f"{megabytes:.0f} MB"
    if megabytes >= 0.01:
        return f"{megabytes:.2f} MB"
    return f"{megabytes:.2g} MB ({num_bytes} bytes)"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 hex digest of the file at ``path``, read in 1 MB pieces."""
    digest = hashlib.sha256()
    with open(Path(path), "rb") as handle:
        for chunk in iter(lambda: handle.read(MB), b""):
            digest.update(chunk)
    return digest.hexdigest()
    return True
