"""``container_edu.inspect(model, image)``: from a model and a picture to the maps of every block, in one call.

    import container_edu as ce
    result = ce.inspect("fmnist_container_light", "shirt.png")
    result                          # what is inside: prediction, blocks, grids, kinds, blends
    result.figure("blocks2.0", (3, 3), head=0)   # one head's rows over the picture (a Plotly figure)
    result.figure("blocks2.0", (3, 3))           # every head, one colour scale
    result.blend_figure()                         # the blend of every mixed block

    deit = ce.inspect("deit_small", "cat.jpg")   # a family, once `weights fetch deit_small` installed it
    deit.top(5); deit.prediction                  # [(class, probability), ...]
    deit.row("blocks.5", (7, 7), head=2)          # (14, 14) numpy: that head's attention row for the patch (7, 7)
    deit.recording["blocks.5"].class_weight((7, 7), 2)   # the rest of the row: the class token's share
    ce.inspect("convnext_tiny", img).row("stages.2.blocks.4", (7, 7))  # (C, 14, 14): each channel's kernel there
    mixer = ce.inspect("mixer_b16", img)
    mixer.row("blocks.3", (7, 7))                 # (14, 14): the linear part W2 W1 of the token-mixing MLP
    mixer.row("blocks.3", (7, 7), channel=5)      # (14, 14): channel 5's Jacobian row at this image

The model runs once with every block recorded
(:func:`~container_edu.record_affinities`); the preprocessing and class
names come from the model's card, exactly as in the app. Mistakes raise
:class:`~container_edu.record.inspection.InspectError` (a ``ValueError``) with a
message that says what to pass instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from container_edu.data.images import ImageError, load_image
from container_edu.data.transforms import preprocess
from container_edu.hub.bundled import PretrainedError, list_pretrained, load_pretrained
from container_edu.hub.cards import ModelCard, card_for_model
from container_edu.hub.family_sources import FAMILY_NAMES
from container_edu.record.inspection import InspectError, Inspection, run_inspection
from container_edu.text import N_

__all__ = ["inspect", "available_models", "describe", "WeightsNotInstalledError", "IMAGENET_MODEL", "FETCH_COMMAND",
           "FamilyInspection"]

#: The paper's ImageNet Container-Light: not bundled, installed once by :data:`FETCH_COMMAND`.
IMAGENET_MODEL = "container_light"
FETCH_COMMAND = "python -m container_edu weights fetch"

ImageInput = str | os.PathLike | Image.Image | np.ndarray


class WeightsNotInstalledError(InspectError):
    """The ImageNet weights were asked for but are not installed here (or the installed file is damaged)."""


def describe(figure):
    """Any figure's text alternative, a :class:`~container_edu.figures.describe.FigureText`: one sentence (what is
    shown, the query, where the weight concentrates, the largest entries) and the data as a table; the app shows
    the same under each chart. Imported on use: ``import container_edu`` does not pay for Plotly."""
    from container_edu.figures.describe import describe as describe_figure_text

    return describe_figure_text(figure)


def available_models() -> list[str]:
    """The names :func:`inspect` accepts: the bundled zoo models, the ImageNet :data:`IMAGENET_MODEL`, then the
    three families (``deit_small``, ``convnext_tiny``, ``mixer_b16``; ImageNet weights installed by
    ``python -m container_edu weights fetch NAME``)."""
    return [*list_pretrained(), IMAGENET_MODEL, *FAMILY_NAMES]


@dataclass(frozen=True, eq=False)
class FamilyInspection:
    """One recorded pass of a family model (DeiT, ConvNeXt, MLP-Mixer) on one picture.

    Attributes:
        model_name: ``"deit_small"``, ``"convnext_tiny"`` or ``"mixer_b16"``.
        card: the installed weights' :class:`~container_edu.hub.cards.ModelCard` (``card.random_weights``: the
            weights were never trained, so the maps show nothing learned).
        recording: :class:`~container_edu.record.families.FamilyRecording`: ``logits`` and every block's record by
            its state-dict path (``"blocks.3"``, ``"stages.2.blocks.4"``), in forward order; see that module for
            each record's ``row`` / ``class_weight`` / ``linear_row`` / ``jacobian_row``.
        probabilities: ``(1000,)`` softmax of the logits.
        class_names: the card's class names.
        seen: ``(H, W, 3)`` uint8, the picture the model saw (after the card's resize and crop).
    """

    model_name: str
    card: ModelCard
    recording: Any
    probabilities: np.ndarray
    class_names: tuple[str, ...]
    seen: np.ndarray

    @property
    def blocks(self) -> list[str]:
        """The recorded blocks, in forward order."""
        return list(self.recording)

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most probable classes as ``(name, probability)``, most probable first."""
        order = np.argsort(-self.probabilities, kind="stable")[: max(1, int(k))]
        return [(self.class_names[int(i)], float(self.probabilities[i])) for i in order]

    @property
    def prediction(self) -> tuple[str, float]:
        """The most probable class and its probability."""
        return self.top(1)[0]

    def row(self, block: str, query: int | tuple[int, int], *, head: int | None = None,
            channel: int | None = None) -> np.ndarray:
        """One block's affinity row for ``query`` (a patch ``(y, x)`` or a token index) as numpy.

        Attention (DeiT): ``head`` given, that head's row ``(H, W)`` over the patches (its class-token share is
        ``recording[block].class_weight(query, head)``); no head, every head's ``(M, H, W)``. Depthwise
        (ConvNeXt): every channel's kernel placed on the grid, ``(C, H, W)``, or one ``channel``'s ``(H, W)``.
        Token mixing (Mixer): the static linear part ``W2 W1`` ``(H, W)``, or with ``channel`` that channel's
        input-dependent Jacobian row ``(H, W)`` at this picture.
        """
        record = self.recording[block]
        if record.kind == "attention":
            heads = range(record.num_heads) if head is None else [head]
            rows = np.stack([record.row(query, m).float().cpu().numpy() for m in heads])
            return rows if head is None else rows[0]
        if record.kind == "depthwise":
            rows = record.row(query).float().cpu().numpy()
            return rows if channel is None else rows[channel]
        if channel is None:
            return record.linear_row(query).float().cpu().numpy()
        with torch.enable_grad():
            return record.jacobian_row(query, channel).float().cpu().numpy()


def inspect(
    model: str | nn.Module,
    image: ImageInput,
    *,
    blend: Mapping[str, float | tuple[float, float]] | None = None,
    device: str | torch.device | None = None,
) -> Inspection:
    """Run ``model`` once on ``image`` with every block recorded, and return what it predicted and aggregated.

    Args:
        model: a bundled name (:func:`available_models`, e.g. ``"fmnist_container_light"``),
            ``"container_light"`` (the authors' ImageNet weights, once installed), a family ``"deit_small"``,
            ``"convnext_tiny"`` or ``"mixer_b16"`` (timm's ImageNet weights, once installed), or a
            ``ZooContainer`` / ``ContainerLight`` module (its architecture says what input it expects).
        image: a path, a PIL image, or an array ``(H, W)`` or ``(H, W, 3)`` (``(H, W, 4)``: alpha over white),
            ``uint8`` in ``[0, 255]`` or float in ``[0, 1]``. It is preprocessed as the model's card says
            (Fashion-MNIST models: grayscale, bright object on black, 28 x 28).
        blend: moves the blend of named blocks for this pass only (``{"blocks2.0": 1.0}``: attention
            only), as :func:`~container_edu.override_blend` does; the model is not changed.
        device: where a named model runs (default :func:`~container_edu.default_device`).

    Returns:
        An :class:`~container_edu.record.inspection.Inspection`: ``.top(k)``, ``.prediction``,
        ``.figure(block, query, head=None)``, ``.matrix_figure(block)``, ``.blend_figure()``, ``.records``;
        for a family, a :class:`FamilyInspection`: ``.top(k)``, ``.prediction``, ``.row(block, query, ...)``,
        ``.recording`` (every block's explicit affinity), ``.card`` (``blend`` does not apply to them).

    Raises:
        InspectError: an unknown model name, an image that cannot be read, a blend for a block
            that does not blend; :class:`WeightsNotInstalledError` for ``"container_light"``
            before its weights are installed (and for a family before ``weights fetch NAME``).
    """
    if isinstance(model, str) and model in FAMILY_NAMES:
        return _inspect_family(model, _to_picture(image), device)
    module, card, name = _resolve_model(model, device)
    picture = _to_picture(image)
    x, seen = preprocess(card, picture)
    result = run_inspection(module, x, blend)
    if blend:
        unknown = sorted(set(blend) - set(result.blend))
        if unknown:
            raise InspectError(N_("no blended block named {unknown} in {name}; the blocks that blend are: {blocks}"),
                               unknown=", ".join(map(repr, unknown)), name=name,
                               blocks=", ".join(result.blend) or "none")
    return replace(result, model_name=name, class_names=tuple(card.class_names), seen=np.asarray(seen))


# --------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------


def _resolve_model(model: str | nn.Module, device: str | torch.device | None) -> tuple[nn.Module, ModelCard, str]:
    if isinstance(model, nn.Module):
        try:
            card = card_for_model(model)
        except TypeError:
            raise InspectError(
                N_("cannot tell what input a {type} expects: inspect() takes a ZooContainer or a ContainerLight, or a "
                   "name ({names}); for another module, preprocess the image yourself and call "
                   "container_edu.record.inspection.run_inspection(model, x)"),
                type=type(model).__name__, names=", ".join(available_models())) from None
        return model, card, f"a {type(model).__name__} ({card.name} architecture, your weights)"
    if not isinstance(model, str):
        raise InspectError(N_("model must be a name ({names}) or an nn.Module, got {type}"),
                           names=", ".join(available_models()), type=type(model).__name__)
    bundled = list_pretrained()
    if model in bundled:
        try:
            return load_pretrained(model, device), bundled[model], model
        except PretrainedError as error:
            raise InspectError(error.template, **error.fields) from None
    if model == IMAGENET_MODEL:
        return (*_load_imagenet(device), model)
    raise InspectError(N_("unknown model {model}; choose one of: {names} (or pass a ZooContainer / ContainerLight "
                          "module)"), model=repr(model), names=", ".join(available_models()))


def _load_imagenet(device: str | torch.device | None) -> tuple[nn.Module, ModelCard]:
    """The installed ImageNet weights, through the weights folder's own loader (checksum and keys checked)."""
    try:
        from container_edu.hub import weights_store
    except ImportError:  # a package without the weights folder: nothing can be installed
        raise WeightsNotInstalledError(N_("the ImageNet weights are not installed: run {command}"),
                                       command=FETCH_COMMAND) from None
    card = weights_store.installed_card()
    if card is None:
        raise WeightsNotInstalledError(N_("the ImageNet weights are not installed (looked in {folder}): run {command}"),
                                       folder=str(weights_store.weights_dir()), command=FETCH_COMMAND)
    try:
        return weights_store.load_installed(IMAGENET_MODEL, device=device), card
    except weights_store.WeightsError as error:
        raise WeightsNotInstalledError(N_("the installed ImageNet weights cannot be used: {error}"),
                                       error=error.message) from None


def _inspect_family(name: str, picture: Image.Image, device: str | torch.device | None) -> FamilyInspection:
    from container_edu.hub import families
    from container_edu.record.families import record_family

    try:
        module, card = families.load_family(name, device=device)
    except families.FamilyNotInstalledError:
        raise WeightsNotInstalledError(N_("the {name} weights are not installed (looked in {folder}): run {command}"),
                                       name=name, folder=str(families.weights_dir()),
                                       command=families.FETCH_COMMAND.format(name=name)) from None
    except families.FamilyWeightsError as error:
        raise WeightsNotInstalledError(N_("the installed {name} weights cannot be used: {error}"), name=name,
                                       error=error.message) from None
    x, seen = preprocess(card, picture)
    parameter = next(module.parameters())
    recording = record_family(module, x.to(parameter.device, parameter.dtype))
    probabilities = torch.softmax(recording.logits.float(), dim=-1)[0].cpu().numpy()
    return FamilyInspection(model_name=name, card=card, recording=recording, probabilities=probabilities,
                            class_names=tuple(card.class_names), seen=np.asarray(seen))


# --------------------------------------------------------------------------
# The picture
# --------------------------------------------------------------------------


def _to_picture(image: ImageInput) -> Image.Image:
    if isinstance(image, Image.Image):
        return image if image.mode in ("RGB", "L") else _flatten(image)
    if isinstance(image, (str, os.PathLike)):
        path = Path(image).expanduser()
        if not path.is_file():
            raise InspectError(N_("no image file at {path}"), path=repr(str(path)))
        try:
            return load_image(path)
        except ImageError as error:
            raise InspectError(N_("cannot read {name}: {error}"), name=path.name, error=error.message) from None
    if isinstance(image, torch.Tensor):
        image = image.detach().to("cpu").numpy()
    if isinstance(image, np.ndarray):
        return _array_to_picture(image)
    raise InspectError(N_("image must be a path, a PIL image or an array (H, W) / (H, W, 3), got {type}"),
                       type=type(image).__name__)


def _flatten(image: Image.Image) -> Image.Image:
    """Any PIL mode as RGB; transparency over white, as an uploaded picture is."""
    rgba = image.convert("RGBA")
    canvas = Image.new("RGB", rgba.size, (255, 255, 255))
    canvas.paste(rgba, mask=rgba.getchannel("A"))
    return canvas


def _array_to_picture(array: np.ndarray) -> Image.Image:
    shape = array.shape
    if array.ndim == 3 and shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (3, 4))):
        if array.ndim == 3 and shape[0] in (1, 3, 4):
            raise InspectError(N_("an image array is (H, W), (H, W, 3) or (H, W, 4), got shape {shape}: channels go "
                                  "last, e.g. array.transpose(1, 2, 0)"), shape=shape)
        raise InspectError(N_("an image array is (H, W), (H, W, 3) or (H, W, 4), got shape {shape}"), shape=shape)
    if array.size == 0:
        raise InspectError(N_("the image array is empty (shape {shape})"), shape=shape)
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.integer)
                                       or np.issubdtype(array.dtype, np.floating)):
        raise InspectError(N_("an image array holds uint8 in [0, 255] or floats in [0, 1], got dtype {dtype}"),
                           dtype=array.dtype)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise InspectError(N_("the image array holds NaN or infinite values"))
        low, high = float(array.min()), float(array.max())
        if low < 0 or high > 1:
            raise InspectError(N_("a float image array holds values in [0, 1], got [{low}, {high}]: divide by 255, or "
                                  "pass uint8"), low=f"{low:.3g}", high=f"{high:.3g}")
        pixels = np.rint(array * 255.0).astype(np.uint8)
    else:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise InspectError(N_("an integer image array holds values in [0, 255], got [{low}, {high}]"), low=low,
                               high=high)
        pixels = array.astype(np.uint8)
    if pixels.ndim == 2:
        return Image.fromarray(pixels, "L")
    if pixels.shape[-1] == 4:
        return _flatten(Image.fromarray(np.ascontiguousarray(pixels), "RGBA"))
    return Image.fromarray(np.ascontiguousarray(pixels), "RGB")
