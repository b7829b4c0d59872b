"""Networks built from the aggregation core, and a name -> constructor registry."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from container_edu.models.blocks import AggregationBlock, CBlock, MixBlock, PatchEmbed, blend_parameters
from container_edu.models.container_light import ContainerLight, ContainerLightConfig, container_light
from container_edu.models.version import weights_version
from container_edu.models.zoo import MIXINGS, ZooConfig, ZooContainer

__all__ = [
    "AggregationBlock", "CBlock", "MixBlock", "PatchEmbed", "blend_parameters",
    "ContainerLight", "ContainerLightConfig", "container_light",
    "MIXINGS", "ZooConfig", "ZooContainer",
    "MODEL_NAMES", "ZOO_PREFIX", "create_model", "weights_version",
]

#: Zoo model names are ``fmnist_<mixing>``; ``container_light`` alone is the ImageNet architecture.
ZOO_PREFIX = "fmnist_"


def _zoo(mixing: str) -> Callable[..., nn.Module]:
    def build(**config) -> nn.Module:
        return ZooContainer(ZooConfig(mixing=mixing, **config))

    build.__doc__ = f"The Fashion-MNIST zoo model whose mixed stage uses {mixing!r} aggregation."
    return build


_REGISTRY: dict[str, Callable[..., nn.Module]] = {"container_light": container_light}
_REGISTRY.update({ZOO_PREFIX + mixing: _zoo(mixing) for mixing in MIXINGS})
MODEL_NAMES = tuple(_REGISTRY)


def create_model(name: str, **config) -> nn.Module:
    """Build a model by name with random weights; ``config`` overrides its config dataclass fields.

    Names: ``container_light`` (ImageNet, 224 x 224 RGB) and the zoo for 28 x 28
    grayscale: ``fmnist_attention``, ``fmnist_conv``, ``fmnist_mixer``,
    ``fmnist_container``, ``fmnist_container_light``.
    """
    try:
        build = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}") from None
    try:
        return build(**config)
    except TypeError as error:
        raise ValueError(f"bad config for {name!r}: {error}") from None
