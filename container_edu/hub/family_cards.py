"""The model cards of the three families: timm's preprocessing, the reported accuracy, where the weights came from.

:func:`family_card` describes weights of a family model (installed from the hub or a file); :func:`random_family_card`
describes randomly initialised stand-ins (``source == "random"``: the app says nothing shown was learned);
:func:`family_preprocessing` is timm's evaluation transform of the pinned tag
(:mod:`container_edu.hub.family_sources` says where each value was read).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, Final

from torch import nn

from container_edu.hub.cards import RANDOM_SOURCE, ModelCard, Preprocessing
from container_edu.hub.family_sources import family_source

__all__ = ["family_card", "random_family_card", "family_preprocessing"]

#: What each family's mixing is, in the card's ``variant`` (the kind of affinity the paper gives it).
_VARIANTS: Final[dict[str, str]] = {"deit_small": "attention", "convnext_tiny": "depthwise_conv",
                                    "mixer_b16": "token_mixing_mlp"}


def family_preprocessing(name: str) -> Preprocessing:
    """timm's evaluation transform of the family's pinned weights: resize, centre crop, interpolation, mean, std."""
    source = family_source(name)
    return Preprocessing(input_size=source.input_size, in_chans=3, mode="shorter_side_center_crop", mean=source.mean,
                         std=source.std, resize=source.resize, interpolation=source.interpolation,
                         crop_pct=source.crop_pct)


def _config_dict(model: nn.Module) -> dict[str, Any]:
    config = dataclasses.asdict(model.config)
    return json.loads(json.dumps(config, default=list))  # tuples -> lists: what the JSON card holds


def family_card(name: str, model: nn.Module, *, source: str, sha256: str, weights_file: str | None = None,
                extra: Mapping[str, Any] | None = None, notes: str = "") -> ModelCard:
    """The card of ``model`` (a family ``name``) with the weights described by ``source`` and ``sha256``."""
    from container_edu.data.imagenet import imagenet_class_names

    pinned = family_source(name)
    return ModelCard(
        name=name, architecture=name, variant=_VARIANTS[name], config=_config_dict(model),
        preprocessing=family_preprocessing(name), class_names=tuple(imagenet_class_names()), dataset=pinned.dataset,
        source=source, weights_file=weights_file or f"{name}.safetensors", sha256=sha256,
        parameter_count=sum(p.numel() for p in model.parameters()),
        reported_metrics={} if source == RANDOM_SOURCE else dict(pinned.reported_metrics),
        notes=notes, extra=dict(extra or {}),
    )


def random_family_card(name: str, model: nn.Module, sha256: str = "") -> ModelCard:
    """The card of randomly initialised weights: ``source`` says ``"random"``, so the app says the maps are not
    learned; no accuracy is reported for them."""
    return family_card(name, model, source=RANDOM_SOURCE, sha256=sha256, extra={"random_weights": True},
                       notes="Random initial weights (a test or a stand-in): nothing these weights show was learned.")
