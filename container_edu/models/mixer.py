"""MLP-Mixer-B/16, the token-mixing-MLP family, with timm's state-dict keys (``mixer_b16_224``).

MLP-Mixer (Tolstikhin et al. 2021) cuts the image into 16 x 16 patches (14 x 14 = 196 tokens of 768 channels at
224 px) and alternates two MLPs, each pre-normed with a residual: ``mlp_tokens`` mixes the tokens, the same MLP for
every channel (196 -> 384 -> 196), and ``mlp_channels`` mixes the channels of each token (768 -> 3072 -> 768).

The paper writes the token mixing as one static dense affinity shared by all channels, ``Y = A^mix V``. That is
exactly true of a one-layer mixer; this one has two layers with a GELU between them, so for one channel ``c``
with normalised values ``u_c`` (the ``N`` tokens of that channel)::

    y_c = W2 GELU(W1 u_c + b1) + b2                       (W1: (D, N), W2: (N, D), D = 384 hidden units)

Its linear part (GELU replaced by the identity) is the static matrix ``W2 W1`` plus the constant ``W2 b1 + b2``;
its true local affinity is the Jacobian ``W2 diag(GELU'(W1 u_c + b1)) W1``, which depends on the image and the
channel (see ``container_edu.ops.token_mlp`` and ``container_edu.record.families``).

Key names are timm's: ``stem.proj``, ``blocks.{i}.norm1``, ``blocks.{i}.mlp_tokens.fc1``/``fc2``,
``blocks.{i}.norm2``, ``blocks.{i}.mlp_channels.fc1``/``fc2``, ``norm``, ``head``. Inference only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from container_edu.models.image_input import as_pair, check_image

__all__ = ["MixerConfig", "MlpMixer", "MixerBlock", "Mlp", "PatchEmbed", "mixer_b16"]


@dataclass(frozen=True)
class MixerConfig:
    """Hyper-parameters (defaults: timm ``mixer_b16_224``, 59.88M parameters).

    ``depth`` is timm's ``num_blocks``; ``mlp_ratio`` is (tokens, channels): hidden sizes ``0.5 C`` and ``4 C``.
    ``img_size`` may be ``(height, width)``: the token MLP's size is fixed by the grid, so the model takes that
    size only.
    """

    img_size: int | tuple[int, int] = 224
    patch_size: int = 16
    in_chans: int = 3
    num_classes: int = 1000
    embed_dim: int = 768
    depth: int = 12
    mlp_ratio: tuple[float, float] = (0.5, 4.0)
    norm_eps: float = 1e-6

    @property
    def grid(self) -> tuple[int, int]:
        """The token grid ``(H, W)``."""
        height, width = as_pair(self.img_size)
        return height // self.patch_size, width // self.patch_size


class PatchEmbed(nn.Module):
    """``proj``: a ``patch x patch`` convolution with stride ``patch``; ``(B, 3, H, W) -> (B, N, C)``."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, N, C), row-major tokens


class Mlp(nn.Module):
    """``fc1``, exact GELU, ``fc2`` along the last axis."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class MixerBlock(nn.Module):
    """``x + token_mix(norm1(x))``, then ``x + mlp_channels(norm2(x))``."""

    def __init__(self, dim: int, num_tokens: int, mlp_ratio: tuple[float, float], eps: float) -> None:
        super().__init__()
        tokens_hidden, channels_hidden = (int(ratio * dim) for ratio in mlp_ratio)
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.mlp_tokens = Mlp(num_tokens, tokens_hidden)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp_channels = Mlp(dim, channels_hidden)

    def token_mix(self, u: Tensor) -> Tensor:
        """The token-mixing MLP on normalised tokens: ``(B, N, C) -> (B, N, C)``, one MLP over N per channel."""
        return self.mlp_tokens(u.transpose(1, 2)).transpose(1, 2)  # (B, C, N) through the MLP, back to (B, N, C)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.token_mix(self.norm1(x))
        return x + self.mlp_channels(self.norm2(x))


class MlpMixer(nn.Module):
    """``stem``, ``blocks``, ``norm``, token average, ``head``."""

    def __init__(self, config: MixerConfig = MixerConfig()) -> None:
        super().__init__()
        self.config = config
        height, width = config.grid
        if height < 1 or width < 1:
            raise ValueError(f"img_size {config.img_size} is smaller than one {config.patch_size} px patch")
        self.stem = PatchEmbed(config.in_chans, config.embed_dim, config.patch_size)
        self.blocks = nn.Sequential(*(
            MixerBlock(config.embed_dim, height * width, config.mlp_ratio, config.norm_eps)
            for _ in range(config.depth)
        ))
        self.norm = nn.LayerNorm(config.embed_dim, eps=config.norm_eps)
        self.head = nn.Linear(config.embed_dim, config.num_classes)
        _init_weights(self)

    @property
    def grid(self) -> tuple[int, int]:
        """The token grid ``(H, W)``."""
        return self.config.grid

    def embed(self, x: Tensor) -> Tensor:
        """``(B, 3, H_img, W_img) -> (B, N, C)`` patch tokens."""
        size = (self.grid[0] * self.config.patch_size, self.grid[1] * self.config.patch_size)
        check_image(x, self.config.in_chans, size, "MLP-Mixer")
        return self.stem(x)

    def forward_head(self, x: Tensor) -> Tensor:
        """The last block's tokens ``(B, N, C)`` -> logits ``(B, num_classes)`` (normalise, average, classify)."""
        return self.head(self.norm(x).mean(dim=1))

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 3, 224, 224)`` normalised image -> ``(B, 1000)`` logits."""
        return self.forward_head(self.blocks(self.embed(x)))


def _init_weights(model: MlpMixer) -> None:
    """Random weights: truncated normal 0.02 for linears and the stem, zero biases."""
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)


def mixer_b16(**overrides) -> MlpMixer:
    """MLP-Mixer-B/16 (timm ``mixer_b16_224``); keyword arguments override :class:`MixerConfig` fields."""
    return MlpMixer(MixerConfig(**overrides))
