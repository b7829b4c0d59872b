"""ImageNet Container-Light at other input sizes than 224: the preprocessing, and what the larger input costs.

Container-Light has no position table (its positional embedding is a 3 x 3
depthwise convolution), so any input whose side is a multiple of 32 runs
unchanged: at 448 the attention stage works on a 14 x 14 grid instead of
7 x 7 and every map gets finer. The resize keeps the card's crop ratio
(DeiT's evaluation: 224 / 256 = 0.875), so 320 is resized to 365 and 448 to
512 before the centre crop.

Public API: :data:`INPUT_SIZES`, :func:`imagenet_preprocessing`,
:func:`preprocessing_at`, :func:`center_crop_input`, :func:`stage_grids`,
:func:`forward_flops`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from container_edu.hub.cards import Preprocessing

__all__ = ["INPUT_SIZES", "imagenet_preprocessing", "preprocessing_at", "center_crop_input", "stage_grids",
           "forward_flops"]

#: The sizes the app offers for the ImageNet model (224 is what the weights were trained and evaluated at).
INPUT_SIZES: tuple[int, ...] = (224, 320, 448)
_STRIDE = 32  # patch embeddings 4, 2, 2, 2
_INTERPOLATION = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "nearest": Image.NEAREST,
                  "lanczos": Image.LANCZOS}


def imagenet_preprocessing() -> Preprocessing:
    """The DeiT evaluation transform the authors' checkpoint was evaluated with: resize 256 bicubic, crop 224."""
    from container_edu.data.transforms import IMAGENET_CROP, IMAGENET_MEAN, IMAGENET_RESIZE, IMAGENET_STD

    return Preprocessing(input_size=IMAGENET_CROP, in_chans=3, mode="shorter_side_center_crop", mean=IMAGENET_MEAN,
                         std=IMAGENET_STD, resize=IMAGENET_RESIZE, interpolation="bicubic")


def preprocessing_at(pre: Preprocessing, size: int) -> Preprocessing:
    """``pre`` for a crop of ``size`` (a multiple of 32), the resize scaled to keep the crop ratio."""
    if pre.mode != "shorter_side_center_crop" or pre.resize is None:
        raise ValueError(f"only a resize-and-crop preprocessing can change its size, not {pre.mode!r}")
    if isinstance(size, bool) or not isinstance(size, int) or size < _STRIDE or size % _STRIDE:
        raise ValueError(f"the input size must be a positive multiple of {_STRIDE}, got {size!r}")
    return replace(pre, input_size=size, resize=math.floor(size * pre.resize / pre.input_size))


def center_crop_input(image: Image.Image, pre: Preprocessing) -> tuple[Tensor, Image.Image]:
    """``(x, crop)``: the normalised ``(3, S, S)`` tensor and the RGB ``S x S`` crop the model sees.

    The short side is resized to ``pre.resize`` (the long side to
    ``int(resize * long / short)``, as torchvision's ``Resize``), then the
    centre is cut out with torchvision's ``CenterCrop`` rounding. At 224 this
    is exactly :func:`container_edu.data.transforms.imagenet_transform`.
    """
    if pre.mode != "shorter_side_center_crop" or pre.in_chans != 3:
        raise ValueError(f"expected an RGB resize-and-crop preprocessing, got {pre.mode!r} with {pre.in_chans} channels")
    image = image if image.mode == "RGB" else image.convert("RGB")
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ValueError("the image has no pixels")
    short = pre.resize
    size = (short, max(1, int(short * height / width))) if width <= height else (max(1, int(short * width / height)), short)
    if size != image.size:
        image = image.resize(size, _INTERPOLATION.get(pre.interpolation, Image.BICUBIC))
    width, height = image.size
    left = int(round((width - pre.input_size) / 2.0))
    top = int(round((height - pre.input_size) / 2.0))
    crop = image.crop((left, top, left + pre.input_size, top + pre.input_size))
    pixels = torch.from_numpy(np.asarray(crop, dtype=np.float32).copy() / 255.0).permute(2, 0, 1)
    mean = torch.tensor(pre.mean, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(pre.std, dtype=torch.float32).view(3, 1, 1)
    return ((pixels - mean) / std).contiguous(), crop


def stage_grids(size: int) -> tuple[tuple[int, int], ...]:
    """The token grid of each of the four stages for a ``size x size`` input (strides 4, 8, 16, 32)."""
    return tuple((size // stride, size // stride) for stride in (4, 8, 16, 32))


@functools.lru_cache(maxsize=8)
def forward_flops(size: int, name: str = "container_light") -> int:
    """FLOPs of one forward pass at ``size x size`` (one multiply-add counts 2), counted by
    ``torch.utils.flop_counter`` on a meta-device copy of the architecture: nothing is computed."""
    from torch.utils.flop_counter import FlopCounterMode

    from container_edu.models import create_model

    with torch.device("meta"):
        model = create_model(name).eval()
        x = torch.empty(1, 3, size, size)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return int(counter.get_total_flops())
