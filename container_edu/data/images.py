"""Safe loading of user-supplied images.

Everything a learner uploads passes through :func:`load_image` before it
reaches a model. The loader treats its input as hostile: it caps the number
of bytes read, refuses decompression bombs *before* any pixels are
allocated, accepts only a short list of well-known formats and turns every
decoding failure into an :class:`ImageError` whose message says what to do.

The result is always a fully decoded, independent ``"RGB"`` image with EXIF
orientation applied and transparency flattened onto a background colour, so
the rest of the app never has to think about image modes.

Nothing here touches Pillow's process-wide settings
(``Image.MAX_IMAGE_PIXELS``, ``ImageFile.LOAD_TRUNCATED_IMAGES``, warning
filters): the app serves several users from one process, and the limits are
per call.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import IO, Final, TypeAlias, Union

from PIL import ExifTags, Image, UnidentifiedImageError

from container_edu.checks import positive_int
from container_edu.data.pixels import DECODE_ERRORS, ORIENTATION_TRANSPOSE, apply_exif_orientation, to_rgb
from container_edu.errors import ContainerEduError
from container_edu.files import format_megabytes, open_for_reading, read_capped
from container_edu.text import N_

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "SHARED_FORMAT_MAX_PIXELS",
    "SHARED_MAX_PIXELS",
    "UPLOAD_MAX_ASPECT",
    "UPLOAD_MAX_SIDE",
    "SUPPORTED_FORMATS",
    "ImageError",
    "ImageSource",
    "fit_within",
    "image_digest",
    "load_image",
]

DEFAULT_MAX_UPLOAD_BYTES: Final[int] = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS: Final[int] = 40_000_000
#: The pixel cap for uploads to a server shared by a class (a phone's 12 MP
#: photo passes): some decoders hold the picture as RGBA two or three times
#: over before it can be shrunk (WebP), so one 40 MP upload took 380-990 MB;
#: at 12 MP each format adds under 150 MB (measured by tools/upload_cost.py).
SHARED_MAX_PIXELS: Final[int] = 12_000_000
#: Per-format caps below that on a shared server: Pillow's WebP decoder holds
#: the whole frame two to three times over (12 MP: +186 MB), so half the pixels.
SHARED_FORMAT_MAX_PIXELS: Final[Mapping[str, int]] = MappingProxyType({"WEBP": 6_000_000})
#: Longest side kept of an uploaded picture: every model's input (at most 448
#: px, after a resize to 512 on the shorter side) is made from far fewer pixels.
UPLOAD_MAX_SIDE: Final[int] = 2048
#: Widest accepted ratio of the long side to the short side of an upload: a
#: 40,000 x 1 strip passes a pixel cap but is no picture a model can use.
UPLOAD_MAX_ASPECT: Final[float] = 20.0

#: Pillow format identifiers accepted by :func:`load_image`. MPO is the
#: multi-picture JPEG variant many phone cameras write.
SUPPORTED_FORMATS: Final[tuple[str, ...]] = (
    "PNG",
    "JPEG",
    "MPO",
    "WEBP",
    "GIF",
    "BMP",
    "TIFF",
)
_FORMATS_FOR_HUMANS: Final[str] = "PNG, JPEG, WebP, GIF, BMP, TIFF"
# What Image.open(formats=...) gets. MPO has no opener of its own in Pillow:
# the JPEG opener returns MPO files, and naming "MPO" here makes Image.open
# raise KeyError.
_OPENER_FORMATS: Final[tuple[str, ...]] = tuple(f for f in SUPPORTED_FORMATS if f != "MPO")

ImageSource: TypeAlias = Union[bytes, bytearray, memoryview, str, os.PathLike[str], IO[bytes]]





class ImageError(ContainerEduError, ValueError):
    """The input cannot be used as an image; the message says why and what to do."""


def load_image(
    data: ImageSource,
    *,
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    background: tuple[int, int, int] = (255, 255, 255),
    max_side: int | None = None,
    max_aspect: float | None = None,
    format_max_pixels: Mapping[str, int] | None = None,
) -> Image.Image:
    """Read, validate and fully decode an image into a standalone RGB image.

    Args:
        data: Raw bytes (``bytes``/``bytearray``/``memoryview``), a filesystem
            path (``str`` or ``os.PathLike``), or a binary file-like object
            such as Streamlit's ``UploadedFile``. File-like objects are read
            from their current position.
        max_bytes: Largest accepted input size. At most ``max_bytes + 1``
            bytes are ever read; for paths the size is checked before reading.
        max_pixels: Largest accepted ``width * height``, checked from the
            header before any pixel memory is allocated.
        background: RGB colour that transparent pixels are composited onto.
        max_side: When given, the result is shrunk so its longer side is at
            most this; the shrinking starts while decoding (a JPEG is decoded
            at 1/2, 1/4 or 1/8 scale, other formats are reduced before the
            conversion to RGB), so a large picture never exists in full as RGB.
        max_aspect: When given, refuse an image whose longer side is more than
            this many times its shorter side (checked from the header).
        format_max_pixels: Lower pixel caps for some formats (Pillow's format
            names, e.g. ``{"WEBP": 6_000_000}``), for decoders that need more
            memory per pixel than the others.

    Returns:
        A new ``"RGB"`` image with EXIF orientation applied, transparency
        flattened, high bit depths scaled to 8 bits, only the first frame of
        animations, and no metadata in ``info``.

    Raises:
        ImageError: The input is empty, too large, not an image in a
            supported format, truncated or corrupt, or has too many pixels.
        TypeError: ``data`` is of an unsupported type, or a file-like object
            was opened in text mode.
        ValueError: One of the keyword arguments is out of range.
    """
    positive_int("max_bytes", max_bytes)
    positive_int("max_pixels", max_pixels)
    if max_side is not None:
        positive_int("max_side", max_side)
    if max_aspect is not None and not max_aspect >= 1:
        raise ValueError(f"max_aspect must be at least 1, got {max_aspect!r}")
    background = _check_background(background)
    raw = _read_source(data, max_bytes)
    return _decode(raw, max_pixels=max_pixels, background=background, max_side=max_side, max_aspect=max_aspect,
                   format_max_pixels=format_max_pixels or {})


def image_digest(image: Image.Image) -> str:
    """Return a SHA-256 hex digest of an image's mode, size and pixel bytes.

    Two images with the same digest look identical, which makes the digest a
    suitable cache key. Metadata (``info``) is ignored; for palette images
    the palette is included, since the raw bytes are only palette indices.
    """
    digest = hashlib.sha256()
    digest.update(f"{image.mode}\0{image.width}x{image.height}\0".encode("ascii"))
    if image.mode in ("P", "PA"):
        digest.update(bytes(image.getpalette() or ()))
        digest.update(b"\0")
    digest.update(image.tobytes())
    return digest.hexdigest()


def fit_within(image: Image.Image, max_side: int) -> Image.Image:
    """Return a copy of ``image`` whose longer side is at most ``max_side``.

    The aspect ratio is kept (each side is at least one pixel) and the image
    is never enlarged: if it already fits, an unchanged copy is returned.
    """
    positive_int("max_side", max_side)
    width, height = image.size
    longest = max(width, height)
    if longest <= max_side:
        return image.copy()
    # Integer rounding so the longer side lands exactly on max_side.
    if width >= height:
        size = (max_side, max(1, (height * max_side + longest // 2) // longest))
    else:
        size = (max(1, (width * max_side + longest // 2) // longest), max_side)
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


# --------------------------------------------------------------------------
# Reading the input
# --------------------------------------------------------------------------


def _read_source(data: ImageSource, max_bytes: int) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        if view.nbytes == 0:
            raise ImageError(_EMPTY)
        if view.nbytes > max_bytes:
            raise _too_big(max_bytes, view.nbytes)
        return data if isinstance(data, bytes) else view.tobytes()
    if isinstance(data, (str, os.PathLike)):
        return _read_path(data, max_bytes)
    if callable(getattr(data, "read", None)):
        raw = read_capped(data, max_bytes, lambda size: _too_big(max_bytes, size))
        if not raw:
            raise ImageError(_empty_stream_message(data))
        return raw
    raise TypeError(
        "load_image expects bytes, a file path or a binary file-like object, "
        f"not {type(data).__name__}"
    )


def _read_path(path_like: str | os.PathLike[str], max_bytes: int) -> bytes:
    path = os.fspath(path_like)
    handle = open_for_reading(path, ImageError, missing=N_("No file found at {path}. Check the path."),
                              folder=N_("{path} is a folder, not an image file."))
    try:
        with handle:
            # fstat on the open handle: the size we check is the file we read.
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                raise _too_big(max_bytes, size)
            raw = read_capped(handle, max_bytes, lambda size: _too_big(max_bytes, size))
    except OSError as exc:
        raise ImageError(N_("Could not read {path}: {reason}."), path=repr(path),
                         reason=str(exc.strerror or exc)) from exc
    if not raw:
        raise ImageError(N_("The file {path} is empty (0 bytes). Please choose an image file."), path=repr(path))
    return raw


def _empty_stream_message(stream: object) -> str:
    try:
        at_end = bool(stream.seekable()) and stream.tell() > 0  # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError):
        at_end = False
    if at_end:
        return N_("Nothing left to read: the file object has already been read to the end. "
                  "Call .seek(0) on it first, or pass its bytes (e.g. uploaded_file.getvalue()).")
    return _EMPTY


_EMPTY = N_("The file is empty (0 bytes). Please choose an image file.")


def _too_big(max_bytes: int, actual: int | None) -> ImageError:
    if actual is None:
        return ImageError(N_("The file is too large; the limit is {limit}. Please resize or compress the image and "
                             "try again."), limit=format_megabytes(max_bytes))
    return ImageError(N_("The file is too large ({size}); the limit is {limit}. Please resize or compress the image "
                         "and try again."), size=format_megabytes(actual), limit=format_megabytes(max_bytes))


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------


def _decode(raw: bytes, *, max_pixels: int, background: tuple[int, int, int], max_side: int | None = None,
            max_aspect: float | None = None, format_max_pixels: Mapping[str, int] | None = None) -> Image.Image:
    stage = "open"
    try:
        with Image.open(io.BytesIO(raw), formats=_OPENER_FORMATS) as opened:
            if opened.format not in SUPPORTED_FORMATS:
                raise ImageError(_not_an_image_message(raw), formats=_FORMATS_FOR_HUMANS)
            # Image.open only parses the header, so the pixel count is known
            # here and nothing has been allocated for the pixels yet.
            _check_dimensions(opened.size, min(max_pixels, (format_max_pixels or {}).get(opened.format, max_pixels)))
            if max_aspect is not None:
                _check_aspect(opened.size, max_aspect)
            if max_side is not None and opened.format == "JPEG" and max(opened.size) > max_side:
                # Decoded at the smallest 1/2^k scale whose longer side is still at least max_side / 2.
                opened.draft(opened.mode, (max_side // 2, max_side // 2))
            stage = "load"
            opened.load()
            stage = "convert"
            if max_side is not None and max(opened.size) > max_side:
                result = to_rgb(_shrunk_upright(opened, max_side), background)
                if max(result.size) > max_side:  # a mode shrunk only after its conversion
                    result = fit_within(result, max_side)
            else:
                oriented = apply_exif_orientation(opened)
                # Always a new image, detached from the (about to be closed) file.
                result = to_rgb(oriented, background)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(_not_an_image_message(raw), formats=_FORMATS_FOR_HUMANS) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own global guard fired (it can only be stricter than ours
        # if max_pixels was raised above Pillow's limit).
        raise ImageError(N_("The image has far too many pixels to be opened safely. "
                            "Please resize it (e.g. to under 4000x4000) and try again.")) from None
    except MemoryError:
        raise ImageError(N_("The image is too large to decode in the available memory. "
                            "Please resize it and try again.")) from None
    except DECODE_ERRORS as exc:
        detail = str(exc).strip()
        raise ImageError(_corrupt_message(stage, detail), details=detail, formats=_FORMATS_FOR_HUMANS) from exc
    result.info = {}
    return result


def _check_dimensions(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageError(N_("The image claims to be {width}x{height} pixels, so it has no pixels; "
                            "the file is probably corrupt."), width=width, height=height)
    pixels = width * height
    if pixels > max_pixels:
        raise ImageError(N_("The image is {width}x{height} = {megapixels} megapixels, above the limit of {limit} "
                            "megapixels. Please resize it and try again."),
                         width=width, height=height, megapixels=f"{pixels / 1e6:.1f}", limit=f"{max_pixels / 1e6:g}")


def _check_aspect(size: tuple[int, int], max_aspect: float) -> None:
    width, height = size
    if max(width, height) > max_aspect * min(width, height):
        raise ImageError(N_("The image is {width}x{height} pixels: one side is more than {ratio:g} times the other, "
                            "which no model here can use. Please crop it and try again."),
                         width=width, height=height, ratio=max_aspect)


def _shrunk_upright(image: Image.Image, max_side: int) -> Image.Image:
    """``image`` shrunk to a longer side of ``max_side`` in its own mode, then turned upright.

    Shrunk before the conversion to RGB where Pillow can resample the mode (a
    1-byte-a-pixel picture stays 1 byte a pixel), so no full-size RGB copy is made.
    """
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    except DECODE_ERRORS:
        orientation = 1  # unreadable EXIF: a damaged tag should not reject a good photo
    mode = image.mode
    if mode == "1":
        image = image.convert("L")
    elif image.info.get("transparency") is not None and mode in ("P", "L", "RGB"):
        image = image.convert("RGBA")  # a transparent colour would be blurred into others
    elif mode == "P":
        image = image.convert("RGB")  # palette indices cannot be averaged
    elif mode not in ("L", "LA", "RGB", "RGBA", "RGBX", "CMYK", "I", "F"):
        return apply_exif_orientation(image)  # I;16, La, YCbCr...: rare, shrunk after the conversion
    shrunk = fit_within(image, max_side)
    method = ORIENTATION_TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
    return shrunk.transpose(method) if method is not None else shrunk


def _not_an_image_message(raw: bytes) -> str:
    """The template (its field: ``formats``) that says what the file seems to be instead."""
    head = raw[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return N_("This file is not an image in a supported format. It looks like a web page (HTML): the link "
                  "probably pointed at a page rather than at the image itself. Try 'Save image as...' instead. "
                  "Supported formats: {formats}.")
    if head.startswith(b"<?xml") or b"<svg" in head:
        return N_("This file is not an image in a supported format. It looks like an SVG/XML file; export it as PNG "
                  "first. Supported formats: {formats}.")
    if raw[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc", b"ftypavif"):
        return N_("This file is not an image in a supported format. It looks like a HEIC/AVIF photo; convert it to "
                  "JPEG or PNG first. Supported formats: {formats}.")
    if raw.startswith(b"%PDF"):
        return N_("This file is not an image in a supported format. It is a PDF document; export the page as PNG "
                  "first. Supported formats: {formats}.")
    return N_("This file is not an image in a supported format. Supported formats: {formats}.")


def _corrupt_message(stage: str, detail: str) -> str:
    """The template (fields: ``details``, ``formats``) for a decoder's failure at ``stage``."""
    if stage == "load" and "truncated" in detail.lower():
        return N_("The image file is truncated (it ends too early), probably an incomplete download or upload. "
                  "Please get a fresh copy and try again.")
    if stage == "open":
        if detail:
            return N_("The file looks like an image but its header is damaged or uses an unsupported variant "
                      "(details: {details}). Supported formats: {formats}.")
        return N_("The file looks like an image but its header is damaged or uses an unsupported variant. "
                  "Supported formats: {formats}.")
    if detail:
        return N_("The image data is corrupt or truncated and could not be decoded (details: {details}). Please try "
                  "another copy of the file.")
    return N_("The image data is corrupt or truncated and could not be decoded. Please try another copy of the file.")


def _check_background(background: tuple[int, int, int]) -> tuple[int, int, int]:
    try:
        channels = tuple(background)
    except TypeError:
        channels = ()
    if len(channels) != 3 or not all(
        isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in channels
    ):
        raise ValueError(f"background must be three integers 0..255, got {background!r}")
    return channels  # type: ignore[return-value]
