"""The class view in a real browser: a lecturer's page and three learners in their own browser contexts.

The learners join the class from the address (``?class=``) and make lesson 1's prediction; the lecturer's page,
opened before they start and never reloaded, must show their distribution (its live refresh). Waits are on
conditions with generous limits; nothing here measures time.
"""

from __future__ import annotations

import pytest

from browser_support import (
    REPO_ROOT,
    assert_no_exception,
    chromium,
    require_browser,
    screenshot,
    streamlit_server,
    wait_for_condition,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MAIN = '[data-testid="stMain"]'
HAS_TEXT = "(text) => document.querySelector('[data-testid=\"stMain\"]')?.innerText.includes(text)"


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """A server on its own SQLite database holding one class; yields (url, class code, teacher key, browser)."""
    require_browser()
    from container_edu.progress.database import DATABASE_URL_ENV, create_class, open_database

    url = f"sqlite:///{tmp_path_factory.mktemp('classroom') / 'progress.sqlite3'}"
    engine = open_database(url)
    code, key = create_class(engine, "Lab 3")
    engine.dispose()
    log = REPO_ROOT / "test-artifacts" / "streamlit-server-class-view.log"
    with streamlit_server(log, env={DATABASE_URL_ENV: url}) as app_url, chromium() as browser:
        yield app_url, code, key, browser


def predict(browser, app_url: str, code: str, option_label: str) -> None:
    """One learner (a fresh browser context: no cookies, no session) joins by the address and predicts."""
    from app.lessons import matrix
    from app.lessons.parts.steps import lesson_steps

    step = [s.id for s in lesson_steps(matrix)].index("predict") + 1
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(f"{app_url}/Lessons?lesson=matrix&step={step}&class={code}")
        radio = page.locator(MAIN).get_by_test_id("stRadio").filter(has_text=option_label).first
        radio.wait_for()
        radio.get_by_text(option_label, exact=True).click()
        # the figure that answers it appears once the prediction is stored
        page.locator(MAIN).get_by_text("Verify it").first.wait_for()
        wait_until_idle(page)
        assert_no_exception(page, "learner's lesson page")
        assert f"class={code}" not in page.url, "the class code is used once, then only the learner code stays"
    finally:
        context.close()


def test_the_lecturer_sees_the_class_predictions_arrive_without_reloading(classroom):
    from app.lessons.matrix import PREDICTION

    app_url, code, key, browser = classroom
    left, own, _zero, _average = PREDICTION.options
    lecturer_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    lecturer = lecturer_context.new_page()
    lecturer.goto(f"{app_url}/Class_view?class={code}&key={key}")
    wait_for_condition(lecturer, HAS_TEXT, "the class view open on an empty class", "0 learners in the class")
    assert key not in lecturer.locator(MAIN).inner_text()

    for option in (left, left, own):
        predict(browser, app_url, code, option)

    counts = f"{left}: 2; {own}: 1;"
    wait_for_condition(lecturer, HAS_TEXT, "the three predictions on the lecturer's page (live refresh)", counts)
    wait_for_condition(lecturer, HAS_TEXT, "the class size updated", "3 learners in the class")
    assert "Right answer" not in lecturer.locator(MAIN).inner_text()

    # Reveal: the answer the learners' own Verify panels measured, with how many of them passed with it.
    from lesson_support import make_right_prediction, open_lesson

    right = make_right_prediction(open_lesson("matrix", "predict"), "matrix")  # what the lesson measures
    lecturer.locator(MAIN).get_by_role("button", name="Reveal the right answer").click()
    passed = {left: 2, own: 1}.get(right, 0)
    expected = (f"Right answer, as measured: {right}. The lesson measures it when it runs; it is the option with "
                f"which {passed} learners' Verify panels passed." if passed else "No learner's Verify panel has passed")
    wait_for_condition(lecturer, HAS_TEXT, "the measured answer after Reveal", expected)
    assert_no_exception(lecturer, "class view")
    screenshot(lecturer, "class_view")
    lecturer_context.close()
