"""Networks built from the aggregation core, and a name -> constructor registry."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from container_edu.text import N_

from container_edu.models.blocks import AggregationBlock, CBlock, MixBlock, PatchEmbed, blend_parameters
from container_edu.models.container_light import ContainerLight, ContainerLightConfig, container_light
from container_edu.models.convnext import ConvNeXt, ConvNeXtConfig, convnext_tiny
from container_edu.models.deit import DeiT, DeiTConfig, deit_small
from container_edu.models.image_input import ModelInputError
from container_edu.models.mixer import MixerConfig, MlpMixer, mixer_b16
from container_edu.models.version import weights_version
from container_edu.models.zoo import MIXINGS, ZooConfig, ZooContainer

__all__ = [
    "AggregationBlock", "CBlock", "MixBlock", "PatchEmbed", "blend_parameters",
    "ContainerLight", "ContainerLightConfig", "container_light",
    "MIXINGS", "ZooConfig", "ZooContainer",
    "DeiT", "DeiTConfig", "deit_small", "ConvNeXt", "ConvNeXtConfig", "convnext_tiny",
    "MlpMixer", "MixerConfig", "mixer_b16", "ModelInputError", "FAMILY_MODELS", "FAMILY_LABELS", "TIMM_NAMES",
    "MODEL_NAMES", "ZOO_PREFIX", "create_model", "weights_version",
]

#: Zoo model names are ``fmnist_<mixing>``; ``container_light`` alone is the ImageNet architecture.
ZOO_PREFIX = "fmnist_"


def _zoo(mixing: str) -> Callable[..., nn.Module]:
    def build(**config) -> nn.Module:
        return ZooContainer(ZooConfig(mixing=mixing, **config))

    build.__doc__ = f"The Fashion-MNIST zoo model whose mixed stage uses {mixing!r} aggregation."
    return build


#: The three families the paper unifies, trained on ImageNet by others (timm's architectures and key names).
FAMILY_MODELS = ("deit_small", "convnext_tiny", "mixer_b16")

#: Their names in the interface (English templates; the app translates them).
FAMILY_LABELS = {
    "deit_small": N_("DeiT-Small/16 (attention)"),
    "convnext_tiny": N_("ConvNeXt-Tiny (depthwise conv)"),
    "mixer_b16": N_("MLP-Mixer-B/16 (token-mixing MLP)"),
}

#: The timm model each one equals, key for key (``timm.create_model(TIMM_NAMES[name])``).
TIMM_NAMES = {
    "deit_small": "deit_small_patch16_224",
    "convnext_tiny": "convnext_tiny",
    "mixer_b16": "mixer_b16_224",
}

_REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "container_light": container_light,
    "deit_small": deit_small,
    "convnext_tiny": convnext_tiny,
    "mixer_b16": mixer_b16,
}
_REGISTRY.update({ZOO_PREFIX + mixing: _zoo(mixing) for mixing in MIXINGS})
MODEL_NAMES = tuple(_REGISTRY)


def create_model(name: str, **config) -> nn.Module:
    """Build a model by name with random weights; ``config`` overrides its config dataclass fields.

    Names: ``container_light`` (ImageNet, 224 x 224 RGB); the three families ``deit_small``,
    ``convnext_tiny``, ``mixer_b16`` (ImageNet, timm's key names; small test configs by overrides such as
    ``depth=2, embed_dim=48, img_size=(64, 96)`` or ``depths=(1, 1), dims=(8, 16)``); and the zoo for 28 x 28
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
