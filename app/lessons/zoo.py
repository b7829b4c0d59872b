"""The ``zoo`` lesson: did the blend pay off? The zoo's accuracy with its noise,
a paired test, and what the paper reports."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st
import torch

from app.i18n import N_, _
from container_edu.training.zoo_report import is_sweep_model

from app.lessons.parts import figures
from app.lessons.parts.data_size import data_size_panel
from app.lessons.parts.evidence import paired_panel, reported_panel
from app.lessons.parts.math_text import math_sentence
from app.lessons.parts.resources import bundled_cards, train_command
from app.lessons.parts.widgets import (Question, check_abs, check_close, check_prediction, goals, math_block, predict, quiz,
                            tex_words, verify_panel)

KEY = "zoo"
TITLE = N_("Did the blend pay off? The zoo and the paper")
TEST_IMAGES = 10_000
BOOTSTRAP_DRAWS = 2000

GOALS = [
    N_("Compare the zoo's variants, trained on one recipe, and size the noise in an accuracy difference."),
    N_("Test two models on the same images with a paired test (McNemar's)."),
    N_("Set the zoo beside what the paper reports, and say why a 28 × 28 toy need not reproduce it."),
    N_("Read off the data-size sweep whether the static, local conv wins when images are scarce."),
]

QUESTIONS = (
    Question(
        N_("Why can't this zoo's accuracy table settle whether attention or conv is better on ImageNet?"),
        (
            (N_("One seed, 28 × 28 images, a 7 × 7 grid, another dataset"),
             N_("Each of these alone limits the claim: no spread across seeds, a tiny grid where attention is cheap, and "
                "Fashion-MNIST is not ImageNet.")),
            (N_("The variants used different recipes"),
             N_("They share one recipe (optimiser, schedule, augmentation, epochs), precisely to make the comparison fair.")),
            (N_("The test images were used to pick the models, so the scores are too optimistic"),
             N_("The test split is only measured; choices use a held-out part of the training split.")),
        ),
        0,
    ),
    Question(
        N_("Two models are scored on the same 10,000 test images. Which images decide McNemar's test?"),
        (
            (N_("Those exactly one of the two models gets right"),
             N_("Images both get right, or both get wrong, say nothing about which model is better; the test compares "
                "the two kinds of disagreement.")),
            (N_("All 10,000, treated as two independent samples"),
             N_("That is the unpaired rule; it ignores that both models see the same images, so their errors are "
                "correlated, and it is needlessly blunt.")),
            (N_("Those both models get wrong"),
             N_("Shared mistakes are the same for both models: they cannot tell them apart.")),
        ),
        0,
    ),
)


def render() -> None:
    goals(GOALS)
    math_block(
        math_sentence(_("standard error of an accuracy {p} on {n} test images"), p="p", n="n")
        + r" = \sqrt{p (1 - p) / n}",
        math_sentence(_("McNemar counts only {b}, {c}"),
                      b=r"b = \#\{" + tex_words(_("only model 1 right")) + r"\}",
                      c=r"\quad c = \#\{" + tex_words(_("only model 2 right")) + r"\}"),
        math_sentence(_("if the two are equally accurate: {claim}"), claim=r"b \sim \mathrm{Binomial}(b + c,\ 1/2)"),
        caption=_("Every zoo variant was trained on one recipe and scored once on the 10,000 Fashion-MNIST test "
                  "images."),
    )
    # The data-size sweep's small-data models are compared against size in data_size_panel, not in this table.
    cards = {name: card for name, card in bundled_cards().items() if not is_sweep_model(card)}
    if not cards:
        st.warning(_("bundled weights not found — run `{command}` (and the other zoo variants) to make them. Without "
                     "trained models there is no accuracy to compare; the reported numbers and the noise check below "
                     "still apply.").format(command=train_command("container_light")))

    prediction = None
    if cards:
        prediction = predict("zoo_prediction", _("Predict before the table: which zoo variant scored highest on the "
                                                 "test set?"), tuple(sorted(cards)))
    if cards and prediction is None:
        st.info(_("Make your prediction to see the accuracy table; the Verify panel then checks it."))
    scored = sorted((card for card in cards.values() if card.test_accuracy is not None),
                    key=lambda card: -card.test_accuracy)
    best_p = scored[0].test_accuracy / 100 if scored else 0.9
    standard_error = 100 * math.sqrt(best_p * (1 - best_p) / TEST_IMAGES)
    if prediction is not None:
        rows = [{
            N_("model"): name, N_("mixing"): card.variant, N_("test accuracy %"): card.test_accuracy,
            N_("val accuracy %"): None if card.val_accuracy is None else round(card.val_accuracy, 2),
            N_("parameters"): card.parameter_count, N_("epochs"): card.epochs,
            N_("train minutes"): round((card.wall_time_seconds or 0) / 60, 1),
        } for name, card in sorted(cards.items(), key=lambda item: -(item[1].test_accuracy or 0))]
        # The rows keep English keys (read below); only the shown column headers are translated.
        st.dataframe(pd.DataFrame(rows).rename(columns=lambda column: _(column)), hide_index=True, width="stretch")
        ranked = [r for r in rows if r["test accuracy %"] is not None]
        if ranked:
            st.plotly_chart(figures.bars([r["model"] for r in ranked], [r["test accuracy %"] for r in ranked],
                                         _("Test accuracy of each zoo variant (10,000 Fashion-MNIST test images)"),
                                         _("test accuracy (%)")), key="zoo_fig_accuracy")
            best, worst = ranked[0], ranked[-1]
            gap = best["test accuracy %"] - worst["test accuracy %"]
            threshold = 2 * math.sqrt(2) * standard_error
            if gap > threshold + 0.05:
                verdict = _("This gap is above it, before any seed-to-seed variation, which one run per variant "
                            "cannot measure.")
            elif gap < threshold - 0.05:
                verdict = _("This gap is within it, before any seed-to-seed variation, which one run per variant "
                            "cannot measure.")
            else:
                verdict = _("This gap is right at the edge of it, before any seed-to-seed variation, which one run "
                            "per variant cannot measure.")
            st.caption(_(
                "Best {best} {best_accuracy:.2f}%, lowest {worst} {worst_accuracy:.2f}%: a gap of {gap:.2f} points. "
                "The test sample alone gives each accuracy a standard error of about {standard_error:.2f} points; the "
                "difference of two independent accuracies has √2 times that, and two of those, {threshold:.2f} "
                "points, is the usual 95% line. {verdict} But every model is scored on the same images, so their "
                "errors are correlated: the paired test below (choose the two models) is the right one."
            ).format(best=best["model"], best_accuracy=best["test accuracy %"], worst=worst["model"],
                     worst_accuracy=worst["test accuracy %"], gap=gap, standard_error=standard_error,
                     threshold=threshold, verdict=verdict))

    paired = paired_panel(cards)
    reported_panel(cards)
    data_size_check = data_size_panel()

    # Verify: the standard error against resampled test sets, the paired counts, and the learner's prediction.
    generator = torch.Generator().manual_seed(0)
    draws = torch.binomial(torch.full((BOOTSTRAP_DRAWS,), float(TEST_IMAGES)),
                           torch.full((BOOTSTRAP_DRAWS,), best_p), generator=generator) / TEST_IMAGES * 100
    checks = [check_abs(_("√(p(1 − p)/n) at p = {accuracy:.2f}% = spread over {draws:,} simulated test sets of "
                          "{images:,}").format(accuracy=100 * best_p, draws=BOOTSTRAP_DRAWS, images=TEST_IMAGES),
                        [float(draws.std())], [standard_error], 0.1 * standard_error, _("within 10%"))]
    if paired is not None:
        right_1, right_2, result = paired
        checks.append(check_close(_("McNemar's four counts cover every image scored, each once"),
                                  [result.images], [right_1.numel()]))
        checks.append(check_close(_("accuracy gap image by image = (only model 1 − only model 2) / images"),
                                  [100 * (float(right_1.double().mean()) - float(right_2.double().mean()))],
                                  [100 * (result.only_first_right - result.only_second_right) / result.images]))
    if prediction is not None:
        scores = {name: card.test_accuracy for name, card in cards.items() if card.test_accuracy is not None}
        if scores:
            checks.append(check_prediction(prediction, max(scores, key=scores.get)))
    if data_size_check is not None:
        checks.append(data_size_check)
    verify_panel(checks, _("an accuracy's noise is √(p(1 − p)/n), and the paired test counts only the "
                           "disagreements"))
    quiz(KEY, QUESTIONS)
