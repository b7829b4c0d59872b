"""Shareable state: the Image inspector, the Affinity explorer and the Blend page keep their view in the address.

Each test opens the app (entry point and navigation, as a browser does) with
query parameters set before the first run, as opening a shared link does,
and checks that the widgets show what the address says; then that changing
a widget changes the address; and that bad or stale parameters are ignored
with a note, never an exception.
"""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from apptest_support import ANALYSIS, BLEND, EXPLORER, INSPECTOR, assert_clean, figure_titled, open_link, start, texts

IGNORED = "were ignored"


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


def test_quick_key_presses_are_not_undone_by_an_address_the_browser_has_not_updated_yet(with_weights):
    at = open_link(INSPECTOR, {})
    slider = next(s.key for s in at.slider if s.key.startswith("insp_qx_"))
    start = at.slider(key=slider).value
    at.slider(key=slider).set_value(start + 1).run()
    assert at.query_params["qx"] == str(start + 1)
    # The second press's rerun starts from the address as it was before the first press's run rewrote it.
    at.query_params["qx"] = str(start)
    at.slider(key=slider).set_value(start + 2).run()
    assert_clean(at)
    assert at.slider(key=slider).value == start + 2
    assert at.query_params["qx"] == str(start + 2), "the address follows the final widget state"
    # A value the session never wrote is a link's: it still applies.
    at.query_params["qx"] = str(start - 1)
    at.run()
    assert at.slider(key=slider).value == start - 1


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


# --------------------------------------------------------------------------
# Affinity explorer
# --------------------------------------------------------------------------


def test_explorer_link_restores_operator_grid_heads_blend_seed_and_query(no_weights):
    link = {"op": "container", "h": "4", "w": "9", "c": "8", "heads": "2", "alpha": "0.3", "beta": "0.85",
            "seed": "17", "matrix": "1", "qy": "3", "qx": "8"}
    at = open_link(EXPLORER, link)
    assert at.selectbox(key="ex_operator").value == "container"
    assert (at.slider(key="ex_height").value, at.slider(key="ex_width").value) == (4, 9)
    assert at.select_slider(key="ex_channels").value == 8
    assert at.selectbox(key="ex_heads").value == 2
    assert at.slider(key="ex_alpha").value == 0.3 and at.slider(key="ex_beta").value == 0.85
    assert at.number_input(key="ex_seed").value == 17
    assert at.selectbox(key="ex_matrix").value == 1
    assert (at.slider(key="ex_qy").value, at.slider(key="ex_qx").value) == (3, 8)
    assert not notes(at)
    assert {k: at.query_params[k] for k in link} == link


def test_explorer_widget_changes_update_the_address(no_weights):
    at = open_link(EXPLORER, {})
    at.selectbox(key="ex_operator").set_value("container_light").run()
    at.slider(key="ex_alpha_light").set_value(0.8).run()
    at.slider(key="ex_width").set_value(5).run()
    assert_clean(at)
    assert at.query_params["op"] == "container_light"
    assert at.query_params["alpha"] == "0.8"
    assert at.query_params["w"] == "5"
    assert "beta" not in at.query_params, "Container-Light's β is 1 − α, not a setting"
    again = open_link(EXPLORER, dict(at.query_params))  # the address, opened in a new session, shows the same
    assert again.slider(key="ex_alpha_light").value == 0.8
    assert again.slider(key="ex_width").value == 5


def test_explorer_ignores_bad_parameters_with_a_note(no_weights):
    at = open_link(EXPLORER, {"op": "transformer", "h": "40", "c": "12", "heads": "3", "alpha": "nan",
                              "seed": "-5", "k": "4", "qx": "x"})
    said = notes(at)
    for name in ("op", "h", "c", "heads", "alpha", "seed", "k", "qx"):
        assert f"{name}=" in said, (name, said)
    assert at.selectbox(key="ex_operator").value == "attention"
    assert at.slider(key="ex_height").value == 5
    assert at.query_params["h"] == "5"


# --------------------------------------------------------------------------
# Blend
# --------------------------------------------------------------------------


def test_blend_link_restores_the_moved_blend_image_block_and_head(no_weights):
    link = {"model": "untrained:fmnist_container_light", "blend": "blocks2.0:0.9", "sample": "photo_shapes.jpg",
            "block": "blocks2.0", "head": "1", "qy": "2", "qx": "5"}
    at = open_link(BLEND, link)
    assert at.slider(key="blend_alpha_random:fmnist_container_light:0_blocks2.0").value == 0.9
    figure_titled(at, r"changed: blocks2\.0: α=0\.90, β=0\.10")
    assert at.session_state["image_sample"] == "photo_shapes.jpg"
    assert at.selectbox(key="blend_block").value == "blocks2.0"
    assert at.selectbox(key="blend_head").value == 1
    assert query_of(at, "blend") == (2, 5)
    assert not notes(at)
    assert {k: at.query_params[k] for k in link} == link


def test_blend_sliders_write_the_address_and_reset_clears_it(no_weights):
    at = open_link(BLEND, {"model": "untrained:fmnist_container"})
    at.slider(key="blend_beta_random:fmnist_container:0_blocks2.1").set_value(0.2).run()
    assert_clean(at)
    alpha = at.slider(key="blend_alpha_random:fmnist_container:0_blocks2.1").value
    assert at.query_params["blend"] == f"blocks2.1:{alpha:g}:0.2"
    again = open_link(BLEND, dict(at.query_params))
    assert again.slider(key="blend_beta_random:fmnist_container:0_blocks2.1").value == 0.2
    at.button(key="blend_reset").click().run()
    assert "blend" not in at.query_params


def test_blend_ignores_a_bad_blend_with_a_note(no_weights):
    at = open_link(BLEND, {"blend": "blocks7.0:0.5,blocks2.0:lots"})
    assert "blend=" in notes(at)
    figure_titled(at, r"changed: none yet")
    assert "blend" not in at.query_params


# --------------------------------------------------------------------------
# The Analysis page's "open in the Image inspector" gives a link to that view
# --------------------------------------------------------------------------


def test_open_in_inspector_gives_an_address_that_restores_the_head(with_weights):
    at = start(ANALYSIS, session={"an_tab": "Head gallery"},
               query={"model": "untrained:fmnist_container"})  # a random stand-in, named as such in the link
    at.selectbox(key="an_open_head").set_value("blocks2.0 · head 3").run()
    at.button(key="an_open").click().run()
    assert_clean(at)
    assert [t.value for t in at.title] == ["Image inspector"]
    link = dict(at.query_params)
    assert (link["model"], link["block"], link["head"]) == ("untrained:fmnist_container", "blocks2.0", "3")
    shared = open_link(INSPECTOR, link)  # someone else opens the address
    assert shared.session_state["model_key"] == "random:fmnist_container:0"
    assert shared.selectbox(key="insp_block").value == "blocks2.0"
    assert shared.selectbox(key="insp_head").value == 3
    assert not notes(shared)


def test_a_note_never_renders_the_links_text_as_markdown(no_weights):
    at = open_link(INSPECTOR, {"head": "`[click](http://example.com)`"})
    said = notes(at)
    assert "head=" in said and "](" not in said and "`[" not in said
