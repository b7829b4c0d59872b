"""The sample gallery in ``container_edu/samples/``: listing it, and making it again.

The gallery holds a few Fashion-MNIST test images (exported from the Debian
dataset) and a few synthetic, photo-like pictures drawn with numpy, so that
every page has something to show without an upload. ``samples.json`` lists
them in display order. No Streamlit here.

Regenerate with ``python -m app.samples`` (needs the Fashion-MNIST files).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import container_edu

from app.i18n import N_, _

SAMPLES_DIR = Path(container_edu.__file__).parent / "samples"
INDEX_FILE = "samples.json"

# One test image of each of these classes (first occurrence in the test split).
FMNIST_SAMPLE_CLASSES = (9, 0, 1, 2, 3, 5, 7, 8)

#: The Fashion-MNIST class names (``container_edu.data.CLASS_NAMES``, English in the core), marked for translation.
CLASS_NAME_MESSAGES = (N_("T-shirt/top"), N_("Trouser"), N_("Pullover"), N_("Dress"), N_("Coat"), N_("Sandal"),
                       N_("Shirt"), N_("Sneaker"), N_("Bag"), N_("Ankle boot"))
_FMNIST_LABEL = re.compile(r"^(?P<name>.+) \(Fashion-MNIST test #(?P<index>\d+)\)$")


@dataclass(frozen=True)
class Sample:
    """One gallery picture: its file, a label for the picker, and where it came from."""

    file: str
    label: str
    source: str

    @property
    def path(self) -> Path:
        return SAMPLES_DIR / self.file

    @property
    def shown_label(self) -> str:
        """The label in the session's language (``label`` is the English of ``samples.json``)."""
        match = _FMNIST_LABEL.match(self.label)
        if match:
            return _("{name} (Fashion-MNIST test #{index})").format(name=_(match["name"]), index=match["index"])
        return _(self.label)


def list_samples(samples_dir: Path = SAMPLES_DIR) -> list[Sample]:
    """The gallery in display order (empty when the index is missing)."""
    index = Path(samples_dir) / INDEX_FILE
    if not index.is_file():
        return []
    entries = json.loads(index.read_text(encoding="utf-8"))
    return [Sample(**entry) for entry in entries if (Path(samples_dir) / entry["file"]).is_file()]


# --------------------------------------------------------------------------
# Making the gallery
# --------------------------------------------------------------------------


def _sunset(width: int = 256, height: int = 192) -> Image.Image:
    """A gradient sky, a sun with a soft glow and two rows of hills."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    t = yy / (height - 1)
    top, bottom = np.array([40, 70, 160], np.float32), np.array([250, 170, 90], np.float32)
    sky = top[None, None] * (1 - t[..., None]) + bottom[None, None] * t[..., None]
    sun_x, sun_y, radius = width * 0.68, height * 0.45, height * 0.12
    dist = np.hypot(xx - sun_x, yy - sun_y)
    glow = np.clip(1.4 - dist / (radius * 2.6), 0, 1)[..., None] ** 2
    sky = sky * (1 - glow) + np.array([255, 235, 160], np.float32) * glow
    sky[dist < radius] = (255, 245, 200)
    far = height * 0.70 + 10 * np.sin(xx / 23.0) + 6 * np.sin(xx / 7.0 + 1)
    near = height * 0.82 + 14 * np.sin(xx / 41.0 + 2)
    sky[yy > far] = (70, 60, 90)
    sky[yy > near] = (30, 40, 35)
    rng = np.random.default_rng(1)
    sky += rng.normal(0, 2.0, sky.shape)  # a little sensor noise, as in a photo
    return Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8))


def _checkerboard(width: int = 192, height: int = 192, cell: int = 24) -> Image.Image:
    """A black-and-white checkerboard: a textbook input for a translation-equivariant conv."""
    yy, xx = np.mgrid[0:height, 0:width]
    board = (((yy // cell) + (xx // cell)) % 2) * 255
    return Image.fromarray(board.astype(np.uint8)).convert("RGB")


def _shapes(width: int = 240, height: int = 180) -> Image.Image:
    """A red disc, a blue square and a green triangle on a pale, slightly textured table."""
    rng = np.random.default_rng(2)
    base = np.full((height, width, 3), (236, 230, 218), np.float32) + rng.normal(0, 4, (height, width, 3))
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.ellipse((20, 40, 95, 115), fill=(200, 40, 40))
    draw.rectangle((110, 25, 170, 85), fill=(40, 80, 190))
    draw.polygon([(150, 160), (225, 160), (188, 95)], fill=(40, 150, 70))
    return image


def _boot(width: int = 200, height: int = 200) -> Image.Image:
    """A dark ankle-boot silhouette on a light background, the way a product photo looks."""
    image = Image.new("RGB", (width, height), (245, 245, 240))
    draw = ImageDraw.Draw(image)
    shaft = [(70, 30), (120, 30), (125, 120), (170, 135), (180, 160), (40, 160), (45, 120), (65, 110)]
    draw.polygon(shaft, fill=(60, 45, 35))
    draw.rectangle((38, 158, 182, 170), fill=(25, 20, 15))
    draw.line((75, 60, 115, 60), fill=(140, 120, 100), width=3)
    return image


SYNTHETIC = (
    ("photo_sunset.jpg", N_("Sunset over hills (synthetic photo)"), _sunset),
    ("photo_shapes.jpg", N_("Shapes on a table (synthetic photo)"), _shapes),
    ("photo_boot.png", N_("Boot silhouette (synthetic product shot)"), _boot),
    ("checkerboard.png", N_("Checkerboard (synthetic)"), _checkerboard),
)


def make_samples(samples_dir: Path = SAMPLES_DIR, data_dir: str | None = None) -> list[Sample]:
    """Write the gallery and its index into ``samples_dir``; returns the index."""
    from container_edu.data import CLASS_NAMES, load_fashion_mnist

    samples_dir = Path(samples_dir)
    samples_dir.mkdir(parents=True, exist_ok=True)
    images, labels = load_fashion_mnist("test", data_dir)
    entries: list[Sample] = []
    for class_index in FMNIST_SAMPLE_CLASSES:
        index = int((labels == class_index).nonzero()[0, 0])
        name = CLASS_NAMES[class_index]
        slug = name.lower().replace("/", "_").replace(" ", "_").replace("-", "_")
        file = f"fmnist_test{index:04d}_{slug}.png"
        Image.fromarray(images[index].numpy(), mode="L").save(samples_dir / file, optimize=True)
        entries.append(Sample(file, f"{name} (Fashion-MNIST test #{index})",
                              f"Fashion-MNIST test split, image {index}, label {class_index} ({name})"))
    for file, label, draw in SYNTHETIC:
        image = draw()
        if file.endswith(".jpg"):
            image.save(samples_dir / file, quality=85, optimize=True)
        else:
            image.save(samples_dir / file, optimize=True)
        entries.append(Sample(file, label, f"synthesised with numpy/Pillow by app/samples.py ({draw.__name__})"))
    index_path = samples_dir / INDEX_FILE
    index_path.write_text(json.dumps([entry.__dict__ for entry in entries], indent=2) + "\n", encoding="utf-8")
    return entries


if __name__ == "__main__":
    for sample in make_samples():
        print(f"{sample.file}: {sample.label}")
