"""Hand-made image files for the hostile-input tests of container_edu.data.images (no committed binaries)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def png_chunk(tag: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC over type+data."""
    crc = zlib.crc32(tag + payload)
    return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", crc)


def handmade_png(
    width: int, height: int, idat: bytes, *, bit_depth: int = 8, color_type: int = 0
) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def zlib_zeros(total: int) -> bytes:
    """A valid zlib stream of ``total`` zero bytes, built without materialising them.

    After a Z_FULL_FLUSH the compressor forgets its history, so the block that
    encodes one MiB of zeros is byte-identical every time and can be repeated.
    """
    mib = 1 << 20
    assert total % mib == 0
    comp = zlib.compressobj(9)
    zeros = bytes(mib)
    first = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    repeat = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    adler = ((total % 65521) << 16) | 1  # Adler-32 of `total` zero bytes
    final_empty_block = b"\x03\x00"
    return first + repeat * (total // mib - 1) + final_empty_block + struct.pack(">I", adler)


def bomb_png(side: int = 40_000, raw_mib: int = 256) -> bytes:
    """A 40000x40000 greyscale PNG (1.6 G pixels) in a few hundred KB."""
    return handmade_png(side, side, zlib_zeros(raw_mib << 20))


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **params)
    return buf.getvalue()


def small_rgb(size: tuple[int, int] = (8, 6)) -> Image.Image:
    arr = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    arr[..., 0] = np.linspace(0, 255, size[0], dtype=np.uint8)[None, :]
    arr[..., 1] = np.linspace(255, 0, size[1], dtype=np.uint8)[:, None]
    arr[..., 2] = 90
    return Image.fromarray(arr)


def patch_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    out = bytearray(data)
    sof = out.find(b"\xff\xc0")
    assert sof > 0
    out[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(out)


def patch_bmp_size(data: bytes, width: int, height: int) -> bytes:
    out = bytearray(data)
    out[18:26] = struct.pack("<ii", width, height)  # BITMAPINFOHEADER
    return bytes(out)


def patch_tiff_size(data: bytes, width: int, height: int) -> bytes:
    out = bytearray(data)
    assert out[:4] == b"II*\x00"
    ifd = struct.unpack_from("<I", out, 4)[0]
    (count,) = struct.unpack_from("<H", out, ifd)
    for i in range(count):
        entry = ifd + 2 + 12 * i
        tag, typ = struct.unpack_from("<HH", out, entry)
        if tag in (256, 257):
            value = width if tag == 256 else height
            fmt = "<H" if typ == 3 else "<I"
            struct.pack_into(fmt, out, entry + 8, value)
    return bytes(out)


def patch_webp_canvas(data: bytes, width: int, height: int) -> bytes:
    out = bytearray(data)
    at = out.find(b"VP8X") + 8 + 4  # chunk header, then flags + 3 reserved bytes
    out[at : at + 3] = (width - 1).to_bytes(3, "little")
    out[at + 3 : at + 6] = (height - 1).to_bytes(3, "little")
    return bytes(out)


def handmade_gif(width: int, height: int) -> bytes:
    """GIF whose single frame claims ``width`` x ``height`` but holds one pixel."""
    return (
        b"GIF89a"
        + struct.pack("<HHBBB", width, height, 0x80, 0, 0)  # 2-colour global table
        + b"\x00\x00\x00\xff\xff\xff"
        + b"\x2c"
        + struct.pack("<HHHHB", 0, 0, width, height, 0)
        + b"\x02\x02\x44\x01\x00"  # LZW: min code size 2, one tiny sub-block
        + b"\x3b"
    )


def animated_webp() -> bytes:
    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "lime")]
    return encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)


class LoadCalled(Exception):
    """Raised by the spy if pixel decoding starts."""


def marked_image() -> Image.Image:
    """4x2 blue image with a red top-left pixel."""
    image = Image.new("RGB", (4, 2), (0, 0, 255))
    image.putpixel((0, 0), (255, 0, 0))
    return image


def with_orientation(fmt: str, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    extra = {"quality": 95} if fmt == "JPEG" else {}
    return encode(marked_image(), fmt, exif=exif, **extra)


def gradient16() -> np.ndarray:
    return np.linspace(0, 65535, 256).round().astype(np.uint16).reshape(1, 256).repeat(3, axis=0)
