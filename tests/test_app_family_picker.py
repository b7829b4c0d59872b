"""The three ImageNet families in the app's model picker (AppTest, no internet).

Small random-weight families (the real key names, few blocks) are installed in a fresh weights folder
(``CONTAINER_EDU_WEIGHTS_DIR``) by the hub's ``install_random_family``, whose cards say the weights are random; one
test imports one through ``import_family`` instead (a card that does not say random). The Image inspector must
predict with each, draw its maps, follow block, head and query changes and say what a map leaves out (DeiT's class
token, with its measured share; Mixer's GELU); every other page must run with them installed, Blend and Analysis
leaving them out of their picker with a reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from apptest_support import (ANALYSIS, BLEND, EXPLORER, HOME, INSPECTOR, LESSONS_PAGE, ZOO, assert_clean,
                             figure_titled, heatmaps, texts)
from apptest_support import start as start_app
from app.registry import BUNDLED_DIR_ENV, FAMILY, family_refs
from app.session_keys import MODEL_KEY
from container_edu.data.transforms import preprocess
from container_edu.hub import families
from container_edu.hub import weights_store as store
from container_edu.models import FAMILY_MODELS, create_model
from container_edu.record.family_inspection import inspect_family

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = "photo_sunset.jpg"
#: Small configs (224 input as the cards say; few blocks and channels), as tests/test_family_hub.py's.
SMALL = {
    "deit_small": {"embed_dim": 48, "depth": 2, "num_heads": 3},
    "convnext_tiny": {"depths": (1, 1, 1, 1), "dims": (8, 16, 24, 32)},
    "mixer_b16": {"embed_dim": 32, "depth": 2},
}
#: Each family's last block (the inspector's default) and its grid at 224.
LAST = {"deit_small": ("blocks.1", (14, 14)), "convnext_tiny": ("stages.3.blocks.0", (7, 7)),
        "mixer_b16": ("blocks.1", (14, 14))}
FIRST = {"deit_small": ("blocks.0", (14, 14)), "convnext_tiny": ("stages.0.blocks.0", (56, 56)),
         "mixer_b16": ("blocks.0", (14, 14))}


@pytest.fixture
def folder(monkeypatch, tmp_path) -> Path:
    weights = tmp_path / "weights"
    weights.mkdir()
    (tmp_path / "bundled").mkdir()
    monkeypatch.setenv(store.DIR_ENV, str(weights))
    monkeypatch.setenv(BUNDLED_DIR_ENV, str(tmp_path / "bundled"))
    return weights


@pytest.fixture
def installed(folder) -> dict[str, str]:
    """The three families installed with random weights: name -> picker key."""
    for name in FAMILY_MODELS:
        families.install_random_family(name, folder, config=SMALL[name])
    return {ref.name: ref.key for ref in family_refs()}


def start(page: str, key: str | None = None):
    session = {"image_sample": SAMPLE}
    if key is not None:
        session[MODEL_KEY] = key
    return start_app(page, session)


def expected_inspection(name: str, folder: Path):
    """What the app should show, computed here from the installed files and the sample."""
    model, card = families.load_family(name, folder, device="cpu")
    image = Image.open(REPO_ROOT / "container_edu" / "samples" / SAMPLE)
    x, _ = preprocess(card, image)
    return inspect_family(model, x), card


def test_the_installed_families_are_in_the_picker_after_container_light_and_labelled_random(installed):
    at = start(INSPECTOR)
    options = at.sidebar.selectbox(key="_model_picker").options
    assert options[:3] == ["DeiT-Small/16 (attention) · untrained", "ConvNeXt-Tiny (depthwise conv) · untrained",
                           "MLP-Mixer-B/16 (token-mixing MLP) · untrained"]
    assert all(key.startswith(f"{FAMILY}:") for key in installed.values()) and len(installed) == 3
    assert not at.sidebar.selectbox(key="_model_picker").value.startswith(FAMILY), "the default stays Container's"


@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_the_inspector_predicts_and_draws_each_family(installed, folder, name):
    at = start(INSPECTOR, installed[name])
    assert at.sidebar.selectbox(key="_model_picker").value == installed[name]
    figure_titled(at, r"What the model sees \(224×224")
    prediction = figure_titled(at, rf"Prediction p\(class \| image\), top 5 .*{name}, untrained \(random weights\)")
    expected, card = expected_inspection(name, folder)
    top = int(expected.probabilities.argmax())
    assert f"{card.class_names[top]} ({top})" in list(prediction["data"][0]["y"]), "the prediction drawn is the model's"
    assert any("Untrained (random weights)" in w.value for w in at.main.warning), "the random-weights notice"
    assert "with random weights installed in the weights folder" in texts(at.sidebar.caption)
    assert at.main.get("segmented_control") == [] or all(
        s.label != "Input size" for s in at.main.get("segmented_control")), "no input-size choice: the card fixes it"

    block, grid = LAST[name]
    maps = figure_titled(at, rf"Block {re.escape(block)}, head 0, query")
    assert heatmaps(maps), "the map is drawn"
    # Another block, head and query: the page follows, without an exception or an error box.
    first, first_grid = FIRST[name]
    at.selectbox(key="insp_block").set_value(first).run()
    assert_clean(at)
    head = 2 if name == "deit_small" else 0
    if name == "deit_small":
        at.selectbox(key="insp_head").set_value(head).run()
    at.slider(key=f"insp_qy_{first_grid[0]}x{first_grid[1]}").set_value(1).run()
    at.slider(key=f"insp_qx_{first_grid[0]}x{first_grid[1]}").set_value(first_grid[1] - 1).run()
    assert_clean(at)
    moved = figure_titled(at, rf"Block {re.escape(first)}, head {head}, query \(1, {first_grid[1] - 1}\)")
    # The map drawn is the core's row of the adapted record (itself tested equal to record_family's).
    record = expected.records[first]
    query = (1, first_grid[1] - 1)
    row = record.attention_row(query)[head] if record.attention is not None else record.static_head_row(query)[head]
    drawn = heatmaps(moved)
    assert len(drawn) == 1 and drawn[0].shape == first_grid
    np.testing.assert_allclose(drawn[0].astype(float), row.double().numpy(), rtol=1e-4, atol=1e-6)
    notes = texts(at.main.info)
    if name == "deit_small":
        share = float(expected.records[first].prefix_share((1, 13))[head])
        assert f"query (1, 13) gives it {share:.1%} of head 2's attention" in notes, notes
        assert f"share the other {1 - share:.1%}" in notes
    elif name == "mixer_b16":
        assert "this map is its linear part W₂W₁" in notes and "not the exact map" in notes
    else:
        assert "class token" not in notes and "linear part" not in notes


def test_an_imported_family_is_not_marked_random(folder, tmp_path):
    torch.manual_seed(5)
    model = create_model("deit_small", **SMALL["deit_small"])
    path = tmp_path / "model.safetensors"
    save_file({key: value.contiguous() for key, value in model.state_dict().items()}, str(path))
    families.import_family(path, "deit_small", folder, config=SMALL["deit_small"])
    key = {ref.name: ref.key for ref in family_refs()}["deit_small"]
    at = start(INSPECTOR, key)
    assert at.sidebar.selectbox(key="_model_picker").options[0] == "DeiT-Small/16 (attention) · ImageNet"
    figure_titled(at, r"Prediction p\(class \| image\), top 5 .*deit_small, trained")
    assert not any("untrained" in w.value.lower() for w in at.main.warning)
    assert "as reported by its publishers, not measured here" in texts(at.sidebar.caption)


@pytest.mark.parametrize("page", [HOME, EXPLORER, ZOO, LESSONS_PAGE, "pages/8_Class_view.py"])
def test_pages_without_a_picker_run_with_a_family_chosen(installed, page):
    at = start(page, installed["deit_small"])
    assert_clean(at)


@pytest.mark.parametrize("page", [BLEND, ANALYSIS])
def test_blend_and_analysis_leave_the_families_out_and_keep_the_choice(installed, page):
    chosen = installed["mixer_b16"]
    at = start(page, chosen)  # clean: no exception, no error box
    picker = at.sidebar.selectbox(key="_model_picker")
    assert not any(key.startswith(f"{FAMILY}:") for key in picker.options)
    assert not picker.value.startswith(FAMILY)
    captions = texts(at.sidebar.caption)
    assert "Not offered on this page: DeiT-Small/16 (attention) · untrained" in captions
    assert "see them in the Image inspector" in captions
    assert at.session_state[MODEL_KEY] == chosen, "the choice made on the inspector is kept for it"
    at.switch_page(INSPECTOR).run()
    assert_clean(at)
    assert at.sidebar.selectbox(key="_model_picker").value == chosen
    figure_titled(at, r"Prediction .*mixer_b16")


@pytest.mark.parametrize("name", ["deit_small", "mixer_b16"])
def test_the_inspector_with_a_family_speaks_chinese(installed, name):
    from i18n_support import DEFAULT_ALLOW, rendered_texts, untranslated_english

    class_names = tuple(families.installed_families()[name].class_names)
    at = start_app(INSPECTOR, {"image_sample": SAMPLE, MODEL_KEY: installed[name]}, {"lang": "zh"})
    assert at.sidebar.selectbox(key="_model_picker").value == installed[name]
    assert any("图块" in info.value or "W₂W₁" in info.value for info in at.main.info), texts(at.main.info)
    for area in (at.main, at.sidebar):
        shown = rendered_texts(area)
        # ImageNet's class names stay English (as for Container-Light); the picture's file name is data.
        english = untranslated_english(shown, DEFAULT_ALLOW + class_names + (SAMPLE,))
        assert not english, english
    at.switch_page(BLEND).run()
    assert_clean(at)
    assert "本页不提供" in texts(at.sidebar.caption)


def test_a_link_names_an_installed_family(installed):
    at = start_app(INSPECTOR, {"image_sample": SAMPLE})
    at.sidebar.selectbox(key="_model_picker").set_value(installed["convnext_tiny"]).run()
    assert_clean(at)
    assert at.query_params["model"] == "convnext_tiny"
    assert "exists in this session only" not in texts(at.sidebar.caption)
    opened = start_app(INSPECTOR, query={"model": "convnext_tiny"})  # a new session opened from the link
    assert opened.sidebar.selectbox(key="_model_picker").value == installed["convnext_tiny"]
    on_blend = start_app(BLEND, query={"model": "deit_small"})  # left out there, kept for the inspector
    assert on_blend.session_state[MODEL_KEY] == installed["deit_small"]
    assert not on_blend.sidebar.selectbox(key="_model_picker").value.startswith(FAMILY)
