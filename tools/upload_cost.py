"""What one uploaded picture costs a shared server: peak memory of the upload, CPU of each later widget change.

    python tools/upload_cost.py            # both measurements, a table on stdout
    python tools/upload_cost.py --memory   # only the memory of each kind of upload

Memory: each picture, the largest a shared server accepts (12 MP) in the
formats that cost most to decode, is decoded by the app's own upload path
(``app.widgets.decode_upload``, shared mode) in a fresh process; the cost is
that process's peak RSS (``VmHWM``, reset just before decoding through
``/proc/self/clear_refs``; ``ru_maxrss`` where that is not allowed) minus
its RSS just before decoding.

CPU: the Image inspector (``AppTest``, shared mode) holding an upload; the
opacity slider is moved and the CPU time (``time.process_time``) of each
rerun is recorded, for a small picture and for the largest accepted one.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_MEASURE = """
import json, resource, sys
from pathlib import Path
data = Path(sys.argv[1]).read_bytes()
from app.widgets import decode_upload
def status_mb(field):
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field + ":"))
    return int(line.split()[1]) / 1024
try:  # reset the peak to the present, so the imports' own peak is not counted
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    peak_of = lambda: status_mb("VmHWM")
except OSError:
    peak_of = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
before = status_mb("VmRSS")
image, message = decode_upload(Path(sys.argv[1]).name, data, {})
peak = peak_of()
print(json.dumps({"before_mb": before, "peak_mb": peak, "message": message,
                  "kept": None if image is None else list(image.image.size)}))
"""


def largest_pictures(folder: Path, size: tuple[int, int] = (4000, 3000)) -> dict[str, Path]:
    """The pictures a shared server accepts that cost most to decode: 12 MP (its pixel cap), each format."""
    import numpy as np
    from PIL import Image

    width, height = size
    ramp = np.add.outer(np.arange(height, dtype=np.uint32), np.arange(width, dtype=np.uint32))
    grey = Image.fromarray((ramp % 256).astype(np.uint8))
    made: dict[str, Path] = {}

    def save(name: str, image: Image.Image, **params) -> None:
        path = folder / name
        image.save(path, **params)
        made[name] = path

    save("one_bit.png", grey.point(lambda v: 255 if v > 127 else 0).convert("1"), optimize=True)
    save("grey16.png", Image.fromarray((ramp * 8 % 65536).astype(np.uint16)))
    rgb = Image.merge("RGB", [grey, grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                              grey.transpose(Image.Transpose.FLIP_TOP_BOTTOM)])
    save("rgba.png", Image.merge("RGBA", [*rgb.split(), grey]), compress_level=9)
    save("palette.gif", rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=64))
    save("photo.jpg", rgb, quality=90)
    save("cmyk.jpg", rgb.convert("CMYK"), quality=90)
    save("photo.webp", rgb.crop((0, 0, 3000, 2000)), quality=80)  # 6 MP: the WebP cap
    return made


def small_picture(folder: Path) -> Path:
    """A 320 x 240 JPEG: what any upload costs, whatever its size (the decoders' code and buffers)."""
    from PIL import Image

    path = folder / "small.jpg"
    Image.new("RGB", (320, 240), (120, 160, 200)).save(path)
    return path


def upload_memory(pictures: dict[str, Path]) -> dict[str, dict]:
    """``{name: {"added_mb", "kept", "message", "bytes"}}``: what decoding each upload added to a fresh process."""
    results = {}
    env = {**os.environ, "CONTAINER_EDU_SHARED": "1", "PYTHONPATH": str(ROOT)}
    for name, path in pictures.items():
        done = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"measuring {name} failed:\n{done.stderr[-2000:]}")
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        results[name] = {"added_mb": measured["peak_mb"] - measured["before_mb"], "kept": measured["kept"],
                         "message": measured["message"], "bytes": path.stat().st_size}
    return results


def rerun_cpu(picture: bytes, name: str, reruns: int = 3) -> list[float]:
    """CPU seconds of each rerun of the Image inspector after moving its opacity slider, holding ``picture``."""
    os.environ["CONTAINER_EDU_SHARED"] = "1"
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.session_state["image_source"] = "Upload an image"
    at.switch_page("pages/3_Image_inspector.py")
    at.run()
    at.file_uploader(key="image_upload").set_value((name, picture, "image/jpeg")).run()
    if at.exception:
        raise RuntimeError([e.value for e in at.exception])
    seconds = []
    for index in range(reruns):
        at.slider(key="insp_opacity").set_value(0.3 + 0.1 * (index % 2))
        start = time.process_time()
        at.run()
        seconds.append(time.process_time() - start)
        if at.exception:
            raise RuntimeError([e.value for e in at.exception])
    return seconds


def _small_jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (120, 160, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memory", action="store_true", help="only the memory of each kind of upload")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        pictures = {"small.jpg": small_picture(Path(folder)), **largest_pictures(Path(folder))}
        print(f"{'upload':<16} {'file':>8} {'added at peak':>14}  kept   (4000x3000; WebP 3000x2000; small.jpg 320x240)")
        for name, row in upload_memory(pictures).items():
            kept = "x".join(map(str, row["kept"])) if row["kept"] else row["message"]
            print(f"{name:<16} {row['bytes'] / 2**20:>6.1f}MB {row['added_mb']:>12.0f}MB  {kept}")
        if args.memory:
            return 0
        large = pictures["photo.jpg"].read_bytes()
    small_cpu = rerun_cpu(_small_jpeg(), "small.jpg")
    large_cpu = rerun_cpu(large, "photo.jpg")
    print(f"CPU per widget change (median of {len(small_cpu)}): small picture "
          f"{statistics.median(small_cpu):.2f} s, 12 MP picture {statistics.median(large_cpu):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
