"""The ``zoo`` lesson's evidence panel: what the paper reports, beside what the zoo measures, with a paired test."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from app.i18n import _
from container_edu.analysis.stats import McNemarResult, mcnemar
from container_edu.reported import REPORTED  # quoted, never measured: labelled so wherever shown

from container_edu.training.sweep_report import summary
from container_edu.training.zoo_report import sweep_runs

from app.lessons.parts.data_size import ATTENTION_AHEAD, CONV_AHEAD, SMALLEST, conv_against_attention
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
                 "{zoo}; the paper trains 22 M parameters on ImageNet's 224 × 224 colour images.").format(zoo=zoo))
    finding = sweep_finding(summary(sweep_runs()))
    if finding:
        st.caption(finding)


def sweep_finding(cells: dict) -> str | None:
    """What the data-size sweep says about a conv prior on small data, and how far apart the variants are, read
    from its results (``None`` before it has two seeds of conv and attention at the smallest size)."""
    verdict = conv_against_attention(cells, SMALLEST)
    if verdict is None:
        return None
    conv, attention = cells[("conv", SMALLEST)]["mean"], cells[("attention", SMALLEST)]["mean"]
    sizes = sorted({size for _variant, size in cells})
    spread = max(max(cells[key]["mean"] for key in cells if key[1] == size)
                 - min(cells[key]["mean"] for key in cells if key[1] == size) for size in sizes)
    fields = {"small": SMALLEST, "conv": conv, "attention": attention}
    if verdict == CONV_AHEAD:
        first = _("In the data-size sweep (previous step), the conv is ahead of attention at {small:,} images beyond "
                  "the spread over seeds ({conv:.2f}% against {attention:.2f}%).").format(**fields)
    elif verdict == ATTENTION_AHEAD:
        first = _("The data-size sweep (previous step) shows no conv prior winning on small data: at {small:,} images "
                  "attention ({attention:.2f}%) is ahead of the conv ({conv:.2f}%) beyond the spread over "
                  "seeds.").format(**fields)
    else:
        first = _("The data-size sweep (previous step) shows no conv prior winning on small data: at {small:,} images "
                  "the conv ({conv:.2f}%) and attention ({attention:.2f}%) are within their spread over "
                  "seeds.").format(**fields)
    second = _("At every training-set size ({sizes}) the variants' mean accuracies lie within {spread:.1f} points of "
               "each other.").format(sizes=" / ".join(f"{size:,}" for size in sizes), spread=spread)
    # Two sentences joined as the language joins them (no space after a Chinese full stop).
    return _("{finding} {spread_sentence}").format(finding=first, spread_sentence=second)


def paired_table(result: McNemarResult, first: str, second: str) -> pd.DataFrame:
    """McNemar's four counts, the gap and the p-value, in one row (headers in the session's language)."""
    return pd.DataFrame([{
        _("images"): result.images, _("both right"): result.both_right,
        _("only {name} right").format(name=first): result.only_first_right,
        _("only {name} right").format(name=second): result.only_second_right, _("both wrong"): result.both_wrong,
        _("gap (points)"): round(result.accuracy_gap_points, 2),
        _("McNemar p (exact, two-sided)"): f"{result.p_value:.3g}",
    }])


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
    st.dataframe(paired_table(result, first, second), hide_index=True, width="stretch")
    verdict = (_("a difference this large would be unlikely if the two were equally accurate (p < 0.05)")
               if result.p_value < 0.05 else _("this test cannot tell the two apart (p ≥ 0.05)"))
    discordant = result.only_first_right + result.only_second_right
    st.caption(_("On the first {images:,} test images of {source}: only the {discordant} images where exactly one "
                 "model is right carry information; {verdict}. It measures this pair of trained networks, one seed "
                 "each, not the two architectures.").format(images=result.images, source=source_label(source),
                                                            discordant=discordant, verdict=verdict))
    return right_1, right_2, result
