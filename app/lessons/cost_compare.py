"""Lesson 6's like-with-like comparison: parameters, activations and multiply-adds of the three affinities,
their receptive field, and a detection-size input. Formulas only (no Streamlit), so they can be tested."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from container_edu.models import ContainerLightConfig

#: A typical detection input (shorter side 800, longer side up to 1333), as in COCO detectors.
DETECTION_INPUT = (800, 1333)


def like_with_like(tokens: int, channels: int, heads: int, kernel: int) -> list[dict]:
    """One row per operator: the same three quantities for each, for one image of ``tokens`` tokens.

    Parameters that make the affinity (attention's W_q, W_k; the conv's kernels; the mixer's M matrices),
    affinity entries held in memory per image, and multiply-adds of making A and computing A V.
    """
    n, c, k2 = tokens, channels, kernel * kernel
    return [
        {"operator": "attention", "affinity parameters": 2 * c * c, "affinity entries per image": heads * n * n,
         "multiply-adds per image": 2 * n * c * c + 2 * n * n * c, "receptive field (one layer)": "all N tokens"},
        {"operator": f"depthwise conv {kernel}×{kernel}", "affinity parameters": c * k2,
         "affinity entries per image": 0, "multiply-adds per image": n * k2 * c,
         "receptive field (one layer)": f"{kernel} × {kernel} tokens (+{kernel - 1} per layer)"},
        {"operator": f"multi-head MLP (M = {heads})", "affinity parameters": heads * n * n,
         "affinity entries per image": 0, "multiply-adds per image": n * n * c,
         "receptive field (one layer)": "all N tokens"},
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
