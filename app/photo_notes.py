"""Honest answers on photos: saying when a Fashion-MNIST model is shown an image unlike its training data.

A zoo model answers with one of its 10 clothing classes whatever it is shown;
on a colour photo that answer is noise. The note's wording is the core's
(:mod:`container_edu.data.photo_notes`, shared with the command line); here
the app adds how to get the ImageNet weights, and why the 28×28 view is dark.
No Streamlit here.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from container_edu.data.photo_notes import COLOUR_SPREAD, LARGE_SIDE, unlike_fashion_mnist
from container_edu.data.photo_notes import fashion_mnist_note as core_note
from container_edu.data.transforms import fashion_mnist_prepare

from app.i18n import _
from app.registry import FASHION_MNIST, ModelRef

__all__ = ["unlike_fashion_mnist", "fashion_mnist_note", "dark_view_note", "COLOUR_SPREAD", "LARGE_SIDE"]


def fashion_mnist_note(ref: ModelRef, image: Image.Image, *, imagenet_installed: bool) -> str | None:
    """The note to show next to a Fashion-MNIST model's prediction on an unlike image, else ``None``.

    Its wording is the core's (``container_edu.data.photo_notes``), which the command line prints too; only
    how to get a model for photos is the app's own.
    """
    if ref.dataset != FASHION_MNIST:
        return None
    if imagenet_installed:
        how = _("choose **Container-Light, ImageNet (authors' weights)** in the model picker (sidebar)")
    else:
        how = _("get the authors' ImageNet weights: the **Get the ImageNet weights** panel on this page, or "
                "`python -m container_edu weights fetch`")
    return core_note(image, how=how, beside_view=True)


def dark_view_note(ref: ModelRef, image: Image.Image, seen: np.ndarray) -> str | None:
    """Why a Fashion-MNIST model's 28×28 view of a picture looks so dark (``seen``: that view), else ``None``.

    The preprocessing makes the picture's border black on purpose (Fashion-MNIST's background is exactly 0):
    most of a photo's background, and everything darker than it, becomes 0.
    """
    if ref.dataset != FASHION_MNIST or not unlike_fashion_mnist(image):
        return None
    view = np.asarray(seen)
    gray = view if view.ndim == 2 else view[..., 0]
    black = float((gray == 0).mean())
    inverted = fashion_mnist_prepare(image)[1]
    if inverted:
        how = _("Your picture's border is light, so it was inverted (a dark object on a light background becomes "
                "a bright one on black), then its levels stretched so that the border's typical grey is black.")
    else:
        how = _("Its levels were stretched so that the border's typical grey is black.")
    return _("**Why so dark?** Fashion-MNIST shows a bright garment on a black background whose pixels are exactly 0, "
             "and the model was trained on nothing else. {how} {percent:.0f}% of the 28×28 pixels the model sees "
             "are exactly 0.").format(how=how, percent=100 * black)
