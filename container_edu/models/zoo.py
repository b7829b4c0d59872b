"""The zoo: small Containers for 28 x 28 grayscale images (Fashion-MNIST).

Same design as Container-Light, scaled down: a conv-only stage at 14 x 14,
then a stage at 7 x 7 (49 tokens, the grid of Container-Light's stage 4 at
224 x 224) whose aggregation the config chooses, so that the five variants
differ only in how ``A_m`` is made. Each variant (``ZooConfig.mixing``) is an aggregation kind of
:mod:`container_edu.ops.kinds` whose ``zoo_variant`` names it: ``attention``,
``conv``, ``mixer`` (the multi-head MLP: one learned ``N x N`` matrix per
head), ``container`` and ``container_light``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import Tensor, nn

from container_edu.ops.aggregation import Aggregation
from container_edu.ops.kinds import ZOO_VARIANTS
from container_edu.record.trace import assign_record_names
from container_edu.models.blocks import AggregationBlock, CBlock, PatchEmbed

__all__ = ["MIXINGS", "ZooConfig", "ZooContainer"]

#: The zoo variants, in the order the app and the tables list them.
MIXINGS = tuple(ZOO_VARIANTS)


@dataclass(frozen=True)
class ZooConfig:
    """A small Container for ``img_size x img_size`` images.

    Stage 1: ``patch_sizes[0]``-strided embedding, ``depths[0]`` conv-only blocks.
    Stage 2: ``patch_sizes[1]``-strided embedding, ``depths[1]`` blocks that
    aggregate with ``mixing``. With the defaults stage 1 works on 14 x 14
    tokens and the mixed stage on 7 x 7: one epoch of Fashion-MNIST then
    trains in under a minute on 2 CPU cores (a 14 x 14 mixed stage took
    about three times as long).
    """

    mixing: str = "container_light"
    img_size: int = 28
    in_chans: int = 1
    num_classes: int = 10
    embed_dims: tuple[int, int] = (32, 96)
    depths: tuple[int, int] = (1, 2)
    patch_sizes: tuple[int, int] = (2, 2)
    num_heads: int = 4
    mlp_ratio: float = 2.0
    kernel_size: int = 5

    def __post_init__(self) -> None:
        if self.mixing not in MIXINGS:
            raise ValueError(f"unknown mixing {self.mixing!r}; choose one of {', '.join(MIXINGS)}")
        if self.embed_dims[1] % self.num_heads:
            raise ValueError(f"num_heads={self.num_heads} must divide the mixed stage's {self.embed_dims[1]} channels")
        if self.img_size % (self.patch_sizes[0] * self.patch_sizes[1]):
            raise ValueError(f"img_size {self.img_size} is not divisible by the total stride {self.patch_sizes}")

    @property
    def mixed_grid(self) -> tuple[int, int]:
        side = self.img_size // (self.patch_sizes[0] * self.patch_sizes[1])
        return side, side

    def to_dict(self) -> dict:
        return asdict(self)


def make_aggregation(config: ZooConfig) -> Aggregation:
    """The aggregation module of the mixed stage for ``config.mixing``.

    A Container's ``alpha`` and ``beta`` start at 1/2, as ``sigmoid(0)`` does in
    Container-Light, so that the two start alike.
    """
    kind = ZOO_VARIANTS[config.mixing]
    return kind.build(config.embed_dims[1], config.num_heads, config.mixed_grid, config.kernel_size, blend=(0.5, 0.5))


class ZooContainer(nn.Module):
    """``patch_embed1 -> blocks1 (conv) -> patch_embed2 -> blocks2 (mixing) -> norm -> pool -> head``."""

    def __init__(self, config: ZooConfig = ZooConfig()) -> None:
        super().__init__()
        self.config = config
        dim1, dim2 = config.embed_dims
        self.patch_embed1 = PatchEmbed(config.in_chans, dim1, config.patch_sizes[0])
        self.blocks1 = nn.ModuleList([CBlock(dim1, config.mlp_ratio, config.kernel_size) for _ in range(config.depths[0])])
        self.patch_embed2 = PatchEmbed(dim1, dim2, config.patch_sizes[1])
        self.blocks2 = nn.ModuleList(
            [AggregationBlock(dim2, make_aggregation(config), config.mlp_ratio) for _ in range(config.depths[1])]
        )
        self.norm = nn.BatchNorm2d(dim2)
        self.head = nn.Linear(dim2, config.num_classes)
        assign_record_names(self)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, 1, 28, 28)`` normalised images -> ``(B, 10)`` logits."""
        x = self.patch_embed1(x)
        for block in self.blocks1:
            x = block(x)
        x = self.patch_embed2(x)
        for block in self.blocks2:
            x = block(x)
        return self.head(self.norm(x).flatten(2).mean(-1))
