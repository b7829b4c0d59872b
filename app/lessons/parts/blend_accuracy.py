"""The ``container`` lesson's measurements with a moved blend: accuracy at one α, over a sweep of α,
with re-estimated BatchNorm.

Every function runs the shared model under ``override_blend``, which changes no parameter; the BatchNorm
re-estimate works on a private copy.
"""

from __future__ import annotations

import copy

import numpy as np
import streamlit as st
import torch
from torch import nn

from app.i18n import N_
from container_edu.models import blend_parameters
from container_edu.record.trace import override_blend

from app.lessons.parts.resources import LessonModel

SWEEP = tuple(round(a, 2) for a in np.linspace(0.0, 1.0, 11))
ALL_BLOCKS = N_("all mixed blocks")  # a selectbox value and a widget key: English; shown with _()


def slider_start(target: str, learned: dict[str, tuple[float, float]]) -> float:
    """Where the α slider of ``target`` starts: that block's learned α; for all blocks, the mean of theirs.

    One block's α does not stand for all of them (the blocks of a trained model learn different blends).
    """
    alphas = [alpha for alpha, _beta in learned.values()] if target == ALL_BLOCKS else [learned[target][0]]
    return round(float(np.mean(alphas)), 2)


def accuracy(loaded: LessonModel, images: torch.Tensor, labels: torch.Tensor, weights: dict | None) -> float:
    """Top-1 accuracy (%) with the blend of the named blocks overridden (``None``: the learned blend)."""
    with torch.no_grad(), override_blend(weights or {}):
        predictions = loaded.model(images.to(loaded.device)).argmax(dim=1).cpu()
    return 100.0 * float((predictions == labels).double().mean())


def weights_for(target: str, blocks: list[str], alpha: float) -> dict[str, float]:
    """The ``override_blend`` that sets ``target`` (one block, or every block for :data:`ALL_BLOCKS`) to ``alpha``."""
    return {name: alpha for name in (blocks if target == ALL_BLOCKS else [target])}


# No spinner text here: a cached function is shared by all sessions, whatever their language; the lesson shows one.
@st.cache_data(show_spinner=False, max_entries=16)
def accuracy_sweep(model_key: str, target: str, _loaded: LessonModel, _data: tuple) -> list[float]:
    """Accuracy on the fixed test batch for each α in ``SWEEP`` (cached per model and target)."""
    images, labels = _data
    blocks = list(blend_parameters(_loaded.model))
    return [accuracy(_loaded, images, labels, weights_for(target, blocks, alpha)) for alpha in SWEEP]


@st.cache_data(show_spinner=False, max_entries=64)
def accuracy_at(model_key: str, target: str, alpha: float | None, _loaded: LessonModel, _data: tuple) -> float:
    images, labels = _data
    blocks = list(blend_parameters(_loaded.model))
    weights = None if alpha is None else weights_for(target, blocks, alpha)
    return accuracy(_loaded, images, labels, weights)


@st.cache_data(show_spinner=False, max_entries=16)
def accuracy_with_fresh_batchnorm(model_key: str, target: str, alpha: float, _loaded: LessonModel, _data: tuple,
                                  _train: torch.Tensor) -> float:
    """Accuracy at α after re-estimating every BatchNorm's running statistics at that α on training images.

    A private copy of the model is changed, never the shared one.
    """
    model = copy.deepcopy(_loaded.model)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a plain average over all batches seen
    weights = weights_for(target, list(blend_parameters(model)), alpha)
    model.train()
    with torch.no_grad(), override_blend(weights):
        for start in range(0, len(_train), 250):
            model(_train[start : start + 250].to(_loaded.device))
    model.eval()
    images, labels = _data
    with torch.no_grad(), override_blend(weights):
        predictions = model(images.to(_loaded.device)).argmax(dim=1).cpu()
    return 100.0 * float((predictions == labels).double().mean())
