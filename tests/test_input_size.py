"""ImageNet inputs at 224 / 320 / 448: the preprocessing, the grids, the counted cost."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from container_edu import record_affinities
from container_edu.data.input_size import (
    INPUT_SIZES,
    center_crop_input,
    forward_flops,
    imagenet_preprocessing,
    preprocessing_at,
    stage_grids,
)
from container_edu.models import create_model
from container_edu.data.transforms import imagenet_display, imagenet_transform


def photo(width: int, height: int) -> Image.Image:
    yy, xx = np.mgrid[0:height, 0:width]
    return Image.fromarray(np.stack([xx % 256, yy % 256, (xx + 2 * yy) % 256], axis=-1).astype(np.uint8))


@pytest.mark.parametrize("size", [(400, 300), (300, 400), (224, 224), (97, 611)])
def test_224_is_exactly_the_existing_imagenet_transform(size):
    image = photo(*size)
    x, crop = center_crop_input(image, imagenet_preprocessing())
    assert torch.equal(x, imagenet_transform(image))
    assert np.array_equal(np.asarray(crop), np.asarray(imagenet_display(image)))


def test_larger_sizes_keep_the_crop_ratio():
    base = imagenet_preprocessing()
    assert [(p.input_size, p.resize) for p in (preprocessing_at(base, s) for s in INPUT_SIZES)] == \
        [(224, 256), (320, 365), (448, 512)]
    x, crop = center_crop_input(photo(640, 480), preprocessing_at(base, 448))
    assert x.shape == (3, 448, 448) and crop.size == (448, 448)


@pytest.mark.parametrize("bad", [0, 100, 225, -32, 32.0, True])
def test_sizes_must_be_multiples_of_32(bad):
    with pytest.raises(ValueError, match="multiple of 32"):
        preprocessing_at(imagenet_preprocessing(), bad)


def test_grids_and_flops_grow_with_the_input():
    assert stage_grids(448) == ((112, 112), (56, 56), (28, 28), (14, 14))
    flops = [forward_flops(size) for size in INPUT_SIZES]
    assert flops[0] < flops[1] < flops[2]
    # Everything but stage 4's N x N attention is linear in the number of positions, so the ratio sits
    # a little above the ratio of pixels (4.0 for 448 against 224).
    assert 4.0 <= flops[2] / flops[0] < 4.2


def test_the_model_runs_at_448_with_a_14x14_attention_grid():
    torch.manual_seed(0)
    model = create_model("container_light").eval()
    x, _ = center_crop_input(photo(500, 400), preprocessing_at(imagenet_preprocessing(), 448))
    with torch.no_grad(), record_affinities() as recorder:
        logits = model(x.unsqueeze(0))
    assert logits.shape == (1, 1000) and torch.isfinite(logits).all()
    assert recorder["blocks1.0"].grid == (112, 112)
    assert recorder["blocks4.2"].grid == (14, 14)
    assert recorder["blocks4.2"].attention.shape[-2:] == (196, 196)
