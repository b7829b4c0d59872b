"""Typed model cards: everything needed to use a set of weights, in one frozen dataclass.

In the spirit of timm's ``PretrainedCfg``: a card names the architecture and
its config, the input the weights expect (size, channels, resize and crop,
mean and std), the class names, where the weights came from, what was
measured here (``metrics``) and what the authors report (``reported_metrics``,
never measured here), and the checksum of the weights file. Every model's
preprocessing is derived from its card (:func:`container_edu.data.transforms.for_card`),
for the app and the command line alike.

Cards are stored as JSON beside the weights (``name.json`` next to
``name.safetensors``); :meth:`ModelCard.from_dict` / :meth:`ModelCard.to_dict`
convert, and refuse unknown or missing fields with a message that names them.

Weights that come without a card (random weights, a checkpoint file) get one
from their architecture: :func:`card_for_model`, :func:`zoo_card` and
:func:`imagenet_container_light_card` (resize 256 bicubic, crop 224, ImageNet
mean and std, the 1000 class names).
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from container_edu.checks import positive_int
from container_edu.data.fashion_mnist import CLASS_NAMES, FASHION_MNIST_MEAN, FASHION_MNIST_STD
from container_edu.data.imagenet import (
    IMAGENET_CROP,
    IMAGENET_MEAN,
    IMAGENET_STD,
    imagenet_class_names,
    imagenet_resize,
)
from container_edu.errors import ContainerEduError
from container_edu.models import ZOO_PREFIX, ContainerLight, ContainerLightConfig, ZooConfig, ZooContainer
from container_edu.text import N_, translate

__all__ = [
    "ARCHITECTURES",
    "RANDOM_SOURCE",
    "RESIZE_MODES",
    "INTERPOLATIONS",
    "CardError",
    "Preprocessing",
    "ModelCard",
    "read_card",
    "write_card",
    "fashion_mnist_preprocessing",
    "imagenet_preprocessing",
    "zoo_card",
    "imagenet_container_light_card",
    "card_for_model",
    "default_card",
]

#: ``zoo``: :class:`container_edu.models.ZooContainer`; ``container_light``: the paper's ImageNet network;
#: ``deit_small``, ``convnext_tiny``, ``mixer_b16``: the three families the paper unifies, with timm's key names
#: (``container_edu.models.create_model(name)``; their sources in :mod:`container_edu.hub.family_sources`).
ARCHITECTURES = ("zoo", "container_light", "deit_small", "convnext_tiny", "mixer_b16")
#: What a card's ``source`` says for weights that were never trained (a test, a stand-in): the app says so.
RANDOM_SOURCE = "random"
#: ``shorter_side_center_crop``: resize the short side to ``resize``, centre-crop ``input_size`` (DeiT evaluation).
#: ``fit_pad_gray``: grayscale, bright object on black, longer side to ``input_size``, black padding (Fashion-MNIST).
RESIZE_MODES = ("shorter_side_center_crop", "fit_pad_gray")
#: Resampling filters a card may name (Pillow's).
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos")
#: The channels each resize mode produces.
_MODE_CHANNELS = {"shorter_side_center_crop": 3, "fit_pad_gray": 1}


class CardError(ContainerEduError, ValueError):
    """A model card is malformed: a field is missing, unknown or of the wrong kind."""


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the tensor ``(in_chans, input_size, input_size)`` the weights expect.

    Normalisation is ``(x / 255 - mean) / std`` per channel. ``crop_pct`` (timm's name) is the share of the
    resized short side the centre crop keeps; when given, ``resize`` must be timm's ``floor(input_size / crop_pct)``.
    """

    input_size: int
    in_chans: int
    mode: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    resize: int | None = None
    interpolation: str = "bicubic"
    crop_pct: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in RESIZE_MODES:
            raise CardError(N_("preprocessing mode must be one of {modes}, got {mode}"), modes=", ".join(RESIZE_MODES),
                            mode=repr(self.mode))
        for label, value in (("input_size", self.input_size), ("in_chans", self.in_chans)):
            positive_int(f"preprocessing {label}", value, CardError)
        if self.in_chans != _MODE_CHANNELS[self.mode]:
            raise CardError(N_("preprocessing mode {mode} makes {channels} channel(s), but in_chans is {in_chans}"),
                            mode=self.mode, channels=_MODE_CHANNELS[self.mode], in_chans=self.in_chans)
        if self.interpolation not in INTERPOLATIONS:
            raise CardError(N_("interpolation must be one of {choices}, got {interpolation}"),
                            choices=", ".join(INTERPOLATIONS), interpolation=repr(self.interpolation))
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if len(self.mean) != self.in_chans or len(self.std) != self.in_chans:
            raise CardError(N_("mean and std need one value per channel ({in_chans}), got {mean} and {std}"),
                            in_chans=self.in_chans, mean=self.mean, std=self.std)
        if not all(math.isfinite(s) and s > 0 for s in self.std):
            raise CardError(N_("std must be positive, got {std}"), std=self.std)
        if self.mode == "shorter_side_center_crop" and (self.resize is None or self.resize < self.input_size):
            raise CardError(N_("resize ({resize}) must be at least the crop ({crop})"), resize=self.resize,
                            crop=self.input_size)
        if self.crop_pct is not None:
            crop_pct = float(self.crop_pct)
            if not (math.isfinite(crop_pct) and 0 < crop_pct <= 1):
                raise CardError(N_("crop_pct must be in (0, 1], got {crop_pct}"), crop_pct=self.crop_pct)
            object.__setattr__(self, "crop_pct", crop_pct)
            if self.resize != math.floor(self.input_size / crop_pct):
                raise CardError(N_("resize ({resize}) must be floor(input_size / crop_pct) = {expected}"),
                                resize=self.resize, expected=math.floor(self.input_size / crop_pct))


@dataclass(frozen=True)
class ModelCard:
    """One set of weights and what using them needs.

    Attributes:
        name: the model's name (``fmnist_container_light``, ``container_light``).
        architecture: one of :data:`ARCHITECTURES`.
        variant: what the mixed stage aggregates with: the zoo variant (``ZooConfig.mixing``, ``--variant``;
            ``container_edu.ops.kinds.for_variant`` gives its aggregation kind: ``"mixer"`` is the multi-head MLP).
        config: the architecture's config as plain JSON values (``ZooConfig`` / ``ContainerLightConfig`` fields).
        preprocessing: how images become inputs.
        class_names: one name per output, in index order.
        dataset: what the weights were trained on, in words.
        source: how the weights were made or where they came from (a command or an address).
        weights_file: the safetensors file beside the card.
        sha256: of ``weights_file``.
        parameter_count: counted from the weights.
        metrics: measured in this project (percent), e.g. ``{"test_accuracy": 91.03}``.
        reported_metrics: as reported by the weights' authors, **not measured here** (e.g. ``{"acc1": 82.3}``).
        notes: anything a user must know (which checkpoint entry was used and why, ...).
        training: the training recipe (zoo models), or ``None``.
        history: per-epoch measurements of the training run (zoo models).
        final_blend: the learned ``(alpha, beta)`` of every mixed block, by block path.
        extra: further provenance (seed, epochs, wall time, machine, original checksum, ...).
    """

    name: str
    architecture: str
    variant: str
    config: dict[str, Any]
    preprocessing: Preprocessing
    class_names: tuple[str, ...]
    dataset: str
    source: str
    weights_file: str
    sha256: str
    parameter_count: int
    metrics: dict[str, float] = field(default_factory=dict)
    reported_metrics: dict[str, float] = field(default_factory=dict)
    notes: str = ""
    training: dict[str, Any] | None = None
    history: tuple[dict[str, Any], ...] = ()
    final_blend: dict[str, tuple[float, float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise CardError(N_("architecture must be one of {choices}, got {architecture}"),
                            choices=", ".join(ARCHITECTURES), architecture=repr(self.architecture))
        if not isinstance(self.preprocessing, Preprocessing):
            raise CardError(N_("preprocessing must be a Preprocessing"))
        # JSON has no tuples: lists in the config become tuples, so that a card survives a round trip unchanged.
        object.__setattr__(self, "config", {k: tuple(v) if isinstance(v, list) else v for k, v in self.config.items()})
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        object.__setattr__(self, "history", tuple(self.history))
        object.__setattr__(self, "final_blend", {k: (float(a), float(b)) for k, (a, b) in self.final_blend.items()})
        num_classes = self.config.get("num_classes")
        if num_classes is not None and num_classes != len(self.class_names):
            raise CardError(N_("{name}: config has {classes} classes but the card names {names}"), name=self.name,
                            classes=num_classes, names=len(self.class_names))

    @property
    def random_weights(self) -> bool:
        """Whether the weights were never trained (:data:`RANDOM_SOURCE`): what they show is not learned."""
        return self.source == RANDOM_SOURCE or self.extra.get("random_weights") is True

    @property
    def test_accuracy(self) -> float | None:
        """The measured test accuracy in percent, when there is one."""
        return self.metrics.get("test_accuracy")

    @property
    def val_accuracy(self) -> float | None:
        """The measured accuracy on the held-out part of the training split, in percent, when there is one."""
        return self.metrics.get("val_accuracy")

    @property
    def epochs(self) -> int | None:
        """Epochs the weights were trained for here (zoo models)."""
        return self.extra.get("epochs", len(self.history) or None)

    @property
    def seed(self) -> int | None:
        return self.extra.get("seed")

    @property
    def wall_time_seconds(self) -> float | None:
        """Wall time of the training run, in seconds."""
        return self.extra.get("wall_time_seconds")

    @property
    def machine(self) -> str | None:
        """The machine the training ran on, in words."""
        return self.extra.get("machine")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["class_names"] = list(self.class_names)
        data["history"] = list(self.history)
        data["final_blend"] = {k: list(v) for k, v in self.final_blend.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        if not isinstance(data, dict):
            raise CardError(N_("a model card is a JSON object, got {type}"), type=type(data).__name__)
        known = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        unknown, missing = set(data) - known, required - set(data)
        if unknown or missing:
            raise CardError(N_("model card {name}: missing {missing}; unknown {unknown}"),
                            name=repr(data.get("name", "?")),
                            missing=", ".join(sorted(missing)) or "none", unknown=", ".join(sorted(unknown)) or "none")
        values = dict(data)
        pre = values["preprocessing"]
        if not isinstance(pre, dict):
            raise CardError(N_("preprocessing must be a JSON object"))
        try:
            values["preprocessing"] = Preprocessing(**pre)
        except TypeError as error:
            raise CardError(N_("model card {name}: preprocessing: {error}"), name=repr(data.get("name", "?")),
                            error=str(error)) from None
        try:
            return cls(**values)
        except CardError:
            raise
        except (TypeError, ValueError, AttributeError) as error:  # a field of the wrong kind (a list for a dict, ...)
            raise CardError(N_("model card {name}: {error}"), name=repr(data.get("name", "?")),
                            error=str(error)) from None


#: How a zoo card describes its data (``write_bundle`` stores it filled, in English, in the card's JSON).
FASHION_MNIST_DATASET = N_("Fashion-MNIST (Debian package dataset-fashion-mnist): {count} training images ({share} of "
                           "the training split held out for validation), 10,000 test images")
_FASHION_MNIST_TRAIN_SPLIT = 60_000


def dataset_fields(train_images: int, val_fraction: float) -> dict[str, str]:
    """The fields of :data:`FASHION_MNIST_DATASET` for a run on ``train_images`` images."""
    return {"count": f"{train_images:,}", "share": f"{val_fraction:.0%}"}


def describe_dataset(card: ModelCard) -> str:
    """``card.dataset`` in the installed translator's language.

    The card stores the filled English sentence; its fields follow from the card's training recipe (the held-out
    share, the subset size), so the template is filled again from them, and translated, only when that gives back
    exactly the stored sentence. A card written otherwise keeps its own words.
    """
    training = card.training or {}
    fraction = training.get("val_fraction")
    if not isinstance(fraction, (int, float)):
        return card.dataset
    held_out = min(max(1, round(_FASHION_MNIST_TRAIN_SPLIT * fraction)), _FASHION_MNIST_TRAIN_SPLIT - 1)
    count = training.get("train_subset") or _FASHION_MNIST_TRAIN_SPLIT - held_out
    fields = dataset_fields(count, fraction)
    if FASHION_MNIST_DATASET.format(**fields) != card.dataset:
        return card.dataset
    return translate(FASHION_MNIST_DATASET, **fields)


def read_card(path: str | Path) -> ModelCard:
    """The card stored as JSON at ``path``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CardError(N_("cannot read the model card {path}: {error}"), path=str(path), error=str(error)) from None
    return ModelCard.from_dict(data)


def write_card(card: ModelCard, path: str | Path) -> None:
    """Write ``card`` as JSON to ``path`` atomically (a temporary file, then a rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(card.to_dict(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------
# Cards of weights that come without one
# --------------------------------------------------------------------------


def fashion_mnist_preprocessing(input_size: int = 28) -> Preprocessing:
    """Grayscale, bright object on black, fitted into ``input_size`` (LANCZOS), Fashion-MNIST's mean and std."""
    return Preprocessing(input_size=input_size, in_chans=1, mode="fit_pad_gray", mean=(FASHION_MNIST_MEAN,),
                         std=(FASHION_MNIST_STD,), interpolation="lanczos")


def imagenet_preprocessing(input_size: int = IMAGENET_CROP) -> Preprocessing:
    """DeiT's evaluation transform at ``input_size``: short side to :func:`~container_edu.data.imagenet.imagenet_resize`
    (bicubic; 256 at 224), centre crop, ImageNet mean and std."""
    return Preprocessing(input_size=input_size, in_chans=3, mode="shorter_side_center_crop", mean=IMAGENET_MEAN,
                         std=IMAGENET_STD, resize=imagenet_resize(input_size), interpolation="bicubic")


def _class_names(known: tuple[str, ...], num_classes: int) -> tuple[str, ...]:
    # A head of another size was trained on other classes: name them by index rather than wrongly.
    return known if num_classes == len(known) else tuple(f"class {i}" for i in range(num_classes))


def _parameter_count(model_class: type, config: Any) -> int:
    with torch.device("meta"):  # shapes only: no memory, no random numbers drawn
        model = model_class(config)
    return sum(p.numel() for p in model.parameters())


def zoo_card(config: ZooConfig | None = None, **fields: Any) -> ModelCard:
    """The card of a Fashion-MNIST zoo model of ``config`` (a ``ZooConfig``; default: Container-Light's mixing).

    Without ``fields`` it describes untrained or card-less weights: no
    weights file, no checksum, nothing measured. ``fields`` set or replace
    any card field (a training run passes its metrics, history and provenance).
    """

    config = ZooConfig() if config is None else config
    values: dict[str, Any] = dict(
        name=ZOO_PREFIX + config.mixing, architecture="zoo", variant=config.mixing, config=config.to_dict(),
        preprocessing=fashion_mnist_preprocessing(config.img_size),
        class_names=_class_names(CLASS_NAMES, config.num_classes), dataset="Fashion-MNIST",
        source="python -m container_edu train --variant " + config.mixing, weights_file="", sha256="",
    )
    values.update(fields)
    if "parameter_count" not in values:
        values["parameter_count"] = _parameter_count(ZooContainer, config)
    return ModelCard(**values)


def imagenet_container_light_card(config: ContainerLightConfig | None = None, **fields: Any) -> ModelCard:
    """The card of the paper's ImageNet Container-Light (``ContainerLightConfig``; default: the paper's).

    Preprocessing: resize 256 bicubic, centre crop 224, ImageNet mean and std;
    the 1000 ImageNet-1k class names. For a checkpoint that comes without a
    card; an installer passes what it knows (``weights_file``, ``sha256``,
    ``source``, ``reported_metrics``, ``notes``, ``extra``) as ``fields``.
    """
    config = ContainerLightConfig() if config is None else config
    values: dict[str, Any] = dict(
        name="container_light", architecture="container_light", variant="container_light",
        config=asdict(config), preprocessing=imagenet_preprocessing(config.img_size),
        class_names=_class_names(tuple(imagenet_class_names()), config.num_classes), dataset="ImageNet-1k",
        source="Container: Context Aggregation Network (NeurIPS 2021), released Container-Light checkpoint",
        weights_file="", sha256="",
    )
    values.update(fields)
    if "parameter_count" not in values:
        values["parameter_count"] = _parameter_count(ContainerLight, config)
    return ModelCard(**values)


def card_for_model(model: ZooContainer | ContainerLight) -> ModelCard:
    """The card of a model that came without one: its architecture, config, preprocessing and class names.

    Nothing on it is measured (no metrics) and it names no weights file.
    """
    if isinstance(model, (ContainerLight, ZooContainer)):
        return _card_for_config(model.config)
    raise TypeError(f"no card for a {type(model).__name__}: only ZooContainer and ContainerLight have one")


@lru_cache(maxsize=32)
def _card_for_config(config: ZooConfig | ContainerLightConfig) -> ModelCard:
    # Cached: a page asks on every rerun, and counting parameters builds the model (on the meta device).
    return imagenet_container_light_card(config) if isinstance(config, ContainerLightConfig) else zoo_card(config)


def default_card(name: str) -> ModelCard:
    """The card of the registry model ``name`` (``fmnist_<variant>`` or ``container_light``) in its default config."""
    if name == "container_light":
        return _card_for_config(ContainerLightConfig())
    variant = name.removeprefix(ZOO_PREFIX)
    if name == variant:
        raise ValueError(f"no default card for {name!r}: name a zoo model fmnist_<variant> or container_light")
    return _card_for_config(ZooConfig(mixing=variant))
