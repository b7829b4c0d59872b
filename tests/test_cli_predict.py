"""``python -m container_edu predict`` / ``inspect`` end to end, and the preprocessing they use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from container_edu.__main__ import main
from container_edu.models import create_model
from container_edu.data.imagenet import IMAGENET_MEAN, IMAGENET_STD, imagenet_class_names
from container_edu.data.transforms import (
    fashion_mnist_display,
    fashion_mnist_prepare,
    fashion_mnist_transform,
    imagenet_display,
    imagenet_transform,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli")
    torch.manual_seed(0)
    checkpoint = folder / "container_light.pth"
    torch.save({"model": create_model("container_light").state_dict(), "epoch": 1}, checkpoint)
    zoo = folder / "fmnist_conv.pth"
    torch.save(create_model("fmnist_conv").state_dict(), zoo)
    zoo_light = folder / "fmnist_container_light.pth"
    torch.save({"model": create_model("fmnist_container_light").state_dict()}, zoo_light)
    yy, xx = np.mgrid[0:240, 0:320]
    pixels = np.stack([xx * 255 // 319, yy * 255 // 239, (xx + yy) % 256], axis=-1).astype(np.uint8)
    image = folder / "gradient.png"
    Image.fromarray(pixels).save(image)
    text = folder / "notes.png"
    text.write_text("not an image\n")
    return {"checkpoint": checkpoint, "zoo": zoo, "zoo_light": zoo_light, "image": image, "text": text, "folder": folder}


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------
# predict
# --------------------------------------------------------------------------


def test_predict_json(files, capsys):
    code, out, err = _run(capsys, "predict", "--checkpoint", files["checkpoint"], files["image"], "--json",
                          "--device", "cpu")
    assert code == 0, err
    rows = json.loads(out)
    assert [row["rank"] for row in rows] == [1, 2, 3, 4, 5]
    names = imagenet_class_names()
    for row in rows:
        assert set(row) == {"rank", "index", "label", "probability"}
        assert 0 <= row["index"] < 1000 and row["label"] == names[row["index"]]
        assert 0.0 <= row["probability"] <= 1.0
    probabilities = [row["probability"] for row in rows]
    assert probabilities == sorted(probabilities, reverse=True)


def test_predict_table_topk(files, capsys):
    code, out, err = _run(capsys, "predict", "--checkpoint", files["checkpoint"], files["image"], "--topk", "3")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split() == ["rank", "index", "probability", "label"]
    assert len(lines) == 4
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3"]
    assert all(line.split()[2].endswith("%") for line in lines[1:])
    # aligned: the probability column ends at the same position on every line
    assert len({line.index("%") for line in lines[1:]}) == 1


def test_predict_zoo_model_with_checkpoint(files, capsys):
    code, out, err = _run(capsys, "predict", "--model", "fmnist_conv", "--checkpoint", files["zoo"],
                          files["image"], "--json", "--topk", "20")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 10  # clipped to the number of classes
    from container_edu.data.fashion_mnist import CLASS_NAMES

    assert {row["label"] for row in rows} == set(CLASS_NAMES)


def test_zoo_model_without_bundled_weights_module(files, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "container_edu.hub.bundled", None)  # as if the module did not exist
    code, out, err = _run(capsys, "predict", "--model", "fmnist_attention", files["image"])
    assert code == 2
    assert "no bundled weights yet" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------
# inspect
# --------------------------------------------------------------------------


def test_inspect_writes_one_png_per_head_and_kind(files, capsys, tmp_path):
    out_dir = tmp_path / "maps"
    code, out, err = _run(capsys, "inspect", "--checkpoint", files["checkpoint"], files["image"],
                          "--out", out_dir, "--block", "blocks4.1", "--query", "1", "5")
    assert code == 0, err
    printed = [Path(line) for line in out.strip().splitlines()]
    written = sorted(out_dir.iterdir())
    assert sorted(printed) == written
    heads = 16
    kinds = ("attention", "conv", "blended")
    assert len(written) == len(kinds) * heads + 2  # + heads.png + input.png
    for kind in kinds:
        for head in range(heads):
            path = out_dir / f"blocks4.1_y1_x5_{kind}_head{head:02d}.png"
            with Image.open(path) as image:
                assert image.size == (224, 224) and image.mode == "RGB"
    with Image.open(out_dir / "heads.png") as grid:
        grid.load()
        assert grid.width == 8 * 112 and grid.height > 3 * 2 * 112
    with Image.open(out_dir / "input.png") as shown:
        assert shown.size == (224, 224)


def test_inspect_zoo_conv_only_block_default_query(files, capsys, tmp_path):
    code, out, err = _run(capsys, "inspect", "--model", "fmnist_conv", "--checkpoint", files["zoo"], files["image"],
                          "--out", tmp_path, "--block", "blocks1.0")
    assert code == 0, err
    names = sorted(path.name for path in tmp_path.iterdir())
    # the zoo's stage 1 is 14 x 14: default query is the centre; conv only, one head-level map
    assert names == ["blocks1.0_y7_x7_conv_head00.png", "heads.png", "input.png"]


def test_inspect_pngs_use_the_shared_colours_and_overlay(files, capsys, tmp_path):
    """Every PNG is ``container_edu.figures.colors.overlay`` of the record's row, as the app draws it (one convention)."""
    import argparse

    from container_edu.cli import predict as cli_predict
    from container_edu.figures import colors
    from container_edu.record.trace import record_affinities

    argv = ["--model", "fmnist_container_light", "--checkpoint", str(files["zoo_light"]), str(files["image"]),
            "--out", str(tmp_path), "--block", "blocks2.1", "--query", "2", "5", "--device", "cpu"]
    code, _, err = _run(capsys, "inspect", *argv)
    assert code == 0, err
    parser = argparse.ArgumentParser()
    cli_predict.add_parser(parser.add_subparsers(dest="command"))
    loaded = cli_predict._load(parser.parse_args(["inspect", *argv]))
    with torch.no_grad(), record_affinities() as recorder:
        loaded.model(loaded.x)
    record = recorder["blocks2.1"]
    rows = {"attention": (record.attention_row((2, 5)), False), "conv": (record.static_head_row((2, 5)), True),
            "blended": (record.blended_row((2, 5)), True)}
    for kind, (row, signed) in rows.items():
        expected = colors.overlay(loaded.display, row[3].float().numpy(), signed=signed, query=(2, 5))
        with Image.open(tmp_path / f"blocks2.1_y2_x5_{kind}_head03.png") as written:
            assert np.array_equal(np.asarray(written.convert("RGB")), np.asarray(expected)), kind
    with Image.open(tmp_path / "input.png") as shown:
        marked = colors.mark_query(loaded.display.copy(), (2, 5), record.grid)
        assert np.array_equal(np.asarray(shown.convert("RGB")), np.asarray(marked))


def test_inspect_default_block_is_the_first_with_a_dynamic_affinity(files, capsys, tmp_path):
    code, out, err = _run(capsys, "inspect", "--model", "fmnist_container_light", "--checkpoint",
                          files["zoo_light"], files["image"], "--out", tmp_path)
    assert code == 0, err
    assert (tmp_path / "blocks2.0_y3_x3_attention_head03.png").is_file()
    assert len(list(tmp_path.iterdir())) == 3 * 4 + 2
    # a model with no dynamic affinity falls back to its last block
    code, out, err = _run(capsys, "inspect", "--model", "fmnist_conv", "--checkpoint", files["zoo"], files["image"],
                          "--out", tmp_path / "conv")
    assert code == 0, err
    assert (tmp_path / "conv" / "blocks2.1_y3_x3_conv_head00.png").is_file()


# --------------------------------------------------------------------------
# Bad input: exit 2, one line, no traceback
# --------------------------------------------------------------------------


def _bad_cases(files: dict[str, Path], out: Path) -> dict[str, tuple[list, str]]:
    ck, image = files["checkpoint"], files["image"]
    zoo = ["--model", "fmnist_conv", "--checkpoint", files["zoo"]]
    return {
        "image is not an image": (["predict", "--checkpoint", ck, files["text"]], "not an image"),
        "missing image": (["predict", "--checkpoint", ck, out / "nope.jpg"], "No file found"),
        "checkpoint is an image": (["predict", "--checkpoint", image, image], "not a PyTorch checkpoint"),
        "missing checkpoint": (["predict", "--checkpoint", out / "nope.pth", image], "No checkpoint found"),
        "zoo weights into Container-Light": (["predict", "--checkpoint", files["zoo"], image], "does not fit"),
        "no model": (["predict", image], "--checkpoint"),
        "unknown model": (["predict", "--model", "resnet50", image], "unknown model"),
        "bad topk": (["predict", "--checkpoint", ck, image, "--topk", "0"], "--topk"),
        "bad block": (["inspect", "--checkpoint", ck, image, "--out", out, "--block", "blocks9.9"],
                      "no block named 'blocks9.9'"),
        "query outside grid": (["inspect", *zoo, image, "--out", out, "--query", "7", "0"],
                               "outside the 7 x 7 token grid of blocks2.1"),
        "negative query": (["inspect", *zoo, image, "--out", out, "--block", "blocks1.0", "--query", "0", "-1"],
                           "outside the 14 x 14 token grid of blocks1.0"),
        "unavailable device": (["predict", "--checkpoint", ck, image, "--device", "cuda:99"]
                               if not torch.cuda.is_available() else
                               ["predict", "--checkpoint", ck, image, "--device", "nonsense"], "device"),
    }


CASES = [
    "image is not an image", "missing image", "checkpoint is an image", "missing checkpoint",
    "zoo weights into Container-Light", "no model", "unknown model", "bad topk", "bad block",
    "query outside grid", "negative query", "unavailable device",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_line(files, capsys, tmp_path, case):
    argv, expected = _bad_cases(files, tmp_path)[case]
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("error: ") and expected in err
    assert "Traceback" not in err


# The only tests that start the command line as a user does (``python -m container_edu``, a new interpreter);
# every other command line test calls ``main(argv)`` in this process, which checks the same and costs no start-up.


def real_process_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}


def test_help_in_a_real_process(tmp_path):
    result = subprocess.run([sys.executable, "-m", "container_edu", "--help"], capture_output=True, text=True,
                            env=real_process_env(), cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m container_edu")
    for command in ("predict", "inspect", "weights", "sweep", "train"):
        assert command in result.stdout


def test_bad_input_in_a_real_process(files, tmp_path):
    env = real_process_env()
    result = subprocess.run(
        [sys.executable, "-m", "container_edu", "predict", "--checkpoint", str(files["text"]), str(files["image"])],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not a PyTorch checkpoint (it looks like a text file)" in result.stderr


# --------------------------------------------------------------------------
# Preprocessing
# --------------------------------------------------------------------------


def test_imagenet_transform_resizes_short_side_and_centre_crops():
    # a 512 x 256 image whose left and right quarters are black, middle half white
    pixels = np.zeros((256, 512, 3), dtype=np.uint8)
    pixels[:, 128:384] = 255
    image = Image.fromarray(pixels)
    crop = np.asarray(imagenet_display(image))
    assert crop.shape == (224, 224, 3)
    # short side already 256: the crop is columns 144..368 of the original, all inside the white band
    assert crop.min() == 255
    x = imagenet_transform(image)
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32
    expected = (1.0 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    assert torch.allclose(x[:, 0, 0], expected, atol=1e-5)


def test_imagenet_transform_upsamples_small_images():
    image = Image.new("RGB", (50, 100), (10, 20, 30))
    assert imagenet_display(image).size == (224, 224)
    assert imagenet_transform(Image.new("L", (300, 30), 128)).shape == (3, 224, 224)


def test_imagenet_class_names():
    names = imagenet_class_names()
    assert len(names) == 1000
    assert names[0] == "tench" and names[1] == "goldfish" and names[2] == "great white shark"
    assert names[281] == "tabby" and names[999] == "toilet tissue"
    names.append("mutated")
    assert len(imagenet_class_names()) == 1000  # callers get their own list


def test_fashion_mnist_inverts_bright_backgrounds_and_keeps_aspect():
    # a dark 40 x 80 (w x h) "garment" on a white 100 x 200 photo
    pixels = np.full((200, 100), 255, dtype=np.uint8)
    pixels[60:140, 30:70] = 20
    canvas, inverted = fashion_mnist_prepare(Image.fromarray(pixels).convert("RGB"))
    assert inverted
    seen = np.asarray(canvas)
    assert seen.shape == (28, 28)
    assert seen[:, :6].max() == 0 and seen[:, -6:].max() == 0  # padding left and right is black
    assert seen[14, 14] > 200  # the garment is now bright
    assert seen[1, 14] == 0  # the old white background is now black
    x = fashion_mnist_transform(Image.fromarray(pixels))
    assert x.shape == (1, 28, 28)
    assert np.array_equal(np.asarray(fashion_mnist_display(x)), seen)
    assert fashion_mnist_display(x, scale=8).size == (224, 224)


def test_fashion_mnist_keeps_dark_backgrounds():
    pixels = np.zeros((28, 28), dtype=np.uint8)
    pixels[8:20, 8:20] = 200
    canvas, inverted = fashion_mnist_prepare(Image.fromarray(pixels))
    assert not inverted
    assert np.array_equal(np.asarray(canvas), pixels)
