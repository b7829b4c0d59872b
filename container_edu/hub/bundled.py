"""The zoo models the package ships, trained on Fashion-MNIST by ``python -m container_edu train``.

Each bundled model is a ``safetensors`` file in ``container_edu/weights/``
with a :class:`~container_edu.hub.cards.ModelCard` beside it as JSON (variant,
config, preprocessing, class names, command, measured accuracy, blend
history, sha256 of the weights). Loading checks the checksum and loads
strictly.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from container_edu.device import default_device
from container_edu.errors import ContainerEduError
from container_edu.files import sha256_file
from container_edu.hub.cards import ModelCard, read_card
from container_edu.models import ContainerLight, ContainerLightConfig, ZooConfig, ZooContainer
from container_edu.text import N_

__all__ = [
    "WEIGHTS_DIR",
    "PretrainedError",
    "list_pretrained",
    "model_card",
    "load_pretrained",
    "model_from_card",
]

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"


class PretrainedError(ContainerEduError, RuntimeError):
    """A bundled model is missing, unknown or damaged."""


@lru_cache(maxsize=16)
def _cards(weights_dir: Path, listing: tuple[tuple[str, int], ...]) -> dict[str, ModelCard]:
    cards = {}
    for name, _ in listing:
        card = read_card(weights_dir / name)
        cards[card.name] = card
    return cards


def list_pretrained(weights_dir: Path = WEIGHTS_DIR) -> dict[str, ModelCard]:
    """Bundled model names mapped to their model cards.

    Cards are re-read when a card file in ``weights_dir`` is added, removed
    or rewritten, so a running app sees newly trained models. The cards are
    shared between callers: read them, do not change their dicts. Raises
    :class:`~container_edu.hub.cards.CardError` for a card that cannot be read.
    """
    weights_dir = Path(weights_dir)
    listing = tuple(sorted((path.name, path.stat().st_mtime_ns) for path in weights_dir.glob("*.json")))
    return dict(_cards(weights_dir, listing))  # a new dict: callers may add or drop entries


def model_card(name: str, weights_dir: Path = WEIGHTS_DIR) -> ModelCard:
    cards = list_pretrained(weights_dir)
    if name not in cards:
        if not cards:
            raise PretrainedError(N_("no bundled model named {name}; bundled: none (run `python -m container_edu train` "
                                     "to make one)"), name=repr(name))
        raise PretrainedError(N_("no bundled model named {name}; bundled: {known}"), name=repr(name),
                              known=", ".join(cards))
    return cards[name]


def model_from_card(card: ModelCard) -> nn.Module:
    """The architecture ``card`` describes, with fresh (random) weights."""
    if card.architecture == "zoo":
        return ZooContainer(ZooConfig(**card.config))
    return ContainerLight(ContainerLightConfig(**card.config))


def load_pretrained(name: str, device: str | torch.device | None = None, weights_dir: Path = WEIGHTS_DIR) -> nn.Module:
    """A bundled zoo model in eval mode on ``device`` (default: :func:`default_device`).

    Raises :class:`PretrainedError` when the name is unknown or the weights
    file does not match the checksum in its card.
    """
    from safetensors.torch import load_file

    card = model_card(name, weights_dir)
    weights_path = Path(weights_dir) / card.weights_file
    if not weights_path.is_file():
        raise PretrainedError(N_("the weights of {name} are missing: expected {path}"), name=repr(name),
                              path=str(weights_path))
    digest = sha256_file(weights_path)
    if digest != card.sha256:
        raise PretrainedError(N_("the weights of {name} do not match their model card (sha256 {digest}... != "
                                 "{expected}...): the file is damaged or was replaced; reinstall the package"),
                              name=repr(name), digest=digest[:12], expected=card.sha256[:12])
    model = model_from_card(card)
    model.load_state_dict(load_file(weights_path), strict=True)
    return model.eval().to(default_device(device))
