"""DeiT-Small/16, the attention family of the paper, with timm's state-dict keys (``deit_small_patch16_224``).

A Vision Transformer (Dosovitskiy et al. 2021) trained the DeiT way (Touvron et al. 2021): the image is cut into
16 x 16 patches (14 x 14 = 196 at 224 px), a learned class token goes first, a learned position embedding is added,
and 12 pre-norm blocks of multi-head self-attention and an MLP follow. The class token's final state, normalised,
feeds the classifier. In the paper's notation each head's affinity is dynamic and dense over all ``1 + N`` tokens:

    A_m(X) = softmax(Q_m K_mᵀ / sqrt(C / M))              (B, M, 1 + N, 1 + N)

The key names are timm's (``cls_token``, ``pos_embed``, ``patch_embed.proj``, ``blocks.{i}.norm1``,
``blocks.{i}.attn.qkv``, ``blocks.{i}.attn.proj``, ``blocks.{i}.norm2``, ``blocks.{i}.mlp.fc1``/``fc2``, ``norm``,
``head``), so the hub's ``model.safetensors`` loads with ``strict=True``. Written for inference: no dropout, no
stochastic depth (both are identities at evaluation in timm too).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from container_edu.models.image_input import as_pair, check_image

__all__ = ["DeiTConfig", "DeiT", "Attention", "Block", "Mlp", "PatchEmbed", "deit_small"]


@dataclass(frozen=True)
class DeiTConfig:
    """Hyper-parameters of the ViT (defaults: timm ``deit_small_patch16_224``, 22.05M parameters).

    ``img_size`` may be ``(height, width)``: the patch grid is then ``height/16 x width/16`` (non-square).
    """

    img_size: int | tuple[int, int] = 224
    patch_size: int = 16
    in_chans: int = 3
    num_classes: int = 1000
    embed_dim: int = 384
    depth: int = 12
    num_heads: int = 6
    mlp_ratio: float = 4.0
    norm_eps: float = 1e-6

    @property
    def grid(self) -> tuple[int, int]:
        """The patch grid ``(H, W)``."""
        height, width = as_pair(self.img_size)
        return height // self.patch_size, width // self.patch_size


class PatchEmbed(nn.Module):
    """``proj``: a ``patch x patch`` convolution with stride ``patch``; ``(B, 3, H, W) -> (B, N, C)``."""

    def __init__(self, in_chans: int, embed_dim: int, patch_size: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, N, C), row-major tokens


class Attention(nn.Module):
    """Multi-head self-attention: ``qkv`` (one linear for Q, K and V) and the output projection ``proj`` (W_o)."""

    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"num_heads={num_heads} does not divide embed_dim={dim}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def qkv_heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(B, T, C) -> q, k, v`` each ``(B, M, T, C/M)``; head ``m`` owns channels ``[m C/M, (m+1) C/M)``."""
        batch, tokens, _ = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]

    def affinity_and_values(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The explicit path: ``A_m = softmax(Q_m K_mᵀ * scale)`` ``(B, M, T, T)`` (rows sum to 1) and ``V``
        ``(B, T, C)``, so that ``proj(concat_m(A_m V_m))`` is :meth:`forward`'s output."""
        q, k, v = self.qkv_heads(x)
        affinity = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)  # (B, M, T, T)
        return affinity, v.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)  # (B, T, C)

    def affinity(self, x: Tensor) -> Tensor:
        """``A_m = softmax(Q_m K_mᵀ * scale)`` for every head, ``(B, M, T, T)``."""
        return self.affinity_and_values(x)[0]

    def forward(self, x: Tensor) -> Tensor:
        """The fast path (fused attention, as timm's ``fused_attn``): ``(B, T, C) -> (B, T, C)``."""
        batch, tokens, channels = x.shape
        q, k, v = self.qkv_heads(x)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, M, T, C/M)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, channels))


class Mlp(nn.Module):
    """``fc1``, exact GELU, ``fc2``: applied to each token (channel mixing)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, eps: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class DeiT(nn.Module):
    """``patch_embed``, ``cls_token``, ``pos_embed``, ``blocks``, ``norm``, ``head`` (timm's VisionTransformer)."""

    num_prefix_tokens = 1  # the class token, first in every sequence

    def __init__(self, config: DeiTConfig = DeiTConfig()) -> None:
        super().__init__()
        self.config = config
        dim = config.embed_dim
        height, width = config.grid
        if height < 1 or width < 1:
            raise ValueError(f"img_size {config.img_size} is smaller than one {config.patch_size} px patch")
        self.patch_embed = PatchEmbed(config.in_chans, dim, config.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + height * width, dim))
        self.blocks = nn.ModuleList(
            Block(dim, config.num_heads, config.mlp_ratio, config.norm_eps) for _ in range(config.depth)
        )
        self.norm = nn.LayerNorm(dim, eps=config.norm_eps)
        self.head = nn.Linear(dim, config.num_classes)
        _init_weights(self)

    @property
    def grid(self) -> tuple[int, int]:
        """The patch grid ``(H, W)`` the blocks work on."""
        return self.config.grid

    def embed(self, x: Tensor) -> Tensor:
        """``(B, 3, H_img, W_img) -> (B, 1 + N, C)``: patches, the class token first, plus the position embedding."""
        size = (self.grid[0] * self.config.patch_size, self.grid[1] * self.config.patch_size)
        check_image(x, self.config.in_chans, size, "DeiT")
        tokens = self.patch_embed(x)  # (B, N, C)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        return torch.cat([cls, tokens], dim=1) + self.pos_embed  # (B, 1 + N, C)

    def forward_head(self, x: Tensor) -> Tensor:
        """The last block's tokens ``(B, 1 + N, C)`` -> logits ``(B, num_classes)`` from the class token."""
        return self.head(self.norm(x)[:, 0])

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 3, 224, 224)`` normalised image -> ``(B, 1000)`` logits."""
        x = self.embed(x)
        for block in self.blocks:
            x = block(x)
        return self.forward_head(x)


def _init_weights(model: DeiT) -> None:
    """Random weights in timm's manner (truncated normal 0.02 for linears and embeddings, LayerNorm 1 and 0)."""
    nn.init.trunc_normal_(model.pos_embed, std=0.02)
    nn.init.normal_(model.cls_token, std=1e-6)
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)


def deit_small(**overrides) -> DeiT:
    """DeiT-Small/16 (timm ``deit_small_patch16_224``); keyword arguments override :class:`DeiTConfig` fields."""
    return DeiT(DeiTConfig(**overrides))
