"""Lesson 10's evidence panel: what the paper reports, beside what the zoo measures, with a paired test."""

from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from container_edu.paired_test import McNemarResult, mcnemar

from .resources import lesson_model, test_batch, test_source

#: Images the paired test scores (the full test set's first ones, or all of the shipped subset's).
PAIRED_IMAGES = 2000

#: Quoted from the paper and the authors' release; never measured here, and labelled so wherever shown.
REPORTED = (
    ("Container (paper)", "ImageNet-1k top-1", "82.7 % with 22 M parameters: +2.8 points over DeiT-S"),
    ("Container-Light (authors' released weights)", "ImageNet-1k top-1", "82.3 %"),
    ("Container-Light as a detection backbone (paper)", "COCO, against a ResNet-50 backbone",
     "+6.6 / +7.3 / +6.9 box mAP with DETR / RetinaNet / Mask R-CNN; +6.6 mask mAP"),
)


@st.cache_data(show_spinner="Scoring the two models image by image…", max_entries=16)
def correct_per_image(model_key: str, data_key: str, name: str) -> torch.Tensor:
    """Whether the bundled ``name`` classifies each of the paired-test images correctly (cached per weights and data)."""
    images, labels = test_batch(PAIRED_IMAGES)
    loaded = lesson_model(name)
    with torch.no_grad():
        predictions = loaded.model(images.to(loaded.device)).argmax(dim=1).cpu()
    return predictions == labels


def reported_panel(cards: dict) -> None:
    st.markdown("**What the paper reports** (quoted, not measured here):")
    st.dataframe(pd.DataFrame(REPORTED, columns=["model", "task", "reported"]), hide_index=True, width="stretch")
    sizes = [card.parameter_count for card in cards.values()]
    epochs = sorted({card.epochs for card in cards.values() if card.epochs})
    zoo = (f"its models have {min(sizes) / 1e6:.2f}–{max(sizes) / 1e6:.2f} M parameters and were trained for "
           f"{', '.join(map(str, epochs))} epochs with one seed" if sizes else "it has no trained models here")
    st.caption("Why the zoo need not reproduce these: its images are 28 × 28 grayscale, its mixed grid is 7 × 7, and "
               f"{zoo}; the paper trains 22 M parameters on ImageNet's 224 × 224 colour images. On small, easy data "
               "a conv's prior may be enough, leaving the blend little to add.")


def paired_panel(cards: dict) -> tuple[torch.Tensor, torch.Tensor, McNemarResult] | None:
    """McNemar's test for two chosen bundled models on the same test images; returns what it counted."""
    names = sorted(name for name, card in cards.items() if card.test_accuracy is not None)
    if len(names) < 2:
        return None
    st.markdown("**A paired test on the same images.**")
    c1, c2 = st.columns(2)
    first = c1.selectbox("model 1", names, index=names.index("fmnist_container_light")
                         if "fmnist_container_light" in names else 0, key="l7_pair_first")
    second = c2.selectbox("model 2", [name for name in names if name != first], key="l7_pair_second")
    source = test_source()
    data_key = str(source.directory)
    right_1 = correct_per_image(lesson_model(first).cache_key, data_key, first)
    right_2 = correct_per_image(lesson_model(second).cache_key, data_key, second)
    result = mcnemar(right_1, right_2)
    st.dataframe(pd.DataFrame([{
        "images": result.images, "both right": result.both_right, f"only {first} right": result.only_first_right,
        f"only {second} right": result.only_second_right, "both wrong": result.both_wrong,
        "gap (points)": round(result.accuracy_gap_points, 2), "McNemar p (exact, two-sided)": f"{result.p_value:.3g}",
    }]), hide_index=True, width="stretch")
    verdict = ("a difference this large would be unlikely if the two were equally accurate (p < 0.05)"
               if result.p_value < 0.05 else "this test cannot tell the two apart (p ≥ 0.05)")
    discordant = result.only_first_right + result.only_second_right
    st.caption(f"On the first {result.images:,} test images of {source.label}: only the {discordant} images where "
               f"exactly one model is right carry information; {verdict}. "
               "It measures this pair of trained networks, one seed each, not the two architectures.")
    return right_1, right_2, result
