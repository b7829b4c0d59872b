"""The ``zoo`` lesson: did the blend pay off? The zoo's accuracy with its noise,
a paired test, and what the paper reports."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st
import torch

from app.figure_view import show_figure
from app.i18n import N_, _
from container_edu.analysis.stats import McNemarResult, mcnemar
from container_edu.training.zoo_report import is_sweep_model

from app.lessons.parts import figures
from app.lessons.parts.data_size import data_size_panel
from app.lessons.parts.evidence import correct_per_image, paired_panel, paired_table, reported_panel
from app.lessons.parts.math_text import math_sentence
from app.lessons.parts.resources import bundled_cards, lesson_model, source_label, test_source, train_command
from app.lessons.parts.steps import Step
from app.lessons.parts.widgets import (Prediction, Question, check_abs, check_close, check_prediction, goals,
                                       math_block, quiz, revealed, tex_words, verify_panel)

KEY = "zoo"
TITLE = N_("Did the blend pay off? The zoo and the paper")
TEST_IMAGES = 10_000
BOOTSTRAP_DRAWS = 2000
SIGNIFICANCE = 0.05

PREDICTION = Prediction(
    "zoo_gap_prediction",
    N_("Is the gap between the best and the lowest variant beyond the noise of the test sample?"),
    (N_("yes: a paired test on the same images finds it (p < 0.05)"),
     N_("no: a paired test on the same images cannot tell them apart (p ≥ 0.05)")),
)
GAP_BEYOND, GAP_WITHIN = PREDICTION.options

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


def _why() -> None:
    st.markdown(_(
        "Container's blend is only worth having if it pays off in accuracy. But an accuracy measured on a finite "
        "test set is noisy: a lead of a tenth of a point can be luck. This lesson sizes that noise, tests two "
        "models image by image, asks whether less data favours the conv, and sets the zoo beside what the paper "
        "reports on ImageNet."))
    goals(GOALS)


def _idea() -> None:
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


def zoo_cards() -> dict:
    """The bundled zoo variants (the data-size sweep's small-data models are in the sweep step, not here)."""
    return {name: card for name, card in bundled_cards().items() if not is_sweep_model(card)}


def _scored(cards: dict) -> list:
    return sorted((card for card in cards.values() if card.test_accuracy is not None),
                  key=lambda card: -card.test_accuracy)


def _standard_error(accuracy_percent: float) -> float:
    p = accuracy_percent / 100
    return 100 * math.sqrt(p * (1 - p) / TEST_IMAGES)


def _noise_check(accuracy_percent: float):
    """The standard error of an accuracy against the spread over simulated test sets."""
    p = accuracy_percent / 100
    generator = torch.Generator().manual_seed(0)
    draws = torch.binomial(torch.full((BOOTSTRAP_DRAWS,), float(TEST_IMAGES)),
                           torch.full((BOOTSTRAP_DRAWS,), p), generator=generator) / TEST_IMAGES * 100
    error = _standard_error(accuracy_percent)
    return check_abs(_("√(p(1 − p)/n) at p = {accuracy:.2f}% = spread over {draws:,} simulated test sets of "
                       "{images:,}").format(accuracy=accuracy_percent, draws=BOOTSTRAP_DRAWS, images=TEST_IMAGES),
                     [float(draws.std())], [error], 0.1 * error, _("within 10%"))


def _paired_checks(right_1: torch.Tensor, right_2: torch.Tensor, result: McNemarResult) -> list:
    return [check_close(_("McNemar's four counts cover every image scored, each once"),
                        [result.images], [right_1.numel()]),
            check_close(_("accuracy gap image by image = (only model 1 − only model 2) / images"),
                        [100 * (float(right_1.double().mean()) - float(right_2.double().mean()))],
                        [100 * (result.only_first_right - result.only_second_right) / result.images])]


def best_and_worst_paired(cards: dict) -> tuple[str, str, torch.Tensor, torch.Tensor, McNemarResult]:
    """McNemar's test of the best against the lowest variant (by their cards) on the paired-test images."""
    scored = _scored(cards)
    best, worst = scored[0].name, scored[-1].name
    data_key = str(test_source().directory)
    with st.spinner(_("Scoring the two models image by image…")):
        right_1 = correct_per_image(lesson_model(best).cache_key, data_key, best)
        right_2 = correct_per_image(lesson_model(worst).cache_key, data_key, worst)
    return best, worst, right_1, right_2, mcnemar(right_1, right_2)


def measured_gap_answer(result: McNemarResult) -> str:
    """The prediction option that the paired test of the best against the lowest variant supports."""
    return GAP_BEYOND if result.p_value < SIGNIFICANCE else GAP_WITHIN


def _accuracy_table(cards: dict) -> None:
    """Every variant's card: accuracies, size, epochs and training time (the paired step's models to choose from)."""
    rows = [{
        N_("model"): name, N_("mixing"): card.variant, N_("test accuracy %"): card.test_accuracy,
        N_("val accuracy %"): None if card.val_accuracy is None else round(card.val_accuracy, 2),
        N_("parameters"): card.parameter_count, N_("epochs"): card.epochs,
        N_("train minutes"): round((card.wall_time_seconds or 0) / 60, 1),
    } for name, card in sorted(cards.items(), key=lambda item: -(item[1].test_accuracy or 0))]
    # The rows keep English keys (read here); only the shown column headers are translated.
    st.dataframe(pd.DataFrame(rows).rename(columns=lambda column: _(column)), hide_index=True, width="stretch")


def _accuracy_bars(cards: dict) -> None:
    scored = _scored(cards)
    show_figure(figures.bars([card.name for card in scored], [card.test_accuracy for card in scored],
                             _("Test accuracy of each zoo variant (10,000 Fashion-MNIST test images)"),
                             _("test accuracy (%)"), height=250), key="zoo_fig_accuracy")


def _predict_and_reveal() -> None:
    cards = zoo_cards()
    if not cards:
        st.warning(_("bundled weights not found — run `{command}` (and the other zoo variants) to make them. Without "
                     "trained models there is no accuracy to compare; the reported numbers and the noise check below "
                     "still apply.").format(command=train_command("container_light")))
    scored = _scored(cards)
    if len(scored) < 2:
        st.info(_("The prediction needs two trained zoo variants with a test accuracy; this machine has {count}. "
                  "The noise check below still applies.").format(count=len(scored)))
        if cards:
            _accuracy_table(cards)
        verify_panel([_noise_check(scored[0].test_accuracy if scored else 90.0)],
                     _("an accuracy's noise is √(p(1 − p)/n)"))
        return
    best, worst = scored[0], scored[-1]
    gap = best.test_accuracy - worst.test_accuracy
    st.markdown(_("The zoo trained {count} variants on one recipe, one seed each, and scored them on the same "
                  "{images:,} test images. Best: {best} {best_accuracy:.2f}%; lowest: {worst} "
                  "{worst_accuracy:.2f}%: a gap of {gap:.2f} points.").format(
        count=len(scored), images=TEST_IMAGES, best=best.name, best_accuracy=best.test_accuracy, worst=worst.name,
        worst_accuracy=worst.test_accuracy, gap=gap))
    choice = PREDICTION.ask(KEY)
    if not revealed(KEY, choice):
        return
    _accuracy_bars(cards)
    error = _standard_error(best.test_accuracy)
    threshold = 2 * math.sqrt(2) * error
    verdict = (_("the gap is above it") if gap > threshold + 0.05 else _("the gap is within it")
               if gap < threshold - 0.05 else _("the gap is right at its edge"))
    st.caption(_("Unpaired, each accuracy has a standard error of about {standard_error:.2f} points; the 95% line for "
                 "a difference is 2√2 times that, {threshold:.2f} points: {verdict}. But both models saw the same "
                 "images, so the paired test is the right one:").format(
        standard_error=error, threshold=threshold, verdict=verdict))
    first, second, right_1, right_2, result = best_and_worst_paired(cards)
    st.dataframe(paired_table(result, first, second), hide_index=True, width="stretch")
    st.caption(_("McNemar's test of {best} against {worst} on the first {images:,} test images of {source}: p = "
                 "{p:.3g}. It covers the test sample's noise, not how a gap moves between seeds.").format(best=first, worst=second, images=result.images,
                                               source=source_label(test_source()), p=result.p_value))
    checks = [_noise_check(best.test_accuracy), *_paired_checks(right_1, right_2, result),
              check_prediction(choice, measured_gap_answer(result))]
    verify_panel(checks, _("an accuracy's noise is √(p(1 − p)/n), and the paired test counts only the "
                           "disagreements"), lesson=KEY)


def _paired() -> None:
    cards = zoo_cards()
    if cards:
        _accuracy_table(cards)
    paired = paired_panel(cards)
    if paired is None:
        st.info(_("The paired test needs two trained zoo variants with a test accuracy."))
        return
    verify_panel(_paired_checks(*paired), _("the paired test counts only the disagreements"))


def _sweep() -> None:
    check = data_size_panel()
    if check is not None:
        verify_panel([check], _("your prediction against the sweep's results file"))


def _paper() -> None:
    reported_panel(zoo_cards())


def _check() -> None:
    quiz(KEY, QUESTIONS)


STEPS = (
    Step("why", N_("Why it matters"), _why),
    Step("idea", N_("The idea and the math"), _idea),
    Step("predict", N_("Predict, then see"), _predict_and_reveal),
    Step("paired", N_("Test any two"), _paired),
    Step("sweep", N_("With less data"), _sweep),
    Step("paper", N_("What the paper reports"), _paper),
    Step("check", N_("Check your understanding"), _check),
)
KEPT = ("zoo_pair_first", "zoo_pair_second", "zoo_data_prediction")


def render() -> None:
    """Every step, one after another (the notebook and the worksheet; the page shows one step at a time)."""
    for step in STEPS:
        step.draw()
