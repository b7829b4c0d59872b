"""The ``zoo`` lesson's data-size panel: does the static, local conv win when data is scarce? Read off the sweep.

The figure and every number come from the sweep's results file (``python -m container_edu sweep run``); the
learner predicts first, and the Verify row compares the prediction with what the file says.
"""

from __future__ import annotations

import streamlit as st

from app.figure_view import show_figure
from app.i18n import N_, _
from app.zoo import sweep_accuracy_figure
from container_edu.training.zoo_report import sweep_runs
from container_edu.training.sweep_report import blend_summary, summary

from app.lessons.parts.widgets import CheckResult, check_prediction, predict

SMALLEST = 1_000
LARGEST = 54_000
#: What the learner may predict for the smallest size: is conv ahead of attention beyond the spread over seeds?
CONV_AHEAD, OVERLAP, ATTENTION_AHEAD = (
    N_("conv ahead: the mean ± std intervals do not overlap"),
    N_("neither: the intervals overlap"),
    N_("attention ahead: the intervals do not overlap"),
)
PREDICTIONS = (CONV_AHEAD, OVERLAP, ATTENTION_AHEAD)
#: The progress record this second prediction is kept under: the lesson's own record holds its main prediction.
DATA_PREDICTION_RECORD = "zoo_data_size"


def conv_against_attention(cells: dict, size: int) -> str | None:
    """Which of :data:`PREDICTIONS` the sweep's results say at ``size`` (``None`` without two seeds of each)."""
    conv, attention = cells.get(("conv", size)), cells.get(("attention", size))
    if conv is None or attention is None or conv["std"] is None or attention["std"] is None:
        return None
    if conv["mean"] - conv["std"] > attention["mean"] + attention["std"]:
        return CONV_AHEAD
    if attention["mean"] - attention["std"] > conv["mean"] + conv["std"]:
        return ATTENTION_AHEAD
    return OVERLAP


def data_size_panel() -> CheckResult | None:
    """The sweep's accuracy against size, after the learner's prediction; returns the prediction's Verify row."""
    st.markdown("**{}**".format(_("With less data: does the static, local conv win?")))
    runs = sweep_runs()
    cells = summary(runs)
    measured = conv_against_attention(cells, SMALLEST)
    if measured is None:
        st.info(_("The data-size sweep has not finished enough runs yet (`python -m container_edu sweep run`)."))
        return None
    st.markdown(_("The argument for a static, local affinity is an inductive bias: it should need fewer images "
                  "than attention, which must learn where to look. The data-size sweep trained every variant on "
                  "{small:,}, 6,000 and {large:,} images, with several seeds each.").format(small=SMALLEST,
                                                                                           large=LARGEST))
    prediction = predict("zoo_data_prediction", _("Predict before the figure: with only {small:,} training images, how "
                                                  "do conv and attention compare?").format(small=SMALLEST),
                         PREDICTIONS, lesson=DATA_PREDICTION_RECORD)
    if prediction is None:
        st.info(_("Make your prediction to see the sweep; the Verify panel below then checks it."))
        return None
    show_figure(sweep_accuracy_figure(runs, _("Test accuracy against training-set size (mean ± std over seeds)")),
                key="zoo_fig_sweep")
    conv, attention = cells[("conv", SMALLEST)], cells[("attention", SMALLEST)]
    st.caption(_("At {small:,} images: conv {conv:.2f} ± {conv_std:.2f}%, attention {attention:.2f} ± "
                 "{attention_std:.2f}% (mean ± std over {n} seeds).").format(
        small=SMALLEST, conv=conv["mean"], conv_std=conv["std"], attention=attention["mean"],
        attention_std=attention["std"], n=min(conv["n"], attention["n"])))
    blends = blend_summary(runs)
    small, large = blends.get(("container_light", SMALLEST, "blocks2.0")), blends.get(
        ("container_light", LARGEST, "blocks2.0"))
    if small is not None and large is not None:
        st.caption(_("Container-Light's learned α in blocks2.0 (the weight of attention): {small_alpha:.2f} after "
                     "{small:,} images, {large_alpha:.2f} after {large:,}. The Model zoo page plots every block's "
                     "blend against size.").format(small_alpha=small["alpha"], small=SMALLEST,
                                                   large_alpha=large["alpha"], large=LARGEST))
    st.caption(_("What this cannot show: one dataset, small models, 28 × 28 inputs and three seeds. It says nothing "
                 "about ImageNet-scale Containers, whose argument the paper makes on ImageNet and COCO."))
    return check_prediction(prediction, measured)
