"""The command line's papercuts a new user hit (issue 23), each pinned, in-process: the Fashion-MNIST note under
``predict``, ``weights list`` aligned for long names, ``zoo`` rows that name the model and its training-set size."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from container_edu.__main__ import main
from container_edu.cli.table import aligned_table, display_width
from container_edu.cli.zoo import zoo_table
from container_edu.data.photo_notes import fashion_mnist_note


def _run(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pictures")
    yy, xx = np.mgrid[0:120, 0:90]
    photo = np.stack([xx * 255 // 89, yy * 255 // 119, (xx + yy) % 256], axis=-1).astype(np.uint8)
    Image.fromarray(photo).save(folder / "photo.png")
    garment = np.zeros((28, 28), np.uint8)
    garment[4:24, 8:20] = 200  # a bright shape on black, 28×28 grey: what Fashion-MNIST looks like
    Image.fromarray(garment).save(folder / "garment.png")
    return folder


def _first_sentences(markdown: str) -> str:
    """The note up to "For photos," (the rest says where to get another model: the app's button, the CLI's command)."""
    plain = markdown.replace("**", "").replace("`", "")
    return plain.split(" For photos,")[0]


def test_predict_prints_the_apps_fashion_mnist_note_under_a_photo(capsys, pictures):
    from app.photo_notes import fashion_mnist_note as app_note
    from app.registry import FASHION_MNIST, ModelRef

    code, out, err = _run(capsys, "predict", "--model", "fmnist_container_light", pictures / "photo.png")
    assert code == 0, err
    table, _, note = out.partition("\nnote: ")
    assert "probability" in table and note, out
    image = Image.open(pictures / "photo.png")
    ref = ModelRef(key="fmnist_container_light", label="fmnist_container_light", source="bundled",
                   name="fmnist_container_light", dataset=FASHION_MNIST, trained=True)
    shown_in_app = app_note(ref, image, imagenet_installed=False)
    # The same words: the app's note, but for its pointer to the view shown beside it.
    same = _first_sentences(shown_in_app).replace(" shown under *What the model sees*", "").replace(
        "the 28×28 grey version", "a 28×28 grey version of it")
    assert note.startswith(same), (note, same)
    assert "Your image is in colour and 90×120 pixels" in note
    assert "python -m container_edu weights fetch" in note and "--model container_light" in note
    assert "**" not in note and "`" not in note  # Markdown stays in the app


def test_predict_json_keeps_stdout_json_and_says_the_note_on_stderr(capsys, pictures):
    code, out, err = _run(capsys, "predict", "--model", "fmnist_conv", pictures / "photo.png", "--json")
    assert code == 0, err
    assert len(json.loads(out)) == 5
    assert err.startswith("note: This model only knows Fashion-MNIST")


def test_no_note_for_a_picture_like_fashion_mnist(capsys, pictures):
    code, out, err = _run(capsys, "predict", "--model", "fmnist_conv", pictures / "garment.png")
    assert code == 0, err
    assert "note:" not in out + err
    assert fashion_mnist_note(Image.open(pictures / "garment.png"), how="x") is None


def test_aligned_table_lines_up_long_and_wide_names():
    text = aligned_table(("name", "size", "path"), [("a", "1.0 MB", "/x"), ("a_very_long_model_name_n6000", "12.5 MB",
                                                                           "/y"), ("模型", "0.1 MB", "/z")],
                         right={"size"})
    lines = text.splitlines()
    starts = {display_width(line[: line.index("/")]) for line in lines[1:]}
    assert len(starts) == 1  # every path starts in the same column
    assert {display_width(line[: line.index("MB") + 2]) for line in lines[1:]} == {starts.pop() - 2}


def test_weights_list_columns_stay_aligned_for_long_names(capsys, tmp_path):
    code, out, err = _run(capsys, "weights", "list", "--dir", tmp_path / "none")
    assert code == 0, err
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("name"))
    rows = [line for line in lines if re.search(r"\b[0-9a-f]{64}\b", line)]
    assert rows and max(len(line.split()[0]) for line in rows) > 24  # names longer than the old fixed width
    for column in ("sha256", "path"):
        at = header.index(column)
        if column == "sha256":
            assert all(re.match(r"[0-9a-f]{64}", line[at:]) for line in rows), column
        else:
            assert all(line[at] == "/" or line[at:at + 1].isalnum() for line in rows), column
            assert all(line[at - 2: at] == "  " for line in rows), column


def test_zoo_rows_name_the_model_and_its_training_set_size(capsys):
    from container_edu.hub.bundled import list_pretrained
    from container_edu.training.zoo_report import training_images

    code, out, err = _run(capsys, "zoo")
    assert code == 0, err
    table = [line for line in out.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header[:3] == ["model", "variant", "training images"]
    rows = {cells[0]: cells for cells in ([c.strip() for c in line.strip("|").split("|")] for line in table[2:])}
    cards = list_pretrained()
    assert set(rows) == set(cards)
    for name, card in cards.items():
        assert rows[name][1] == card.variant and rows[name][2] == f"{training_images(card):,}", rows[name]
    assert len({len(line) for line in table}) == 1  # a padded table: every line as long as the header


def test_zoo_verify_adds_the_measured_column_beside_the_cards():
    rows = [dict(name="fmnist_attention_n1000", variant="attention", training_images=1000, test_accuracy=70.0,
                 measured_accuracy=69.5, parameters=12345, latency_ms=1.0, blend="—", epochs=125, train_minutes=3)]
    lines = zoo_table(rows, verify=True).splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")][3:5] == ["test accuracy (card)", "test accuracy (now)"]
    assert [c.strip() for c in lines[2].strip("|").split("|")][:5] == [
        "fmnist_attention_n1000", "attention", "1,000", "70.00%", "69.50%"]
