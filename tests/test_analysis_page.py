"""The Analysis page (``pages/7_Analysis.py``) under ``streamlit.testing.v1.AppTest``: every tab, its numbers, its widgets.

What the page shows is compared with the core's measures computed here on a
fresh forward pass (the page goes through the app's caches and slim records).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from apptest_support import ANALYSIS, assert_clean, figure_titled, figures_of, heatmaps, values
from apptest_support import start as start_app
from app import registry
from app.samples import list_samples
from container_edu import analysis as an
from container_edu import load_pretrained, record_affinities
from container_edu.data.images import load_image
from container_edu.figures import colors

TABS = ["Same query, two images", "Head gallery", "Rollout"]


def start(tab: str | None = None, model: str | None = None, weights: Path | None = None) -> AppTest:
    session = {}
    if model is not None:
        session["model_key"] = registry.bundled_ref(model, registry.bundled_cards(weights)[model]).key
    if tab is not None:
        session["an_tab"] = tab
    return start_app(ANALYSIS, session)


def table_with(at: AppTest, column: str):
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no table with a column {column!r}")


def recorded(weights: Path, model_name: str, sample_index: int):
    """The model's records on a sample, computed here: bundled weights, the app's preprocessing, one forward pass."""
    model = load_pretrained(model_name, weights_dir=weights).eval()
    x, _ = registry.preprocess(registry.bundled_cards(weights)[model_name], load_image(list_samples()[sample_index].path))
    with torch.no_grad(), record_affinities() as recorder:
        model(x)
    return model, dict(recorder)


# --------------------------------------------------------------------------
# Every tab
# --------------------------------------------------------------------------


@pytest.mark.parametrize("weights", ["no_weights", "with_weights"])
def test_every_tab_renders_without_an_exception(weights, request):
    request.getfixturevalue(weights)
    at = start()
    assert [t.value for t in at.title] == ["Analysis"]
    for tab in TABS:
        at.session_state["an_tab"] = tab
        at.run()
        assert_clean(at)
        assert figures_of(at), f"the {tab!r} tab draws a figure"


def test_only_the_open_tab_runs():
    at = start(TABS[2])
    assert not any(frame.value.columns[0] == "block" for frame in at.dataframe)  # the gallery did not run
    assert any("What this is and is not" in m.value for m in at.markdown)


# --------------------------------------------------------------------------
# Same query, two images
# --------------------------------------------------------------------------


def test_static_rows_are_identical_and_attention_rows_differ_on_two_images(with_weights):
    at = start()
    table = table_with(at, "verdict").set_index("affinity")
    assert list(table.index) == ["attention", "static", "blended"]
    assert table.loc["static", "max |A − B|, all heads/channels"] == 0.0
    assert table.loc["static", "verdict"] == "identical (difference exactly 0)"
    assert table.loc["attention", "max |A − B|, this head"] > 1e-4
    assert table.loc["attention", "verdict"] == "differs: depends on the image"
    # The page's rows are the model's own: recomputed here for the two default samples (indices 0 and 1).
    _, first = recorded(with_weights, "fmnist_container_light", 0)
    _, second = recorded(with_weights, "fmnist_container_light", 1)
    row_a = first["blocks2.1"].attention[0, 0, 3 * 7 + 3].double().numpy()
    row_b = second["blocks2.1"].attention[0, 0, 3 * 7 + 3].double().numpy()
    assert table.loc["attention", "max |A − B|, this head"] == pytest.approx(np.abs(row_a - row_b).max(), rel=1e-6)
    np.testing.assert_allclose(heatmaps(figure_titled(at, r"^Image A: block blocks2\.1, head 0"))[0].ravel(), row_a,
                               rtol=1e-6, atol=1e-9)
    difference = heatmaps(figure_titled(at, r"^Difference A − B"))
    assert np.all(difference[1] == 0) and np.abs(difference[0]).max() > 1e-4


def test_the_same_image_twice_gives_zero_everywhere_and_says_so(with_weights):
    at = start()
    at.selectbox(key="an_image_b").set_value(at.selectbox(key="an_image_a").value).run()
    assert_clean(at)
    table = table_with(at, "verdict")
    assert (table["max |A − B|, all heads/channels"] == 0).all()
    assert any("same picture" in info.value for info in at.info)


def test_head_and_query_widgets_update_the_comparison(with_weights):
    at = start()
    before = table_with(at, "verdict")["max |A − B|, this head"].tolist()
    at.selectbox(key="an_pair_head").set_value(2).run()
    at.slider(key="an_pair_qy_7x7").set_value(1).run()
    at.slider(key="an_pair_qx_7x7").set_value(5).run()
    assert_clean(at)
    figure_titled(at, r"^Image A: block blocks2\.1, head 2, query \(1, 5\) = token 12")
    assert table_with(at, "verdict")["max |A − B|, this head"].tolist() != before


def test_choosing_upload_without_a_file_asks_for_one():
    at = start()
    at.selectbox(key="an_image_b").set_value("__upload__").run()
    assert_clean(at)
    assert any("Upload a picture" in info.value for info in at.info)


# --------------------------------------------------------------------------
# Head gallery
# --------------------------------------------------------------------------


def test_gallery_table_and_scatter_match_the_core_over_the_stated_images(with_weights):
    at = start(TABS[1])
    text = " ".join(m.value for m in at.markdown)
    count = int(re.search(r"averaged over \*\*(\d+) images\*\*", text).group(1))
    table = table_with(at, "attention distance (tokens)")
    assert list(zip(table["block"], table["head"])) == [(b, m) for b in ("blocks2.0", "blocks2.1") for m in range(4)]
    threshold = an.uniform_kernel_distance(5)
    assert f"{threshold:.3f} tokens" in text
    for _, row in table.iterrows():
        assert row["label"] == (an.LOCAL if row["attention distance (tokens)"] <= threshold else an.GLOBAL)
    # The same measures, computed here over the same images.
    from app.analysis_views import gallery_image_set

    image_set = gallery_image_set(registry.bundled_cards()["fmnist_container_light"])
    assert image_set.x.shape[0] == count
    if "Fashion-MNIST test split" in text:
        assert count == 200
    else:
        assert count == len(list_samples()) and "bundled sample images" in text
    model = load_pretrained("fmnist_container_light", weights_dir=with_weights).eval()
    expected = an.head_gallery(model, [image_set.x])
    np.testing.assert_allclose(table["attention distance (tokens)"], [h.attention_distance for h in expected.heads],
                               rtol=1e-6)
    np.testing.assert_allclose(table["static distance (tokens)"], [h.static_distance for h in expected.heads],
                               rtol=1e-9)
    scatter = figure_titled(at, r"^Heads of fmnist_container_light")
    points = [t for t in scatter["data"] if t.get("name", "").endswith("attention heads")]
    assert np.concatenate([values(t["x"]) for t in points]).tolist() == pytest.approx(
        table["attention distance (tokens)"].tolist())
    assert [b.proto.label for b in at.get("download_button")] == ["Download the table (CSV)"]


def test_gallery_without_fashion_mnist_averages_over_the_samples_and_says_so(with_weights, monkeypatch, tmp_path):
    from container_edu.data.fashion_mnist import ENV_VAR

    monkeypatch.setenv(ENV_VAR, str(tmp_path / "no_dataset_here"))
    at = start(TABS[1])
    text = " ".join(m.value for m in at.markdown)
    count = len(list_samples())
    assert f"averaged over **{count} images**: the {count} bundled sample images (the Fashion-MNIST files were not " \
        "found" in text


def test_gallery_of_a_conv_model_labels_its_kernels(with_weights):
    at = start(TABS[1], model="fmnist_conv", weights=with_weights)
    table = table_with(at, "attention distance (tokens)")
    assert set(table["label"]) == {an.KERNEL}
    assert table["attention distance (tokens)"].isna().all()
    assert table["static distance (tokens)"].notna().all()


def test_open_in_inspector_shows_the_chosen_head_there(with_weights):
    at = start(TABS[1])
    at.selectbox(key="an_open_head").set_value("blocks2.0 · head 3").run()
    at.button(key="an_open").click().run()
    assert_clean(at)
    assert [t.value for t in at.title] == ["Image inspector"]
    assert at.selectbox(key="insp_block").value == "blocks2.0"
    assert at.selectbox(key="insp_head").value == 3


# --------------------------------------------------------------------------
# Rollout
# --------------------------------------------------------------------------


def test_rollout_rows_are_the_cores_and_follow_the_query(with_weights):
    at = start(TABS[2])
    figure = figure_titled(at, r"^Where the query \(3, 3\)")
    hybrid, attention, single = heatmaps(figure)
    _, records = recorded(with_weights, "fmnist_container_light", 0)
    np.testing.assert_allclose(hybrid.ravel(), an.stage_rollout(records, 24, "blended").numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(attention.ravel(), an.stage_rollout(records, 24, "attention").numpy(), rtol=1e-6,
                               atol=1e-9)
    np.testing.assert_allclose(single.ravel(), an.block_rollout_matrix(records["blocks2.1"])[24].numpy(), rtol=1e-6,
                               atol=1e-9)
    sums = table_with(at, "sum of the row")["sum of the row"]
    assert sums.tolist() == pytest.approx([1.0, 1.0, 1.0], abs=1e-6)  # float32 attention rows sum to 1 within ~1e-7
    at.slider(key="an_roll_qy_7x7").set_value(0).run()
    at.selectbox(key="an_roll_block").set_value("blocks2.0").run()
    assert_clean(at)
    hybrid, _, single = heatmaps(figure_titled(at, r"^Where the query \(0, 3\)"))
    np.testing.assert_allclose(hybrid.ravel(), an.stage_rollout(records, 3, "blended").numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(single.ravel(), an.block_rollout_matrix(records["blocks2.0"])[3].numpy(), rtol=1e-6,
                               atol=1e-9)
    panel = " ".join(m.value for m in at.markdown)
    alpha, beta = records["blocks2.0"].alpha, records["blocks2.0"].beta
    assert f"blocks2.0: α = {alpha:.3f}, β = {beta:.3f}" in panel


def test_rollout_of_a_model_without_attention_says_so(with_weights):
    at = start(TABS[2], model="fmnist_conv", weights=with_weights)
    assert len(heatmaps(figure_titled(at, r"^Where the query"))) == 2  # hybrid (static) rollout and one block
    assert any("no attention" in info.value for info in at.info)


# --------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------


@pytest.mark.parametrize("tab", TABS)
def test_every_figure_saves_as_png_or_svg_with_a_named_file(with_weights, tab):
    at = start(tab)
    configs = [json.loads(element.proto.config) for element in at.get("plotly_chart")]
    assert configs and all(c["toImageButtonOptions"]["format"] == "png" for c in configs)
    assert all(c["toImageButtonOptions"]["filename"].startswith("fmnist_container_light") for c in configs)
    at.radio(key="an_export_format").set_value("SVG").run()
    assert_clean(at)
    configs = [json.loads(element.proto.config) for element in at.get("plotly_chart")]
    assert all(c["toImageButtonOptions"]["format"] == "svg" for c in configs)
    if tab != "Head gallery":  # maps: the file name carries the query, and the figure marks it
        assert all(re.search(r"_q\d+-\d+", c["toImageButtonOptions"]["filename"]) for c in configs)
        for figure in figures_of(at):
            assert any(t.get("marker", {}).get("color") == colors.QUERY_FILL for t in figure["data"] if t["type"] == "scatter")
