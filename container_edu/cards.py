"""Typed model cards: everything needed to use a set of weights, in one frozen dataclass.

In the spirit of timm's ``PretrainedCfg``: a card names the architecture and
its config, the input the weights expect (size, channels, resize and crop,
mean and std), the class names, where the weights came from, what was
measured here (``metrics``) and what the authors report (``reported_metrics``,
never measured here), and the checksum of the weights file. Every model's
preprocessing is derived from its card (:func:`container_edu.preprocess.for_card`),
for the app and the command line alike.

Cards are stored as JSON beside the weights (``name.json`` next to
``name.safetensors``); :meth:`ModelCard.from_dict` / :meth:`ModelCard.to_dict`
convert, and refuse unknown or missing fields with a message that names them.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["ARCHITECTURES", "RESIZE_MODES", "CardError", "Preprocessing", "ModelCard", "read_card", "write_card"]

#: ``zoo``: :class:`container_edu.models.ZooContainer`; ``container_light``: the paper's ImageNet network.
ARCHITECTURES = ("zoo", "container_light")
#: ``shorter_side_center_crop``: resize the short side to ``resize``, centre-crop ``input_size`` (DeiT evaluation).
#: ``fit_pad_gray``: grayscale, bright object on black, longer side to ``input_size``, black padding (Fashion-MNIST).
RESIZE_MODES = ("shorter_side_center_crop", "fit_pad_gray")


class CardError(ValueError):
    """A model card is malformed: a field is missing, unknown or of the wrong kind."""


@dataclass(frozen=True)
class Preprocessing:
    """How an image becomes the tensor ``(in_chans, input_size, input_size)`` the weights expect.

    Normalisation is ``(x / 255 - mean) / std`` per channel.
    """

    input_size: int
    in_chans: int
    mode: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    resize: int | None = None
    interpolation: str = "bicubic"

    def __post_init__(self) -> None:
        if self.mode not in RESIZE_MODES:
            raise CardError(f"preprocessing mode must be one of {', '.join(RESIZE_MODES)}, got {self.mode!r}")
        for label, value in (("input_size", self.input_size), ("in_chans", self.in_chans)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise CardError(f"preprocessing {label} must be a positive integer, got {value!r}")
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        if len(self.mean) != self.in_chans or len(self.std) != self.in_chans:
            raise CardError(f"mean and std need one value per channel ({self.in_chans}), got {self.mean} and {self.std}")
        if not all(math.isfinite(s) and s > 0 for s in self.std):
            raise CardError(f"std must be positive, got {self.std}")
        if self.mode == "shorter_side_center_crop" and (self.resize is None or self.resize < self.input_size):
            raise CardError(f"resize ({self.resize}) must be at least the crop ({self.input_size})")


@dataclass(frozen=True)
class ModelCard:
    """One set of weights and what using them needs.

    Attributes:
        name: the model's name (``fmnist_container_light``, ``container_light``).
        architecture: one of :data:`ARCHITECTURES`.
        variant: the aggregation kind of the mixed stage (a key of ``container_edu.kinds``).
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
            raise CardError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {self.architecture!r}")
        if not isinstance(self.preprocessing, Preprocessing):
            raise CardError("preprocessing must be a Preprocessing")
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        object.__setattr__(self, "history", tuple(self.history))
        object.__setattr__(self, "final_blend", {k: (float(a), float(b)) for k, (a, b) in self.final_blend.items()})
        num_classes = self.config.get("num_classes")
        if num_classes is not None and num_classes != len(self.class_names):
            raise CardError(f"{self.name}: config has {num_classes} classes but the card names {len(self.class_names)}")

    @property
    def test_accuracy(self) -> float | None:
        """The measured test accuracy in percent, when there is one."""
        return self.metrics.get("test_accuracy")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["class_names"] = list(self.class_names)
        data["history"] = list(self.history)
        data["final_blend"] = {k: list(v) for k, v in self.final_blend.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        if not isinstance(data, dict):
            raise CardError(f"a model card is a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        unknown, missing = set(data) - known, required - set(data)
        if unknown or missing:
            problems = []
            if missing:
                problems.append("missing " + ", ".join(sorted(missing)))
            if unknown:
                problems.append("unknown " + ", ".join(sorted(unknown)))
            raise CardError(f"model card {data.get('name', '?')!r}: " + "; ".join(problems))
        values = dict(data)
        pre = values["preprocessing"]
        if not isinstance(pre, dict):
            raise CardError("preprocessing must be a JSON object")
        try:
            values["preprocessing"] = Preprocessing(**pre)
        except TypeError as error:
            raise CardError(f"model card {data.get('name', '?')!r}: preprocessing: {error}") from None
        return cls(**values)


def read_card(path: str | Path) -> ModelCard:
    """The card stored as JSON at ``path``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CardError(f"cannot read the model card {path}: {error}") from None
    return ModelCard.from_dict(data)


def write_card(card: ModelCard, path: str | Path) -> None:
    """Write ``card`` as JSON to ``path`` atomically (a temporary file, then a rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(card.to_dict(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
