"""ImageNet-1k constants, the class names and the evaluation resize (timm keeps these in ``data/constants.py``).

The paper's checkpoint was evaluated with DeiT's transform: short side to
256 (bicubic), centre crop 224, ImageNet mean and std. At another crop the
resize keeps the crop fraction 224 / 256 = 0.875 and is rounded down, as
DeiT (``int(256 / 224 * size)``) and timm (``math.floor(size / crop_pct)``)
do: 320 -> 365, 448 -> 512.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "IMAGENET_RESIZE", "IMAGENET_CROP", "imagenet_resize",
           "imagenet_class_names"]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
IMAGENET_RESIZE = 256
IMAGENET_CROP = 224


def imagenet_resize(input_size: int, resize: int = IMAGENET_RESIZE, crop: int = IMAGENET_CROP) -> int:
    """The short side to resize to before a centre crop of ``input_size``, keeping the fraction ``crop / resize``."""
    return math.floor(input_size * resize / crop)


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
