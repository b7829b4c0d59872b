"""Every page of the Streamlit app, run headless with ``streamlit.testing.v1.AppTest``.

Each test runs the real entry point (``streamlit_app.py``, with its
navigation) and switches to a page, then changes widgets and checks what is
shown. ``CONTAINER_EDU_BUNDLED_DIR`` points the app either at an empty folder
(no bundled weights yet: random-weight stand-ins) or at a folder of small
bundles written by the core's ``write_bundle`` (see ``conftest.py``).
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from apptest_support import BLEND, EXPLORER, INSPECTOR, ZOO, assert_clean, assert_errors, figure_titled, start, texts, values
from container_edu.models import ZooConfig, ZooContainer, blend_parameters


# --------------------------------------------------------------------------
# Every page with its default widgets
# --------------------------------------------------------------------------


@pytest.mark.parametrize("page", [None, EXPLORER, INSPECTOR, BLEND, ZOO])
def test_every_page_runs_with_default_widgets(no_weights, page):
    at = start(page)  # no exception, no error box
    assert at.title, "every page has a title"
    # The shared sidebar: the device readout on every page.
    assert "Device:" in texts(at.sidebar.markdown)


def test_home_shows_the_three_affinities_and_follows_the_seed(no_weights):
    at = start()
    figure = figure_titled(at, r"Three affinity matrices")
    heatmaps = [trace for trace in figure["data"] if trace["type"] == "heatmap"]
    assert len(heatmaps) == 3
    assert all(trace["colorbar"]["title"]["text"] for trace in heatmaps), "every colour bar is titled"
    first = values(heatmaps[0]["z"])
    at.number_input(key="home_seed").set_value(3).run()
    assert_clean(at)
    assert not np.array_equal(values(figure_titled(at, r"Three affinity matrices")["data"][0]["z"]), first)


# --------------------------------------------------------------------------
# Affinity explorer
# --------------------------------------------------------------------------


def equivalence_text(at: AppTest) -> str:
    return texts(at.success)


def test_explorer_equivalence_check_passes_for_every_operator_on_a_non_square_grid(no_weights):
    at = start(EXPLORER)
    at.slider(key="ex_height").set_value(4).run()
    at.slider(key="ex_width").set_value(9).run()
    for operator in ("attention", "conv", "mixer", "multihead_mlp", "container", "container_light", "container_pam"):
        at.selectbox(key="ex_operator").set_value(operator).run()
        assert_clean(at)
        text = equivalence_text(at)
        assert "Equivalence check passed" in text, (operator, text)
        difference = float(re.search(r"= ([0-9.e+-]+) \(relative", text).group(1))
        relative = float(re.search(r"relative ([0-9.e+-]+);", text).group(1))
        assert relative <= 1e-5 and difference < 1e-4, operator


def test_explorer_heads_and_query_follow_the_widgets(no_weights):
    at = start(EXPLORER)
    at.select_slider(key="ex_channels").set_value(8).run()
    at.selectbox(key="ex_heads").set_value(2).run()
    at.selectbox(key="ex_matrix").set_value(1).run()
    at.slider(key="ex_qy").set_value(1).run()
    at.slider(key="ex_qx").set_value(5).run()
    assert_clean(at)
    row = figure_titled(at, r"Row i = 12 on the n_y×n_x grid: .*head 1, query \(1, 5\)")
    heat = next(t for t in row["data"] if t["type"] == "heatmap")
    assert values(heat["z"]).shape == (5, 7)  # the H x W grid
    every = figure_titled(at, r"Every head's N×N affinity")
    assert sum(t["type"] == "heatmap" for t in every["data"]) == 2  # one per head


def test_explorer_grid_shrinks_without_losing_the_query(no_weights):
    at = start(EXPLORER)
    at.slider(key="ex_qx").set_value(6).run()
    at.slider(key="ex_width").set_value(3).run()  # the query column 6 no longer exists
    assert_clean(at)
    assert at.slider(key="ex_qx").value == 2


# --------------------------------------------------------------------------
# Image inspector
# --------------------------------------------------------------------------


def png_bytes(size=(90, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_inspector_shows_a_prediction_for_a_sample_with_random_weights(no_weights):
    at = start(INSPECTOR)
    prediction = figure_titled(at, r"Prediction p\(class \| image\), top 5 .*untrained \(random weights\)")
    bars = prediction["data"][0]
    assert len(values(bars["y"])) == 5
    assert any("untrained" in w.value.lower() for w in at.warning)
    maps = figure_titled(at, r"Block blocks2\.1, head 0, query \(3, 3\)")
    assert sum(t["type"] == "heatmap" for t in maps["data"]) == 3  # attention, conv, blended


def test_inspector_with_bundled_weights_is_not_marked_untrained(with_weights):
    at = start(INSPECTOR)
    assert at.sidebar.selectbox(key="_model_picker").value.startswith("bundled:fmnist_container_light")
    figure_titled(at, r"Prediction .*fmnist_container_light, trained")
    assert not any("untrained" in w.value.lower() for w in at.main.warning)


def test_inspector_block_head_and_query_change_the_maps(no_weights):
    at = start(INSPECTOR)
    at.selectbox(key="insp_head").set_value(2).run()
    at.slider(key="insp_qy_7x7").set_value(1).run()
    at.slider(key="insp_qx_7x7").set_value(5).run()
    assert_clean(at)
    figure_titled(at, r"Block blocks2\.1, head 2, query \(1, 5\)")
    at.selectbox(key="insp_block").set_value("blocks1.0").run()  # a conv-only block on the 14 x 14 grid
    assert_clean(at)
    maps = figure_titled(at, r"Block blocks1\.0, head 0, query \(7, 7\) on the 14×14 grid")
    assert sum(t["type"] == "heatmap" for t in maps["data"]) == 1  # only the static (conv) map


def test_inspector_upload_of_a_good_image_is_inspected(no_weights):
    at = start(INSPECTOR)
    at.radio(key="image_source").set_value("Upload an image").run()
    at.file_uploader(key="image_upload").set_value(("red.png", png_bytes(), "image/png")).run()
    assert_clean(at)
    figure_titled(at, r"What the model sees \(28×28")


def test_inspector_bad_upload_shows_an_error_not_a_traceback(no_weights):
    at = start(INSPECTOR)
    at.radio(key="image_source").set_value("Upload an image").run()
    at.file_uploader(key="image_upload").set_value(("notes.png", b"just some text\n" * 10, "image/png")).run()
    assert_errors(at, "not an image")
    # The app keeps working afterwards.
    at.radio(key="image_source").set_value("Sample gallery").run()
    assert_clean(at)
    figure_titled(at, r"Prediction p\(class \| image\)")


def test_inspector_imagenet_architecture_with_random_weights(no_weights):
    at = start(INSPECTOR)
    at.sidebar.selectbox(key="_model_picker").set_value("random:container_light:0").run()
    assert_clean(at)
    figure_titled(at, r"What the model sees \(224×224")
    figure_titled(at, r"Block blocks4\.2, head 0")


def test_bad_checkpoint_path_and_upload_show_errors(no_weights, tmp_path):
    at = start(INSPECTOR)
    at.sidebar.text_input(key="checkpoint_path").set_value(str(tmp_path / "missing.pth"))  # in a form: sent on submit
    at.sidebar.button(key="checkpoint_load").click().run()
    assert_errors(at, "No file found")
    assert "No file found" in texts(at.sidebar.error)
    at.run()  # a rerun for anything else keeps the error in view
    assert_errors(at, "No file found")
    at.sidebar.file_uploader(key="checkpoint_upload").set_value(("broken.pth", b"\x80\x04garbage", "application/octet-stream")).run()
    assert_errors(at, "No file found", "is not a PyTorch checkpoint")
    figure_titled(at, r"Prediction p\(class \| image\)")  # the page still works


def test_a_load_click_survives_a_rerun_that_overtakes_its_run(no_weights, tmp_path, monkeypatch):
    """The browser test's lost click, made certain: another rerun starts before the click's run reaches the button.

    A busy server or a second widget can do that to a learner too; the button's True lasts one run only.
    """
    import streamlit as st

    from app import url_state

    at = start(INSPECTOR)
    at.sidebar.text_input(key="checkpoint_path").set_value(str(tmp_path / "missing.pth"))
    publish_model = url_state.publish_model
    overtaken = []

    def publish_then_rerun_once(ref):  # the sidebar calls it above the loader, in every run
        publish_model(ref)
        if not overtaken:
            overtaken.append(ref)
            st.rerun()

    monkeypatch.setattr(url_state, "publish_model", publish_then_rerun_once)
    at.sidebar.button(key="checkpoint_load").click().run()
    assert overtaken, "the click's run was not overtaken: this test checks nothing"
    assert_errors(at, "No file found at")


def test_a_good_checkpoint_path_is_loaded_once_and_picked(no_weights, tmp_path, monkeypatch):
    from safetensors.torch import save_file

    from app import caching, sidebar

    torch.manual_seed(5)
    model = ZooContainer(ZooConfig(mixing="conv"))
    path = tmp_path / "zoo_conv.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    loads = []
    load = caching.load_checkpoint_from_path

    def counted_load(text):
        loads.append(text)
        return load(text)

    monkeypatch.setattr(caching, "load_checkpoint_from_path", counted_load)
    at = start(INSPECTOR)
    at.sidebar.text_input(key="checkpoint_path").set_value(str(path))
    at.sidebar.button(key="checkpoint_load").click().run()
    assert_clean(at)
    assert not at.sidebar.error, texts(at.sidebar.error)
    assert at.session_state[sidebar.MODEL_KEY].startswith("checkpoint:")
    assert at.sidebar.selectbox(key="_model_picker").value == at.session_state[sidebar.MODEL_KEY]
    at.run()  # the handled request is gone: a later run does not load the file again
    assert loads == [str(path)]


def test_session_trained_models_are_offered_by_the_picker(no_weights):
    torch.manual_seed(1)
    model = ZooContainer(ZooConfig(mixing="container_light")).eval()
    history = [{"epoch": 1, "train_loss": 2.0, "train_accuracy": 30.0, "val_accuracy": 31.0, "test_accuracy": 29.0,
                "blend": {"blocks2.0": [0.55, 0.45], "blocks2.1": [0.6, 0.4]}, "seconds": 3.0}]
    trained = {"my_lesson_model": {"model": model, "history": history, "settings": {"mixing": "container_light"}}}
    at = start(INSPECTOR, session={"trained_models": trained})
    picker = at.sidebar.selectbox(key="_model_picker")
    assert "my_lesson_model · this session" in picker.options  # the labels shown
    picker.set_value("session:my_lesson_model").run()
    assert_clean(at)
    figure_titled(at, r"Prediction .*my_lesson_model, trained")
    at.switch_page(ZOO).run()
    assert_clean(at)
    assert at.dataframe[-1].value["model"].tolist() == ["my_lesson_model"]


# --------------------------------------------------------------------------
# Blend
# --------------------------------------------------------------------------


def test_blend_chart_has_one_bar_per_mixed_block_and_the_override_moves_the_prediction(no_weights):
    at = start(BLEND)
    bars = figure_titled(at, r"Learned blend per mixed block")
    expected = blend_parameters(ZooContainer(ZooConfig(mixing="container_light")))
    assert list(values(bars["data"][0]["x"])) == list(expected) == ["blocks2.0", "blocks2.1"]
    assert len(bars["data"]) == 1  # Container-Light: beta = 1 - alpha, one bar per block
    before = values(figure_titled(at, r"learned blend vs yours")["data"][1]["y"])
    at.slider(key="blend_alpha_random:fmnist_container_light:0_blocks2.0").set_value(0.95).run()
    assert_clean(at)
    comparison = figure_titled(at, r"changed: blocks2\.0: α=0\.95, β=0\.05")
    assert not np.allclose(values(comparison["data"][1]["y"]), before)
    figure_titled(at, r"Blended row .* block blocks2\.1")
    at.button(key="blend_reset").click().run()
    assert_clean(at)
    figure_titled(at, r"changed: none yet")


def test_blend_of_container_shows_alpha_and_beta(with_weights):
    at = start(BLEND)
    card = json.loads((with_weights / "fmnist_container.json").read_text())
    at.sidebar.selectbox(key="_model_picker").set_value(f"bundled:fmnist_container:{card['sha256'][:16]}").run()
    assert_clean(at)
    bars = figure_titled(at, r"α and β, learned independently")
    assert [trace["name"].split()[0] for trace in bars["data"]] == ["α", "β"]
    assert all(len(values(trace["x"])) == 2 for trace in bars["data"])


def test_blend_of_a_model_without_mixed_blocks_says_so(no_weights):
    at = start(BLEND)
    at.sidebar.selectbox(key="_model_picker").set_value("random:fmnist_conv:0").run()
    assert_clean(at)
    assert "no blended blocks" in texts(at.info)


# --------------------------------------------------------------------------
# Model zoo
# --------------------------------------------------------------------------


def test_zoo_without_weights_explains_the_random_stand_ins(no_weights):
    at = start(ZOO)
    assert "untrained (random weights)" in texts(at.info)


def test_zoo_shows_cards_side_by_side_with_histories(with_weights):
    at = start(ZOO)
    table = at.dataframe[0].value
    assert sorted(table["model"]) == ["fmnist_container", "fmnist_container_light", "fmnist_conv"]
    assert {"test accuracy (%)", "parameters", "final blend (α, β per mixed block)", "epochs", "wall time"} <= set(table.columns)
    accuracy = figure_titled(at, r"Accuracy per epoch")
    assert len(accuracy["data"]) == 6  # test and validation for three models
    blend = figure_titled(at, r"Learned blend of each mixed block per epoch: α")
    alphas = [trace for trace in blend["data"] if not trace["name"].endswith("· β")]
    assert len(alphas) == 4  # two mixed blocks of two blended models
    # β only where it is learned apart from α (Container), one per mixed block; Container-Light's is 1 − α
    assert sorted(t["name"] for t in blend["data"] if t["name"].endswith("· β")) == [
        "fmnist_container · blocks2.0 · β", "fmnist_container · blocks2.1 · β"]


def test_the_inspectors_matrix_tab_draws_one_matrix_at_full_width_and_switches():
    at = start(INSPECTOR)
    picker = at.radio(key="insp_matrix_part")
    keys = [chart.key for chart in at.get("plotly_chart") if (chart.key or "").startswith("insp_matrix_")]
    assert keys == [f"insp_matrix_{picker.value}"], keys
    parts = [part for part in ("attention", "static", "blended") if part != picker.value][:len(picker.options) - 1]
    assert parts
    for part in parts:
        at.radio(key="insp_matrix_part").set_value(part).run()
        assert_clean(at)
        keys = [chart.key for chart in at.get("plotly_chart") if (chart.key or "").startswith("insp_matrix_")]
        assert keys == [f"insp_matrix_{part}"]


def test_the_seen_pictures_text_alternative_names_the_size_the_model_sees_not_the_display_copy():
    at = start(INSPECTOR)
    seen = [c.value for c in at.caption if c.value.startswith("What the model sees")]
    assert seen and "28×28 pixels" in seen[0], seen  # the 28×28 input is drawn from a 224 px copy
