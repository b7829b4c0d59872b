"""The three lessons split in two (conv | shift, cost | reach, trained | zoo): their own predictions and checks (the
lesson numbers their texts name are checked in ``test_lesson_order``). Shared helpers come from ``test_lessons``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from test_lessons import assert_verified, go_to_step, make_right_prediction, open_lesson, open_revealed  # noqa: E402


def test_conv_row_prediction_follows_the_query():
    at = open_lesson("conv", "predict")
    at.slider(key="conv_qy").set_value(4)
    at.slider(key="conv_qx").set_value(4)
    at.radio(key="conv_row_prediction").set_value("all k² kernel elements")
    at.run()
    assert_verified(at)  # an interior query keeps every tap
    at.slider(key="conv_qx").set_value(0).run()
    assert any(e.value.startswith("Not verified: your prediction") for e in at.error)


def test_reach_lesson_measures_the_receptive_field():
    from app.lessons.reach import layers_to_see_everything, reach_per_layer

    assert reach_per_layer(9, 3, (4, 4), 2) == [9, 25]  # the window grows by k − 1 per layer, away from the border
    assert layers_to_see_everything(14, 3) == 13 and layers_to_see_everything(56, 5) == 28
    at = open_revealed("reach")
    at.select_slider(key="reach_side").set_value(28).run()
    assert_verified(at)
    claims = list(at.dataframe[-1].value["claim"])
    assert any("every entry of A(X) > 0" in claim for claim in claims)


def test_reach_hides_the_layer_count_and_the_stage_table_until_predicted():
    from app.lessons.reach import PREDICT_KERNEL, PREDICT_SIDE, layers_to_see_everything

    at = open_lesson("reach", "predict")
    assert not at.get("plotly_chart") and not at.dataframe
    go_to_step(at, "reach", "stages")
    assert not at.dataframe and any(i.value.startswith("Make the prediction first") for i in at.info)
    go_to_step(at, "reach", "predict")
    right = make_right_prediction(at, "reach")
    assert right.split(",")[0] == str(layers_to_see_everything(PREDICT_SIDE, PREDICT_KERNEL))
    assert len(at.get("plotly_chart")) == 1
    assert any(c.value.startswith("The centre token sees the whole grid") for c in at.caption)
    go_to_step(at, "reach", "stages")
    stages = at.dataframe[0].value
    assert list(stages.iloc[:, 0]) == [1, 2, 3, 4]


def test_cost_counts_like_with_like_and_the_detection_grid():
    from app.lessons.parts.cost_compare import detection_stage1_grid, like_with_like
    from container_edu.ops.aggregation import DepthwiseConvAggregation, TokenMixing, count_parameters

    rows = {row["operator"].split(" ")[0]: row for row in like_with_like(49, 8, 2, 5)}
    assert rows["depthwise"]["affinity parameters"] == DepthwiseConvAggregation(8, 5).weight.numel()
    assert rows["multi-head"]["affinity parameters"] == 2 * count_parameters(TokenMixing(49))
    assert rows["attention"]["affinity entries per image"] == 2 * 49 * 49
    height, width = detection_stage1_grid()
    assert (height, width) == (800 // 4, 1333 // 4) and 66_000 < height * width < 68_000


def test_cost_memory_counts_what_each_operator_stores():
    from app.lessons.cost import CHANNELS, FLOAT_BYTES, HEADS, KERNEL, measure_costs

    rows, _ = measure_costs((7, 14))
    for row in rows:
        assert row.conv_bytes == CHANNELS * KERNEL**2 * FLOAT_BYTES  # the kernel, on any grid: A is never built
        assert row.attention_bytes == HEADS * row.tokens**2 * FLOAT_BYTES
        assert row.mixer_bytes == row.tokens**2 * FLOAT_BYTES
        assert row.output_bytes == CHANNELS * row.tokens * FLOAT_BYTES


def test_conv_against_attention_reads_the_intervals():
    from app.lessons.parts.data_size import ATTENTION_AHEAD, CONV_AHEAD, OVERLAP, conv_against_attention

    def cells(conv, attention):
        return {("conv", 1000): {"mean": conv[0], "std": conv[1], "n": 3},
                ("attention", 1000): {"mean": attention[0], "std": attention[1], "n": 3}}

    assert conv_against_attention(cells((84.0, 0.2), (83.0, 0.3)), 1000) == CONV_AHEAD
    assert conv_against_attention(cells((83.2, 0.3), (83.0, 0.3)), 1000) == OVERLAP
    assert conv_against_attention(cells((82.0, 0.2), (83.0, 0.3)), 1000) == ATTENTION_AHEAD
    assert conv_against_attention(cells((84.0, None), (83.0, 0.3)), 1000) is None  # one seed: no interval
    assert conv_against_attention({}, 1000) is None


def test_zoo_lesson_checks_the_data_size_prediction_against_the_sweep():
    from app.lessons.parts.data_size import PREDICTIONS, SMALLEST, conv_against_attention
    from container_edu.training.zoo_report import sweep_runs
    from container_edu.training.sweep_report import summary

    measured = conv_against_attention(summary(sweep_runs()), SMALLEST)
    if measured is None:
        pytest.skip("the sweep has fewer than two seeds of conv and attention at 1,000 images")
    at = open_lesson("zoo")
    assert not [c for c in at.get("plotly_chart") if c.key == "zoo_fig_sweep"]  # no figure before the prediction
    at.radio(key="zoo_data_prediction").set_value(measured).run()
    assert [c for c in at.get("plotly_chart") if c.key == "zoo_fig_sweep"]
    assert_verified(at)
    wrong = next(option for option in PREDICTIONS if option != measured)
    at.radio(key="zoo_data_prediction").set_value(wrong).run()
    assert any(e.value.startswith("Not verified: your prediction") for e in at.error)
