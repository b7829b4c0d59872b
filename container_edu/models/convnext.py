"""ConvNeXt-Tiny, the depthwise-convolution family, with timm's state-dict keys (``convnext_tiny``).

ConvNeXt (Liu et al. 2022) modernises a ResNet towards a Transformer's design: a 4 x 4 stride-4 "patchify" stem,
four stages on 56 x 56, 28 x 28, 14 x 14 and 7 x 7 grids (at 224 px) with 96, 192, 384 and 768 channels, and blocks
whose only spatial (token-mixing) step is a 7 x 7 depthwise convolution. In the paper's notation that step is
static and sparse, one affinity per channel:

    A_c[i, j] = w_c[y_j - y_i + 3, x_j - x_i + 3]   when both offsets lie in [-3, 3], else 0

Block: ``conv_dw`` (7 x 7 depthwise) -> ``norm`` (LayerNorm over channels, channels-last) -> ``mlp.fc1`` -> exact
GELU -> ``mlp.fc2`` -> ``gamma`` (layer scale) -> plus the block's input. Between stages ``downsample`` is a
channels-first LayerNorm and a 2 x 2 stride-2 convolution; the head pools, normalises and classifies.

Key names are timm's with ``conv_mlp=False`` (the MLP is two ``nn.Linear``): ``stem.0``/``stem.1``,
``stages.{s}.downsample.0``/``.1`` (stages 1-3; stage 0 has none), ``stages.{s}.blocks.{b}.conv_dw``, ``.norm``,
``.mlp.fc1``, ``.mlp.fc2``, ``.gamma``, ``head.norm``, ``head.fc``. Inference only: no stochastic depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from container_edu.models.image_input import check_image

__all__ = ["ConvNeXtConfig", "ConvNeXt", "ConvNeXtBlock", "ConvNeXtStage", "LayerNorm2d", "Mlp", "NormHead",
           "convnext_tiny"]


@dataclass(frozen=True)
class ConvNeXtConfig:
    """Hyper-parameters (defaults: timm ``convnext_tiny``, 28.59M parameters).

    ``img_size`` is the size the model is meant for (the card's crop); the network itself is fully convolutional
    and accepts any size of at least ``32 x 32``, so the grids follow the input (56, 28, 14, 7 at 224).
    """

    img_size: int | tuple[int, int] = 224
    in_chans: int = 3
    num_classes: int = 1000
    depths: tuple[int, ...] = (3, 3, 9, 3)
    dims: tuple[int, ...] = (96, 192, 384, 768)
    kernel_size: int = 7
    patch_size: int = 4
    mlp_ratio: float = 4.0
    norm_eps: float = 1e-6
    ls_init_value: float = 1e-6


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a channels-first ``(B, C, H, W)`` map (timm's ``LayerNorm2d``)."""

    def forward(self, x: Tensor) -> Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Mlp(nn.Module):
    """``fc1``, exact GELU, ``fc2`` on channels-last tokens ``(..., C)``."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class ConvNeXtBlock(nn.Module):
    """``x + gamma * mlp(norm(conv_dw(x)))``; ``conv_dw`` is the block's only token mixing."""

    def __init__(self, dim: int, kernel_size: int, mlp_ratio: float, eps: float, ls_init_value: float) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(mlp_ratio * dim))
        self.gamma = nn.Parameter(torch.full((dim,), float(ls_init_value)))

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        x = self.conv_dw(x)  # (B, C, H, W): each channel aggregated over its 7 x 7 neighbourhood
        x = self.mlp(self.norm(x.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)  # channels-last for the linears
        return shortcut + x * self.gamma.reshape(1, -1, 1, 1)


class ConvNeXtStage(nn.Module):
    """``downsample`` (LayerNorm2d + 2 x 2 stride-2 conv, or none in stage 0) then ``blocks``."""

    def __init__(self, in_dim: int, dim: int, depth: int, config: ConvNeXtConfig, downsample: bool) -> None:
        super().__init__()
        self.downsample = (
            nn.Sequential(LayerNorm2d(in_dim, eps=config.norm_eps), nn.Conv2d(in_dim, dim, 2, stride=2))
            if downsample else nn.Identity()
        )
        self.blocks = nn.Sequential(*(
            ConvNeXtBlock(dim, config.kernel_size, config.mlp_ratio, config.norm_eps, config.ls_init_value)
            for _ in range(depth)
        ))

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(self.downsample(x))


class NormHead(nn.Module):
    """Global average pool, ``norm`` (LayerNorm2d), ``fc`` (timm's ``NormMlpClassifierHead`` without hidden layer)."""

    def __init__(self, dim: int, num_classes: int, eps: float) -> None:
        super().__init__()
        self.norm = LayerNorm2d(dim, eps=eps)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        pooled = x.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        return self.fc(self.norm(pooled).flatten(1))


class ConvNeXt(nn.Module):
    """``stem`` (4 x 4 stride-4 conv + LayerNorm2d), four ``stages``, ``head``."""

    def __init__(self, config: ConvNeXtConfig = ConvNeXtConfig()) -> None:
        super().__init__()
        if len(config.depths) != len(config.dims):
            raise ValueError(f"depths {config.depths} and dims {config.dims} must have the same length")
        self.config = config
        self.stem = nn.Sequential(
            nn.Conv2d(config.in_chans, config.dims[0], config.patch_size, stride=config.patch_size),
            LayerNorm2d(config.dims[0], eps=config.norm_eps),
        )
        in_dims = (config.dims[0],) + tuple(config.dims[:-1])
        self.stages = nn.Sequential(*(
            ConvNeXtStage(in_dims[s], config.dims[s], config.depths[s], config, downsample=s > 0)
            for s in range(len(config.dims))
        ))
        self.head = NormHead(config.dims[-1], config.num_classes, config.norm_eps)
        _init_weights(self)

    def embed(self, x: Tensor) -> Tensor:
        """``(B, 3, H, W) -> (B, C_0, H/4, W/4)``: the stem."""
        check_image(x, self.config.in_chans, None, "ConvNeXt")
        return self.stem(x)

    def forward_head(self, x: Tensor) -> Tensor:
        """The last stage's map ``(B, C, h, w)`` -> logits ``(B, num_classes)``."""
        return self.head(x)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 3, 224, 224)`` normalised image -> ``(B, 1000)`` logits."""
        return self.forward_head(self.stages(self.embed(x)))


def _init_weights(model: ConvNeXt) -> None:
    """Random weights in timm's manner: truncated normal 0.02 for convs and linears, zero biases."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)


def convnext_tiny(**overrides) -> ConvNeXt:
    """ConvNeXt-Tiny (timm ``convnext_tiny``); keyword arguments override :class:`ConvNeXtConfig` fields."""
    return ConvNeXt(ConvNeXtConfig(**overrides))
