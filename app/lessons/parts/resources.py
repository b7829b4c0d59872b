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

from app import caching, deployment, registry
from app.i18n import N_, _
from app.registry import bundled_cards
from container_edu.hub import bundled as pretrained
from container_edu.hub.cards import ModelCard
from container_edu.record.trace import override_blend, record_affinities
from container_edu.data import NUM_CLASSES, SUBSET_PER_CLASS, DataSource, data_source, load_fashion_mnist
from container_edu.data.fashion_mnist import CLASS_NAMES, DatasetError, to_model_input

TEST_BATCH_SIZE = 500

#: ``CLASS_NAMES`` (the core's, English), marked so that the lessons can show them translated.
_CLASS_NAMES_SHOWN: tuple[str, ...] = (
    N_("T-shirt/top"), N_("Trouser"), N_("Pullover"), N_("Dress"), N_("Coat"), N_("Sandal"), N_("Shirt"),
    N_("Sneaker"), N_("Bag"), N_("Ankle boot"),
)
assert _CLASS_NAMES_SHOWN == CLASS_NAMES, "keep the marked class names in step with container_edu's CLASS_NAMES"


def class_name(label: int) -> str:
    """Fashion-MNIST class ``label``'s name in the session's language."""
    return _(CLASS_NAMES[label])


def source_label(source: DataSource) -> str:
    """``source.label`` (the core's English) in the session's language: which Fashion-MNIST images are used."""
    if source.is_subset:
        train, test = (SUBSET_PER_CLASS[split] * NUM_CLASSES for split in ("train", "test"))
        return _("the bundled Fashion-MNIST subset ({train:,} training and {test:,} test images, class-balanced; "
                 "the full set was not found)").format(train=train, test=test)
    if deployment.shared_mode():  # the folder would show the server's layout to every visitor
        return _("the full Fashion-MNIST set (installed on this server)")
    return _("the full Fashion-MNIST set in {directory}").format(directory=source.directory)


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
        """The model's name and whether it is trained, in the session's language (drawn in a run, never cached)."""
        if self.card:
            return _("{name} (bundled, trained)").format(name=self.name)
        return _("{name} (random weights)").format(name=self.name)

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
        return _random(name, f"the bundled {name} could not be loaded: {deployment.without_server_folders(str(error))}")


# The spinners are drawn by the callers: a cached function runs for every session, whatever its language.
@st.cache_resource(show_spinner=False, max_entries=4)
def _test_images(directory: str, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_fashion_mnist("test", directory)
    return to_model_input(images[:size]), labels[:size]


@st.cache_resource(show_spinner=False, max_entries=2)
def _train_images(directory: str, size: int) -> torch.Tensor:
    images, _labels = load_fashion_mnist("train", directory)
    return to_model_input(images[:size])


def train_images(size: int = 1000) -> torch.Tensor:
    """The first ``size`` training images of :func:`test_source`'s folder, normalised (for BatchNorm statistics)."""
    with st.spinner(_("Loading Fashion-MNIST training images…")):  # shown only if loading takes a while
        return _train_images(str(test_source().directory), size)


def test_source() -> DataSource:
    """The full Fashion-MNIST set when it is installed, else the subset shipped in the package."""
    return data_source()


def test_batch(size: int = TEST_BATCH_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``size`` test images of :func:`test_source`, normalised ``(size, 1, 28, 28)``, and labels ``(size,)``.

    Cached per folder, so a figure never mixes the full set and the subset. Raises ``DatasetError`` only
    when the full set is present but damaged (the shipped subset is never substituted for a damaged set).
    """
    with st.spinner(_("Loading Fashion-MNIST test images…")):  # shown only if loading takes a while
        return _test_images(str(test_source().directory), size)


def try_test_batch(size: int = TEST_BATCH_SIZE) -> tuple[torch.Tensor, torch.Tensor] | None:
    try:
        return test_batch(size)
    except DatasetError as error:
        st.warning(_("The Fashion-MNIST test images could not be read, so this part is skipped: {error}").format(
            error=deployment.without_server_folders(str(error))))
        return None


def standard_error(accuracy_percent: float, count: int) -> float:
    """Binomial standard error (percentage points) of an accuracy measured on ``count`` images."""
    p = accuracy_percent / 100.0
    return 100.0 * (p * (1.0 - p) / max(count, 1)) ** 0.5


@torch.no_grad()
def block_outputs_along_alpha(model: nn.Module, block: str, images: torch.Tensor,
                              alphas: tuple[float, ...]) -> list[torch.Tensor]:
    """The aggregated output of ``block`` with its blend overridden to each α (``None``: the learned blend).

    Only this block is overridden, so the blocks before it, and hence its input, are the same in every run.
    """
    outputs = []
    for alpha in alphas:
        with override_blend({} if alpha is None else {block: alpha}), record_affinities() as records:
            model(images)
        outputs.append(records[block].aggregated.double())
    return outputs


def alpha_from_behaviour(model: nn.Module, block: str, images: torch.Tensor) -> float:
    """A Container-Light block's learned α measured from what it does, not read from ``sa_weight``.

    The block output is Y(α) = Y(0) + α (Y(1) − Y(0)); the α of the learned output is the least-squares
    coefficient along that line.
    """
    at_zero, at_one, learned = block_outputs_along_alpha(model, block, images, (0.0, 1.0, None))
    direction = at_one - at_zero
    return float(((learned - at_zero) * direction).sum() / (direction * direction).sum())


__all__ = [
    "CLASS_NAMES", "LessonModel", "alpha_from_behaviour", "class_name", "source_label", "block_outputs_along_alpha", "bundled_cards", "lesson_model", "standard_error", "test_batch", "test_source", "train_images",
    "train_command", "try_test_batch",
]
