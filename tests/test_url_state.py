"""Shareable state: the Image inspector, the Affinity explorer and the Blend page keep their view in the address.

Each test opens the app (entry point and navigation, as a browser does) with
query parameters set before the first run, as opening a shared link does,
and checks that the widgets show what the address says; then that changing
a widget changes the address; and that bad or stale parameters are ignored
with a note, never an exception.
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from test_app_pages import (  # noqa: F401 - the fixtures are used by name
    BLEND, ENTRY, EXPLORER, INSPECTOR, TIMEOUT, assert_clean, no_weights, texts, with_weights,
)

IGNORED = "were ignored"


def open_link(page: str, params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.switch_page(page)
    at.run()
    assert_clean(at)
    assert not at.error, texts(at.error)
    return at


def query_of(at: AppTest, prefix: str) -> tuple[int, int]:
    """The query sliders' values (their keys name the grid: ``insp_qy_7x7``)."""
    ys = [s.value for s in at.slider if (s.key or "").startswith(f"{prefix}_qy_")]
    xs = [s.value for s in at.slider if (s.key or "").startswith(f"{prefix}_qx_")]
    assert len(ys) == len(xs) == 1, (ys, xs)
    return ys[0], xs[0]


def notes(at: AppTest) -> str:
    return texts(c for c in at.caption if IGNORED in str(c.value))


# --------------------------------------------------------------------------
# Image inspector
# --------------------------------------------------------------------------


def test_inspector_link_restores_model_sample_block_head_and_query(with_weights):
    link = {"model": "fmnist_container", "sample": "photo_boot.png", "block": "blocks2.0", "head": "2",
            "qy": "1", "qx": "2"}
    at = open_link(INSPECTOR, link)
    assert at.session_state["model_key"].startswith("bundled:fmnist_container:")
    assert at.session_state["image_sample"] == "photo_boot.png"
    assert at.selectbox(key="insp_block").value == "blocks2.0"
    assert at.selectbox(key="insp_head").value == 2
    assert query_of(at, "insp") == (1, 2)
    assert not notes(at)
    assert {k: at.query_params[k] for k in link} == link  # the address still says what is shown


def test_inspector_widget_changes_update_the_address(with_weights):
    at = open_link(INSPECTOR, {})
    assert at.query_params["model"] == "fmnist_container_light"  # the default view is in the address too
    at.selectbox(key="insp_head").set_value(3).run()
    assert_clean(at)
    assert at.query_params["head"] == "3"
    at.selectbox(key="image_sample").set_value("checkerboard.png").run()
    assert at.query_params["sample"] == "checkerboard.png"
    assert at.query_params["head"] == "3", "a change elsewhere keeps the head"
    at.radio(key="image_source").set_value("Upload an image").run()
    assert_clean(at)
    assert "sample" not in at.query_params
    assert "cannot travel in a link" in texts(at.caption)


def test_inspector_ignores_bad_and_stale_parameters_with_a_note(with_weights):
    at = open_link(INSPECTOR, {"model": "no_such_model", "sample": "../../etc/passwd", "block": "blocks9.9",
                               "head": "two", "qy": "99", "qx": "-1"})
    said = notes(at)
    for name in ("model", "sample", "block", "head", "qy", "qx"):
        assert f"{name}=" in said, (name, said)
    # The defaults are shown and the address corrected to them.
    assert at.session_state["model_key"].startswith("bundled:fmnist_container_light:")
    assert at.query_params["model"] == "fmnist_container_light"
    assert at.query_params["block"] == at.selectbox(key="insp_block").value
    assert at.query_params["head"] == "0"
    at.run()
    assert not notes(at), "a note is shown once, for the address that was opened"


def test_a_head_beyond_the_blocks_count_is_stale(with_weights):
    at = open_link(INSPECTOR, {"model": "fmnist_container_light", "block": "blocks2.1", "head": "4"})
    assert "head=4" in notes(at)
    assert at.selectbox(key="insp_head").value == 0
