"""What each model expects as input, written with Pillow and torch only.

* ImageNet (Container-Light): resize the short side to 256 with bicubic
  interpolation, centre-crop 224 x 224, scale to [0, 1], normalise with the
  ImageNet mean and std. This is the DeiT evaluation transform the paper's
  checkpoint was evaluated with (``Resize(256, BICUBIC)``, ``CenterCrop(224)``,
  ``ToTensor``, ``Normalize``), reproduced without torchvision.
* Fashion-MNIST (the zoo): 28 x 28 grayscale with a bright object on a black
  background; see :func:`fashion_mnist_transform` for how an arbitrary photo
  is brought to that convention.

Each transform has a ``*_display`` partner that returns the picture the model
actually sees, for showing next to its predictions and affinity maps.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .checks import positive_int
from .data.fashion_mnist import FASHION_MNIST_MEAN, FASHION_MNIST_STD

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGENET_RESIZE",
    "IMAGENET_CROP",
    "FASHION_MNIST_SIZE",
    "imagenet_transform",
    "imagenet_display",
    "imagenet_class_names",
    "fashion_mnist_prepare",
    "fashion_mnist_transform",
    "fashion_mnist_display",
]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
IMAGENET_RESIZE = 256
IMAGENET_CROP = 224
FASHION_MNIST_SIZE = 28


# --------------------------------------------------------------------------
# ImageNet
# --------------------------------------------------------------------------


def imagenet_display(image: Image.Image) -> Image.Image:
    """The ``224 x 224`` RGB crop Container-Light sees (before normalisation).

    The short side is resized to 256 with bicubic interpolation (the long side
    to ``int(256 * long / short)``, as torchvision's ``Resize(256)``), then the
    centre ``224 x 224`` is cut out (offsets rounded as torchvision's ``CenterCrop``).
    """
    image = image if image.mode == "RGB" else image.convert("RGB")
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ValueError("the image has no pixels")
    if width <= height:
        size = (IMAGENET_RESIZE, max(1, int(IMAGENET_RESIZE * height / width)))
    else:
        size = (max(1, int(IMAGENET_RESIZE * width / height)), IMAGENET_RESIZE)
    if size != image.size:
        image = image.resize(size, Image.BICUBIC)
    width, height = image.size
    left = int(round((width - IMAGENET_CROP) / 2.0))
    top = int(round((height - IMAGENET_CROP) / 2.0))
    return image.crop((left, top, left + IMAGENET_CROP, top + IMAGENET_CROP))


def imagenet_transform(image: Image.Image) -> Tensor:
    """PIL image -> normalised float tensor ``(3, 224, 224)`` for Container-Light."""
    crop = np.asarray(imagenet_display(image), dtype=np.float32) / 255.0  # (224, 224, 3)
    x = torch.from_numpy(crop.copy()).permute(2, 0, 1)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(3, 1, 1)
    return ((x - mean) / std).contiguous()


@lru_cache(maxsize=1)
def _imagenet_class_names() -> tuple[str, ...]:
    text = resources.files("container_edu.data").joinpath("imagenet_classes.txt").read_text(encoding="utf-8")
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != 1000:
        raise RuntimeError(f"imagenet_classes.txt should list 1000 classes, found {len(names)}; reinstall the package")
    return names


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names in index order (``[0] == "tench"``).

    Short WordNet-derived names as used by torchvision / Keras; two names
    occur twice (``crane``: 134 the bird, 517 the machine; ``maillot``: 638
    and 639), so show the index next to a name when it matters.
    Returns a new list each call (the file is read once).
    """
    return list(_imagenet_class_names())


# --------------------------------------------------------------------------
# Fashion-MNIST
# --------------------------------------------------------------------------


def _border(gray: np.ndarray) -> np.ndarray:
    """The pixels of a band about 5% wide around the edge of a 2-D array."""
    height, width = gray.shape
    band_y = max(1, height // 20)
    band_x = max(1, width // 20)
    return np.concatenate([
        gray[:band_y].ravel(), gray[-band_y:].ravel(),
        gray[:, :band_x].ravel(), gray[:, -band_x:].ravel(),
    ])


def fashion_mnist_prepare(image: Image.Image) -> tuple[Image.Image, bool]:
    """The ``28 x 28`` grayscale ``"L"`` image the zoo sees, and whether it was inverted.

    Steps (see :func:`fashion_mnist_transform`): grayscale; invert when the
    border is bright; stretch so the background becomes black; fit into
    28 x 28 keeping the aspect ratio; pad with black.
    """
    gray = image.convert("L")
    pixels = np.asarray(gray, dtype=np.float32)
    inverted = bool(np.median(_border(pixels)) > 127.5)
    if inverted:
        pixels = 255.0 - pixels
    background = float(np.median(_border(pixels)))
    if background > 0:
        # Make the background black (Fashion-MNIST's background is exactly 0):
        # map [background, 255] -> [0, 255], darker pixels to 0.
        span = 255.0 - background
        pixels = np.zeros_like(pixels) if span < 1 else np.clip((pixels - background) * (255.0 / span), 0, 255)
    gray = Image.fromarray(np.rint(pixels).astype(np.uint8))
    width, height = gray.size
    scale = FASHION_MNIST_SIZE / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size != gray.size:
        gray = gray.resize(size, Image.LANCZOS, reducing_gap=3.0)
    canvas = Image.new("L", (FASHION_MNIST_SIZE, FASHION_MNIST_SIZE), 0)
    canvas.paste(gray, ((FASHION_MNIST_SIZE - size[0]) // 2, (FASHION_MNIST_SIZE - size[1]) // 2))
    return canvas, inverted


def fashion_mnist_transform(image: Image.Image) -> Tensor:
    """PIL image -> normalised float tensor ``(1, 28, 28)`` for the Fashion-MNIST zoo.

    Fashion-MNIST shows a *bright* garment on a *black* background, while most
    photos show a dark object on a light background. So:

    1. convert to grayscale;
    2. if the image's border (an edge band about 5% wide) is bright (median
       above 127.5), **invert** it, so the object becomes bright and the
       background dark;
    3. stretch the levels so the border's median becomes black (0);
    4. resize so the longer side is 28 (aspect ratio kept) and pad the
       shorter side with black, centred;
    5. scale to [0, 1] and normalise with ``FASHION_MNIST_MEAN`` (0.2860) and
       ``FASHION_MNIST_STD`` (0.3530), the training-set statistics.

    :func:`fashion_mnist_display` turns the result back into the picture.
    """
    canvas, _ = fashion_mnist_prepare(image)
    x = torch.from_numpy(np.asarray(canvas, dtype=np.float32).copy()) / 255.0
    return ((x - FASHION_MNIST_MEAN) / FASHION_MNIST_STD).unsqueeze(0)


def fashion_mnist_display(tensor: Tensor, scale: int = 1) -> Image.Image:
    """What the zoo model sees: a normalised ``(1, 28, 28)`` tensor back to an ``"L"`` image.

    Also accepts ``(28, 28)`` and ``(1, 1, 28, 28)``. ``scale`` enlarges the
    picture with nearest-neighbour (each model pixel becomes a square).
    """
    x = torch.as_tensor(tensor).detach().to("cpu", torch.float32)
    while x.ndim > 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 2:
        raise ValueError(f"expected a (1, H, W) or (H, W) tensor, got shape {tuple(tensor.shape)}")
    pixels = (x * FASHION_MNIST_STD + FASHION_MNIST_MEAN).clamp(0, 1).mul(255).round().to(torch.uint8)
    image = Image.fromarray(pixels.numpy())
    if scale != 1:
        positive_int("scale", scale)
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    return image
