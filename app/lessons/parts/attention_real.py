"""The ``attention`` lesson on a real input: a Fashion-MNIST test image through the bundled
attention model, every head's row."""

from __future__ import annotations

import streamlit as st
import torch

from app.i18n import _
from container_edu.ops import affinity as aff
from container_edu.data import FASHION_MNIST_MEAN, FASHION_MNIST_STD
from container_edu.record.trace import record_affinities

from app.figure_view import show_figure
from app.lessons.parts import figures
from app.lessons.parts.resources import class_name, lesson_model, source_label, test_source, train_command, try_test_batch
from app.lessons.parts.widgets import CheckResult, check_close, random_weights_warning

MODEL = "fmnist_attention"
IMAGES = 50


def render_real_input() -> list[CheckResult]:
    """Every head's attention row for one query of a real image; returns the checks for the lesson's panel."""
    st.markdown(_("**On a real image.** The same formula inside the bundled attention model: a test image, its "
                  "7 × 7 grid of tokens after two patch embeddings, and the row of every head for one query."))
    loaded = lesson_model(MODEL)
    if loaded.is_random:
        random_weights_warning(_("the {model} zoo model").format(model=MODEL), train_command("attention"))
    data = try_test_batch()
    if data is None:
        return []
    images, labels = data
    model = loaded.model
    height, width = model.config.mixed_grid
    c1, c2, c3 = st.columns([1, 1, 2])
    index = c1.number_input(_("test image"), 0, IMAGES - 1, 0, key="attention_real_image")
    blocks = [f"blocks2.{i}" for i in range(model.config.depths[1])]
    block = c2.selectbox(_("block"), blocks, key="attention_real_block")
    query = c3.select_slider(_("query token i"), options=list(range(height * width)),
                             value=aff.token_index(height // 2, width // 2, width), key="attention_real_query")
    image = images[int(index) : int(index) + 1].to(loaded.device)
    with torch.no_grad(), record_affinities() as records:
        logits = model(image)
    record = records[block]
    rows = record.attention_row(query).flatten(1)  # (M, N): one row per head
    pixels = (image[0, 0].cpu() * FASHION_MNIST_STD + FASHION_MNIST_MEAN).clamp(0, 1)
    left, right = st.columns([1, 4])
    caption = _("{label} (predicted: {predicted})").format(label=class_name(int(labels[int(index)])),
                                                          predicted=class_name(int(logits.argmax())))
    left.image(pixels.numpy(), caption=caption, alt=caption, width=140, clamp=True)  # alt: read by screen readers
    with right:
        show_figure(figures.heatmaps_side_by_side(
            [(rows[m].reshape(height, width), _("head {m}").format(m=m)) for m in range(rows.shape[0])],
            _("Row i = t{query} of each head's A_m in {block} ({model})").format(query=query, block=block,
                                                                               model=loaded.label),
            "A_m[i, j]", grid=True,
            query=divmod(query, width), height=300), key="attention_fig_real_heads")
    st.caption(_("Image {index} of {source}. A query is what token i looks for, a key what token j offers; their dot "
                 "product, scaled by s = (C/M)^−1/2 so that its variance does not grow with the head dimension, "
                 "decides the weight. Heads that look at different places let one layer gather several kinds of "
                 "context at once.").format(index=int(index), source=source_label(test_source())))
    checks = [check_close(_("{block}: every head's row on this image sums to 1").format(block=block), rows.sum(-1),
                          torch.ones(rows.shape[0]))]
    with torch.no_grad():
        fast = model(image)  # not recording: the fused attention kernel, which never forms A
    checks.append(check_close(_("on this image, the logits with A written out = the fused kernel's logits"), logits,
                              fast))
    return checks
