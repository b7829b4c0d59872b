"""container_edu.inspect(model, image): what it runs, what it returns, and how it says no."""

from __future__ import annotations

from importlib.resources import files

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from PIL import Image

import container_edu as ce
from container_edu.hub.cards import card_for_model
from container_edu.record.inspection import InspectError, Inspection
from container_edu.data.transforms import preprocess

SAMPLE = files("container_edu") / "samples" / "fmnist_test0002_trouser.png"
MODEL = "fmnist_container_light"


def run(model, image, **options) -> Inspection:
    """``ce.inspect`` on the CPU: the values are compared with CPU forwards to float32 precision."""
    return ce.inspect(model, image, device="cpu", **options)


@pytest.fixture(scope="module")
def result() -> Inspection:
    return run(MODEL, SAMPLE)


def heatmaps(fig: go.Figure) -> list[go.Heatmap]:
    return [trace for trace in fig.data if isinstance(trace, go.Heatmap)]


# --------------------------------------------------------------------------
# What it runs
# --------------------------------------------------------------------------


def test_the_prediction_is_the_models_own_forward_on_the_cards_preprocessing(result):
    model = ce.load_pretrained(MODEL, device="cpu")
    card = ce.list_pretrained()[MODEL]
    x, seen = preprocess(card, Image.open(SAMPLE))
    with torch.no_grad():
        expected = model(x).softmax(-1)[0].numpy()
    np.testing.assert_allclose(result.probabilities, expected, rtol=1e-5, atol=1e-6)
    assert result.input_shape == tuple(x.shape) == (1, 1, 28, 28)
    np.testing.assert_array_equal(result.seen, np.asarray(seen))
    assert result.class_names == card.class_names
    assert result.top(1)[0] == result.prediction
    names = [name for name, _ in result.top(10)]
    assert names == [card.class_names[i] for i in np.argsort(-expected, kind="stable")]
    assert result.prediction[0] == "Trouser"  # the sample is test image 2, a trouser; the bundled model gets it


def test_every_block_is_recorded_with_its_affinities(result):
    model = ce.load_pretrained(MODEL, device="cpu")
    x, _ = preprocess(ce.list_pretrained()[MODEL], Image.open(SAMPLE))
    with ce.record_affinities() as recorder, torch.no_grad():
        model(x)
    assert result.blocks == list(recorder)
    for name in recorder:
        mine, reference = result.records[name], recorder[name]
        assert (mine.kind, mine.grid, mine.num_heads) == (reference.kind, reference.grid, reference.num_heads)
        if reference.attention is not None:
            torch.testing.assert_close(mine.attention, reference.attention.cpu(), rtol=1e-5, atol=1e-6)
    assert result.blend == {name: (float(r.alpha), float(r.beta)) for name, r in recorder.items()
                            if r.attention is not None}


@pytest.mark.parametrize("form", ["path", "str", "pil", "uint8_gray", "uint8_rgb", "float_rgb", "uint8_rgba"])
def test_every_image_form_gives_the_same_inspection(result, form):
    picture = Image.open(SAMPLE).convert("RGB")
    pixels = np.asarray(picture)
    image = {
        "path": SAMPLE,
        "str": str(SAMPLE),
        "pil": picture,
        "uint8_gray": pixels[..., 0],  # the sample is gray: every channel is the same
        "uint8_rgb": pixels,
        "float_rgb": pixels.astype(np.float32) / 255.0,
        "uint8_rgba": np.concatenate([pixels, np.full(pixels.shape[:2] + (1,), 255, np.uint8)], axis=-1),
    }[form]
    other = run(MODEL, image)
    np.testing.assert_allclose(other.probabilities, result.probabilities, rtol=1e-5, atol=1e-6)


def test_a_module_is_inspected_with_the_preprocessing_its_architecture_implies():
    torch.manual_seed(0)
    model = ce.create_model("fmnist_conv").eval()
    inspection = run(model, np.zeros((40, 30), dtype=np.uint8))
    assert inspection.input_shape == (1, 1, 28, 28)
    assert inspection.class_names == card_for_model(model).class_names
    assert "ZooContainer" in inspection.model_name and "fmnist_conv" in inspection.model_name


def test_a_blend_override_moves_this_pass_only(result):
    moved = run(MODEL, SAMPLE, blend={"blocks2.0": 1.0})
    assert moved.blend["blocks2.0"] == (1.0, 0.0)
    assert moved.blend["blocks2.1"] == result.blend["blocks2.1"]
    assert moved.overrides == (("blocks2.0", 1.0, 0.0),)
    assert not np.allclose(moved.probabilities, result.probabilities)
    with ce.override_blend({"blocks2.0": 1.0}):
        same = run(MODEL, SAMPLE)
    np.testing.assert_allclose(same.probabilities, moved.probabilities, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(run(MODEL, SAMPLE).probabilities, result.probabilities, rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------
# What it returns: repr, figures
# --------------------------------------------------------------------------


def test_repr_says_what_is_inside(result):
    text = repr(result)
    assert MODEL in text and "1×1×28×28" in text
    assert f"{result.prediction[0]} {100 * result.prediction[1]:.1f}%" in text
    for name, record in result.records.items():
        line = next(line for line in text.splitlines() if line.strip().startswith(name + " "))
        assert record.kind in line and f"{record.grid[0]}×{record.grid[1]} grid" in line
    assert "α=" in text and ".figure(" in text


def test_figure_with_a_head_draws_its_three_rows_over_the_picture(result):
    fig = result.figure("blocks2.0", (3, 3), head=1)
    maps = result.maps("blocks2.0", (3, 3), head=1)
    z = [np.asarray(h.z) for h in heatmaps(fig)]
    assert len(z) == 3 and len(fig.layout.images) == 3
    np.testing.assert_allclose(z[0], maps.attention_heads[1])
    np.testing.assert_allclose(z[1], maps.static_heads[1])
    np.testing.assert_allclose(z[2], maps.blended_heads[1])
    record = result.records["blocks2.0"]
    np.testing.assert_allclose(z[0].ravel(), record.attention[0, 1, 3 * 7 + 3].double().numpy(), rtol=1e-6)
    assert "blocks2.0" in fig.layout.title.text and "head 1" in fig.layout.title.text
    assert len(result.figure("blocks2.0", 24, head=1, on_image=False).layout.images) == 0


def test_figure_without_a_head_draws_every_head_on_one_scale(result):
    fig = result.figure("blocks2.0", (3, 3))
    maps = result.maps("blocks2.0", (3, 3))
    z = [np.asarray(h.z) for h in heatmaps(fig)]
    assert len(z) == maps.num_heads == 4
    for m in range(4):
        np.testing.assert_allclose(z[m], maps.blended_heads[m])
    assert all(h.coloraxis == "coloraxis" for h in heatmaps(fig))
    attention = result.figure("blocks2.0", (3, 3), part="attention")
    np.testing.assert_allclose(np.asarray(heatmaps(attention)[2].z), maps.attention_heads[2])
    conv_only = result.figure("blocks1.0", (0, 0))
    assert len(heatmaps(conv_only)) == 1  # a conv block has one static part


def test_matrix_and_blend_figures(result):
    fig = result.matrix_figure("blocks2.0", "attention", head=2, query=(1, 4))
    np.testing.assert_allclose(np.asarray(heatmaps(fig)[0].z), result.records["blocks2.0"].attention[0, 2].double())
    assert fig.layout.shapes[0].y0 == 1 * 7 + 4 - 0.5  # the query's row is outlined
    bars = result.blend_figure()
    assert list(bars.data[0].x) == list(result.blend)
    np.testing.assert_allclose(bars.data[0].y, [a for a, _ in result.blend.values()])


# --------------------------------------------------------------------------
# How it says no
# --------------------------------------------------------------------------


def test_errors_are_the_projects_own_and_say_what_to_pass(result):
    assert issubclass(InspectError, ValueError) and ce.InspectError is InspectError
    with pytest.raises(InspectError, match="fmnist_container_light.*container_light"):
        run("resnet50", SAMPLE)
    with pytest.raises(InspectError, match="blocks1.0, blocks2.0, blocks2.1"):
        result.figure("blocks4.0", (0, 0))
    with pytest.raises(InspectError, match="7 x 7 token grid of blocks2.0: y runs from 0 to 6"):
        result.figure("blocks2.0", (7, 2))
    with pytest.raises(InspectError, match="token index runs from 0 to 48"):
        result.figure("blocks2.0", 49)
    with pytest.raises(InspectError, match="4 head.*0 to 3"):
        result.figure("blocks2.0", (0, 0), head=4)
    with pytest.raises(InspectError, match="has no 'attention' part; it has: static"):
        result.figure("blocks1.0", (0, 0), part="attention")
    with pytest.raises(InspectError, match="blend are: blocks2.0, blocks2.1"):
        run(MODEL, SAMPLE, blend={"blocks9.9": 1.0})
    with pytest.raises(InspectError, match="ZooContainer or a ContainerLight"):
        run(torch.nn.Linear(2, 2), SAMPLE)
    with pytest.raises(InspectError, match="has no blended block"):
        run("fmnist_conv", SAMPLE).blend_figure()


@pytest.mark.parametrize(("image", "message"), [
    (np.zeros((3, 8, 8)), "channels go last"),
    (np.full((8, 8), 1.5), r"values in \[0, 1\]"),
    (np.full((8, 8), np.nan), "NaN"),
    (np.full((8, 8), 300), r"values in \[0, 255\]"),
    (np.zeros((8, 8), dtype=bool), "dtype bool"),
    (np.zeros((0, 8), dtype=np.uint8), "empty"),
    ("/nonexistent/picture.png", "no image file"),
    (12, "a path, a PIL image or an array"),
])
def test_images_that_cannot_be_used_are_refused_with_a_reason(image, message):
    with pytest.raises(InspectError, match=message):
        run(MODEL, image)


def test_a_file_that_is_not_an_image_is_refused(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    with pytest.raises(InspectError, match="cannot read notes.png"):
        run(MODEL, path)


def test_the_imagenet_model_asks_for_its_weights_when_they_are_not_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("CONTAINER_EDU_WEIGHTS_DIR", str(tmp_path))  # an empty weights folder
    with pytest.raises(ce.WeightsNotInstalledError, match="python -m container_edu weights fetch"):
        run("container_light", SAMPLE)
    assert issubclass(ce.WeightsNotInstalledError, InspectError)


def test_the_imagenet_model_goes_through_the_installed_weights(tmp_path, monkeypatch):
    # A checkpoint in the authors' format (random weights), installed by the weights folder's own importer.
    from weights_server import authors_checkpoint

    from container_edu.hub import weights_store

    checkpoint = tmp_path / "container_light.pth"
    torch.save(authors_checkpoint(), checkpoint)
    folder = tmp_path / "weights"
    card = weights_store.import_checkpoint(checkpoint, folder)
    monkeypatch.setenv("CONTAINER_EDU_WEIGHTS_DIR", str(folder))

    picture = Image.new("RGB", (300, 200), (200, 120, 40))
    inspection = run("container_light", picture)
    model = weights_store.load_installed("container_light", folder, device="cpu")
    x, _ = preprocess(card, picture)
    with torch.no_grad():
        expected = model(x).softmax(-1)[0].numpy()
    np.testing.assert_allclose(inspection.probabilities, expected, rtol=1e-5, atol=1e-7)
    assert inspection.input_shape == (1, 3, 224, 224) and len(inspection.probabilities) == 1000
    assert inspection.model_name == "container_light" and inspection.class_names[0] == "tench"
    assert "blocks4.0" in inspection.blend  # stage 4 blends attention with a conv
    assert len([t for t in inspection.figure("blocks4.0", (3, 3), head=0).data if isinstance(t, go.Heatmap)]) == 3

    weights = folder / card.weights_file
    data = weights.read_bytes()
    weights.write_bytes(data[:-8] + bytes(b ^ 0xFF for b in data[-8:]))  # damaged after installing
    with pytest.raises(ce.WeightsNotInstalledError, match="does not match its card"):
        run("container_light", picture)
