"""Honest answers on photos: the note that a Fashion-MNIST model is shown an image unlike its training data.

A zoo model answers with one of its 10 clothing classes whatever it is shown; on a colour photo that answer is
noise. :func:`unlike_fashion_mnist` says what makes an image unlike Fashion-MNIST (28 x 28 grayscale), and
:func:`fashion_mnist_note` is the note the app shows next to the prediction and ``python -m container_edu
predict`` prints under it: one wording, here, so that the two never drift apart. Translated where it is
made (:mod:`container_edu.text`); the command line speaks English.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from container_edu.data.fashion_mnist import CLASS_NAMES
from container_edu.text import N_, translate

__all__ = ["COLOUR_SPREAD", "LARGE_SIDE", "unlike_fashion_mnist", "fashion_mnist_note"]

#: Mean per-pixel channel spread (max - min over R, G, B, in 0..1) above which a picture counts as colour.
#: Grey pictures saved as RGB, and JPEG noise on them, stay well below it.
COLOUR_SPREAD = 0.06
#: Fashion-MNIST pictures are 28 x 28; a picture this much larger loses most of its detail on the way.
LARGE_SIDE = 2 * 28

# The app shows the model's 28×28 view beside the note; the command line does not.
_NOTE_BESIDE_VIEW = N_("**This model only knows Fashion-MNIST**: it was trained on 28×28 grayscale pictures of "
                       "clothing ({classes}). Your image is {unlike}; the model sees only the 28×28 grey version "
                       "shown under *What the model sees*, and must answer with one of those 10 classes whatever "
                       "the image shows. For photos, {how}.")
_NOTE = N_("**This model only knows Fashion-MNIST**: it was trained on 28×28 grayscale pictures of clothing "
           "({classes}). Your image is {unlike}; the model sees only a 28×28 grey version of it, and must answer "
           "with one of those 10 classes whatever the image shows. For photos, {how}.")


def unlike_fashion_mnist(image: Image.Image) -> list[str]:
    """What makes ``image`` unlike a Fashion-MNIST picture, in English (empty when nothing does)."""
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


def fashion_mnist_note(image: Image.Image, *, how: str, beside_view: bool = False) -> str | None:
    """The note for a Fashion-MNIST model's prediction on ``image`` (Markdown), or ``None`` when it looks alike.

    ``how`` ends the note: how to get a model for photos where it is read. ``beside_view``: the model's 28×28
    view is shown next to the note (the app), and the note points to it.
    """
    reasons = unlike_fashion_mnist(image)
    if not reasons:
        return None
    in_colour, large = "in colour" in reasons, max(image.size) > LARGE_SIDE
    width, height = image.size
    if in_colour and large:
        unlike = translate("in colour and {width}×{height} pixels", width=width, height=height)
    elif in_colour:
        unlike = translate("in colour")
    else:
        unlike = translate("{width}×{height} pixels", width=width, height=height)
    classes = translate(", ").join(translate(name) for name in CLASS_NAMES)
    return translate(_NOTE_BESIDE_VIEW if beside_view else _NOTE, classes=classes, unlike=unlike, how=how)
