"""Honest answers on photos: saying when a Fashion-MNIST model is shown an image unlike its training data.

A zoo model answers with one of its 10 clothing classes whatever it is shown;
on a colour photo that answer is noise. :func:`unlike_fashion_mnist` says
what makes an image unlike Fashion-MNIST (28 x 28 grayscale); the note
says what the model was trained on, what it actually saw and how to get the
ImageNet weights. No Streamlit here.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from container_edu.data import CLASS_NAMES
from container_edu.data.transforms import fashion_mnist_prepare

from app.i18n import _
from app.registry import FASHION_MNIST, ModelRef

__all__ = ["unlike_fashion_mnist", "fashion_mnist_note", "dark_view_note"]

#: Mean per-pixel channel spread (max - min over R, G, B, in 0..1) above which a picture counts as colour.
#: Grey pictures saved as RGB, and JPEG noise on them, stay well below it.
COLOUR_SPREAD = 0.06
#: Fashion-MNIST pictures are 28 x 28; a picture this much larger loses most of its detail on the way.
LARGE_SIDE = 2 * 28


def unlike_fashion_mnist(image: Image.Image) -> list[str]:
    """What makes ``image`` unlike a Fashion-MNIST picture (empty when nothing does)."""
    reasons = []
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    # reducing_gap: a box reduction first, so a large upload costs one cheap pass on every rerun, not a full resample.
    small = np.asarray(rgb.resize((64, 64), Image.BILINEAR, reducing_gap=2.0) if max(rgb.size) > 64 else rgb,
                       dtype=np.float32) / 255
    if float((small.max(axis=-1) - small.min(axis=-1)).mean()) > COLOUR_SPREAD:
        reasons.append("in colour")
    if max(image.size) > LARGE_SIDE:
        reasons.append(f"{image.size[0]}×{image.size[1]} pixels")
    return reasons


def fashion_mnist_note(ref: ModelRef, image: Image.Image, *, imagenet_installed: bool) -> str | None:
    """The note to show next to a Fashion-MNIST model's prediction on an unlike image, else ``None``."""
    if ref.dataset != FASHION_MNIST:
        return None
    reasons = unlike_fashion_mnist(image)
    if not reasons:
        return None
    # The reasons are English (a pure function, also used outside the app); each case is one whole message here.
    in_colour, large = "in colour" in reasons, max(image.size) > LARGE_SIDE
    width, height = image.size
    if in_colour and large:
        unlike = _("in colour and {width}×{height} pixels").format(width=width, height=height)
    elif in_colour:
        unlike = _("in colour")
    else:
        unlike = _("{width}×{height} pixels").format(width=width, height=height)
    if imagenet_installed:
        how = _("choose **Container-Light, ImageNet (authors' weights)** in the model picker (sidebar)")
    else:
        how = _("get the authors' ImageNet weights: the **Get the ImageNet weights** panel on this page, or "
                "`python -m container_edu weights fetch`")
    classes = _(", ").join(_(name) for name in CLASS_NAMES)  # the names are marked in app.samples
    return _("**This model only knows Fashion-MNIST**: it was trained on 28×28 grayscale pictures of clothing "
             "({classes}). Your image is {unlike}; the model sees only the 28×28 grey version shown under *What "
             "the model sees*, and must answer with one of those 10 classes whatever the image shows. For photos, "
             "{how}.").format(classes=classes, unlike=unlike, how=how)


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
