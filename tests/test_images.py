"""Hostile-input tests for container_edu.data.images: input kinds, bad files, digests, fuzzing.

Every corpus file is generated here or in ``image_corpus.py`` (no committed
binaries); decompression bombs are in ``test_image_bombs.py``, orientation,
transparency and modes in ``test_image_modes.py``. Most tests would fail
against a naive ``Image.open(data).convert("RGB")``: each one names the
protection it exercises.
"""

from __future__ import annotations

import io
import random
import tracemalloc
import warnings
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile, PngImagePlugin

from container_edu.data.images import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_BYTES, ImageError, fit_within, image_digest, load_image

from image_corpus import (
    animated_gif,
    animated_webp,
    bomb_png,
    encode,
    gradient16,
    handmade_png,
    small_rgb,
    with_orientation,
)

FORMATS_TEXT = "PNG, JPEG, WebP, GIF, BMP, TIFF"


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
        encode(Image.fromarray(gradient16()[:, :16]), "PNG"),
        with_orientation("JPEG", 6),
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
