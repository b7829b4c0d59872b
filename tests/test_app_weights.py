"""The app and the authors' ImageNet weights (AppTest, no internet): the offer, the button, the picker, the notes.

``CONTAINER_EDU_WEIGHTS_DIR`` (the weights store) and ``CONTAINER_EDU_BUNDLED_DIR``
(the app's bundled cards) name fresh folders for each test (so no bundled
zoo weights and no installed ImageNet weights unless the test puts them
there) and ``CONTAINER_EDU_WEIGHTS_URL`` points the button at the local
stand-in of the authors' release (``tests/weights_server.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from apptest_support import INSPECTOR, assert_clean, assert_errors, figure_title, figures_of, texts
from apptest_support import start as start_app
from app.imagenet_weights import FETCH_BUTTON, PANEL_TITLE
from app.registry import BUNDLED_DIR_ENV, INSTALLED_LABEL
from container_edu.data.transforms import fashion_mnist_prepare
from container_edu.hub import weights_store as store

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(monkeypatch, tmp_path) -> Path:
    weights = tmp_path / "weights"
    weights.mkdir()
    (tmp_path / "bundled").mkdir()
    monkeypatch.setenv(store.DIR_ENV, str(weights))
    monkeypatch.setenv(BUNDLED_DIR_ENV, str(tmp_path / "bundled"))
    return weights


def start(page: str = INSPECTOR, sample: str | None = None) -> AppTest:
    return start_app(page, {"image_sample": sample} if sample else None)


def fetch_buttons(at: AppTest) -> dict[str, object]:
    return {button.key: button for button in at.button if button.label == FETCH_BUTTON}


def test_without_weights_the_inspector_offers_them_once(folder):
    at = start()
    assert set(fetch_buttons(at)) == {"inspector_fetch_imagenet_weights"}, "one offer per page"
    assert PANEL_TITLE not in texts(at.sidebar.markdown) and PANEL_TITLE in texts(at.main.markdown)
    offer = texts(at.main.caption)
    assert f"About {store.installed_size() / 2**20:.0f} MB once installed" in offer
    assert str(folder) in offer
    assert "python -m container_edu weights import PATH" in texts(at.code)
    assert all(code.proto.wrap_lines for code in at.code if "container_edu" in code.value), "the command shown whole"
    uploader_help = " ".join(u.proto.help for u in at.sidebar.get("file_uploader"))
    assert "about 80 MB" in uploader_help and "weights import PATH" in uploader_help, "no 20 MB upload for 80 MB"
    expected_device = "GPU" if torch.cuda.is_available() else "CPU"
    assert f"their inspections run on the {expected_device}" in texts(at.sidebar.caption)
    assert "The Lessons run on the CPU on purpose" in texts(at.sidebar.caption)
    assert INSTALLED_LABEL not in at.sidebar.selectbox(key="_model_picker").options


def test_the_button_installs_the_weights_and_makes_them_the_model(folder, server, monkeypatch):
    monkeypatch.setenv(store.URL_ENV, server.drive_url)  # behind the Drive-shaped confirmation page
    at = start()
    fetch_buttons(at)["inspector_fetch_imagenet_weights"].click().run()
    assert_clean(at)
    assert store.installed_card(folder) is not None
    assert "Installed the authors' ImageNet Container-Light" in texts(at.success)
    picker = at.sidebar.selectbox(key="_model_picker")
    assert picker.value.startswith("installed:container_light:")
    assert not fetch_buttons(at), "no offer once installed"
    assert "ImageNet weights: the authors' Container-Light is installed" in texts(at.sidebar.caption)
    titles = [figure_title(figure) for figure in figures_of(at)]
    assert any("Prediction" in title and "container_light, trained" in title for title in titles), titles


def test_a_failed_download_is_one_sentence_and_installs_nothing(folder, server, monkeypatch):
    monkeypatch.setenv(store.URL_ENV, server.url("/drive/quota?id=x"))
    at = start()
    fetch_buttons(at)["inspector_fetch_imagenet_weights"].click().run()
    assert_errors(at, "Too many users have viewed or downloaded this file recently")
    assert len(at.error) == 1
    assert "\n" not in at.error[0].value and "Traceback" not in at.error[0].value
    assert [path.name for path in folder.iterdir() if path.name != store.INSTALL_LOCK_FILE] == []  # the lock file stays, empty
    assert fetch_buttons(at), "the offer stays"


def test_installed_weights_are_listed_and_default_in_every_new_session(folder, release):
    store.import_checkpoint(release.checkpoint, folder)
    for _ in range(2):  # two sessions, each a fresh start of the script
        at = start()
        picker = at.sidebar.selectbox(key="_model_picker")
        assert picker.value.startswith("installed:container_light:")
        assert picker.options[0] == INSTALLED_LABEL
        assert "not measured here" in texts(at.sidebar.caption)
        assert not fetch_buttons(at)


def test_fashion_mnist_model_on_a_colour_photo_says_so(folder):
    at = start(sample="photo_sunset.jpg")
    notes = texts(at.info)
    assert "This model only knows Fashion-MNIST" in notes
    assert "in colour" in notes and "28×28 grey version" in notes
    assert "Get the ImageNet weights" in notes  # how to get them, since they are absent


def test_fashion_mnist_model_on_a_fashion_mnist_picture_has_no_note(folder):
    at = start(sample="fmnist_test0000_ankle_boot.png")
    assert "only knows Fashion-MNIST" not in texts(at.info)
    assert "Why so dark?" not in texts(at.caption)


def test_the_dark_28x28_view_of_a_photo_is_explained_with_its_share_of_black_pixels(folder):
    at = start(sample="photo_boot.png")
    note = next(c.value for c in at.caption if "Why so dark?" in c.value)
    picture = Image.open(REPO_ROOT / "container_edu" / "samples" / "photo_boot.png").convert("RGB")
    view, inverted = fashion_mnist_prepare(picture)
    assert inverted and "inverted" in note
    assert f"{100 * float((np.asarray(view) == 0).mean()):.0f}% of the 28×28 pixels" in note


# --------------------------------------------------------------------------
# Resolution: 224 / 320 / 448 for the ImageNet model, every block inspectable
# --------------------------------------------------------------------------


def chart_titles(at: AppTest) -> list[str]:
    return [figure_title(figure) for figure in figures_of(at)]


def prediction_bars(at: AppTest) -> list:
    for figure in figures_of(at):
        if figure_title(figure).startswith("Prediction"):
            return figure["data"][0]["y"]
    raise AssertionError("no prediction chart")


def test_input_size_changes_prediction_maps_and_cost_note(folder, release):
    store.import_checkpoint(release.checkpoint, folder)
    at = start(sample="photo_sunset.jpg")
    assert at.segmented_control(key="insp_input_size").value == 224
    assert any(t.startswith("What the model sees (224×224") for t in chart_titles(at))
    assert any("on the 7×7 grid" in t for t in chart_titles(at))
    assert "56×56, 28×28, 14×14, 7×7 token grids" in texts(at.caption)
    before = prediction_bars(at)

    at.segmented_control(key="insp_input_size").set_value(448).run()
    assert_clean(at)
    assert any(t.startswith("What the model sees (448×448") for t in chart_titles(at))
    assert any("on the 14×14 grid" in t for t in chart_titles(at))
    note = texts(at.caption)
    assert "112×112, 56×56, 28×28, 14×14 token grids" in note and "196 tokens" in note
    assert "4.0× the 224×224 input" in note
    assert prediction_bars(at) != before  # another input, another prediction

    at.segmented_control(key="insp_input_size").set_value(320).run()
    assert any("on the 10×10 grid" in t for t in chart_titles(at))


def test_the_imagenet_models_blocks_are_offered_and_inspectable_at_448(folder, release):
    """Every block is offered; two (a conv-only and a mixed one) are drawn here, every one is checked in the core
    (tests/test_weights_store.py::test_every_block_of_the_installed_model_gives_its_maps_at_448)."""
    store.import_checkpoint(release.checkpoint, folder)
    # Opened at 448 (the change of size is test_input_size_changes_prediction_maps_and_cost_note's): no 224 run.
    at = start_app(INSPECTOR, {"image_sample": "photo_shapes.jpg", "insp_input_size": 448})
    assert at.segmented_control(key="insp_input_size").value == 448
    blocks = at.selectbox(key="insp_block")
    assert len(blocks.options) == 3 + 4 + 8 + 3  # stages 1-3 (conv only) and stage 4
    for block, grid in (("blocks4.2", 14), ("blocks1.0", 112)):
        if at.selectbox(key="insp_block").value != block:
            at.selectbox(key="insp_block").set_value(block).run()
            assert_clean(at)
        assert any(f"Block {block}, head 0, query ({grid // 2}, {grid // 2}) on the {grid}×{grid} grid" in t
                   for t in chart_titles(at)), (block, chart_titles(at))


def test_fashion_mnist_models_have_no_input_size(folder):
    at = start()
    assert not at.segmented_control


def test_installed_imagenet_weights_come_first_and_bundled_models_stay_listed(folder, release, fake_weights_dir,
                                                                             monkeypatch):
    """The weights store (``$CONTAINER_EDU_WEIGHTS_DIR``) never hides the bundled zoo, and its ImageNet card is
    not taken for a Fashion-MNIST bundle."""
    from app import registry

    monkeypatch.setenv(BUNDLED_DIR_ENV, str(fake_weights_dir))
    store.import_checkpoint(release.checkpoint, folder)
    cards = registry.bundled_cards()
    assert "container_light" not in cards and "fmnist_container_light" in cards
    refs = registry.model_refs(cards, installed=registry.installed_refs())
    assert refs[0].source == "installed" and registry.default_ref(refs) is refs[0]
    assert [ref.name for ref in refs if ref.source == "bundled"] == sorted(
        (name for name in cards), key=registry._zoo_order)


def test_the_sidebar_button_works_on_any_page(folder, server, monkeypatch):
    monkeypatch.setenv(store.URL_ENV, server.url("/file/container_light.pth"))
    at = start("pages/1_Home.py")
    assert set(fetch_buttons(at)) == {"sidebar_fetch_imagenet_weights"}  # the home page has no panel of its own
    fetch_buttons(at)["sidebar_fetch_imagenet_weights"].click().run()
    assert_clean(at)
    assert "Installed the authors' ImageNet Container-Light" in texts(at.sidebar.success)
    assert store.installed_card(folder) is not None and not fetch_buttons(at)
