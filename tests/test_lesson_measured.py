"""The ``measured`` lesson, "Dynamic or static, measured": it renders, its figures are the core's measurements, its
Verify panel passes or fails with the learner's prediction of which rows differ between two images, the distances
sit beside uniform attention's and the entropies beside log N, and figure titles name classes in the page's
language."""

from __future__ import annotations

import json
import math

import numpy as np

from apptest_support import assert_no_exception, figure_titled, figures_of, open_link, values, LESSONS_PAGE
from app.lessons import measured
from container_edu import analysis as an
from container_edu.data.fashion_mnist import CLASS_NAMES
from lesson_support import go_to_step, not_verified, open_lesson, step_ids, verified
from test_lessons import needs_data

KEY = measured.KEY


def predict(at, option: str) -> None:
    at.radio(key=measured.PREDICTION_KEY).set_value(option).run()
    assert_no_exception(at)  # a wrong prediction is a "Not verified" error box


def test_figures_wait_for_the_prediction_and_verify_follows_it():
    at = open_lesson(KEY, "predict")
    assert not figures_of(at) and not verified(at) and not not_verified(at), "nothing answers before the prediction"
    predict(at, "only the attention rows")  # two different images: attention changes, the conv row does not
    assert len(verified(at)) == 1 and "your prediction" in verified(at)[0]
    for wrong in ("both", "only the conv rows", "neither"):
        predict(at, wrong)
        assert not verified(at)
        assert not_verified(at) == [f"Not verified: your prediction: {wrong}"]
    # The same picture twice: nothing differs, so now "neither" (still chosen) is right and the attention answer
    # is wrong.
    at.number_input(key="measured_image_b").set_value(at.number_input(key="measured_image_a").value).run()
    assert verified(at) and not not_verified(at)
    predict(at, "only the attention rows")
    assert not_verified(at) == ["Not verified: your prediction: only the attention rows"]


def test_the_figures_show_the_measured_rows():
    at = open_lesson(KEY, "predict")
    predict(at, "only the attention rows")
    conv = figure_titled(at, r"^Conv row")
    rows = [values(t["z"]).astype(float) for t in conv["data"] if t["type"] == "heatmap"]
    assert len(rows) == 3 and np.abs(rows[0]).max() > 0
    assert np.abs(rows[2]).max() == 0.0, "the conv rows of two images are the same kernel"
    np.testing.assert_array_equal(rows[0], rows[1])
    attention = figure_titled(at, r"^Attention row")
    heatmaps = [values(t["z"]).astype(float) for t in attention["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) == 2 and not np.allclose(heatmaps[0], heatmaps[1])
    assert all(abs(h.sum() - 1) < 1e-5 for h in heatmaps), "attention rows are distributions"


def _reference_lines(figure: dict) -> list[tuple[float, str]]:
    return [(shape["y0"], annotation["text"]) for shape, annotation in
            zip(figure["layout"]["shapes"], figure["layout"]["annotations"])]


def test_distances_sit_beside_uniform_attention_and_entropies_beside_log_n():
    at = open_lesson(KEY, "reach")
    assert_no_exception(at)
    distance = figure_titled(at, rf"Mean attention distance per head over {measured.GALLERY_IMAGES} ")
    uniform_distance = float(an.token_distances((7, 7)).mean())
    lines = _reference_lines(distance)
    assert any(abs(y - uniform_distance) < 1e-9 and "uniform attention on 7×7" in text for y, text in lines), lines
    assert any(abs(y - an.uniform_kernel_distance(5)) < 1e-9 and "flat 5×5 kernel" in text for y, text in lines)
    entropy = figure_titled(at, r"^Mean row entropy per head")
    [(log_n, text)] = _reference_lines(entropy)
    assert log_n == math.log(49) and "log 49" in text
    bars = values(entropy["data"][0]["y"]).astype(float)
    assert len(bars) and (bars > 0).all() and (bars <= math.log(49) + 1e-9).all()
    captions = " ".join(c.value for c in at.caption)
    assert "not selective" in captions and f"log 49 = {math.log(49):.2f}" in captions
    assert f"{bars.min():.2f}–{bars.max():.2f} nats" in captions, "the caption's range is the plotted one"
    assert "global" not in json.dumps(distance), "no head is called global against one reference"
    assert len(verified(at)) == 1 and not not_verified(at)


@needs_data
def test_gallery_bars_are_the_cores_head_gallery_over_the_stated_images():
    from app.lessons.parts.resources import test_batch
    from container_edu import load_pretrained

    at = open_lesson(KEY, "reach")
    figure = figure_titled(at, rf"Mean attention distance per head over {measured.GALLERY_IMAGES} ")
    bars = figure["data"][0]
    model = load_pretrained("fmnist_container_light").eval()  # the bundled weights the lesson says it uses
    images = test_batch()[0][:measured.GALLERY_IMAGES]
    expected = [h for h in an.head_gallery(model, [images]).heads if h.attention_distance is not None]
    assert list(bars["x"]) == [f"{h.block} · head {h.head}" for h in expected]
    np.testing.assert_allclose(values(bars["y"]).astype(float), [h.attention_distance for h in expected], rtol=1e-5)
    entropy = figure_titled(at, r"^Mean row entropy per head")
    np.testing.assert_allclose(values(entropy["data"][0]["y"]).astype(float),
                               [h.attention_entropy for h in expected], rtol=1e-5)


def test_rollout_step_draws_the_rollout_and_verifies():
    at = open_lesson(KEY, "rollout")
    figure_titled(at, r"^Where query t\d+ of image A gathers from")
    assert len(verified(at)) == 1 and not not_verified(at)


def test_class_names_in_figure_titles_are_translated():
    """In Chinese, no figure shows an English class name (``CLASS_NAMES``); the translated one is there instead."""
    from app.i18n import translations

    number = step_ids(KEY).index("predict") + 1
    at = open_link(LESSONS_PAGE, {"lesson": KEY, "lang": "zh", "step": str(number)})
    predict(at, "only the attention rows")
    shown = json.dumps([figure.get("layout", {}) for figure in figures_of(at)], ensure_ascii=False)
    assert "测试图像" in shown, "the figures name their test images"
    english = [name for name in CLASS_NAMES if name in shown]
    assert not english, english
    zh = translations("zh").gettext
    assert any(zh(name) in shown for name in CLASS_NAMES if zh(name) != name)


def test_questions_right_answer_is_never_the_longest_option():
    for question in measured.QUESTIONS:
        right = len(question.right_option)
        assert any(len(option) > right for option in question.options), question.prompt


def test_without_bundled_weights_it_says_so_and_still_verifies(tmp_path, monkeypatch):
    from app.registry import BUNDLED_DIR_ENV

    monkeypatch.setenv(BUNDLED_DIR_ENV, str(tmp_path))
    at = open_lesson(KEY, "predict")
    predict(at, "only the attention rows")
    assert any(w.value.startswith("bundled weights not found — run") for w in at.warning)
    assert verified(at) and not not_verified(at)
    go_to_step(at, KEY, "reach")
    assert any(w.value.startswith("bundled weights not found — run") for w in at.warning)
    assert len(verified(at)) == 1
