"""Which models the app can show, and how each is built, preprocessed and labelled. No Streamlit here.

A :class:`ModelRef` names one choice of the model picker. Its ``key`` is
unique and stable, and identifies the weights (a checksum, a file's
modification time), so it doubles as a cache key. Sources:

- ``installed``: the authors' ImageNet Container-Light, installed once with
  ``python -m container_edu weights fetch`` (or the app's button) in the weights folder;
- ``family``: one of the paper's three families (DeiT-Small, ConvNeXt-Tiny, MLP-Mixer-B/16) installed in the same
  folder (``weights fetch deit_small``, :mod:`container_edu.hub.families`); inspected through
  :mod:`container_edu.record.family_inspection`;
- ``bundled``: a zoo model shipped in ``container_edu/weights`` (model card + safetensors);
- ``random``: a zoo model (or the ImageNet Container-Light architecture) with
  seeded random weights, the stand-in while no weights are bundled;
- ``checkpoint``: Container-Light (or a zoo model) from a file on the server;
- ``upload``: the same from an uploaded file (kept per user);
- ``session``: a model trained in this browser session (the lessons' live training).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from container_edu import create_model, default_device
from container_edu.hub.checkpoints import (
    CheckpointError,
    load_checkpoint_state_dict,
    load_official_checkpoint,
    state_dict_mismatch,
)
from container_edu.hub.cards import CardError, ModelCard, Preprocessing, card_for_model
from container_edu.ops.kinds import for_variant
from container_edu.models import MIXINGS, ZOO_PREFIX, ZooConfig, ZooContainer
from container_edu.data.transforms import preprocess as core_preprocess
from container_edu.hub.bundled import WEIGHTS_DIR, list_pretrained, load_pretrained

from app.i18n import N_, Text

__all__ = [
    "FASHION_MNIST",
    "IMAGENET",
    "BUNDLED_DIR_ENV",
    "DEFAULT_MODEL",
    "ModelRef",
    "weights_dir",
    "model_refs",
    "build_random",
    "dataset_label",
    "dataset_of",
    "card_of",
    "preprocess",
    "load_checkpoint_model",
    "RANDOM_LABEL",
    "INSTALLED_LABEL",
    "installed_refs",
    "family_refs",
    "family_card",
    "FAMILY",
]

FASHION_MNIST = "fashion_mnist"
IMAGENET = "imagenet"
#: Point the app at another folder of model cards (tests, or weights trained elsewhere).
BUNDLED_DIR_ENV = "CONTAINER_EDU_BUNDLED_DIR"
DEFAULT_MODEL = ZOO_PREFIX + "container_light"
RANDOM_LABEL = N_("untrained (random weights)")
#: The source of the three families' picker entries (their weights installed in the weights folder).
FAMILY = "family"
RANDOM_SEED = 0

@dataclass(frozen=True)
class ModelRef:
    """One entry of the model picker."""

    key: str
    label: str
    source: str  # "installed", "family", "bundled", "random", "checkpoint", "upload" or "session"
    name: str  # registry name ("fmnist_conv", "container_light") or the session / file name
    dataset: str  # FASHION_MNIST or IMAGENET
    trained: bool
    description: str = ""  # one sentence for the caption under the picker
    # The same two, for drawing in the session's language (label and description are their English text).
    label_text: Text | None = None
    description_text: Text | None = None

    @property
    def shown_label(self) -> str:
        return self.label_text.shown() if self.label_text else self.label

    @property
    def shown_description(self) -> str:
        return self.description_text.shown() if self.description_text else self.description

    @property
    def shared(self) -> bool:
        """Whether the weights are the same for every user (then results may be cached across users)."""
        return self.source in ("bundled", "random", "checkpoint", "installed", FAMILY)


def weights_dir() -> Path:
    """Folder of bundled model cards: ``$CONTAINER_EDU_BUNDLED_DIR`` (a test and development hook) or the package's ``weights/``."""
    override = os.environ.get(BUNDLED_DIR_ENV, "").strip()
    return Path(override).expanduser() if override else WEIGHTS_DIR


def bundled_cards(directory: Path | None = None) -> dict[str, ModelCard]:
    """Cards of the models bundled in ``directory`` (default: :func:`weights_dir`) whose weights file exists.

    Empty when there are none or the cards cannot be read (logged). ``list_pretrained``
    re-reads a card when its file changes, so weights that land while the app runs
    (a training job finishing) show up without a restart.
    """
    directory = weights_dir() if directory is None else directory
    if not directory.is_dir():
        return {}
    try:
        cards = list_pretrained(directory)
    except (OSError, CardError) as error:
        logging.getLogger(__name__).warning("could not read the model cards in %s: %s", directory, error)
        return {}
    return {name: card for name, card in cards.items() if card.weights_file and (directory / card.weights_file).is_file()}


def default_model() -> tuple[nn.Module, str]:
    """The model the app shows first, with a description: the bundled :data:`DEFAULT_MODEL`, else its random stand-in."""
    directory = weights_dir()
    if DEFAULT_MODEL in bundled_cards(directory):
        return load_pretrained(DEFAULT_MODEL, weights_dir=directory), f"{DEFAULT_MODEL} (bundled)"
    return build_random(DEFAULT_MODEL), f"{DEFAULT_MODEL} (untrained, random weights)"


def texts(label: Text, description: Text) -> dict:
    """A :class:`ModelRef`'s label and description arguments: English text, and the message to translate."""
    return {"label": label.english, "label_text": label, "description": description.english,
            "description_text": description}


def bundled_ref(name: str, card: ModelCard) -> ModelRef:
    accuracy = card.test_accuracy
    dataset = dataset_label(card)
    trained_on = "ImageNet-1k" if dataset == IMAGENET else "Fashion-MNIST"
    kind = ("kind", _variant_title(card.variant))
    if accuracy is not None:
        label = Text(N_("{name} · {accuracy:.1f}% test"), (("name", name), ("accuracy", accuracy)))
        description = Text(N_("Bundled, trained on {data} (test accuracy {accuracy:.2f}%); mixed stage: {kind}."),
                           (("data", trained_on), ("accuracy", accuracy), kind), frozenset({"kind"}))
    else:
        label = Text(N_("{name} · trained"), (("name", name),))
        description = Text(N_("Bundled, trained on {data} (no accuracy on its card); mixed stage: {kind}."),
                           (("data", trained_on), kind), frozenset({"kind"}))
    return ModelRef(key=f"bundled:{name}:{card.sha256[:16]}", source="bundled", name=name, dataset=dataset,
                    trained=True, **texts(label, description))


def _variant_title(variant: str) -> str:
    """The label of a zoo variant's aggregation kind (``"mixer"`` is the multi-head MLP)."""
    try:
        return for_variant(variant).label
    except ValueError:
        return variant


def random_ref(name: str) -> ModelRef:
    if name == "container_light":
        label = Text(N_("{name} (ImageNet) · untrained"), (("name", name),))
        description = Text(N_("The paper's ImageNet Container-Light (224×224 RGB, 1000 classes), {untrained}: "
                              "load the released checkpoint below for real predictions."),
                           (("untrained", RANDOM_LABEL),), frozenset({"untrained"}))
        dataset = IMAGENET
    else:
        variant = name.removeprefix(ZOO_PREFIX)
        label = Text(N_("{name} · untrained"), (("name", name),))
        description = Text(N_("Fashion-MNIST zoo model, {untrained}; mixed stage: {kind}."),
                           (("untrained", RANDOM_LABEL), ("kind", _variant_title(variant))),
                           frozenset({"untrained", "kind"}))
        dataset = FASHION_MNIST
    return ModelRef(key=f"random:{name}:{RANDOM_SEED}", source="random", name=name, dataset=dataset,
                    trained=False, **texts(label, description))


#: The picker's label for the authors' weights installed in the weights folder.
INSTALLED_LABEL = N_("Container-Light, ImageNet (authors' weights)")


def installed_refs(directory: Path | None = None) -> list[ModelRef]:
    """The authors' ImageNet Container-Light when it is installed in the weights folder (read on every call:
    weights installed by another session or from the command line show up at the next rerun)."""
    from container_edu.hub.weights_store import installed_card

    card = installed_card(directory)
    if card is None:
        return []
    reported = card.reported_metrics.get("acc1")
    args = (("size", card.preprocessing.input_size), ("classes", len(card.class_names)))
    if reported:
        description = Text(N_("The paper's Container-Light with the authors' released ImageNet weights (top-1 "
                              "{reported}% on ImageNet as reported by the authors, not measured here); "
                              "{size}×{size} RGB, {classes} classes."), (("reported", reported), *args))
    else:
        description = Text(N_("The paper's Container-Light with the authors' released ImageNet weights; "
                              "{size}×{size} RGB, {classes} classes."), args)
    return [ModelRef(key=f"installed:{card.name}:{card.sha256[:16]}", source="installed", name=card.name,
                     dataset=IMAGENET, trained=True, **texts(Text(INSTALLED_LABEL), description))]


def family_refs(directory: Path | None = None) -> list[ModelRef]:
    """The paper's three families installed in the weights folder, in the order of ``FAMILY_MODELS`` (read on every
    call, like :func:`installed_refs`). A card that says its weights are random gives an untrained entry."""
    from container_edu.hub.families import installed_families
    from container_edu.models import FAMILY_LABELS

    refs = []
    for name, card in installed_families(directory).items():
        model = ("model", FAMILY_LABELS[name])
        size = ("size", card.preprocessing.input_size)
        if card.random_weights:
            label = Text(N_("{model} · untrained"), (model,), frozenset({"model"}))
            description = Text(N_("{model} with random weights installed in the weights folder (a stand-in): its "
                                  "prediction is a guess and its maps show the architecture, not anything learned; "
                                  "{size}×{size} RGB."), (model, size), frozenset({"model"}))
        else:
            label = Text(N_("{model} · ImageNet"), (model,), frozenset({"model"}))
            reported = card.reported_metrics.get("acc1")
            if reported:
                description = Text(N_("{model} with its published ImageNet weights (top-1 {reported}% as reported by "
                                      "its publishers, not measured here); {size}×{size} RGB."),
                                   (model, ("reported", reported), size), frozenset({"model"}))
            else:
                description = Text(N_("{model} with its published ImageNet weights; {size}×{size} RGB."),
                                   (model, size), frozenset({"model"}))
        refs.append(ModelRef(key=f"{FAMILY}:{name}:{card.sha256[:16]}", source=FAMILY, name=name, dataset=IMAGENET,
                             trained=not card.random_weights, **texts(label, description)))
    return refs


def family_card(ref: ModelRef) -> ModelCard:
    """The installed card of a family entry; :class:`~container_edu.hub.families.FamilyNotInstalledError` when it
    was removed since the picker listed it."""
    from container_edu.hub.families import FETCH_COMMAND, FamilyNotInstalledError, installed_families
    from container_edu.hub.weights_store import weights_dir as store_dir

    card = installed_families().get(ref.name)
    if card is None or not ref.key.endswith(card.sha256[:16]):
        raise FamilyNotInstalledError(N_("The {name} weights are not installed in {folder}: run {command}."),
                                      name=ref.name, folder=str(store_dir()),
                                      command=FETCH_COMMAND.format(name=ref.name))
    return card


def session_ref(name: str, entry: Mapping) -> ModelRef:
    model = entry.get("model")
    dataset = dataset_of(model) if isinstance(model, nn.Module) else FASHION_MNIST
    return ModelRef(key=f"session:{name}", source="session", name=name, dataset=dataset, trained=True,
                    **texts(Text(N_("{name} · this session"), (("name", name),)),
                            Text(N_("Trained in this browser session (Lessons page)."))))


def model_refs(
    cards: Mapping[str, ModelCard],
    trained_models: Mapping[str, Mapping] | None = None,
    loaded: Mapping[str, ModelRef] | None = None,
    installed: list[ModelRef] | None = None,
    families: list[ModelRef] | None = None,
) -> list[ModelRef]:
    """The picker's choices, in order: installed ImageNet weights (Container-Light, then the three families),
    bundled, trained in this session, loaded checkpoints, random stand-ins."""
    refs = list(installed or []) + list(families or [])
    refs += [bundled_ref(name, cards[name]) for name in sorted(cards, key=_zoo_order)]
    refs += [session_ref(name, entry) for name, entry in (trained_models or {}).items()
             if isinstance(entry, Mapping) and isinstance(entry.get("model"), nn.Module)]
    refs += list((loaded or {}).values())
    refs += [random_ref(ZOO_PREFIX + mixing) for mixing in _zoo_mixings()]
    refs.append(random_ref("container_light"))
    return refs


def _zoo_mixings() -> list[str]:
    # Container-Light first: it is the paper's model and every page's default.
    return sorted(MIXINGS, key=lambda m: (m != "container_light", MIXINGS.index(m)))


def _zoo_order(name: str) -> tuple[int, str]:
    mixing = name.removeprefix(ZOO_PREFIX)
    order = _zoo_mixings()
    return (order.index(mixing) if mixing in order else len(order), name)


def default_ref(refs: list[ModelRef]) -> ModelRef:
    """The installed ImageNet Container-Light, else the bundled zoo one, else its random stand-in, else the first."""
    for ref in refs:
        if ref.source == "installed":
            return ref
    for source in ("bundled", "random"):
        for ref in refs:
            if ref.source == source and ref.name == DEFAULT_MODEL:
                return ref
    return refs[0]


def build_random(name: str, device: torch.device | str | None = None) -> nn.Module:
    """A registry model with seeded random weights, in eval mode (the global RNG is left alone)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_SEED)
        model = create_model(name)
    return model.eval().to(default_device(device))


def dataset_label(card: ModelCard) -> str:
    """:data:`IMAGENET` or :data:`FASHION_MNIST`: which data the model of ``card`` was made for, for labels."""
    return IMAGENET if card.architecture == "container_light" else FASHION_MNIST


def dataset_of(model: nn.Module) -> str:
    """Which data a model was made for (its card's), for labels."""
    return dataset_label(card_for_model(model))


def card_of(ref: ModelRef, model: nn.Module) -> ModelCard:
    """The card of the model behind ``ref``: its bundled card, else the one its architecture and config imply."""
    if ref.source == FAMILY:
        return family_card(ref)
    if ref.source == "bundled":
        card = bundled_cards().get(ref.name)
        if card is not None:
            return card
    return card_for_model(model)


def preprocess(card: ModelCard | Preprocessing, image: Image.Image) -> tuple[torch.Tensor, np.ndarray]:
    """``(x, seen)``: the batch ``(1, C, H, W)`` the model gets and the RGB picture it sees (uint8 ``(H, W, 3)``).

    :func:`container_edu.data.transforms.preprocess` with the picture as an array for the figures.
    """
    x, seen = core_preprocess(card, image)
    return x, np.asarray(seen)


def load_checkpoint_model(source, device: torch.device | str | None = None, *, max_bytes: int | None = None) -> nn.Module:
    """A model from a checkpoint: Container-Light (ImageNet) or, for a zoo file, the zoo variant its keys fit.

    ``source`` is a path, bytes or a binary file object. Raises
    :class:`~container_edu.hub.checkpoints.CheckpointError` with a message a
    learner can act on.
    """
    kwargs = {} if max_bytes is None else {"max_bytes": max_bytes}
    if isinstance(source, (str, os.PathLike)):
        source = os.fspath(source)
    elif not isinstance(source, (bytes, bytearray, memoryview)):
        source = source.read() if callable(getattr(source, "read", None)) else source
    state = load_checkpoint_state_dict(source, **kwargs)
    if not any(key.startswith(("patch_embed3.", "blocks3.", "patch_embed4.")) for key in state):
        for mixing in _zoo_mixings():
            model = ZooContainer(ZooConfig(mixing=mixing))
            missing, unexpected, shapes = state_dict_mismatch(model, state)
            if not (missing or unexpected or shapes):
                model.load_state_dict(state, strict=True)
                return model.eval().to(default_device(device))
        if any(key.startswith("blocks2.") for key in state) and not any(k.startswith("blocks4.") for k in state):
            raise CheckpointError(
                N_("This looks like a zoo checkpoint, but its keys or shapes fit none of the zoo variants with the "
                   "default configuration ({variants}). Zoo weights trained with `python -m container_edu train` load "
                   "directly; others need their model card."), variants=", ".join(MIXINGS))
    model = create_model("container_light")
    missing, unexpected, shapes = state_dict_mismatch(model, state)
    if not (missing or unexpected or shapes):
        model.load_state_dict(state, strict=True)
        return model.eval().to(default_device(device))
    # Not a fit: the official loader explains the mismatch key by key (and raises CheckpointError).
    return load_official_checkpoint(source, device, **kwargs)
