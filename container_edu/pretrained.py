"""The zoo models the package ships, trained on Fashion-MNIST by ``python -m container_edu train``.

Each bundled model is a ``safetensors`` file in ``container_edu/weights/``
with a JSON model card beside it (variant, config, command, seed, measured
accuracy, blend history, sha256 of the weights). Loading checks the
checksum and loads strictly.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from .device import default_device
from .files import sha256_file
from .models import ZooConfig, ZooContainer

__all__ = ["WEIGHTS_DIR", "PretrainedError", "list_pretrained", "model_card", "load_pretrained"]

WEIGHTS_DIR = Path(__file__).parent / "weights"


class PretrainedError(RuntimeError):
    """A bundled model is missing, unknown or damaged."""


@lru_cache(maxsize=16)
def _cards(weights_dir: Path, listing: tuple[tuple[str, int], ...]) -> dict[str, dict]:
    cards = {}
    for name, _ in listing:
        card = json.loads((weights_dir / name).read_text())
        cards[card["name"]] = card
    return cards


def list_pretrained(weights_dir: Path = WEIGHTS_DIR) -> dict[str, dict]:
    """Bundled model names mapped to their model cards (a copy; edit freely).

    Cards are re-read when a card file in ``weights_dir`` is added, removed
    or rewritten, so a running app sees newly trained models.
    """
    weights_dir = Path(weights_dir)
    listing = tuple(sorted((path.name, path.stat().st_mtime_ns) for path in weights_dir.glob("*.json")))
    return json.loads(json.dumps(_cards(weights_dir, listing)))


def model_card(name: str, weights_dir: Path = WEIGHTS_DIR) -> dict:
    cards = list_pretrained(weights_dir)
    if name not in cards:
        known = ", ".join(cards) or "none (run `python -m container_edu train` to make one)"
        raise PretrainedError(f"no bundled model named {name!r}; bundled: {known}")
    return cards[name]


def load_pretrained(name: str, device: str | torch.device | None = None, weights_dir: Path = WEIGHTS_DIR) -> nn.Module:
    """A bundled zoo model in eval mode on ``device`` (default: :func:`default_device`).

    Raises :class:`PretrainedError` when the name is unknown or the weights
    file does not match the checksum in its card.
    """
    from safetensors.torch import load_file

    card = model_card(name, weights_dir)
    weights_path = Path(weights_dir) / card["weights_file"]
    if not weights_path.is_file():
        raise PretrainedError(f"the weights of {name!r} are missing: expected {weights_path}")
    digest = sha256_file(weights_path)
    if digest != card["sha256"]:
        raise PretrainedError(
            f"the weights of {name!r} do not match their model card (sha256 {digest[:12]}... != "
            f"{card['sha256'][:12]}...): the file is damaged or was replaced; reinstall the package"
        )
    config = dict(card["config"])
    for key in ("embed_dims", "depths", "patch_sizes"):
        config[key] = tuple(config[key])
    model = ZooContainer(ZooConfig(**config))
    model.load_state_dict(load_file(weights_path), strict=True)
    return model.eval().to(default_device(device))
