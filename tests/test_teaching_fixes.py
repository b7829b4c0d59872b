"""Teaching fixes from the review (issue 12, part 8), each checked where the app shows it.

- The Blend page reads α against 0.5 only for Container-Light (β = 1 − α); for the general Container (free α
  and β, static part a learned N x N matrix per head) it compares α with β, as measured on the model.
- A per-channel (conv) static part is shown per head as the mean of the head's conv kernels: the blended
  maps' titles and the download labels say so; a per-head static part (multi-head MLP) does not.
"""

from __future__ import annotations

import numpy as np

from test_app_pages import (  # noqa: F401 - the fixtures are used by name
    BLEND, INSPECTOR, figure_titled, no_weights, texts, values,
)
from test_url_state import open_link

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
    assert captions(at).count(f"{blocks[0]}: α") == 1


def test_blended_maps_say_the_conv_kernels_are_averaged_per_head(no_weights):
    light = open_link(BLEND, {"model": "untrained:fmnist_container_light", "head": "2"})
    figure_titled(light, r"Blended row .*conv kernels averaged over head 2's channels")
    container = open_link(BLEND, {"model": "untrained:fmnist_container"})
    title = figure_titled(container, r"Blended row")["layout"]["title"]["text"]
    assert AVERAGED not in title, "a multi-head MLP has one matrix per head: nothing is averaged"


def test_inspector_titles_and_downloads_say_the_conv_kernels_are_averaged(no_weights):
    at = open_link(INSPECTOR, {"model": "untrained:fmnist_container_light", "head": "1"})
    figure_titled(at, r"blended: .*conv kernels averaged over head 1's channels")  # the N×N matrix
    maps = figure_titled(at, r"Block blocks2\.1, head 1")
    subtitles = " ".join(a.get("text", "") for a in maps["layout"].get("annotations", []))
    assert "averaged over head 1's channels" in subtitles, subtitles
    labels = [button.label for button in at.get("download_button")]
    static_and_blended = [label for label in labels if label.startswith(("static", "blended"))]
    assert static_and_blended and all("head mean of conv kernels" in label for label in static_and_blended)
    assert not any("head mean" in label for label in labels if label.startswith("attention"))
    assert AVERAGED in captions(at)
    mlp = open_link(INSPECTOR, {"model": "untrained:fmnist_container"})
    assert not any("head mean" in button.label for button in mlp.get("download_button"))
