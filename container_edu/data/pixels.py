"""Any decoded Pillow image as upright 8-bit RGB: EXIF orientation, transparency on a background, 16-bit and
float pixels scaled to 8 bits (used by :mod:`container_edu.data.images` after a bounded decode)."""

from __future__ import annotations

import struct
import zlib
from typing import Final

import numpy as np
from PIL import ExifTags, Image, ImageOps

__all__ = ["DECODE_ERRORS", "ORIENTATION_TRANSPOSE", "apply_exif_orientation", "to_rgb"]

# Exceptions Pillow's plugins and decoders are known to raise on malformed
# input. Listed explicitly (rather than ``Exception``) so genuine bugs in
# this module still surface as bugs.
DECODE_ERRORS: Final[tuple[type[BaseException], ...]] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    OverflowError,
    AttributeError,
)

_ALPHA_MODES: Final[frozenset[str]] = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})

# Same table ImageOps.exif_transpose uses; kept here as a fallback for when
# exif_transpose trips over a damaged EXIF block after deciding to rotate.
ORIENTATION_TRANSPOSE: Final[dict[int, Image.Transpose]] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# round(v * 255 / 65535) for every 16-bit value; a table lookup avoids the
# wide temporary arrays that arithmetic on a 40-megapixel image would need.
_U16_TO_U8: Final[np.ndarray] = (
    (np.arange(65536, dtype=np.uint32) + 128) // 257
).astype(np.uint8)


def apply_exif_orientation(image: Image.Image) -> Image.Image:
    """Return ``image`` turned upright, or ``image`` itself when no turn is needed."""
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    except DECODE_ERRORS:
        return image  # unreadable EXIF: a damaged tag should not reject a good photo
    method = ORIENTATION_TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
    if method is None:
        return image  # skip exif_transpose: it copies the image even when upright
    try:
        turned = ImageOps.exif_transpose(image)
    except DECODE_ERRORS:
        turned = None
    return turned if turned is not None else image.transpose(method)


def to_rgb(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Return a new RGB image; never returns ``image`` itself."""
    mode = image.mode
    if mode == "F" or mode == "I" or mode.startswith("I;"):
        return _high_bit_depth_to_rgb(image, background)
    if mode in _ALPHA_MODES or image.info.get("transparency") is not None:
        if mode == "La":  # Pillow has no La -> RGBA converter
            image = image.convert("LA")
        return _flatten(image.convert("RGBA"), background)
    if mode == "RGB":
        return image.copy()
    # 1, L, P, CMYK, YCbCr, LAB, HSV, RGBX: Pillow's own converters.
    return image.convert("RGB")


def _flatten(rgba: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    canvas = Image.new("RGB", rgba.size, background)
    canvas.paste(rgba, (0, 0), rgba)
    return canvas


def _high_bit_depth_to_rgb(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """Scale 16/32-bit integer and float grayscale into 8 bits without clipping."""
    values = np.asarray(image)
    if values.ndim != 2:
        raise ValueError(f"unexpected {image.mode} pixel layout {values.shape}")
    if image.mode == "F":
        gray = _float_to_u8(values)
    elif image.mode.startswith("I;16") or (values.size and _fits_u16(values)):
        # Full-range mapping: 0 -> 0 and 65535 -> 255, so relative brightness
        # is kept (a dark 16-bit photo stays dark).
        gray = _U16_TO_U8[values]
    else:
        gray = _stretch_to_u8(values.astype(np.float32))
    gray_image = Image.fromarray(np.ascontiguousarray(gray))

    transparent = image.info.get("transparency")
    if isinstance(transparent, int) and not isinstance(transparent, bool):
        alpha = Image.fromarray(np.where(values == transparent, 0, 255).astype(np.uint8))
        return _flatten(Image.merge("LA", (gray_image, alpha)).convert("RGBA"), background)
    return gray_image.convert("RGB")


def _fits_u16(values: np.ndarray) -> bool:
    return bool(values.min() >= 0 and values.max() <= 65535)


def _float_to_u8(values: np.ndarray) -> np.ndarray:
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, dtype=np.uint8)
    lowest = float(values[finite].min())
    highest = float(values[finite].max())
    cleaned = np.where(finite, values, np.float32(lowest)).astype(np.float32, copy=False)
    if lowest >= 0.0 and highest <= 1.0:
        # The usual convention for float images: 0.0 is black, 1.0 is white.
        return np.rint(cleaned * 255.0).astype(np.uint8)
    if lowest >= 0.0 and highest <= 255.0:
        return np.rint(cleaned).astype(np.uint8)
    return _stretch_to_u8(cleaned)


def _stretch_to_u8(values: np.ndarray) -> np.ndarray:
    """Linearly map min..max onto 0..255 (for data with no natural range)."""
    lowest = float(values.min())
    highest = float(values.max())
    if highest <= lowest:
        return np.full(values.shape, int(np.clip(lowest, 0, 255)), dtype=np.uint8)
    scaled = (values - np.float32(lowest)) * np.float32(255.0 / (highest - lowest))
    return np.rint(np.clip(scaled, 0, 255)).astype(np.uint8)


# --------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------
