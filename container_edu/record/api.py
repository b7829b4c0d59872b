"""``container_edu.inspect(model, image)``: from a model and a picture to the maps of every block, in one call.

    import container_edu as ce
    result = ce.inspect("fmnist_container_light", "shirt.png")
    result                          # what is inside: prediction, blocks, grids, kinds, blends
    result.figure("blocks2.0", (3, 3), head=0)   # one head's rows over the picture (a Plotly figure)
    result.figure("blocks2.0", (3, 3))           # every head, one colour scale
    result.blend_figure()                         # the blend of every mixed block

The model runs once with every block recorded
(:func:`~container_edu.record_affinities`); the preprocessing and class
names come from the model's card, exactly as in the app. Mistakes raise
:class:`~container_edu.record.inspection.InspectError` (a ``ValueError``) with a
message that says what to pass instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from container_edu.data.images import ImageError, load_image
from container_edu.data.transforms import preprocess
from container_edu.hub.bundled import PretrainedError, list_pretrained, load_pretrained
from container_edu.hub.cards import ModelCard, card_for_model
from container_edu.record.inspection import InspectError, Inspection, run_inspection
from container_edu.text import N_

__all__ = ["inspect", "available_models", "describe", "WeightsNotInstalledError", "IMAGENET_MODEL", "FETCH_COMMAND"]

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
    """The names :func:`inspect` accepts: the bundled zoo models, then the ImageNet :data:`IMAGENET_MODEL`."""
    return [*list_pretrained(), IMAGENET_MODEL]


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
            ``"container_light"`` (the authors' ImageNet weights, once installed), or a
            ``ZooContainer`` / ``ContainerLight`` module (its architecture says what input it expects).
        image: a path, a PIL image, or an array ``(H, W)`` or ``(H, W, 3)`` (``(H, W, 4)``: alpha over white),
            ``uint8`` in ``[0, 255]`` or float in ``[0, 1]``. It is preprocessed as the model's card says
            (Fashion-MNIST models: grayscale, bright object on black, 28 x 28).
        blend: moves the blend of named blocks for this pass only (``{"blocks2.0": 1.0}``: attention
            only), as :func:`~container_edu.override_blend` does; the model is not changed.
        device: where a named model runs (default :func:`~container_edu.default_device`).

    Returns:
        An :class:`~container_edu.record.inspection.Inspection`: ``.top(k)``, ``.prediction``,
        ``.figure(block, query, head=None)``, ``.matrix_figure(block)``, ``.blend_figure()``, ``.records``.

    Raises:
        InspectError: an unknown model name, an image that cannot be read, a blend for a block
            that does not blend; :class:`WeightsNotInstalledError` for ``"container_light"``
            before its weights are installed.
    """
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
