"""The "Three families" view's core: rows as plain data (container_edu.analysis.families), the two-image check, the
Mixer's measured gap, and the figures with their text alternative (container_edu.figures.families). No Streamlit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from container_edu import create_model, record_affinities
from container_edu.analysis import families as fam
from container_edu.figures.describe import describe
from container_edu.figures.families import MAX_PANELS, family_figure


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _attention(seed: int, heads: int = 6, grid=(14, 14)) -> fam.FamilyRows:
    logits = torch.from_numpy(_rng(seed).normal(size=(heads, 1 + grid[0] * grid[1])))
    row = torch.softmax(logits, dim=-1)
    return fam.attention_rows("blocks.5", row[:, 1:].reshape(heads, *grid), row[:, 0].tolist(), (3, 4))


def test_attention_rows_keep_the_class_token_weight_so_each_head_sums_to_one():
    rows = _attention(0)
    sums = rows.part("attention").rows.sum(axis=(1, 2)) + np.array(rows.class_weight)
    np.testing.assert_allclose(sums, 1.0, atol=1e-12)
    assert rows.grid == (14, 14) and rows.part("attention").dynamic and not rows.part("attention").signed


def test_the_two_image_check_finds_dynamic_rows_change_and_static_rows_are_exactly_equal():
    kernels = torch.randn(10, 1, 7, 7, dtype=torch.float64)
    from container_edu.ops.affinity import depthwise_conv_row

    static = depthwise_conv_row(kernels, 14, 14, 3 * 14 + 4)  # (C, H, W): the same weights on both images
    conv_a = fam.depthwise_rows("stages.2.blocks.4", static, fam.strongest_channels(kernels), (3, 4))
    conv_b = fam.depthwise_rows("stages.2.blocks.4", static.clone(), fam.strongest_channels(kernels), (3, 4))
    [kernel_change] = fam.row_changes(conv_a, conv_b)
    assert kernel_change.max_abs_diff == 0.0 and not kernel_change.changes and not kernel_change.dynamic
    changes = {c.part: c for c in fam.row_changes(_attention(0), _attention(1))}
    assert set(changes) == {"attention", "class_token"}
    first, second = _attention(0), _attention(1)
    expected = np.abs(first.part("attention").rows - second.part("attention").rows).max()
    assert changes["attention"].max_abs_diff == pytest.approx(expected) and changes["attention"].changes


def test_the_check_refuses_two_different_queries():
    with pytest.raises(ValueError, match="one model's block and query"):
        fam.row_changes(_attention(0), fam.attention_rows("blocks.5", torch.ones(6, 14, 14) / 197,
                                                          [1 / 197] * 6, (0, 0)))


def test_strongest_channels_are_the_kernels_of_largest_norm_in_channel_order():
    kernels = torch.zeros(12, 1, 7, 7)
    for channel, scale in ((9, 5.0), (2, 4.0), (7, 3.0)):
        kernels[channel, 0, 3, 3] = scale
    assert fam.strongest_channels(kernels, 3) == (2, 7, 9)


@pytest.mark.parametrize(("query", "grid", "cell"), [((0, 0), (7, 7), (0, 0)), ((13, 13), (7, 7), (6, 6)),
                                                      ((5, 9), (7, 7), (2, 4)), ((5, 9), (14, 14), (5, 9))])
def test_a_query_maps_to_the_coarse_cell_that_covers_its_patch(query, grid, cell):
    assert fam.coarse_query(query, grid) == cell


def test_the_mixer_gap_is_zero_where_gelu_acts_as_the_identity_and_measured_where_it_does_not():
    """J = W₂ diag(g) W₁ with g = GELU′(h): with g = 1 it is W₂W₁ exactly; with the real g it is not (checked
    against autograd through the real two-layer token MLP)."""
    torch.manual_seed(0)
    tokens, hidden = 16, 24
    w1, b1 = torch.randn(hidden, tokens, dtype=torch.float64) / 4, torch.randn(hidden, dtype=torch.float64)
    w2 = torch.randn(tokens, hidden, dtype=torch.float64) / 5
    linear = (w2 @ w1)[5].reshape(4, 4)
    same = fam.mixer_gap(linear, linear, torch.ones(hidden))
    assert same.max_abs == 0.0 and same.relative == 0.0 and (same.active, same.dead, same.mean_slope) == (1.0, 0.0, 1.0)

    x = torch.randn(tokens, dtype=torch.float64)

    def token_mlp(values: torch.Tensor) -> torch.Tensor:
        return w2 @ torch.nn.functional.gelu(w1 @ values + b1)

    jacobian = torch.autograd.functional.jacobian(token_mlp, x)[5].reshape(4, 4)
    gap = fam.mixer_gap(linear, jacobian)
    assert gap.max_abs == pytest.approx(float((jacobian - linear).abs().max()))
    assert gap.max_abs > 1e-3 * gap.scale, "a random GELU layer is not the identity: the gap must be measured"
    rows = fam.token_mixing_rows("blocks.6", linear, jacobian, 17, (1, 1))
    assert [p.part for p in rows.parts] == ["linear", "jacobian"]
    assert not rows.part("linear").dynamic and rows.part("jacobian").dynamic and rows.part("jacobian").index == (17,)


def test_container_rows_are_the_records_blended_rows_at_the_coarse_query():
    model = create_model("fmnist_container_light").eval()
    with torch.no_grad(), record_affinities() as recorder:
        model(torch.randn(1, 1, 28, 28))
    record = next(r for r in dict(recorder).values() if r.attention is not None)
    rows = fam.container_rows(record, (13, 0))
    cell = fam.coarse_query((13, 0), record.grid)
    np.testing.assert_allclose(rows.part("blended").rows, record.blended_row(cell).double().numpy())
    assert rows.query == cell and rows.blend == (float(record.alpha), float(record.beta))


def test_each_figure_has_one_colour_scale_and_a_text_alternative_with_what_the_maps_do_not_show():
    attention = family_figure(_attention(0), "DeiT")
    assert attention.layout.coloraxis.cmin == 0.0, "probabilities start at 0"
    assert {trace.coloraxis for trace in attention.data if trace.type == "heatmap"} == {"coloraxis"}
    text = describe(attention)
    assert "class token ([CLS])" in text.sentence and text.rows
    kernels = torch.randn(20, 1, 7, 7)
    from container_edu.ops.affinity import depthwise_conv_row

    conv = fam.depthwise_rows("stages.2.blocks.4", depthwise_conv_row(kernels, 14, 14, 0), (1, 2, 3), (0, 0))
    figure = family_figure(conv, "ConvNeXt")
    heatmaps = [trace for trace in figure.data if trace.type == "heatmap"]
    assert len(heatmaps) == 3 and figure.layout.coloraxis.cmin == -figure.layout.coloraxis.cmax
    assert "3 of the block's 20 channels" in describe(figure).sentence
    many = fam.attention_rows("b", torch.full((16, 7, 7), 1 / 50), [1 / 50] * 16, (0, 0))
    assert len([t for t in family_figure(many, "x").data if t.type == "heatmap"]) == MAX_PANELS
