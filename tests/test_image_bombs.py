"""Decompression bombs: container_edu.data.images refuses them from the header, before any pixel is allocated."""

from __future__ import annotations

import io
import json
import pathlib
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
import zlib

import pytest
from PIL import (
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    WebPImagePlugin,
)

from container_edu.data.images import ImageError, load_image

from image_corpus import (
    animated_webp,
    bomb_png,
    encode,
    handmade_gif,
    handmade_png,
    LoadCalled,
    patch_bmp_size,
    patch_jpeg_size,
    patch_tiff_size,
    patch_webp_canvas,
    small_rgb,
)

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


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
    from container_edu.data.images import ImageError, load_image
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
