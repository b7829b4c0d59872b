"""Hostile-input tests for container_edu.images.

Every corpus file is generated here (no committed binaries). Most tests
would fail against a naive ``Image.open(data).convert("RGB")``: each one
names the protection it exercises.
"""

from __future__ import annotations

import io
import json
import pathlib
import random
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import (
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageFile,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
)

from container_edu.images import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_UPLOAD_BYTES,
    ImageError,
    _to_rgb,
    fit_within,
    image_digest,
    load_image,
)

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
FORMATS_TEXT = "PNG, JPEG, WebP, GIF, BMP, TIFF"


# ---------------------------------------------------------------------------
# Corpus builders
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Input kinds
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview, io.BytesIO])
def test_accepts_bytes_like_and_file_like(wrap):
    source = small_rgb()
    result = load_image(wrap(encode(source, "PNG")))
    assert result.mode == "RGB"
    assert result.size == source.size
    assert result.tobytes() == source.tobytes()


def test_accepts_str_and_pathlike(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(encode(small_rgb(), "PNG"))
    for source in (str(path), path):
        assert load_image(source).tobytes() == small_rgb().tobytes()


def test_result_is_independent_plain_image_without_metadata():
    data = encode(small_rgb(), "PNG", pnginfo=_png_text("Comment", "hello"))
    result = load_image(data)
    # The opened file is closed by now; a result still tied to it would fail here.
    assert result.getpixel((0, 0)) == small_rgb().getpixel((0, 0))
    assert type(result) is Image.Image
    assert result.info == {}


def _png_text(key: str, value: str) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text(key, value)
    return info


class ShortReadStream(io.RawIOBase):
    """Unseekable stream that hands out at most 7 bytes per read()."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = 7 if size is None or size < 0 else min(size, 7)
        chunk = self._data[self._pos : self._pos + size]
        self._pos += len(chunk)
        return chunk


def test_stream_with_short_reads_is_read_completely():
    source = small_rgb((20, 20))
    assert load_image(ShortReadStream(encode(source, "PNG"))).tobytes() == source.tobytes()


class EndlessStream(io.RawIOBase):
    """Like /dev/zero: never ends. Counts what the loader asked for."""

    def __init__(self) -> None:
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            raise AssertionError("loader tried to read an endless stream without a limit")
        size = min(size, 1 << 16)
        self.bytes_read += size
        return b"\x89PNG" + bytes(size - 4) if size >= 4 else bytes(size)


def test_endless_stream_is_read_only_up_to_cap():
    stream = EndlessStream()
    with pytest.raises(ImageError, match="too large"):
        load_image(stream, max_bytes=100_000)
    assert stream.bytes_read == 100_001


def test_text_mode_file_is_a_type_error(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"not really")
    with open(path, encoding="latin-1") as handle, pytest.raises(TypeError, match="'rb'"):
        load_image(handle)


@pytest.mark.parametrize("bad", [123, None, 4.5, ["a.png"]])
def test_unsupported_input_type_is_a_type_error(bad):
    with pytest.raises(TypeError):
        load_image(bad)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_bytes": 0},
        {"max_bytes": -5},
        {"max_pixels": 0},
        {"max_bytes": True},
        {"background": (256, 0, 0)},
        {"background": (0, 0)},
        {"background": "white"},
    ],
)
def test_invalid_keyword_arguments_raise_value_error(kwargs):
    with pytest.raises(ValueError) as info:
        load_image(encode(small_rgb(), "PNG"), **kwargs)
    assert not isinstance(info.value, ImageError)  # a programming error, not a bad upload


# ---------------------------------------------------------------------------
# Empty, oversized, not an image, truncated, corrupt
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("empty", [b"", bytearray(), memoryview(b""), io.BytesIO()])
def test_empty_input(empty):
    with pytest.raises(ImageError, match="empty"):
        load_image(empty)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(path)


def test_exhausted_file_object_explains_seek():
    stream = io.BytesIO(encode(small_rgb(), "PNG"))
    stream.read()
    with pytest.raises(ImageError, match=r"seek\(0\)"):
        load_image(stream)


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(ImageError, match="No file found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def test_over_cap_bytes_message_names_cap_in_mb():
    data = encode(small_rgb(), "PNG")
    with pytest.raises(ImageError, match="too large") as info:
        load_image(data, max_bytes=len(data) - 1)
    assert "MB" in str(info.value)
    assert load_image(data, max_bytes=len(data)).size == (8, 6)  # exactly at the cap is fine


def test_default_cap_is_20_mb():
    assert DEFAULT_MAX_UPLOAD_BYTES == 20 * 1024 * 1024
    assert DEFAULT_MAX_PIXELS == 40_000_000
    with pytest.raises(ImageError, match=r"limit is 20 MB"):
        load_image(bytes(DEFAULT_MAX_UPLOAD_BYTES + 1))


def test_over_cap_file_object():
    data = encode(small_rgb(), "PNG")
    with pytest.raises(ImageError, match="too large"):
        load_image(io.BytesIO(data), max_bytes=50)


def test_huge_file_on_disk_is_refused_from_its_size_without_reading(tmp_path):
    path = tmp_path / "huge.png"
    with open(path, "wb") as handle:
        handle.write(encode(small_rgb(), "PNG"))
        handle.truncate(64 << 20)  # 64 MiB, sparse where the filesystem allows
    tracemalloc.start()
    try:
        with pytest.raises(ImageError, match="too large"):
            load_image(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20  # reading even the 20 MB cap would show up here


def test_random_bytes_are_not_an_image():
    noise = random.Random(1234).randbytes(5000)
    with pytest.raises(ImageError, match="not an image") as info:
        load_image(noise)
    assert FORMATS_TEXT in str(info.value)


def test_html_page_is_explained():
    html = (
        b"<!DOCTYPE html>\n<html><head><title>Cat</title></head>"
        b"<body><img src=cat.png></body></html>"
    )
    with pytest.raises(ImageError, match="web page") as info:
        load_image(html)
    assert FORMATS_TEXT in str(info.value)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(encode(small_rgb(), "PPM"), id="ppm"),
        pytest.param(encode(small_rgb(), "ICO"), id="ico"),
        pytest.param(encode(small_rgb(), "TGA"), id="tga"),
        pytest.param(encode(small_rgb(), "PCX"), id="pcx"),
        pytest.param(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", id="eps"),
    ],
)
def test_formats_outside_the_allowlist_are_refused(data):
    # Pillow itself would open all of these (EPS would even run Ghostscript).
    with pytest.raises(ImageError, match="supported format"):
        load_image(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"])
def test_truncated_files(fmt):
    rng = np.random.default_rng(7)
    noisy = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = encode(noisy, fmt)
    for cut in (len(data) // 2, len(data) - 40):
        with pytest.raises(ImageError):
            load_image(data[:cut])


def test_png_missing_only_its_trailer_is_accepted():
    # Pillow stops once every row is decoded, so a PNG that lost just its
    # zlib checksum, final CRC and IEND still yields all of its pixels.
    source = small_rgb((16, 16))
    data = encode(source, "PNG")
    assert load_image(data[:-20]).tobytes() == source.tobytes()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_message_says_truncated(fmt):
    rng = np.random.default_rng(8)
    data = encode(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), fmt)
    with pytest.raises(ImageError, match="truncated"):
        load_image(data[: len(data) * 2 // 3])


def test_png_header_only():
    data = encode(small_rgb(), "PNG")
    with pytest.raises(ImageError):
        load_image(data[:33])  # signature + IHDR, nothing else


def test_png_with_bad_crc():
    data = bytearray(encode(small_rgb(), "PNG"))
    idat = data.find(b"IDAT")
    data[idat + 6] ^= 0xFF
    with pytest.raises(ImageError):
        load_image(bytes(data))


def test_zero_width_png():
    with pytest.raises(ImageError):
        load_image(handmade_png(0, 10, zlib.compress(b"")))


def test_does_not_touch_pil_globals():
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters))
    load_image(encode(small_rgb(), "PNG"))
    for bad in (bomb_png(raw_mib=1), b"junk", encode(small_rgb(), "PNG")[:40]):
        with pytest.raises(ImageError):
            load_image(bad)
    after = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters))
    assert before == after


# ---------------------------------------------------------------------------
# Decompression bombs
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def png_bomb() -> bytes:
    return bomb_png()


def test_png_bomb_is_small_but_huge(png_bomb, monkeypatch):
    assert 100_000 < len(png_bomb) < 1_000_000
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with Image.open(io.BytesIO(png_bomb)) as im:  # lazy: header only
        assert im.size == (40_000, 40_000)


def test_png_bomb_refused_before_decoding(png_bomb, monkeypatch):
    # With Pillow's default guard in place: refused from the header, no pixel decoded (the spy would raise).
    _spy_on_load(monkeypatch, PngImagePlugin.PngImageFile)
    tracemalloc.start()
    try:
        with pytest.raises(ImageError, match="too many pixels"):
            load_image(png_bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20  # a few MB at most (the input itself is already in memory)


def _spy_on_load(monkeypatch, cls):
    def refuse(self, *args, **kwargs):
        raise LoadCalled(f"{cls.__name__}.load() was called: pixels would be allocated")

    monkeypatch.setattr(cls, "load", refuse)


def test_png_bomb_refused_without_pils_global_guard(png_bomb, monkeypatch):
    # Simulates someone elsewhere in the process disabling Pillow's guard:
    # our per-call check must still stop the bomb before load().
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    _spy_on_load(monkeypatch, PngImagePlugin.PngImageFile)
    tracemalloc.start()
    try:
        with pytest.raises(ImageError, match="megapixels"):
            load_image(png_bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20  # a few MB at most (the input itself is already in memory)


BOMBS = {
    "jpeg": (
        lambda: patch_jpeg_size(encode(small_rgb(), "JPEG"), 65_000, 65_000),
        JpegImagePlugin.JpegImageFile,
    ),
    "gif": (lambda: handmade_gif(65_000, 65_000), GifImagePlugin.GifImageFile),
    "bmp": (
        lambda: patch_bmp_size(encode(small_rgb(), "BMP"), 50_000, 50_000),
        BmpImagePlugin.BmpImageFile,
    ),
    "tiff": (
        lambda: patch_tiff_size(encode(small_rgb(), "TIFF"), 65_000, 65_000),
        TiffImagePlugin.TiffImageFile,
    ),
    "webp": (
        lambda: patch_webp_canvas(animated_webp(), 16_383, 16_383),
        WebPImagePlugin.WebPImageFile,
    ),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_bombs_in_other_formats_refused_before_load(name, monkeypatch):
    build, cls = BOMBS[name]
    data = build()
    with pytest.raises(ImageError):  # default globals: refused one way or another
        load_image(data)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    _spy_on_load(monkeypatch, cls)  # refused from the header: decoding would raise LoadCalled
    with pytest.raises(ImageError, match="megapixels"):
        load_image(data)


def test_bomb_below_pils_threshold_is_still_refused(monkeypatch):
    # 8000x6000 = 48 MP: Pillow's own guard (~89 MP) would let this through.
    data = handmade_png(8000, 6000, zlib.compress(bytes(8001)))
    _spy_on_load(monkeypatch, PngImagePlugin.PngImageFile)
    with pytest.raises(ImageError, match=r"8000x6000 = 48\.0 megapixels.*limit of 40 megapixels"):
        load_image(data)


def test_max_pixels_is_per_call():
    data = encode(Image.new("RGB", (10, 10), "red"), "PNG")
    assert load_image(data, max_pixels=100).size == (10, 10)
    with pytest.raises(ImageError, match="megapixels"):
        load_image(data, max_pixels=99)


def test_decompression_bomb_warning_as_error_is_converted():
    # 10000x10000 = 100 MP sits between Pillow's warning and error thresholds;
    # with warnings turned into errors Image.open raises the warning itself.
    data = handmade_png(10_000, 10_000, zlib.compress(bytes(10_001)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageError):
            load_image(data, max_pixels=10**9)


_RSS_PROBE = textwrap.dedent(
    """
    import json, sys, zlib
    sys.path.insert(0, sys.argv[1])
    sys.path.insert(0, sys.argv[2])
    from PIL import Image
    from container_edu.images import ImageError, load_image
    from test_images import bomb_png, handmade_png

    Image.MAX_IMAGE_PIXELS = None  # prove our own check is what saves us

    def peak_rss_kib():
        # VmHWM belongs to this process image; getrusage's ru_maxrss survives exec and
        # would start at the (large) pytest parent's peak, hiding any growth here.
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("no VmHWM in /proc/self/status")

    def peak_growth_mib(data, max_pixels):
        before = peak_rss_kib()
        try:
            load_image(data, max_pixels=max_pixels)
            outcome = "loaded"
        except ImageError:
            outcome = "ImageError"
        after = peak_rss_kib()
        return outcome, (after - before) / 1024

    # Control: a real 8000 x 8000 image (64 MP, decoded in full, then made RGB)
    # shows that this measurement sees pixel memory, so it would catch a missing guard.
    # Built first, so that its raw bytes are already in the baseline of both measurements.
    side = 8_000
    # Non-zero pixels, so every page of the decoded image is really written.
    control = handmade_png(side, side, zlib.compress((bytes([0]) + bytes([7]) * side) * side, 1))
    guarded = peak_growth_mib(bomb_png(), 40_000_000)
    unguarded = peak_growth_mib(control, 2_000_000_000)
    print(json.dumps({"guarded": guarded, "unguarded": unguarded}))
    """
)


def test_png_bomb_peak_rss_in_subprocess():
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, str(REPO_ROOT), str(pathlib.Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=300,  # a hang guard, not a speed limit
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    outcome, growth = report["guarded"]
    assert outcome == "ImageError"
    assert growth < 32, f"peak RSS grew by {growth:.0f} MiB while refusing a bomb"
    control_outcome, control_growth = report["unguarded"]
    assert control_outcome == "loaded"
    assert control_growth > 150


# ---------------------------------------------------------------------------
# Orientation, transparency, modes
# ---------------------------------------------------------------------------


def _marked_image() -> Image.Image:
    """4x2 blue image with a red top-left pixel."""
    image = Image.new("RGB", (4, 2), (0, 0, 255))
    image.putpixel((0, 0), (255, 0, 0))
    return image


def _with_orientation(fmt: str, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    extra = {"quality": 95} if fmt == "JPEG" else {}
    return encode(_marked_image(), fmt, exif=exif, **extra)


def test_exif_orientation_6_rotates_jpeg():
    result = load_image(_with_orientation("JPEG", 6))
    assert result.size == (2, 4)


def test_exif_orientation_6_pixel_lands_top_right():
    # Orientation 6 means "rotate 90 degrees clockwise to display".
    result = load_image(_with_orientation("PNG", 6))
    assert result.size == (2, 4)
    assert result.getpixel((1, 0)) == (255, 0, 0)
    assert result.getpixel((0, 0)) == (0, 0, 255)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation(orientation):
    result = load_image(_with_orientation("PNG", orientation))
    assert result.size == ((2, 4) if orientation >= 5 else (4, 2))
    reds = [xy for xy in np.ndindex(*result.size) if result.getpixel(xy) == (255, 0, 0)]
    assert len(reds) == 1


def test_garbage_exif_does_not_reject_the_photo():
    data = encode(_marked_image(), "JPEG", exif=b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + bytes(30))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = load_image(data)
    assert result.size == (4, 2)


def test_palette_with_transparency_composited_on_background():
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)  # 0 = red (transparent), 1 = blue
    image.putpixel((3, 3), 1)
    data = encode(image, "PNG", transparency=0)
    result = load_image(data, background=(0, 255, 0))
    assert result.getpixel((0, 0)) == (0, 255, 0)  # not the hidden red
    assert result.getpixel((3, 3)) == (0, 0, 255)
    assert load_image(data).getpixel((0, 0)) == (255, 255, 255)  # default background


def test_gif_transparency_composited():
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putpixel((1, 1), 1)
    result = load_image(encode(image, "GIF", transparency=0), background=(10, 20, 30))
    assert result.getpixel((0, 0)) == (10, 20, 30)
    assert result.getpixel((1, 1)) == (0, 0, 255)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_rgba_alpha_blended(fmt):
    image = Image.new("RGBA", (2, 1), (255, 0, 0, 0))  # fully transparent red
    image.putpixel((1, 0), (255, 0, 0, 128))  # half-transparent red
    extra = {"lossless": True, "exact": True} if fmt == "WEBP" else {}
    result = load_image(encode(image, fmt, **extra), background=(0, 0, 255))
    assert result.getpixel((0, 0)) == (0, 0, 255)
    red, green, blue = result.getpixel((1, 0))
    assert abs(red - 128) <= 1 and green == 0 and abs(blue - 127) <= 1


def test_la_png_composited():
    image = Image.new("LA", (2, 1), (200, 0))
    image.putpixel((1, 0), (200, 255))
    result = load_image(encode(image, "PNG"), background=(0, 0, 0))
    assert result.getpixel((0, 0)) == (0, 0, 0)
    assert result.getpixel((1, 0)) == (200, 200, 200)


@pytest.mark.parametrize(
    ("mode", "colour", "trns"),
    [("L", 40, 40), ("RGB", (1, 2, 3), (1, 2, 3))],
)
def test_trns_colour_key_composited(mode, colour, trns):
    image = Image.new(mode, (2, 1), colour)
    image.putpixel((1, 0), 250 if mode == "L" else (250, 250, 250))
    result = load_image(encode(image, "PNG", transparency=trns), background=(9, 99, 199))
    assert result.getpixel((0, 0)) == (9, 99, 199)
    assert result.getpixel((1, 0)) == (250, 250, 250)


@pytest.mark.parametrize("mode", ["PA", "La", "RGBa"])
def test_alpha_modes_pillow_cannot_write_are_flattened(mode):
    # No supported file format round-trips these modes through Pillow's
    # writers, so the conversion helper is checked directly.
    image = Image.new("RGBA", (2, 1), (255, 0, 0, 0))
    image.putpixel((1, 0), (255, 0, 0, 255))
    if mode == "PA":
        image = image.convert("PA")
    elif mode == "La":
        image = Image.new("La", (2, 1), 0)
        image.putpixel((1, 0), (255, 255))
    else:
        image = image.convert("RGBa")
    result = _to_rgb(image, (0, 255, 0))
    assert result.mode == "RGB"
    assert result.getpixel((0, 0)) == (0, 255, 0)
    assert result.getpixel((1, 0)) in {(255, 0, 0), (255, 255, 255)}


def test_grayscale_l_and_bilevel():
    grey = load_image(encode(Image.new("L", (3, 3), 77), "PNG"))
    assert grey.getpixel((1, 1)) == (77, 77, 77)
    bilevel = Image.new("1", (2, 1), 0)
    bilevel.putpixel((1, 0), 1)
    for fmt in ("PNG", "BMP", "TIFF"):
        result = load_image(encode(bilevel, fmt))
        assert result.mode == "RGB"
        assert [result.getpixel((x, 0)) for x in range(2)] == [(0, 0, 0), (255, 255, 255)]


def _gradient16() -> np.ndarray:
    return np.linspace(0, 65535, 256).round().astype(np.uint16).reshape(1, 256).repeat(3, axis=0)


def test_16bit_png_gradient_uses_full_8bit_range():
    data = encode(Image.fromarray(_gradient16()), "PNG")
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.mode == "I;16"
    result = np.asarray(load_image(data))[0, :, 0]
    assert result.min() == 0 and result.max() == 255
    assert np.all(np.diff(result.astype(int)) >= 0)
    assert abs(int(result[128]) - 128) <= 1  # clipping would make this 255
    assert len(np.unique(result)) > 200


@pytest.mark.parametrize("mode", ["I;16", "I;16B"])
def test_16bit_tiff_both_byte_orders(mode):
    values = _gradient16()
    big_endian = mode == "I;16B"
    raw = values.astype(">u2" if big_endian else "<u2").tobytes()
    data = encode(Image.frombytes(mode, (256, 3), raw), "TIFF")
    with Image.open(io.BytesIO(data)) as opened:
        assert opened.mode == mode
    result = np.asarray(load_image(data))[0, :, 0]
    assert result[0] == 0 and result[-1] == 255
    assert abs(int(result[128]) - 128) <= 1


def test_32bit_int_tiff():
    in_16bit_range = np.array([[0, 32768, 65535]], dtype=np.int32)
    result = np.asarray(load_image(encode(Image.fromarray(in_16bit_range), "TIFF")))[0, :, 0]
    assert list(result) == [0, 128, 255]
    wide = np.array([[-1_000_000, 0, 3_000_000]], dtype=np.int32)
    result = np.asarray(load_image(encode(Image.fromarray(wide), "TIFF")))[0, :, 0]
    assert list(result) == [0, 64, 255]  # stretched, not clipped


def test_float_tiff():
    unit = np.linspace(0, 1, 11, dtype=np.float32).reshape(1, 11)
    result = np.asarray(load_image(encode(Image.fromarray(unit), "TIFF")))[0, :, 0]
    assert result[0] == 0 and result[-1] == 255 and result[5] in (127, 128)
    hostile = np.array([[np.nan, -np.inf, np.inf, -5.0, 5000.0]], dtype=np.float32)
    result = load_image(encode(Image.fromarray(hostile), "TIFF"))
    assert result.mode == "RGB" and result.size == (5, 1)
    all_nan = np.full((2, 2), np.nan, dtype=np.float32)
    assert load_image(encode(Image.fromarray(all_nan), "TIFF")).getpixel((0, 0)) == (0, 0, 0)


def test_cmyk_jpeg():
    data = encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG", quality=95)
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.mode == "CMYK"
    red, green, blue = load_image(data).getpixel((4, 4))
    assert red > 200 and green < 60 and blue < 60


@pytest.mark.parametrize("mode", ["YCbCr", "LAB", "CMYK"])
def test_other_colour_spaces_in_tiff(mode):
    source = small_rgb().convert(mode)
    data = encode(source, "TIFF")
    result = load_image(data)
    assert result.mode == "RGB" and result.size == source.size
    with Image.open(io.BytesIO(data)) as raw:
        assert result.tobytes() == raw.convert("RGB").tobytes()  # Pillow's own conversion


def test_animated_gif_takes_first_frame():
    data = animated_gif()
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.n_frames == 3
    assert load_image(data).getpixel((4, 4)) == (255, 0, 0)


def test_animated_webp_takes_first_frame():
    data = animated_webp()
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.n_frames == 2
    assert load_image(data).getpixel((4, 4)) == (255, 0, 0)


def test_mpo_takes_first_picture():
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0))]
    data = encode(frames[0], "MPO", save_all=True, append_images=frames[1:], quality=95)
    red, green, blue = load_image(data).getpixel((8, 8))
    assert red > 240 and green < 15 and blue < 15


@pytest.mark.parametrize(
    ("fmt", "params"),
    [("PNG", {}), ("BMP", {}), ("TIFF", {}), ("WEBP", {"lossless": True}), ("GIF", {})],
)
def test_lossless_round_trip_every_format(fmt, params):
    source = Image.new("RGB", (5, 4), (12, 200, 34))
    source.putpixel((4, 3), (250, 1, 128))
    result = load_image(encode(source, fmt, **params))
    assert result.mode == "RGB"
    assert result.tobytes() == source.tobytes()


@pytest.mark.parametrize("size", [(1, 1), (1, 5000), (5000, 1)])
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_tiny_and_extreme_aspect_ratios(size, fmt):
    result = load_image(encode(Image.new("RGB", size, (90, 90, 90)), fmt))
    assert result.mode == "RGB" and result.size == size
    shown = fit_within(result, 100)
    assert max(shown.size) <= 100 and min(shown.size) >= 1


# ---------------------------------------------------------------------------
# image_digest and fit_within
# ---------------------------------------------------------------------------


def test_image_digest_is_a_content_key():
    a = small_rgb()
    digest = image_digest(a)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert image_digest(small_rgb()) == digest
    assert image_digest(load_image(encode(a, "PNG"))) == digest
    b = a.copy()
    b.putpixel((0, 0), (1, 2, 3))
    assert image_digest(b) != digest


def test_image_digest_covers_mode_size_and_palette():
    row = Image.frombytes("L", (4, 1), b"abcd")
    column = Image.frombytes("L", (1, 4), b"abcd")
    as_palette = Image.frombytes("P", (4, 1), b"abcd")
    assert len({image_digest(row), image_digest(column), image_digest(as_palette)}) == 3
    recoloured = as_palette.copy()
    recoloured.putpalette([9] * 768)
    assert image_digest(recoloured) != image_digest(as_palette)


def test_fit_within_downscales_keeping_aspect():
    image = Image.new("RGB", (1000, 500))
    assert fit_within(image, 200).size == (200, 100)
    assert fit_within(Image.new("RGB", (333, 1000)), 100).size == (33, 100)


def test_fit_within_never_upscales():
    image = Image.new("RGB", (50, 20), "red")
    result = fit_within(image, 200)
    assert result.size == (50, 20)
    assert result is not image
    assert fit_within(image, 50).size == (50, 20)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_fit_within_rejects_bad_sizes(bad):
    with pytest.raises(ValueError):
        fit_within(Image.new("RGB", (4, 4)), bad)


# ---------------------------------------------------------------------------
# Fuzzing: the only exception load_image may raise on bytes is ImageError
# ---------------------------------------------------------------------------

FUZZ_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _load_or_image_error(data: bytes, **kwargs: object) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about odd EXIF etc.; not our concern
        try:
            result = load_image(data, **kwargs)
        except ImageError as exc:
            assert str(exc)
            return
    assert isinstance(result, Image.Image)
    assert result.mode == "RGB"
    assert result.width >= 1 and result.height >= 1
    result.tobytes()  # really decoded and still usable


@FUZZ_SETTINGS
@given(st.binary(max_size=4096))
def test_fuzz_random_bytes(data):
    _load_or_image_error(data)


def _seed_corpus() -> list[bytes]:
    rgb = small_rgb((12, 9))
    palette = Image.new("P", (6, 6), 0)
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette.putpixel((2, 2), 1)
    return [
        encode(rgb, "PNG"),
        encode(palette, "PNG", transparency=0),
        encode(Image.fromarray(_gradient16()[:, :16]), "PNG"),
        _with_orientation("JPEG", 6),
        encode(rgb, "JPEG", quality=70, progressive=True),
        encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG"),
        animated_gif(),
        encode(palette, "GIF", transparency=0),
        animated_webp(),
        encode(rgb, "WEBP", quality=50),
        encode(rgb, "BMP"),
        encode(rgb, "TIFF"),
        encode(rgb, "TIFF", compression="tiff_lzw"),
        encode(Image.fromarray(np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)), "TIFF"),
    ]


SEEDS = _seed_corpus()


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    # Half the edits hit the first 64 bytes, where headers (and sizes) live.
    position = st.one_of(
        st.integers(0, min(63, len(data) - 1)), st.integers(0, len(data) - 1)
    )
    for _ in range(draw(st.integers(0, 6))):
        at = draw(position)
        if at < len(data):
            data[at] = draw(st.sampled_from([0x00, 0xFF, data[at] ^ 0x01, data[at] ^ 0x80]))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@FUZZ_SETTINGS
@given(mutated_images())
def test_fuzz_mutated_valid_images(data):
    _load_or_image_error(data)


@FUZZ_SETTINGS
@given(mutated_images())
def test_fuzz_mutated_via_file_object_with_small_pixel_cap(data):
    _load_or_image_error(io.BytesIO(data), max_pixels=200)
