"""The ``measured`` lesson, "Dynamic or static, measured": it renders, its figures are the core's measurements, and
its Verify panel passes or fails with the learner's prediction of which rows differ between two images."""

from __future__ import annotations

import numpy as np

from apptest_support import assert_no_exception, figure_titled, values
from app.lessons import measured
from container_edu import analysis as an
from test_lessons import needs_data, open_lesson, verified

KEY = measured.KEY


def not_verified(at) -> list[str]:
    return [e.value for e in at.error if e.value.startswith("Not verified")]


def predict(at, option: str) -> None:
    at.radio(key=measured.PREDICTION_KEY).set_value(option).run()
    assert_no_exception(at)  # a wrong prediction is a "Not verified" error box


def test_verify_follows_the_learners_prediction_of_which_rows_differ():
    at = open_lesson(KEY)
    assert verified(at) and not not_verified(at), "without a prediction the measured checks pass"
    predict(at, "only the attention rows")  # two different images: attention changes, the conv row does not
    assert len(verified(at)) == 1 and "your prediction" in verified(at)[0]
    for wrong in ("both", "only the conv rows", "neither"):
        predict(at, wrong)
        assert not verified(at)
        assert not_verified(at) == [f"Not verified: your prediction: {wrong} differ"]
    # The same picture twice: nothing differs, so now "neither" (still chosen) is right and the attention answer
    # is wrong.
    at.number_input(key="measured_image_b").set_value(at.number_input(key="measured_image_a").value).run()
    assert verified(at) and not not_verified(at)
    predict(at, "only the attention rows")
    assert not_verified(at) == ["Not verified: your prediction: only the attention rows differ"]


def test_the_figures_show_the_measured_rows():
    at = open_lesson(KEY)
    conv = figure_titled(at, r"^Conv row")
    rows = [values(t["z"]).astype(float) for t in conv["data"] if t["type"] == "heatmap"]
    assert len(rows) == 3 and np.abs(rows[0]).max() > 0
    assert np.abs(rows[2]).max() == 0.0, "the conv rows of two images are the same kernel"
    np.testing.assert_array_equal(rows[0], rows[1])
    attention = figure_titled(at, r"^Attention row")
    heatmaps = [values(t["z"]).astype(float) for t in attention["data"] if t["type"] == "heatmap"]
    assert len(heatmaps) == 2 and not np.allclose(heatmaps[0], heatmaps[1])
    assert all(abs(h.sum() - 1) < 1e-5 for h in heatmaps), "attention rows are distributions"


@needs_data
def test_gallery_bars_are_the_cores_head_gallery_over_the_stated_images():
    from app.lessons.parts.resources import test_batch
    from container_edu import load_pretrained

    at = open_lesson(KEY)
    figure = figure_titled(at, rf"Mean attention distance per head over {measured.GALLERY_IMAGES} ")
    bars = figure["data"][0]
    model = load_pretrained("fmnist_container_light").eval()  # the bundled weights the lesson says it uses
    images = test_batch()[0][:measured.GALLERY_IMAGES]
    expected = [h for h in an.head_gallery(model, [images]).heads if h.attention_distance is not None]
    assert list(bars["x"]) == [f"{h.block} · head {h.head}" for h in expected]
    np.testing.assert_allclose(values(bars["y"]).astype(float), [h.attention_distance for h in expected], rtol=1e-5)


def test_questions_right_answer_is_never_the_longest_option():
    for question in measured.QUESTIONS:
        right = len(question.right_option)
        assert any(len(option) > right for option in question.options), question.prompt



def test_without_bundled_weights_it_says_so_and_still_verifies(tmp_path, monkeypatch):
    from app.registry import BUNDLED_DIR_ENV

    monkeypatch.setenv(BUNDLED_DIR_ENV, str(tmp_path))
    at = open_lesson(KEY)
    assert any(w.value.startswith("bundled weights not found — run") for w in at.warning)
    predict(at, "only the attention rows")
    assert verified(at) and not not_verified(at)
