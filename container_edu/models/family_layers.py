"""The layers DeiT, ConvNeXt and the MLP-Mixer share, with timm's parameter names (``proj``, ``fc1``, ``fc2``)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["PatchEmbed", "Mlp", "init_trunc_normal"]


class PatchEmbed(nn.Module):
    """``proj``: a ``patch x patch`` convolution with stride ``patch``; ``(B, 3, H, W) -> (B, N, C)``."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, N, C), row-major tokens


class Mlp(nn.Module):
    """``fc1``, exact GELU, ``fc2`` along the last axis: channel mixing on ``(..., C)`` (the Mixer's token MLP too,
    applied to the transposed tokens)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


def init_trunc_normal(model: nn.Module, kinds: tuple[type[nn.Module], ...] = (nn.Conv2d, nn.Linear)) -> None:
    """Random weights in timm's manner: truncated normal (std 0.02) for the weights of ``kinds``, zero biases."""
    for module in model.modules():
        if isinstance(module, kinds):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
