"""Teaching fixes from the review (issue 12, part 8), each checked where the app shows it.

- The Blend page reads α against 0.5 only for Container-Light (β = 1 − α); for the general Container (free α
  and β, static part a learned N x N matrix per head) it compares α with β, as measured on the model.
- A per-channel (conv) static part is shown per head as the mean of the head's conv kernels: the blended
  maps' titles and the download labels say so; a per-head static part (multi-head MLP) does not.
"""

from __future__ import annotations

import numpy as np

from apptest_support import BLEND, INSPECTOR, ZOO, figure_titled, open_link, start, texts, values

AVERAGED = "conv kernels averaged over head"


def captions(at) -> str:
    return texts(at.caption)


def test_blend_reading_guide_for_container_light_uses_the_half_line(no_weights):
    at = open_link(BLEND, {"model": "untrained:fmnist_container_light"})
    said = captions(at)
    assert "above 0.5 a block leans on attention" in said
    assert "learned N × N matrix" not in said


def test_blend_reading_guide_for_container_compares_alpha_with_beta(no_weights):
    at = open_link(BLEND, {"model": "untrained:fmnist_container"})
    said = captions(at)
    assert "above 0.5" not in said
    assert "learned N × N matrix" in said and "compare α with β" in said
    bars = figure_titled(at, r"α and β, learned independently")
    blocks = list(values(bars["data"][0]["x"]))
    alphas, betas = values(bars["data"][0]["y"]), values(bars["data"][1]["y"])
    for block, alpha, beta in zip(blocks, alphas, betas):
        sign = ">" if alpha > beta else ("<" if alpha < beta else "=")
        assert f"{block}: α {sign} β" in said, (block, alpha, beta, said)
    # The guide describes the learned blend (the bars), not the sliders.
    at.slider(key=f"blend_beta_random:fmnist_container:0_{blocks[0]}").set_value(
        float(np.clip(alphas[0] + 0.3, 0, 1))).run()
    # (the guide's captions: the figures' text alternatives below them quote the slider values in their titles)
    guide = " | ".join(c.value for c in at.caption if "compare α with β" in c.value)
    assert guide.count(f"{blocks[0]}: α") == 1


def test_blended_maps_say_the_conv_kernels_are_averaged_per_head(no_weights):
    light = open_link(BLEND, {"model": "untrained:fmnist_container_light", "head": "2"})
    figure_titled(light, r"Blended row .*conv kernels averaged over head 2's channels")
    container = open_link(BLEND, {"model": "untrained:fmnist_container"})
    title = figure_titled(container, r"Blended row")["layout"]["title"]["text"]
    assert AVERAGED not in title, "a multi-head MLP has one matrix per head: nothing is averaged"


def test_inspector_titles_and_downloads_say_the_conv_kernels_are_averaged(no_weights):
    at = open_link(INSPECTOR, {"model": "untrained:fmnist_container_light", "head": "1"})
    at.radio(key="insp_matrix_part").set_value("blended").run()  # the N×N tab draws one matrix at a time
    figure_titled(at, r"blended: .*conv kernels averaged over head 1's channels")  # the N×N matrix
    maps = figure_titled(at, r"Block blocks2\.1, head 1")
    subtitles = " ".join(a.get("text", "").replace("<br>", " ") for a in maps["layout"].get("annotations", []))
    assert "averaged over head 1's channels" in subtitles, subtitles
    labels = [button.label for button in at.get("download_button")]
    static_and_blended = [label for label in labels if label.startswith(("static", "blended"))]
    assert static_and_blended and all("head mean of conv kernels" in label for label in static_and_blended)
    assert not any("head mean" in label for label in labels if label.startswith("attention"))
    assert AVERAGED in captions(at)
    mlp = open_link(INSPECTOR, {"model": "untrained:fmnist_container"})
    assert not any("head mean" in button.label for button in mlp.get("download_button"))


# --------------------------------------------------------------------------
# The zoo's blend history plots β where it is free
# --------------------------------------------------------------------------


def test_blend_history_adds_beta_for_free_beta_models_only():
    from app.zoo import add_beta_lines
    from container_edu.training.zoo_report import free_beta
    from container_edu import figures

    assert free_beta("container") and not free_beta("container_light") and not free_beta("conv")
    assert not free_beta("no_such_variant")
    histories = {
        "c": [{"epoch": 1, "blend": {"b0": [0.5, 0.5]}}, {"epoch": 2, "blend": {"b0": [0.7, 0.9]}}],
        "light": [{"epoch": 1, "blend": {"b0": [0.5, 0.5]}}, {"epoch": 2, "blend": {"b0": [0.6, 0.4]}}],
    }
    fig = add_beta_lines(figures.history_blend(histories, "blend"), histories, ["c"])
    betas = [trace for trace in fig.data if trace.name.endswith("· β")]
    assert [trace.name for trace in betas] == ["c · b0 · β"]
    assert list(betas[0].y) == [0.5, 0.9] and list(betas[0].x) == [1, 2]
    alpha_line = next(trace for trace in fig.data if trace.name == "c · b0")
    assert betas[0].line.color == alpha_line.line.color and list(alpha_line.y) == [0.5, 0.7]


def test_zoo_page_plots_the_cards_beta_for_container(with_weights):
    import json

    at = start(ZOO)
    card = json.loads((with_weights / "fmnist_container.json").read_text())
    blend = figure_titled(at, r"Learned blend of each mixed block per epoch: α.*β \(dotted\)")
    for block in ("blocks2.0", "blocks2.1"):
        trace = next(t for t in blend["data"] if t["name"] == f"fmnist_container · {block} · β")
        assert list(values(trace["y"])) == [entry["blend"][block][1] for entry in card["history"]]


# --------------------------------------------------------------------------
# The zoo variant "mixer" is named for what it is
# --------------------------------------------------------------------------


def test_zoo_variant_mixer_is_called_a_multi_head_mlp():
    from app.zoo import stage_label
    from container_edu.ops.kinds import KINDS, for_variant

    assert for_variant("mixer").key == "multihead_mlp"  # the fact the label rests on
    assert stage_label("mixer") == "Multi-head MLP (zoo variant `mixer`)"
    assert stage_label("container") == KINDS["container"].label
    assert "MLP-Mixer" not in stage_label("mixer")


def test_zoo_page_names_the_mixed_stage_of_every_model(with_weights):
    from app.zoo import stage_label

    at = start(ZOO)
    table = at.dataframe[0].value
    assert list(table["mixed stage"]) == [stage_label(v) for v in table["variant"]]
    assert "multi-head MLP (zoo variant `mixer`" in texts(at.markdown)
