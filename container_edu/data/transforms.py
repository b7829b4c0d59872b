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

Every model's preprocessing is written on its model card
(:class:`~container_edu.hub.cards.Preprocessing`); :func:`for_card` and
:func:`preprocess` apply it, for the app and the command line alike.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from importlib import resources

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from container_edu.hub.cards import ModelCard, Preprocessing
from container_edu.checks import positive_int
from container_edu.data.fashion_mnist import FASHION_MNIST_MEAN, FASHION_MNIST_STD

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
    "center_crop_view",
    "model_view",
    "for_card",
    "preprocess",
    "DISPLAY_SIZE",
]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
IMAGENET_RESIZE = 256
IMAGENET_CROP = 224
FASHION_MNIST_SIZE = 28
#: About how large (pixels) the picture the model sees is shown; small inputs are enlarged to it.
DISPLAY_SIZE = 224

_RESAMPLING = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
               "lanczos": Image.LANCZOS}


# --------------------------------------------------------------------------
# ImageNet
# --------------------------------------------------------------------------


def center_crop_view(image: Image.Image, resize: int, crop: int, interpolation: str = "bicubic") -> Image.Image:
    """The ``crop x crop`` RGB centre of ``image`` after its short side is resized to ``resize``.

    The long side becomes ``int(resize * long / short)``, as torchvision's
    ``Resize(resize)``; the crop offsets are rounded as its ``CenterCrop``.
    """
    image = image if image.mode == "RGB" else image.convert("RGB")
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ValueError("the image has no pixels")
    if width <= height:
        size = (resize, max(1, int(resize * height / width)))
    else:
        size = (max(1, int(resize * width / height)), resize)
    if size != image.size:
        image = image.resize(size, _RESAMPLING[interpolation])
    width, height = image.size
    left = int(round((width - crop) / 2.0))
    top = int(round((height - crop) / 2.0))
    return image.crop((left, top, left + crop, top + crop))


def _normalise(pixels: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """``(H, W)`` or ``(H, W, C)`` uint8 -> ``(C, H, W)`` float32 ``(x / 255 - mean) / std``."""
    x = torch.from_numpy(np.asarray(pixels, dtype=np.float32) / 255.0)
    x = x.unsqueeze(0) if x.ndim == 2 else x.permute(2, 0, 1)
    channels = x.shape[0]
    mean_t = torch.tensor(mean, dtype=torch.float32).view(channels, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(channels, 1, 1)
    return ((x - mean_t) / std_t).contiguous()


def imagenet_display(image: Image.Image) -> Image.Image:
    """The ``224 x 224`` RGB crop Container-Light sees (before normalisation): short side 256 (bicubic), centre crop."""
    return center_crop_view(image, IMAGENET_RESIZE, IMAGENET_CROP, "bicubic")


def imagenet_transform(image: Image.Image) -> Tensor:
    """PIL image -> normalised float tensor ``(3, 224, 224)`` for Container-Light."""
    return _normalise(np.asarray(imagenet_display(image)), IMAGENET_MEAN, IMAGENET_STD)


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


def fashion_mnist_prepare(image: Image.Image, size: int = FASHION_MNIST_SIZE,
                          interpolation: str = "lanczos") -> tuple[Image.Image, bool]:
    """The ``size x size`` grayscale ``"L"`` image the zoo sees, and whether it was inverted.

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
    scale = size / max(width, height)
    fitted = (max(1, round(width * scale)), max(1, round(height * scale)))
    if fitted != gray.size:
        gray = gray.resize(fitted, _RESAMPLING[interpolation], reducing_gap=3.0)
    canvas = Image.new("L", (size, size), 0)
    canvas.paste(gray, ((size - fitted[0]) // 2, (size - fitted[1]) // 2))
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
    return _normalise(np.asarray(canvas), (FASHION_MNIST_MEAN,), (FASHION_MNIST_STD,))


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


# --------------------------------------------------------------------------
# From a model card
# --------------------------------------------------------------------------


def _preprocessing(card: ModelCard | Preprocessing) -> Preprocessing:
    return card.preprocessing if isinstance(card, ModelCard) else card


def model_view(card: ModelCard | Preprocessing, image: Image.Image) -> Image.Image:
    """The picture the model of ``card`` sees, before normalisation: ``"RGB"`` or ``"L"``, ``input_size`` square."""
    pre = _preprocessing(card)
    if pre.mode == "fit_pad_gray":
        return fashion_mnist_prepare(image, pre.input_size, pre.interpolation)[0]
    return center_crop_view(image, pre.resize, pre.input_size, pre.interpolation)


def for_card(card: ModelCard | Preprocessing) -> Callable[[Image.Image], Tensor]:
    """The transform the card asks for: PIL image -> normalised ``(in_chans, input_size, input_size)``."""
    pre = _preprocessing(card)

    def transform(image: Image.Image) -> Tensor:
        return _normalise(np.asarray(model_view(pre, image)), pre.mean, pre.std)

    return transform


def preprocess(card: ModelCard | Preprocessing, image: Image.Image,
               display_size: int = DISPLAY_SIZE) -> tuple[Tensor, Image.Image]:
    """``(x, seen)``: the batch ``(1, C, H, W)`` the model of ``card`` gets, and the RGB picture it sees.

    A small input (Fashion-MNIST's 28 x 28) is enlarged for ``seen`` by a
    whole factor with nearest neighbour, so each model pixel reads as a
    square under the maps (224 // 28 = 8 times).
    """
    pre = _preprocessing(card)
    view = model_view(pre, image)
    x = _normalise(np.asarray(view), pre.mean, pre.std).unsqueeze(0)
    scale = max(1, display_size // pre.input_size)
    if scale > 1:
        view = view.resize((view.width * scale, view.height * scale), Image.NEAREST)
    return x, view.convert("RGB")
