"""The ``cost`` lesson's like-with-like comparison: parameters, activations and multiply-adds of the three affinities,
their receptive field, and a detection-size input. Formulas only (no Streamlit), so they can be tested.

The table's words are marked with ``N_`` and English by default; the lesson passes ``translate=_`` to draw it in the
session's language."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from app.i18n import N_

from container_edu.models import ContainerLightConfig

#: A typical detection input (shorter side 800, longer side up to 1333), as in COCO detectors.
DETECTION_INPUT = (800, 1333)


def _english(message: str) -> str:
    return message


def like_with_like(tokens: int, channels: int, heads: int, kernel: int,
                   translate: Callable[[str], str] = _english) -> list[dict]:
    """One row per operator: the same three quantities for each, for one image of ``tokens`` tokens.

    Parameters that make the affinity (attention's W_q, W_k; the conv's kernels; the mixer's M matrices),
    affinity entries held in memory per image, and multiply-adds of making A and computing A V.
    """
    n, c, k2 = tokens, channels, kernel * kernel
    t = translate
    operator, parameters, entries, adds, field = (
        t(N_("operator")), t(N_("affinity parameters")), t(N_("affinity entries per image")),
        t(N_("multiply-adds per image")), t(N_("receptive field (one layer)")))
    everything = t(N_("all N tokens"))
    return [
        {operator: t(N_("attention")), parameters: 2 * c * c, entries: heads * n * n,
         adds: 2 * n * c * c + 2 * n * n * c, field: everything},
        {operator: t(N_("depthwise conv {kernel}×{kernel}")).format(kernel=kernel), parameters: c * k2,
         entries: 0, adds: n * k2 * c,
         field: t(N_("{kernel} × {kernel} tokens (+{growth} per layer)")).format(kernel=kernel, growth=kernel - 1)},
        {operator: t(N_("multi-head MLP (M = {heads})")).format(heads=heads), parameters: heads * n * n,
         entries: 0, adds: n * n * c, field: everything},
    ]


def detection_stage1_grid(config: ContainerLightConfig | None = None,
                          size: tuple[int, int] = DETECTION_INPUT) -> tuple[int, int]:
    """Stage 1's token grid for a detection-size input, from the patch embedding's conv shape (no compute: meta)."""
    config = config or ContainerLightConfig()
    patch = config.patch_sizes[0]
    image = torch.empty(1, 3, *size, device="meta")
    weight = torch.empty(config.embed_dims[0], 3, patch, patch, device="meta")
    out = F.conv2d(image, weight, stride=patch)
    return int(out.shape[2]), int(out.shape[3])
