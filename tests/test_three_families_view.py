"""The "Three families" Analysis tab and lesson 12's step under AppTest: random weights said plainly, the
two-image check measured, the query moved, installed weights used (small random families imported into a weights
folder of the test's own), in English and Chinese.

The numbers the page shows are compared with the core's, computed here on a fresh forward pass.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from streamlit.testing.v1 import AppTest

from apptest_support import ANALYSIS, LESSONS_PAGE, assert_clean, figures_of, heatmaps, start
from lesson_support import open_lesson
from app import i18n
from app.families_view import CHECK_TITLE, NOTICE_RANDOM
from app.family_weights import button_key
from container_edu.analysis import families as fam
from container_edu.hub.families import family_preprocessing, import_family
from container_edu.hub.weights_store import DIR_ENV
from container_edu.models import create_model
from container_edu.record.families import record_family

TAB = "Three families"
DIFF = "max |row(img1) − row(img2)|"
#: Small configs with the real key names and grids (a few blocks, few channels): what tests install.
SMALL = {
    "deit_small": {"embed_dim": 48, "depth": 2, "num_heads": 3},
    "convnext_tiny": {"depths": (1, 1, 2, 1), "dims": (8, 16, 24, 32)},
    "mixer_b16": {"embed_dim": 32, "depth": 2},
}


@pytest.fixture
def no_families(monkeypatch, tmp_path, no_weights):
    """An empty weights folder: no family and no Container-Light installed, every model a random stand-in."""
    folder = tmp_path / "family_weights"
    folder.mkdir()
    monkeypatch.setenv(DIR_ENV, str(folder))
    return folder


@pytest.fixture
def small_families(monkeypatch, tmp_path, no_weights):
    """The three families installed (imported, as ``weights import`` does) with small random weights."""
    folder = tmp_path / "family_weights"
    folder.mkdir()
    for name, config in SMALL.items():
        torch.manual_seed(1)
        path = tmp_path / f"{name}.safetensors"
        save_file({key: value.contiguous() for key, value in create_model(name, **config).state_dict().items()},
                  str(path))
        import_family(path, name, folder, config=config)
    monkeypatch.setenv(DIR_ENV, str(folder))
    return folder


def open_tab(language: str = "en") -> AppTest:
    label = i18n.translations(language).gettext(TAB)
    return start(ANALYSIS, {"an_tab": label}, {"lang": language} if language != "en" else None)


def check_table(at: AppTest, language: str = "en"):
    gettext = i18n.translations(language).gettext
    assert any(m.value == f"**{gettext(CHECK_TITLE)}**" for m in at.markdown)
    for table in at.table:
        if gettext(DIFF) in table.value.columns:
            return table.value
    raise AssertionError("no two-image table on the tab")


def _row(table, model_label: str, part: str) -> float:
    rows = table[(table.iloc[:, 0] == model_label) & (table.iloc[:, 1] == part)]
    assert len(rows) == 1, (model_label, part, table)
    return float(rows.iloc[0][DIFF])


@pytest.mark.parametrize("language", ["en", "zh"])
def test_with_no_weights_the_tab_says_they_are_random_and_measures_which_rows_change(no_families, language):
    at = open_tab(language)
    gettext = i18n.translations(language).gettext
    notices = [w.value for w in at.warning]
    assert any(gettext(NOTICE_RANDOM) in notice for notice in notices), notices
    assert button_key("fam", "deit_small") in {button.key for button in at.button}  # how to get the real ones
    assert len(figures_of(at)) == 4
    table = check_table(at, language)
    assert len(table) == 6  # DeiT rows and [CLS] weights, ConvNeXt kernels, Mixer W₂W₁ and Jacobian, Container-Light
    if language == "en":
        assert _row(table, "ConvNeXt-Tiny (depthwise conv)", "kernel rows (every channel)") == 0.0
        assert _row(table, "MLP-Mixer-B/16 (token-mixing MLP)", "linear part W₂W₁") == 0.0
        assert _row(table, "DeiT-Small/16 (attention)", "head rows (every head)") > 0.0
        assert _row(table, "MLP-Mixer-B/16 (token-mixing MLP)", "Jacobian of channel 0") > 0.0


def test_a_shared_server_offers_the_commands_and_no_download_button(no_families, monkeypatch):
    from app import deployment

    monkeypatch.setenv(deployment.SHARED_ENV, "1")
    at = open_tab()
    assert any("administrator installs them once for everyone" in caption.value for caption in at.caption)
    assert any("weights fetch mixer_b16" in code.value for code in at.code)
    assert not [button for button in at.button if button.key and button.key.startswith("fam_fetch_")]


def test_the_download_button_installs_the_family_and_the_view_uses_it(no_families, monkeypatch, tmp_path):
    """The button runs the hub's fetch_family (here replaced by an import of small random weights into the same
    folder: the download itself is tested with the stand-in hub in tests/test_family_hub.py); after it the view
    loads the installed weights and no longer calls them random."""
    from container_edu.hub import families as hub_families

    torch.manual_seed(2)
    path = tmp_path / "deit.safetensors"
    save_file({k: v.contiguous() for k, v in create_model("deit_small", **SMALL["deit_small"]).state_dict().items()},
              str(path))
    asked = []

    def fetch(name, directory=None, **kwargs):
        asked.append(name)
        return import_family(path, name, no_families, config=SMALL[name])

    monkeypatch.setattr(hub_families, "fetch_family", fetch)
    at = open_tab()
    buttons = {button.key for button in at.button if button.key and button.key.startswith("fam_fetch_")}
    assert buttons == {button_key("fam", name) for name in ("deit_small", "convnext_tiny", "mixer_b16")}
    at.button(key=button_key("fam", "deit_small")).click().run()
    assert_clean(at)
    assert asked == ["deit_small"]
    assert any("Installed DeiT-Small/16 (attention) (sha256" in s.value for s in at.success)
    titles = [figure["layout"]["title"]["text"].replace("<br>", " ") for figure in figures_of(at)]
    assert any(title.startswith("DeiT") and "(installed weights)" in title for title in titles), titles
    assert button_key("fam", "deit_small") not in {button.key for button in at.button}


def test_moving_the_query_moves_every_models_rows(no_families):
    at = open_tab()
    y_key, x_key = "fam_qy_14x14", "fam_qx_14x14"
    assert (at.slider(key=y_key).value, at.slider(key=x_key).value) == (7, 7)
    at.slider(key=y_key).set_value(2).run()
    at.slider(key=x_key).set_value(11).run()
    assert_clean(at)
    titles = [figure["layout"]["title"]["text"].replace("<br>", " ") for figure in figures_of(at)]
    assert sum("query (2, 11) on 14×14" in title for title in titles) == 3, titles
    assert any("query (1, 5) on 7×7" in title for title in titles), titles  # Container-Light's coarser cell


def test_installed_families_are_used_and_the_page_shows_the_cores_rows(small_families):
    at = open_tab()
    notices = " ".join(w.value for w in at.warning)
    assert "Some weights are random" in notices and "DeiT" not in notices  # only Container-Light is a stand-in
    titles = [figure["layout"]["title"]["text"].replace("<br>", " ") for figure in figures_of(at)]
    assert sum("(installed weights)" in title for title in titles) == 3, titles
    # The DeiT maps equal the core's rows of the installed weights on the same photo and query.
    from app.analysis_views import sample_image
    from app.families_view import _photos
    from app.samples import list_samples
    from app.registry import preprocess
    from container_edu.hub.families import load_family

    model, card = load_family("deit_small", small_families)
    photo = sample_image(str(list_samples()[_photos()[0]].path))
    x, _ = preprocess(card.preprocessing, photo.image)
    assert card.preprocessing == family_preprocessing("deit_small")
    recording = record_family(model, x)
    block = at.selectbox(key="fam_block_deit_small").value
    expected = [recording[block].row((7, 7), head).numpy() for head in range(SMALL["deit_small"]["num_heads"])]
    deit = next(figure for figure in figures_of(at) if figure["layout"]["title"]["text"].startswith("DeiT"))
    shown = heatmaps(deit)
    assert len(shown) == len(expected)
    for got, want in zip(shown, expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    table = check_table(at)
    assert _row(table, "ConvNeXt-Tiny (depthwise conv)", "kernel rows (every channel)") == 0.0


def test_the_jacobian_channel_stays_inside_the_installed_mixers_channels(small_families):
    """A channel chosen for MLP-Mixer-B/16 (768 channels) is brought inside a smaller installed Mixer's 32."""
    at = start(ANALYSIS, {"an_tab": TAB, "fam_channel": 700})
    assert at.number_input(key="fam_channel").value == 31
    assert "Jacobian of channel 31" in set(check_table(at).iloc[:, 1])
    at.number_input(key="fam_channel").set_value(5).run()
    assert "Jacobian of channel 5" in set(check_table(at).iloc[:, 1])


@pytest.mark.parametrize("language", ["en", "zh"])
def test_lesson_12_says_what_the_view_would_show_without_weights(no_families, language):
    query = {"lesson": "measured", "step": str(_step_number("families"))} | ({"lang": "zh"} if language == "zh" else {})
    at = start(LESSONS_PAGE, query=query)
    gettext = i18n.translations(language).gettext
    assert at.segmented_control(key="measured_step").value == "families"  # the address opened this step
    infos = " ".join(info.value for info in at.info)
    assert {"en": "The trained weights are not installed here", "zh": "这里没有安装训练好的权重"}[language] in infos
    assert not at.table  # nothing run without the weights
    assert any(button.label == gettext("Open the Three families view (Analysis page)") for button in at.button)


def test_lesson_12_runs_the_check_when_weights_are_installed(small_families):
    at = open_lesson("measured", "families")
    assert_clean(at)
    assert any(DIFF in table.value.columns for table in at.table)


def _step_number(step_id: str) -> int:
    from app.lessons import measured

    return [step.id for step in measured.STEPS].index(step_id) + 1


def test_the_family_rows_keep_every_kernel_for_the_check_and_draw_six():
    model = create_model("convnext_tiny", **SMALL["convnext_tiny"]).eval()
    recording = record_family(model, torch.randn(1, 3, 224, 224))
    block = next(name for name in recording if name.startswith("stages.2."))
    rows = fam.depthwise_rows(block, recording[block].row((0, 13)), fam.strongest_channels(recording[block].weight),
                              (0, 13))
    assert rows.grid == (14, 14) and rows.part("kernel").rows.shape == (24, 14, 14) and len(rows.shown) == 6


def test_the_lessons_button_opens_the_view_on_the_analysis_page(no_families):
    at = start(LESSONS_PAGE, query={"lesson": "measured", "step": str(_step_number("families"))})
    at.button(key="measured_open_families").click().run()
    assert_clean(at)
    assert at.session_state["an_tab"] == TAB
    assert check_table(at) is not None  # the Three families tab is the one drawn


def test_installed_stand_in_weights_are_called_random(no_families):
    """Weights installed by the hub's install_random_family (their card's source is "random") are used, and the
    page says they are random, as for the models it builds itself."""
    from container_edu.hub.families import install_random_family

    for name, config in SMALL.items():
        install_random_family(name, no_families, config=config)
    at = open_tab()
    assert any(NOTICE_RANDOM in w.value for w in at.warning)
    deit = next(figure for figure in figures_of(at) if figure["layout"]["title"]["text"].startswith("DeiT"))
    assert "(random weights)" in deit["layout"]["title"]["text"].replace("<br>", " ")
    assert len(heatmaps(deit)) == SMALL["deit_small"]["num_heads"]  # the installed file's model, not a full DeiT
