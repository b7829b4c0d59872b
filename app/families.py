"""The "Three families" view's data side: which weights each model has, the cached models and recordings, and the
rows of one query on one image.

The three ImageNet families of issue 24 come from the weights folder (:func:`container_edu.hub.families.
installed_families`, :func:`~container_edu.hub.families.load_family`) when installed, else from
:func:`container_edu.models.create_model` with seeded random weights; Container-Light is the installed authors'
model or its random stand-in (:mod:`app.registry`). Models are shared read-only (``st.cache_resource``); a
recorded pass is cached per model and per image content hash, so moving the query or the block reruns nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch
from torch import nn

from container_edu.analysis import families as fam
from container_edu.hub.cards import Preprocessing
from container_edu.hub.families import family_preprocessing, installed_families, load_family
from container_edu.models import FAMILY_LABELS as MODEL_FAMILY_LABELS
from container_edu.record.families import FamilyRecording, record_family

from app import caching, registry, views
from app.i18n import N_
from app.widgets import CurrentImage

__all__ = ["FAMILY_LABELS", "SHORT_NAMES", "FETCH_NAMES", "Source", "sources", "family_blocks", "rows_for",
           "build_random_family", "record", "Recorded", "default_block", "mixer_channels"]

#: The names the UI gives each model (issue 24's, from the core), English templates drawn with ``_()``.
FAMILY_LABELS = {**MODEL_FAMILY_LABELS, "container_light": N_("Container-Light (the paper's hybrid)")}
#: The models' own names, short enough for a button (names, not translated).
SHORT_NAMES = {"deit_small": "DeiT-Small/16", "convnext_tiny": "ConvNeXt-Tiny", "mixer_b16": "MLP-Mixer-B/16",
               "container_light": "Container-Light"}
#: The name to give ``python -m container_edu weights fetch`` for each model (Container-Light's takes none).
FETCH_NAMES = {"deit_small": "deit_small", "convnext_tiny": "convnext_tiny", "mixer_b16": "mixer_b16",
               "container_light": ""}
RANDOM_SEED = registry.RANDOM_SEED


@dataclass(frozen=True)
class Source:
    """Where one model's weights come from: ``key`` identifies them (a cache key); ``random`` for a stand-in."""

    name: str
    key: str
    random: bool


def sources() -> dict[str, Source]:
    """Each model's weights, read on every run (weights installed from the command line show up at once)."""
    installed = installed_families()
    result = {}
    for name in fam.FAMILIES[:3]:
        card = installed.get(name)
        if card is None:
            result[name] = Source(name, f"random:{name}:{RANDOM_SEED}", True)
        else:
            result[name] = Source(name, f"installed:{name}:{card.sha256[:16]}", card.random_weights)
    light = registry.installed_refs()
    result["container_light"] = (Source("container_light", light[0].key, False) if light else
                                 Source("container_light", registry.random_ref("container_light").key, True))
    return result


@st.cache_resource(max_entries=3, show_spinner=False)
def _family_model(name: str, key: str) -> tuple[nn.Module, Preprocessing]:
    """One of the three families (shared, read-only, eval mode) and its preprocessing."""
    if key.startswith("installed:"):
        model, card = load_family(name)
        return model.eval(), card.preprocessing
    return build_random_family(name), family_preprocessing(name)


def build_random_family(name: str) -> nn.Module:
    """One of the three families with seeded random weights, in eval mode (:func:`app.registry.build_random`)."""
    return registry.build_random(name)


@st.cache_resource(max_entries=12, show_spinner=False)
def _recording(key: str, digest: str, _model: nn.Module, _x: torch.Tensor) -> FamilyRecording:
    """One recorded forward pass of a family model on one image (keyed by the weights and the content hash)."""
    return record_family(_model, _x)


def _light_ref(source: Source) -> registry.ModelRef:
    refs = [ref for ref in registry.installed_refs() if ref.key == source.key]
    return refs[0] if refs else registry.random_ref("container_light")


@dataclass(frozen=True)
class Recorded:
    """One model's recorded pass on one image: ``seen`` is the picture it saw (uint8 ``(H, W, 3)``)."""

    name: str
    source: Source
    recording: Mapping  # a FamilyRecording, or Container-Light's records by block name
    seen: np.ndarray


def record(source: Source, current: CurrentImage) -> Recorded:
    """The model of ``source`` on ``current``, recorded (cached by weights and image)."""
    if source.name == "container_light":
        prepared = views.prepare(_light_ref(source), current)
        return Recorded(source.name, source, prepared.inspect().records, prepared.seen)
    model, preprocessing = _family_model(source.name, source.key)
    x, seen = caching.get_input(current.digest, preprocessing, current.image)
    return Recorded(source.name, source, _recording(source.key, current.digest, model, x), seen)


def family_blocks(recorded: Recorded) -> list[str]:
    """The blocks the view offers for this model (:func:`container_edu.analysis.families.view_blocks`)."""
    return fam.view_blocks(recorded.name, recorded.recording)


def mixer_channels(recorded: Recorded) -> int:
    """How many channels the Mixer's token mix has (768 for MLP-Mixer-B/16): the Jacobian's channel choices."""
    return fam.token_channels(recorded.recording)


default_block = fam.default_block


def rows_for(recorded: Recorded, block: str, query: tuple[int, int], channel: int = 0) -> fam.FamilyRows:
    """The rows of ``block`` for ``query`` (on the 14×14 grid) as plain data (:func:`container_edu.analysis.
    families.rows_of`)."""
    return fam.rows_of(recorded.name, recorded.recording[block], query, channel)
