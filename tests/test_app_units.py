"""The app's pure helpers (no Streamlit runtime): figures, inspection, registry, colours, samples."""

from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from app.registry import build_random, load_checkpoint_model, model_refs, preprocess
from app.samples import list_samples
from app.widgets import decode_upload
from container_edu.ops import affinity as aff
from container_edu import figures
from container_edu.hub.cards import default_card
from container_edu.hub.checkpoints import CheckpointError
from container_edu.figures.colors import colourise, lookup_table, overlay_png
from container_edu.record.inspection import block_maps, head_matrix, matrix_to_csv, normalise_overrides, run_inspection
from container_edu.models import ZooConfig, ZooContainer
from container_edu.hub.bundled import load_pretrained


# --------------------------------------------------------------------------
# figures.py: titled figures, titled colour bars, readable scales
# --------------------------------------------------------------------------


def test_figures_module_does_not_import_streamlit():
    import ast
    from pathlib import Path

    for path in Path(figures.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, (ast.Import, ast.ImportFrom))
                    for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
        assert "streamlit" not in imported and "app" not in imported, path


def test_panels_give_every_heatmap_a_titled_colourbar_and_a_zero_centred_scale_when_signed():
    rng = np.random.default_rng(0)
    fig = figures.panels(
        [figures.Panel(rng.random((3, 5)), "probabilities", "A(X)[i, j]", False),
         figures.Panel(rng.normal(size=(3, 5)), "signed", "A_static[i, j]", True)],
        "two maps", query=(1, 2), clickable=True,
    )
    heatmaps = [t for t in fig.data if isinstance(t, go.Heatmap)]
    assert [h.colorbar.title.text for h in heatmaps] == ["A(X)[i, j]", "A_static[i, j]"]
    assert heatmaps[0].colorscale[0][1] == "#440154"  # Viridis from 0 for probabilities
    assert heatmaps[1].zmin == -heatmaps[1].zmax  # diverging, centred on zero
    clickable = [t for t in fig.data if isinstance(t, go.Scatter) and t.customdata is not None]
    assert len(clickable) == 2 and len(clickable[0].customdata) == 15
    assert fig.layout.title.text == "two maps"


def test_long_titles_are_wrapped():
    assert figures.wrap_title("a " * 40 + "end", 20).count("<br>") >= 3


def test_affinity_matrix_outlines_the_query_row():
    fig = figures.affinity_matrix(np.eye(6), "A, head 0", grid=(2, 3), colorbar_title="A[i, j]", query_token=4)
    assert fig.layout.shapes[0].y0 == 3.5 and fig.layout.shapes[0].y1 == 4.5
    with pytest.raises(ValueError):
        figures.affinity_matrix(np.eye(6), "bad", grid=(2, 2), colorbar_title="A")


def test_blend_bars_one_bar_per_block():
    fig = figures.blend_bars({"blocks2.0": (0.3, 0.7), "blocks2.1": (0.8, 0.2)}, "blend", show_beta=False)
    assert len(fig.data) == 1 and list(fig.data[0].x) == ["blocks2.0", "blocks2.1"]
    assert len(figures.blend_bars({"b": (1.2, -0.1)}, "blend", show_beta=True).data) == 2


# --------------------------------------------------------------------------
# inspection.py: run once, slice many times
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zoo_inspection():
    model = build_random("fmnist_container_light", "cpu")
    x = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    return model, x, run_inspection(model, x)


def test_inspection_records_every_block_and_drops_the_large_tensors(zoo_inspection):
    _, _, inspection = zoo_inspection
    assert inspection.blocks == ["blocks1.0", "blocks2.0", "blocks2.1"]
    assert inspection.mixed_blocks == ["blocks2.0", "blocks2.1"]
    assert all(r.v.numel() == 0 and r.aggregated.numel() == 0 for r in inspection.records.values())
    assert inspection.probabilities.shape == (10,) and abs(inspection.probabilities.sum() - 1) < 1e-5


def test_block_maps_match_the_records_rows(zoo_inspection):
    _, _, inspection = zoo_inspection
    maps = block_maps(inspection, "blocks2.0", head=3, query=(2, 5))
    record = inspection.records["blocks2.0"]
    np.testing.assert_allclose(maps.attention, record.attention_row((2, 5))[3].numpy(), rtol=1e-6)
    assert maps.parts == ["attention", "static", "blended"]
    conv_only = block_maps(inspection, "blocks1.0", head=0, query=(30, 30))  # clamped to the 14 x 14 grid
    assert conv_only.query == (13, 13) and conv_only.parts == ["static"]


def test_blended_map_is_the_module_blend_of_the_head_mean_of_its_own_conv_kernels(zoo_inspection):
    """The blended map, checked through routes that do not use the record's blend formula.

    The static part is rebuilt from the module's conv weights (each channel's kernel pasted at the query by
    ``affinity.depthwise_conv_row``, then averaged over the head's channels by hand), the blend weight from
    the module's own ``sa_weight``; and the map is linear in α: α = 1 gives the attention map, α = 0 the
    static one, and the learned α their mix.
    """
    _, x, _ = zoo_inspection
    model = build_random("fmnist_container_light", "cpu")  # its own copy: the blend is moved off α = β = ½
    mix = model.get_submodule("blocks2.0").mix
    with torch.no_grad():
        mix.sa_weight.fill_(1.3)  # α = sigmoid(1.3) ≈ 0.79: swapping α and β would show
    inspection = run_inspection(model, x)
    head, query = 3, (2, 5)
    maps = block_maps(inspection, "blocks2.0", head=head, query=query)
    heads = inspection.records["blocks2.0"].num_heads
    rows = aff.depthwise_conv_row(mix.conv.weight.detach().double(), 7, 7, query)  # (C, 7, 7)
    per_head = rows.shape[0] // heads
    static = rows[head * per_head:(head + 1) * per_head].mean(0).numpy()
    alpha = float(torch.sigmoid(mix.sa_weight.detach()))
    np.testing.assert_allclose(maps.static, static, atol=1e-6)
    np.testing.assert_allclose(maps.blended, alpha * maps.attention + (1 - alpha) * static, atol=1e-6)
    ends = {a: block_maps(run_inspection(model, x, {"blocks2.0": a}), "blocks2.0", head=head, query=query)
            for a in (0.0, 1.0)}
    np.testing.assert_allclose(ends[1.0].blended, maps.attention, atol=1e-6)  # blocks2.0's own input is unchanged
    np.testing.assert_allclose(ends[0.0].blended, static, atol=1e-6)
    np.testing.assert_allclose(maps.blended, alpha * ends[1.0].blended + (1 - alpha) * ends[0.0].blended, atol=1e-6)


def test_head_matrix_rows_equal_the_sliced_rows(zoo_inspection):
    _, _, inspection = zoo_inspection
    maps = block_maps(inspection, "blocks2.1", head=1, query=(3, 4))
    token = aff.token_index(3, 4, 7)
    for part in ("attention", "static", "blended"):
        matrix = head_matrix(inspection, "blocks2.1", 1, part)
        np.testing.assert_allclose(matrix[token].reshape(7, 7), getattr(maps, part), atol=1e-6)
    csv = matrix_to_csv(head_matrix(inspection, "blocks2.1", 1, "attention")).decode()
    assert len(csv.strip().splitlines()) == 49


def test_blend_override_changes_the_output_but_not_the_shared_model(zoo_inspection):
    model, x, inspection = zoo_inspection
    before = {name: p.clone() for name, p in model.named_parameters()}
    changed = run_inspection(model, x, {"blocks2.0": 0.95})
    assert changed.records["blocks2.0"].alpha == pytest.approx(0.95)
    assert changed.overrides == normalise_overrides({"blocks2.0": (0.95, 0.05)})
    assert not np.allclose(changed.probabilities, inspection.probabilities)
    assert all(torch.equal(p, before[name]) for name, p in model.named_parameters())


# --------------------------------------------------------------------------
# registry.py, widgets.decode_upload, colour maps, samples
# --------------------------------------------------------------------------


def test_model_refs_offer_random_stand_ins_when_nothing_is_bundled():
    refs = model_refs({}, {}, {})
    assert all(not r.trained for r in refs)
    assert "random:fmnist_container_light:0" == refs[0].key
    assert any(r.dataset == "imagenet" for r in refs)
    assert all("untrained" in r.label for r in refs)


def test_preprocess_returns_what_the_model_sees():
    image = Image.new("RGB", (300, 200), (250, 250, 250))
    x, seen = preprocess(default_card("fmnist_container_light"), image)
    assert x.shape == (1, 1, 28, 28) and seen.shape == (224, 224, 3)
    x, seen = preprocess(default_card("container_light"), image)
    assert x.shape == (1, 3, 224, 224) and seen.shape == (224, 224, 3)


def test_every_model_of_the_picker_gets_its_cards_preprocessing_and_class_names(fake_weights_dir, monkeypatch):
    from app.registry import BUNDLED_DIR_ENV, bundled_cards, card_of, dataset_of

    monkeypatch.setenv(BUNDLED_DIR_ENV, str(fake_weights_dir))
    cards = bundled_cards()
    for ref in model_refs(cards, {}, {}):
        model = load_pretrained(ref.name, "cpu", fake_weights_dir) if ref.source == "bundled" else None
        model = model or build_random(ref.name, "cpu")
        card = card_of(ref, model)
        if ref.source == "bundled":
            assert card == cards[ref.name]
        assert dataset_of(model) == ref.dataset
        assert len(card.class_names) == model.head.out_features
        x, _ = preprocess(card, Image.new("RGB", (40, 30), (10, 200, 30)))
        assert x.shape[1:] == (model.config.in_chans, model.config.img_size, model.config.img_size)


def test_checkpoint_loader_recognises_a_zoo_file_and_rejects_garbage(tmp_path):
    torch.manual_seed(3)
    model = ZooContainer(ZooConfig(mixing="conv"))
    path = tmp_path / "zoo.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    loaded = load_checkpoint_model(str(path), "cpu")
    assert loaded.config.mixing == "conv"
    assert torch.equal(loaded.state_dict()["head.weight"], model.state_dict()["head.weight"])
    with pytest.raises(CheckpointError):
        load_checkpoint_model(b"\x80\x04 not a checkpoint", "cpu")


def test_decode_upload_reports_bad_files_as_messages():
    image, message = decode_upload("notes.png", b"plain text, not a picture")
    assert image is None and "not an image" in message.lower()
    image, message = decode_upload("empty.png", b"")
    assert image is None and "empty" in message.lower()
    buffer = io.BytesIO()
    Image.new("L", (8, 5), 128).save(buffer, format="GIF")
    image, message = decode_upload("tiny.gif", buffer.getvalue())
    assert message is None and image.image.mode == "RGB" and len(image.digest) == 64


def test_overlay_png_is_a_png_of_the_picture_size():
    picture = np.zeros((56, 84, 3), dtype=np.uint8)
    data = overlay_png(picture, np.random.default_rng(0).normal(size=(4, 6)), signed=True, query=(1, 2))
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (84, 56)
    assert tuple(lookup_table("RdBu_r")[0]) != tuple(lookup_table("RdBu_r")[255])
    assert colourise(np.zeros((2, 2)), signed=True)[0, 0].tolist() == lookup_table("RdBu_r")[128].tolist()


@pytest.mark.parametrize("name", ["Viridis", "RdBu_r", "Reds"])
def test_the_cores_colour_tables_are_plotlys_scales(name):
    """PNGs (core, numpy + Pillow) and Plotly figures (by scale name) show a map in the same colours."""
    from plotly.colors import get_colorscale, sample_colorscale

    reverse = name.endswith("_r")
    colours = sample_colorscale(get_colorscale(name.removesuffix("_r")), list(np.linspace(0, 1, 256)),
                                colortype="tuple")
    table = np.array([[round(c * 255) if c <= 1 else round(c) for c in colour] for colour in colours])
    table = table[::-1] if reverse else table
    assert np.abs(lookup_table(name).astype(int) - table).max() <= 1
    assert figures.SEQUENTIAL == "Viridis" and figures.DIVERGING == "RdBu_r"  # the figures use the same names


def test_the_colour_module_is_in_the_core_without_plotly_or_streamlit():
    import ast
    from pathlib import Path

    import container_edu.figures.colors

    tree = ast.parse(Path(container_edu.figures.colors.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert imported <= {"__future__", "io", "functools", "numpy", "PIL"}


def test_colourise_decides_the_scale_by_sign_when_not_told():
    signed = np.array([[-1.0, 0.0], [0.5, 1.0]])
    assert np.array_equal(colourise(signed), colourise(signed, signed=True))
    positive = np.array([[0.0, 0.25], [0.5, 1.0]])
    assert np.array_equal(colourise(positive), colourise(positive, signed=False))
    assert colourise(positive)[1, 1].tolist() == lookup_table("Viridis")[255].tolist()
    with_nan = colourise(np.array([[np.nan, 1.0]]), signed=False)
    assert with_nan[0, 0].tolist() == lookup_table("Viridis")[0].tolist()


def test_sample_gallery_is_small_and_complete():
    samples = list_samples()
    assert len(samples) >= 11
    assert sum(s.path.stat().st_size for s in samples) < 300_000
    assert sum(s.file.startswith("fmnist_") for s in samples) == 8
