"""Cached heavy things for the lessons: bundled models (or a marked random fallback) and a fixed test batch.

Models are shared by all sessions through ``st.cache_resource`` and used in
eval mode under ``torch.no_grad()``; per-session changes (a moved blend)
go through ``override_blend``, a context variable, never through the
shared parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
import torch
from torch import nn

from app.registry import WEIGHTS_DIR_ENV, bundled_cards, weights_dir
from container_edu import pretrained
from container_edu.cards import ModelCard
from container_edu.data.fashion_mnist import CLASS_NAMES, DatasetError, load_fashion_mnist, to_model_input
from container_edu.models import create_model

#: The app's weights-folder override (tests use it to run with and without bundled weights).
WEIGHTS_ENV = WEIGHTS_DIR_ENV
TEST_BATCH_SIZE = 500


def train_command(mixing: str) -> str:
    return f"python -m container_edu train --variant {mixing} --out container_edu/weights"


@dataclass(frozen=True)
class LessonModel:
    """A zoo model for a lesson: bundled (``card`` set) or random (``card`` None, ``note`` says why)."""

    name: str
    model: nn.Module
    card: ModelCard | None
    note: str = ""

    @property
    def is_random(self) -> bool:
        return self.card is None

    @property
    def label(self) -> str:
        return f"{self.name} (bundled, trained)" if self.card else f"{self.name} (random weights)"

    @property
    def cache_key(self) -> str:
        return f"{self.name}:{self.card.sha256}" if self.card else f"{self.name}:random"


@st.cache_resource(show_spinner="Loading the bundled model…", max_entries=8)
def _load_bundled(name: str, folder: str, sha256: str) -> nn.Module:
    return pretrained.load_pretrained(name, device="cpu", weights_dir=Path(folder))


@st.cache_resource(show_spinner=False, max_entries=8)
def random_model(name: str, seed: int = 0) -> nn.Module:
    """An untrained zoo model with fixed random weights (seeded, without touching the global RNG)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return create_model(name).eval()


def lesson_model(name: str) -> LessonModel:
    """The bundled ``name`` if present and intact, else the same architecture with random weights."""
    cards = bundled_cards()
    card = cards.get(name)
    if card is not None:
        try:
            model = _load_bundled(name, str(weights_dir()), card.sha256)
            return LessonModel(name, model, card)
        except (pretrained.PretrainedError, OSError, RuntimeError, KeyError) as error:
            return LessonModel(name, random_model(name), None, f"the bundled {name} could not be loaded: {error}")
    return LessonModel(name, random_model(name), None, "bundled weights not found")


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
    "CLASS_NAMES", "LessonModel", "WEIGHTS_ENV", "bundled_cards", "lesson_model", "random_model",
    "test_batch", "train_command", "try_test_batch", "weights_dir",
]
