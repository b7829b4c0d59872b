"""What the lessons load: zoo models from the app's shared model cache (or a marked random fallback) and a test batch.

Models come from :mod:`app.caching`, the same ``st.cache_resource`` entries
the other pages use (one instance per weights, shared by all sessions, on the
app's device, eval mode, used under ``torch.no_grad()``); per-session changes
(a moved blend) go through ``override_blend``, a context variable, never
through the shared parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
import torch
from torch import nn

from app import caching, registry
from app.registry import bundled_cards
from container_edu import pretrained
from container_edu.cards import ModelCard
from container_edu.data.fashion_mnist import CLASS_NAMES, DatasetError, load_fashion_mnist, to_model_input

TEST_BATCH_SIZE = 500


def train_command(mixing: str) -> str:
    return f"python -m container_edu train --variant {mixing} --out container_edu/weights"


@dataclass(frozen=True)
class LessonModel:
    """A zoo model for a lesson: bundled (``card`` set) or random (``card`` None, ``note`` says why)."""

    name: str
    model: nn.Module
    card: ModelCard | None
    cache_key: str  # the app's ModelRef.key: names the weights, so results may be cached by it
    note: str = ""

    @property
    def is_random(self) -> bool:
        return self.card is None

    @property
    def label(self) -> str:
        return f"{self.name} (bundled, trained)" if self.card else f"{self.name} (random weights)"

    @property
    def device(self) -> torch.device:
        """Where the shared model lives (the app's device): inputs go there."""
        return next(self.model.parameters()).device


def _random(name: str, note: str) -> LessonModel:
    ref = registry.random_ref(name)
    return LessonModel(name, caching.get_model(ref, st.session_state), None, ref.key, note)


def lesson_model(name: str) -> LessonModel:
    """The bundled ``name`` if present and intact, else the same architecture with the app's seeded random weights."""
    card = bundled_cards().get(name)
    if card is None:
        return _random(name, "bundled weights not found")
    ref = registry.bundled_ref(name, card)
    try:
        return LessonModel(name, caching.get_model(ref, st.session_state), card, ref.key)
    except (pretrained.PretrainedError, OSError, RuntimeError, KeyError) as error:
        return _random(name, f"the bundled {name} could not be loaded: {error}")


@st.cache_resource(show_spinner="Loading Fashion-MNIST test images…")
def test_batch(size: int = TEST_BATCH_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``size`` Fashion-MNIST test images, normalised ``(size, 1, 28, 28)``, and labels ``(size,)``.

    Raises ``DatasetError`` (with an install hint) when the dataset is missing.
    """
    images, labels = load_fashion_mnist("test")
    return to_model_input(images[:size]), labels[:size]


def try_test_batch(size: int = TEST_BATCH_SIZE) -> tuple[torch.Tensor, torch.Tensor] | None:
    try:
        return test_batch(size)
    except DatasetError as error:
        st.warning(f"Fashion-MNIST is not available, so this part is skipped: {error}")
        return None


__all__ = [
    "CLASS_NAMES", "LessonModel", "bundled_cards", "lesson_model", "test_batch", "train_command", "try_test_batch",
]
