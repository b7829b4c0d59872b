"""Container-Light, the ImageNet model of the paper, with the reference state-dict keys.

Four stages of patch embedding (stride 4, 2, 2, 2) and blocks; stages 1-3
aggregate with a static ``5 x 5`` depthwise conv only (``CBlock``: at
56 x 56 = 3136 tokens a dense affinity would cost too much), stage 4
(7 x 7 = 49 tokens at 224 input: the strides 4, 2, 2, 2 divide by 32) blends
attention and conv (``MixBlock``).
The released checkpoint loads into it with ``strict=True``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from container_edu.record.trace import assign_record_names
from container_edu.models.blocks import CBlock, MixBlock, PatchEmbed

__all__ = ["ContainerLightConfig", "ContainerLight", "container_light"]


@dataclass(frozen=True)
class ContainerLightConfig:
    """Hyper-parameters of Container-Light (defaults: the paper's ImageNet model, about 20.6M parameters)."""

    img_size: int = 224
    in_chans: int = 3
    num_classes: int = 1000
    embed_dims: tuple[int, int, int, int] = (64, 128, 320, 512)
    depths: tuple[int, int, int, int] = (3, 4, 8, 3)
    mlp_ratios: tuple[float, float, float, float] = (8, 8, 4, 4)
    patch_sizes: tuple[int, int, int, int] = (4, 2, 2, 2)
    num_heads: int = 16
    kernel_size: int = 5


class ContainerLight(nn.Module):
    """``patch_embed{1..4}``, ``blocks{1..4}``, ``norm`` (BatchNorm), global average pool, ``head``."""

    def __init__(self, config: ContainerLightConfig = ContainerLightConfig()) -> None:
        super().__init__()
        self.config = config
        in_dims = (config.in_chans,) + tuple(config.embed_dims[:-1])
        for stage in range(4):
            dim = config.embed_dims[stage]
            setattr(self, f"patch_embed{stage + 1}", PatchEmbed(in_dims[stage], dim, config.patch_sizes[stage]))
            if stage < 3:
                blocks = [CBlock(dim, config.mlp_ratios[stage], config.kernel_size) for _ in range(config.depths[stage])]
            else:
                blocks = [
                    MixBlock(dim, config.num_heads, config.mlp_ratios[stage], config.kernel_size)
                    for _ in range(config.depths[stage])
                ]
            setattr(self, f"blocks{stage + 1}", nn.ModuleList(blocks))
        self.norm = nn.BatchNorm2d(config.embed_dims[-1])
        self.head = nn.Linear(config.embed_dims[-1], config.num_classes)
        self.apply(_init_weights)
        assign_record_names(self)

    def forward_features(self, x: Tensor) -> Tensor:
        """``(B, 3, H, W) -> (B, 512, H/32, W/32)``."""
        for stage in range(1, 5):
            x = getattr(self, f"patch_embed{stage}")(x)
            for block in getattr(self, f"blocks{stage}"):
                x = block(x)
        return self.norm(x)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 3, H, W)`` normalised image -> ``(B, num_classes)`` logits."""
        return self.head(self.forward_features(x).flatten(2).mean(-1))


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def container_light(**overrides) -> ContainerLight:
    """Container-Light as in the paper; keyword arguments override :class:`ContainerLightConfig` fields."""
    return ContainerLight(ContainerLightConfig(**overrides))


@torch.no_grad()
def reference_forward(model: ContainerLight, x: Tensor) -> Tensor:
    """A straight transcription of the reference ``forward`` over this model's weights.

    Used by the benchmark as the baseline the fast path must match in time and
    by the tests to check the fast path in value.
    """
    import torch.nn.functional as F

    def patch_embed(pe: PatchEmbed, x: Tensor) -> Tensor:
        x = pe.proj(x)
        batch, channels, height, width = x.shape
        x = x.flatten(2).transpose(1, 2)
        x = pe.norm(x)
        return x.reshape(batch, height, width, -1).permute(0, 3, 1, 2).contiguous()

    def cblock(blk: CBlock, x: Tensor) -> Tensor:
        x = x + blk.pos_embed(x)
        x = x + blk.conv2(F.conv2d(blk.conv1(blk.norm1(x)), blk.attn.weight, blk.attn.bias, padding=blk.attn.padding,
                                   groups=blk.attn.groups))
        return x + blk.mlp.fc2(F.gelu(blk.mlp.fc1(blk.norm2(x))))

    def mixblock(blk: MixBlock, x: Tensor) -> Tensor:
        x = x + blk.pos_embed(x)
        batch, _, height, width = x.shape
        residual = x
        qkv = blk.conv1(blk.norm1(x))
        dim = qkv.shape[1] // 3
        conv = F.conv2d(qkv[:, 2 * dim :], blk.conv.weight, blk.conv.bias, padding=blk.conv.padding, groups=dim)
        sa = qkv.flatten(2).transpose(1, 2)
        num_tokens = sa.shape[1]
        heads = blk.attn.num_heads
        qkv_heads = sa.reshape(batch, num_tokens, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv_heads[0], qkv_heads[1], qkv_heads[2]
        attn = ((q @ k.transpose(-2, -1)) * (dim // heads) ** -0.5).softmax(dim=-1)
        sa = (attn @ v).transpose(1, 2).reshape(batch, num_tokens, dim)
        sa = sa.reshape(batch, height, width, -1).permute(0, 3, 1, 2).contiguous()
        weight = torch.sigmoid(blk.sa_weight)
        x = residual + blk.conv2(weight * sa + (1 - weight) * conv)
        return x + blk.mlp.fc2(F.gelu(blk.mlp.fc1(blk.norm2(x))))

    for stage in range(1, 5):
        x = patch_embed(getattr(model, f"patch_embed{stage}"), x)
        for blk in getattr(model, f"blocks{stage}"):
            x = cblock(blk, x) if isinstance(blk, CBlock) else mixblock(blk, x)
    x = model.norm(x)
    return model.head(x.flatten(2).mean(-1))
