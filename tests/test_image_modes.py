"""container_edu.data.images turns every orientation, transparency, bit depth and colour mode into a plain RGB image."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from image_corpus import (
    animated_gif,
    animated_webp,
    encode,
    gradient16,
    marked_image,
    small_rgb,
    with_orientation,
)
from PIL import Image

from container_edu.data.images import fit_within, load_image
from container_edu.data.pixels import to_rgb

# ---------------------------------------------------------------------------
# Orientation, transparency, modes
# ---------------------------------------------------------------------------


def test_exif_orientation_6_rotates_jpeg():
    result = load_image(with_orientation("JPEG", 6))
    assert result.size == (2, 4)


def test_exif_orientation_6_pixel_lands_top_right():
    # Orientation 6 means "rotate 90 degrees clockwise to display".
    result = load_image(with_orientation("PNG", 6))
    assert result.size == (2, 4)
    assert result.getpixel((1, 0)) == (255, 0, 0)
    assert result.getpixel((0, 0)) == (0, 0, 255)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation(orientation):
    result = load_image(with_orientation("PNG", orientation))
    assert result.size == ((2, 4) if orientation >= 5 else (4, 2))
    reds = [xy for xy in np.ndindex(*result.size) if result.getpixel(xy) == (255, 0, 0)]
    assert len(reds) == 1


def test_garbage_exif_does_not_reject_the_photo():
    data = encode(marked_image(), "JPEG", exif=b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + bytes(30))
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
    result = to_rgb(image, (0, 255, 0))
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


def test_16bit_png_gradient_uses_full_8bit_range():
    data = encode(Image.fromarray(gradient16()), "PNG")
    with Image.open(io.BytesIO(data)) as raw:
        assert raw.mode == "I;16"
    result = np.asarray(load_image(data))[0, :, 0]
    assert result.min() == 0 and result.max() == 255
    assert np.all(np.diff(result.astype(int)) >= 0)
    assert abs(int(result[128]) - 128) <= 1  # clipping would make this 255
    assert len(np.unique(result)) > 200


@pytest.mark.parametrize("mode", ["I;16", "I;16B"])
def test_16bit_tiff_both_byte_orders(mode):
    values = gradient16()
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
