"""container_edu.figures: the app's figures as part of the core, usable without Streamlit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

import container_edu as ce
from container_edu import figures
from container_edu.ops import affinity
from container_edu.ops.kinds import KINDS

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_core_and_its_figures_import_without_streamlit_or_the_app():
    # A fresh interpreter: this test process has usually imported streamlit already (the app's tests).
    code = (
        "import json, sys\n"
        "import container_edu\n"
        "plotly_at_import = 'plotly' in sys.modules\n"
        "import container_edu.figures, container_edu.record.inspection, container_edu.record.api\n"
        "fig = container_edu.figures.affinity_matrix([[1.0, 0.0], [0.0, 1.0]], 'A', grid=(1, 2), colorbar_title='A')\n"
        "print(json.dumps({'plotly_at_import': plotly_at_import, 'loaded': sorted(sys.modules)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    loaded = report["loaded"]
    assert not [name for name in loaded if name == "streamlit" or name.startswith("streamlit.")]
    assert not [name for name in loaded if name == "app" or name.startswith("app.")]
    assert not report["plotly_at_import"], "import container_edu should not pay for Plotly before a figure is drawn"


def test_operator_comparison_titles_and_scales_each_kind_as_the_registry_says():
    torch.manual_seed(0)
    height, width, channels = 3, 4, 8
    qkv = torch.randn(1, 3 * channels, height, width)
    q, k, _ = (affinity.map_to_tokens(t) for t in qkv.chunk(3, dim=1))
    conv = ce.DepthwiseConvAggregation(channels, kernel_size=3)
    mixer = ce.TokenMixing(height * width)
    matrices = {"attention": affinity.attention(q, k, 2)[0, 0], "conv": conv.affinity(qkv[:, 2 * channels:])[0],
                "mixer": mixer.weight[0]}  # a parameter: the figure detaches it
    fig = figures.operator_comparison(matrices, (height, width), labels={"conv": "channel 0"}, title="three")
    maps = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert len(maps) == 3 and fig.layout.title.text == "three"
    subtitles = [a.text for a in fig.layout.annotations]
    for key, subtitle, heat, matrix in zip(matrices, subtitles, maps, matrices.values()):
        assert subtitle.startswith(KINDS[key].label)
        np.testing.assert_allclose(np.asarray(heat.z), matrix.detach().double().numpy())
        if KINDS[key].rows_are_probabilities:
            assert heat.zmin == 0
        else:
            assert heat.zmin == -heat.zmax  # signed: centred on 0
    assert "(channel 0)" in subtitles[1]
    rows = figures.operator_comparison(matrices, (height, width), query=(2, 1))  # row i = 2 * 4 + 1 = 9 of each
    row_maps = [t for t in rows.data if isinstance(t, go.Heatmap)]
    for heat, matrix in zip(row_maps, matrices.values()):
        np.testing.assert_allclose(np.asarray(heat.z), matrix.detach().double().numpy()[9].reshape(height, width))
    with pytest.raises(ValueError, match="outside the 3 x 4 token grid"):
        figures.operator_comparison(matrices, (height, width), query=(3, 0))
    with pytest.raises(ValueError, match="expected \\(12, 12\\)"):
        figures.operator_comparison({"attention": np.eye(5)}, (3, 4))
    with pytest.raises(ValueError, match="unknown aggregation kind"):
        figures.operator_comparison({"pooling": np.eye(12)}, (3, 4))


def test_blend_change_figure_draws_both_blends_on_one_scale_and_their_difference():
    result = ce.inspect("fmnist_container_light", np.zeros((28, 28), dtype=np.uint8), device="cpu")
    moved = ce.inspect("fmnist_container_light", np.zeros((28, 28), dtype=np.uint8), blend={"blocks2.1": 0.0},
                       device="cpu")
    before, after = result.maps("blocks2.1", (2, 5), head=3), moved.maps("blocks2.1", (2, 5), head=3)
    fig = figures.blend_change_figure(before, after, result.seen)
    maps = [t for t in fig.data if isinstance(t, go.Heatmap)]
    z = [np.asarray(t.z) for t in maps]
    np.testing.assert_allclose(z[2], after.blended - before.blended)
    assert maps[0].zmax == maps[1].zmax == pytest.approx(max(np.abs(z[0]).max(), np.abs(z[1]).max()))
    assert "β=1.00" in fig.layout.annotations[1].text


def test_heads_figure_refuses_a_part_the_block_lacks():
    result = ce.inspect("fmnist_conv", np.zeros((28, 28), dtype=np.uint8), device="cpu")
    block = result.blocks[-1]
    maps = result.maps(block, (0, 0))
    with pytest.raises(ValueError, match="has no attention part"):
        figures.heads_figure(maps, "attention")
    with pytest.raises(ValueError, match="part must be one of"):
        figures.heads_figure(maps, "everything")


def test_titles_wrap_by_display_width_and_break_between_chinese_characters():
    from container_edu.figures.heatmaps import _columns, wrap_title

    english = "Row of query (2, 3) of each affinity over the image the model sees, head 0"
    assert wrap_title(english, 30) == "Row of query (2, 3) of each<br>affinity over the image the<br>model sees, head 0"
    chinese = "第 i = 17 行在 n_y×n_x 网格上：A_m(X)，头 0，查询 (2, 3)，叠加在模型看到的图像上"
    lines = wrap_title(chinese, 30).split("<br>")
    # At most the width, plus one closing punctuation mark that may hang past it rather than start a line.
    assert len(lines) >= 3 and all(_columns(line.rstrip('，：')) <= 30 for line in lines), lines
    assert "".join(lines).replace(" ", "") == chinese.replace(" ", "")  # nothing lost, only breaks added
    assert not any(line.startswith(("，", "：")) for line in lines)  # punctuation ends a line, never starts one
