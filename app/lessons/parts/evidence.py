"""The ``zoo`` lesson's evidence panel: what the paper reports, beside what the zoo measures, with a paired test."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from app.i18n import _
from container_edu.analysis.stats import McNemarResult, mcnemar
from container_edu.reported import REPORTED  # quoted, never measured: labelled so wherever shown

from app.lessons.parts.resources import lesson_model, source_label, test_batch, test_source

#: Images the paired test scores (the full test set's first ones, or all of the shipped subset's).
PAIRED_IMAGES = 2000


@st.cache_data(show_spinner=False, max_entries=16)  # the caller shows a spinner in the session's language
def correct_per_image(model_key: str, data_key: str, name: str) -> torch.Tensor:
    """Whether the bundled ``name`` classifies each of the paired-test images correctly (cached per weights and data)."""
    images, labels = test_batch(PAIRED_IMAGES)
    loaded = lesson_model(name)
    with torch.no_grad():
        predictions = loaded.model(images.to(loaded.device)).argmax(dim=1).cpu()
    return predictions == labels


def reported_panel(cards: dict) -> None:
    st.markdown(_("**What the paper reports** (quoted, not measured here):"))
    reported = [[_(figure.model), _(figure.task), figure.text(_)] for figure in REPORTED]
    st.dataframe(pd.DataFrame(reported, columns=[_("model"), _("task"), _("reported")]), hide_index=True,
                 width="stretch")
    sizes = [card.parameter_count for card in cards.values()]
    epochs = sorted({card.epochs for card in cards.values() if card.epochs})
    zoo = (_("its models have {smallest:.2f}–{largest:.2f} M parameters and were trained for {epochs} epochs with one "
             "seed").format(smallest=min(sizes) / 1e6, largest=max(sizes) / 1e6, epochs=", ".join(map(str, epochs)))
           if sizes else _("it has no trained models here"))
    st.caption(_("Why the zoo need not reproduce these: its images are 28 × 28 grayscale, its mixed grid is 7 × 7, and "
                 "{zoo}; the paper trains 22 M parameters on ImageNet's 224 × 224 colour images. On small, easy data "
                 "a conv's prior may be enough, leaving the blend little to add.").format(zoo=zoo))


def paired_panel(cards: dict) -> tuple[torch.Tensor, torch.Tensor, McNemarResult] | None:
    """McNemar's test for two chosen bundled models on the same test images; returns what it counted."""
    names = sorted(name for name, card in cards.items() if card.test_accuracy is not None)
    if len(names) < 2:
        return None
    st.markdown(_("**A paired test on the same images.**"))
    c1, c2 = st.columns(2)
    first = c1.selectbox(_("model 1"), names, index=names.index("fmnist_container_light")
                         if "fmnist_container_light" in names else 0, key="zoo_pair_first")
    second = c2.selectbox(_("model 2"), [name for name in names if name != first], key="zoo_pair_second")
    source = test_source()
    data_key = str(source.directory)
    with st.spinner(_("Scoring the two models image by image…")):
        right_1 = correct_per_image(lesson_model(first).cache_key, data_key, first)
        right_2 = correct_per_image(lesson_model(second).cache_key, data_key, second)
    result = mcnemar(right_1, right_2)
    st.dataframe(pd.DataFrame([{
        _("images"): result.images, _("both right"): result.both_right,
        _("only {name} right").format(name=first): result.only_first_right,
        _("only {name} right").format(name=second): result.only_second_right, _("both wrong"): result.both_wrong,
        _("gap (points)"): round(result.accuracy_gap_points, 2),
        _("McNemar p (exact, two-sided)"): f"{result.p_value:.3g}",
    }]), hide_index=True, width="stretch")
    verdict = (_("a difference this large would be unlikely if the two were equally accurate (p < 0.05)")
               if result.p_value < 0.05 else _("this test cannot tell the two apart (p ≥ 0.05)"))
    discordant = result.only_first_right + result.only_second_right
    st.caption(_("On the first {images:,} test images of {source}: only the {discordant} images where exactly one "
                 "model is right carry information; {verdict}. It measures this pair of trained networks, one seed "
                 "each, not the two architectures.").format(images=result.images, source=source_label(source),
                                                            discordant=discordant, verdict=verdict))
    return right_1, right_2, result
