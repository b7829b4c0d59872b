"""The ``paper`` lesson, the course's last: what the paper showed, beside what this project measured.

The synthesis table is built from the kinds registry (:data:`container_edu.ops.kinds.KINDS`) with its property
columns measured on small random modules (:mod:`container_edu.analysis.properties`); the paper's figures come from
their one source (:mod:`container_edu.reported`), each labelled as reported by the authors and set beside what the
package's sweep results and bundled model cards say. The last step is the concept inventory, taken again.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.i18n import N_, _
from app.explorer import shown_formula
from app.figure_view import show_figure
from app.zoo import sweep_accuracy_figure
from container_edu.analysis.properties import CHANNELS, HEADS, KERNEL, SIDE, measure_all, registry_claims
from container_edu.ops.kinds import KINDS
from container_edu.reported import REPORTED, reported
from container_edu.training.sweep_report import summary
from container_edu.training.zoo_report import is_sweep_model, sweep_runs

from app.lessons.inventory import render_inventory
from app.lessons.parts import course
from app.lessons.parts.resources import bundled_cards
from app.lessons.parts.steps import Step
from app.lessons.parts.widgets import (Prediction, Question, check_prediction, check_true, goals, math_block, quiz,
                                      revealed, verify_panel)

KEY = "paper"
TITLE = N_("What the paper showed")

GOALS = [
    N_("Place every operator of the course in one table: how its A is made, and what follows from that."),
    N_("State the paper's evidence as the authors report it: accuracy, convergence, detection."),
    N_("Say which of those claims this project's small experiments speak to, and why most they cannot."),
]

#: The hybrid the prediction asks about and the baseline it is compared with (the sweep's variant names).
HYBRID, BASELINE = "container", "attention"
SMALLEST, LARGEST = 1_000, 54_000

PREDICTION = Prediction(
    "paper_prediction",
    N_("In this project's data-size sweep, with only {small:,} training images, how does the Container hybrid "
       "(attention blended with a learned static matrix) compare with pure attention?"),
    (N_("the hybrid ahead: the mean ± std intervals do not overlap"),
     N_("neither: the intervals overlap"),
     N_("pure attention ahead: the intervals do not overlap")),
    fields={"small": SMALLEST},
)
HYBRID_AHEAD, OVERLAP, BASELINE_AHEAD = PREDICTION.options

QUESTIONS = (
    Question(
        N_("The paper reports 82.7 % top-1; this project's Container scores about 91 % on Fashion-MNIST. What does "
           "setting the two numbers side by side tell you?"),
        (
            (N_("Nothing about the operators: different data, classes and model sizes"),
             N_("Accuracy is only comparable on the same test set; ImageNet's 1,000 classes at 224 × 224 are a far "
                "harder task than 10 classes at 28 × 28.")),
            (N_("That a small hybrid beats the paper's large one"),
             N_("The two numbers come from different tasks, so neither can beat the other.")),
            (N_("That this project failed to reproduce the paper"),
             N_("A reproduction needs the same task; this project never trained on ImageNet, so it neither "
                "reproduces nor refutes 82.7 %.")),
        ),
        0,
    ),
    Question(
        N_("Which of the paper's claims can this project's own experiments speak to, if only on a small scale?"),
        (
            (N_("Detection: the zoo reports box AP for each variant"),
             N_("The project trains classifiers only; no detector, no box AP.")),
            (N_("That the hybrid beats pure attention, and converges sooner"),
             N_("The sweep compares the hybrid with pure attention over seeds, and the model cards hold each "
                "epoch's validation accuracy; both on Fashion-MNIST, not ImageNet.")),
            (N_("ImageNet top-1: the zoo re-scores the 82.7 % model"),
             N_("Scoring on ImageNet needs its 50,000 validation images, which the project does not ship.")),
        ),
        1,
    ),
    Question(
        N_("Which column of the synthesis table sets self-attention apart from all three static operators?"),
        (
            (N_("dense?: attention reaches every token"),
             N_("The Mixer and the multi-head MLP are dense too; only the conv is sparse.")),
            (N_("shift-equivariant?: attention commutes with shifts"),
             N_("The depthwise conv commutes with shifts as well.")),
            (N_("dynamic?: attention's A is made from the input"),
             N_("Only attention (and every blend that contains it) recomputes A for each input; the conv, the "
                "Mixer and the multi-head MLP keep one A after training.")),
        ),
        2,
    ),
)

#: What a learner should now be able to explain (the course's closing list).
EXPLAIN = (
    N_("Why self-attention, a depthwise conv and MLP-Mixer token mixing are one formula, Y = concat(A_m V_m) W_o."),
    N_("How each makes A, and what follows: dynamic or static, dense or sparse, tied to one grid or not."),
    N_("Why a hierarchy uses convs on large early grids and attention on the small late one (cost in N)."),
    N_("What Container's α means, and why it is not attention's share of the output."),
    N_("What the paper reports, which of it this project could test, and why its toy cannot settle the rest."),
)

_YES, _NO = N_("yes"), N_("no")
#: The table's columns (English keys; the headers are translated when drawn).
COLUMNS = (N_("operator"), N_("how A is made"), N_("dynamic?"), N_("dense?"),
           N_("parameters ({small} × {small} → {large} × {large})"), N_("cost in N"), N_("tied to the grid?"),
           N_("shift-equivariant?"))


def synthesis_rows() -> list[dict]:
    """One row per kind of the registry: its label and formula, and the measured columns (English keys)."""
    measured = measure_all()
    rows = []
    for key, kind in KINDS.items():
        found = measured[key]
        rows.append({"key": key, "operator": kind.label, "how A is made": kind.formula, "dynamic?": found.dynamic,
                     "dense?": found.dense, "parameters": found.parameters, "cost in N": found.cost,
                     "growth": found.entry_growth, "tied to the grid?": found.tied_to_grid,
                     "shift-equivariant?": found.shift_equivariant})
    return rows


def _shown_table(rows: list[dict]) -> pd.DataFrame:
    def yes_no(value: bool) -> str:
        return _(_YES) if value else _(_NO)

    headers = [_(column).format(small=SIDE, large=2 * SIDE) for column in COLUMNS]
    cells = [[_(row["operator"]), shown_formula(KINDS[row["key"]]), yes_no(row["dynamic?"]), yes_no(row["dense?"]),
              "{:,} → {:,}".format(*row["parameters"]), f"{row['cost in N']} (×{row['growth']:.1f})",
              yes_no(row["tied to the grid?"]), yes_no(row["shift-equivariant?"])] for row in rows]
    return pd.DataFrame(cells, columns=headers)


def table_checks(rows: list[dict]) -> list:
    """Verify rows: for each property column, the registry's claim equals the measurement for every operator."""
    checks = []
    for column, claim_key, claim in (
            ("dynamic?", "dynamic", N_("dynamic?: A changes with the input exactly where the registry says so")),
            ("dense?", "dense", N_("dense?: A is non-zero beyond the kernel exactly where the registry says so")),
            ("cost in N", "cost", N_("cost in N: A's non-zero entries grow 16× (dense) or about 4× (conv) as the "
                                     "side doubles")),
            ("tied to the grid?", "tied_to_grid", N_("tied to the grid?: refuses another grid exactly when its static "
                                                     "part is a learned N × N matrix")),
            ("shift-equivariant?", "shift_equivariant", N_("shift-equivariant?: a shifted input shifts the output "
                                                           "exactly where no learned N × N matrix is used"))):
        disagree = [row["key"] for row in rows if registry_claims(KINDS[row["key"]])[claim_key] != row[column]]
        detail = (_("all {count} operators agree").format(count=len(rows)) if not disagree
                  else _("disagree: {kinds}").format(kinds=", ".join(disagree)))
        checks.append(check_true(_(claim), not disagree, detail))
    return checks


def hybrid_against_baseline(cells: dict, size: int) -> str | None:
    """Which prediction option the sweep's results say at ``size`` (``None`` without two seeds of each)."""
    hybrid, baseline = cells.get((HYBRID, size)), cells.get((BASELINE, size))
    if hybrid is None or baseline is None or hybrid["std"] is None or baseline["std"] is None:
        return None
    if hybrid["mean"] - hybrid["std"] > baseline["mean"] + baseline["std"]:
        return HYBRID_AHEAD
    if baseline["mean"] - baseline["std"] > hybrid["mean"] + hybrid["std"]:
        return BASELINE_AHEAD
    return OVERLAP


def _why() -> None:
    st.markdown(_(
        "The {count} lessons before this one took the unified view apart: one formula, Y = concat(A_m V_m) W_o, "
        "and four ways of making A. This last one puts them back together in one table, then asks what the paper actually showed with it: "
        "which numbers the authors report, and which of them this project's small experiments could check.").format(
        count=course.lesson_number(KEY) - 1))
    goals(GOALS)


def _idea() -> None:
    math_block(r"Y = \operatorname{concat}(A_1 V_1, \dots, A_M V_M)\, W_o,\qquad "
               r"A_m = \alpha\, A_m(X) + \beta\, A_m^{\mathrm{static}}")
    rows = synthesis_rows()
    st.table(_shown_table(rows), hide_index=True)  # a static table: its formulas wrap instead of being cut
    st.caption(_("Every operator of the course is a row: the registry names it and says how A is made; the other "
                 "columns are measured now on small random modules, in float64 with C = {channels} channels, "
                 "M = {heads} heads, k = {kernel}. Parameters are the aggregation's own: attention's W_q, W_k, W_v "
                 "sit in the 1 × 1 conv before it (3C², whatever the grid). Cost in N: how A's non-zero entries grow "
                 "when the grid's side doubles (N × 4). Tied to the grid: a module built for {small} × {small} "
                 "refuses {other} × {other}.").format(channels=CHANNELS, heads=HEADS, kernel=KERNEL, small=SIDE,
                                                      other=SIDE + 1))
    # Checked here, beside the table; the predict step's panel (the one the lesson records) repeats the verdict.
    verify_panel(table_checks(rows), _("every column the registry claims matches what the modules do"))


def _predict_and_reveal() -> None:
    st.markdown(_("The paper's case for a hybrid is that a static prior helps when attention alone must learn where "
                  "to look. This project's sweep trained every variant on {small:,}, 6,000 and {large:,} "
                  "Fashion-MNIST images, three seeds each.").format(small=SMALLEST, large=LARGEST))
    choice = PREDICTION.ask(KEY)
    if not revealed(KEY, choice):
        return
    runs = sweep_runs()
    cells = summary(runs)
    measured = hybrid_against_baseline(cells, SMALLEST)
    if runs:
        figure = sweep_accuracy_figure(runs, _("Test accuracy against training-set size (mean ± std over seeds)"))
        figure.update_layout(height=320)  # the step, Verify panel included, stays within one screen and a half
        show_figure(figure, key="paper_fig_sweep")
    checks = []
    if measured is None:
        st.info(_("The data-size sweep has not finished enough runs yet (`python -m container_edu sweep run`)."))
    else:
        hybrid, baseline = cells[(HYBRID, SMALLEST)], cells[(BASELINE, SMALLEST)]
        st.caption(_("At {small:,} images: Container {hybrid:.2f} ± {hybrid_std:.2f} %, attention {baseline:.2f} ± "
                     "{baseline_std:.2f} % (mean ± std over {n} seeds, from the package's sweep results).").format(
            small=SMALLEST, hybrid=hybrid["mean"], hybrid_std=hybrid["std"], baseline=baseline["mean"],
            baseline_std=baseline["std"], n=min(hybrid["n"], baseline["n"])))
        checks.append(check_prediction(choice, measured))
    table = table_checks(synthesis_rows())
    failed = [check.claim for check in table if not check.passed]
    checks.append(check_true(_("the synthesis table's columns match their measurements (step 2)"), not failed,
                             _("all {count} columns agree").format(count=len(table)) if not failed
                             else _("disagree: {kinds}").format(kinds=", ".join(failed))))
    verify_panel(checks, _("the sweep answers the prediction, and every column of the table matches its measurement"),
                 lesson=KEY)


def _convergence(cards: dict) -> tuple[int, int, float] | None:
    """Epochs the hybrid and pure attention took to reach attention's final validation accuracy (one seed each)."""
    hybrid, baseline = cards.get(f"fmnist_{HYBRID}"), cards.get(f"fmnist_{BASELINE}")
    if hybrid is None or baseline is None or not hybrid.history or not baseline.history:
        return None
    target = baseline.history[-1].get("val_accuracy")
    if target is None:
        return None
    reached = [entry["epoch"] for entry in hybrid.history if (entry.get("val_accuracy") or 0) >= target]
    return (reached[0] if reached else None), baseline.history[-1]["epoch"], target


def evidence_rows() -> list[dict]:
    """The paper's figures (as reported) beside what the package's results say; English keys."""
    cells = summary(sweep_runs())
    cards = {name: card for name, card in bundled_cards().items() if not is_sweep_model(card)}
    untested = _("not tested here")
    hybrid, baseline = cells.get((HYBRID, LARGEST)), cells.get((BASELINE, LARGEST))
    if hybrid and baseline:
        ahead = hybrid_against_baseline(cells, LARGEST) == HYBRID_AHEAD
        accuracy = (_("sweep, {large:,} Fashion-MNIST images, {n} seeds: Container {hybrid:.2f} %, attention "
                      "{baseline:.2f} % ({gap:+.2f} points)").format(
            large=LARGEST, n=min(hybrid["n"], baseline["n"]), hybrid=hybrid["mean"], baseline=baseline["mean"],
            gap=hybrid["mean"] - baseline["mean"]), _("same direction, on a toy") if ahead else _("not reproduced"))
    else:
        accuracy = (_("the sweep has no full-size runs"), untested)
    converged = _convergence(cards)
    if converged is None:
        speed = (_("no bundled zoo models to compare"), untested)
    else:
        hybrid_epoch, baseline_epoch, target = converged
        sooner = hybrid_epoch is not None and hybrid_epoch < baseline_epoch
        speed = (_("zoo, one seed each: Container reached attention's final validation accuracy ({target:.2f} %, "
                    "epoch {baseline_epoch}) at epoch {hybrid_epoch}").format(
            target=target, baseline_epoch=baseline_epoch, hybrid_epoch=hybrid_epoch if hybrid_epoch else "—"),
            _("same direction, one seed") if sooner else _("not reproduced"))
    here = {
        "imagenet_top1": accuracy,
        "imagenet_200_epochs": speed,
        "light_imagenet": (_("not measured: it needs ImageNet's 50,000 validation images, which the project does "
                             "not ship"), untested),
        "light_detection": (_("not measured: this project trains no detector"), untested),
    }
    return [{"key": figure.key, "model": figure.model, "task": figure.task, "reported by the authors": figure,
             "this project": here[figure.key][0], "reproduced?": here[figure.key][1]} for figure in REPORTED]


def _evidence() -> None:
    st.markdown(_("**The paper's evidence, as the authors report it**, beside what this project's zoo and sweep "
                  "say. Nothing in the third column was measured here."))
    rows = evidence_rows()
    # A static table: the cells are sentences, which it wraps (a data grid would cut them).
    st.table(pd.DataFrame([[_(row["model"]), _(row["task"]), row["reported by the authors"].text(_),
                            row["this project"], row["reproduced?"]] for row in rows],
                          columns=[_("model"), _("task"), _("reported by the authors"), _("this project"),
                                   _("reproduced here?")]), hide_index=True)
    cards = [card for card in bundled_cards().values() if not is_sweep_model(card)]
    sizes = [card.parameter_count for card in cards]
    scale = (_("{smallest:.2f}–{largest:.2f} M parameters").format(smallest=min(sizes) / 1e6,
                                                                    largest=max(sizes) / 1e6)
             if sizes else _("small models"))
    top1 = reported("imagenet_top1").values
    st.caption(_("Why so little carries over: this project's images are 28 × 28 grayscale with 10 classes, its "
                 "models have {scale}, and its mixed stage sees a 7 × 7 grid; the paper trains {parameters} M "
                 "parameters on ImageNet's 224 × 224 colour images in 1,000 classes. A toy can agree in direction; "
                 "it cannot confirm or refute a size of effect measured at that scale.").format(
        scale=scale, parameters=top1["parameters"]))


def _check() -> None:
    quiz(KEY, QUESTIONS)
    st.markdown("**{}**\n".format(_("What you should now be able to explain")) +
                "\n".join(f"- {_(item)}" for item in EXPLAIN))


def _inventory() -> None:
    render_inventory("post")


STEPS = (
    Step("why", N_("Why it matters"), _why),
    Step("idea", N_("One table for every operator"), _idea),
    Step("predict", N_("Predict, then see"), _predict_and_reveal),
    Step("evidence", N_("The paper's evidence"), _evidence),
    Step("check", N_("Check your understanding"), _check),
    Step("inventory", N_("Concept check, again"), _inventory),
)


def render() -> None:
    """Every step, one after another (the notebook and the worksheet; the page shows one step at a time)."""
    for step in STEPS:
        step.draw()
