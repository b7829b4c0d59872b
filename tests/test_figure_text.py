"""Every figure speaks (issue 23): each chart's text alternative, in the core and next to every chart the app draws.

The core's builders attach a sentence and a table to their figures (``container_edu.figures.describe``); a figure
built by hand gets one read from its traces. In the app, ``app.figure_view.show_figure`` draws each chart with its
sentence as a caption right after it and the table behind a "Table" button beside it: the walks below open every
page (every Analysis tab) and every lesson step, in English and Chinese, and check that every Plotly chart drawn
has exactly that next to it, with the sentence the core makes of that very figure.
"""

from __future__ import annotations

import json
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from accessibility_support import analysis_tabs
from apptest_support import ANALYSIS, BLEND, EXPLORER, HOME, INSPECTOR, LESSONS_PAGE, ZOO, start
from i18n_support import untranslated_english
from app import i18n
from app.lessons import LESSONS
from app.lessons.parts.steps import lesson_steps
from container_edu import figures
from container_edu.figures.describe import describe, describe_figure, top_entries
from container_edu.text import translator

# --------------------------------------------------------------------------
# The core
# --------------------------------------------------------------------------


def test_a_query_map_names_its_largest_entries_their_share_and_their_distance_from_the_query():
    z = np.full((5, 5), 0.01)
    z[1, 3], z[2, 2], z[4, 0] = 0.5, 0.2, 0.1
    text = describe(figures.panels([figures.Panel(z, "dynamic", "w")], "Block 1", query=(2, 2)))
    assert "query at (2, 2)" in text.sentence
    assert "(1, 3) 0.5; (2, 2) 0.2; (4, 0) 0.1" in text.sentence
    share = 100 * (0.5 + 0.2 + 0.1 + 5 * 0.01) / z.sum()
    assert f"hold {share:.0f}% of the weight" in text.sentence
    assert "the largest lies 1 cell(s) from the query" in text.sentence
    assert text.rows[0] == ("dynamic", 1, 1, 3, "0.5") and len(text.rows) == 8


def test_a_signed_map_ranks_by_magnitude_and_keeps_the_sign():
    z = np.array([[0.1, -0.9], [0.3, 0.0]])
    assert top_entries(z, 2, signed=True) == [(0, 1, -0.9), (1, 0, 0.3)]
    assert top_entries(z, 1, signed=False) == [(1, 0, 0.3)]


def test_a_matrix_names_the_outlined_query_rows_largest_keys():
    matrix = np.eye(4) * 0.1
    matrix[2, 3] = 0.8
    text = describe(figures.affinity_matrix(matrix, "M", grid=(2, 2), colorbar_title="A[i, j]", query_token=2))
    assert "Row i = 2 (the query, outlined): its largest entries are at key tokens 3 (0.8)" in text.sentence


def test_the_prediction_bars_rank_the_classes():
    text = describe(figures.topk_bar(np.array([0.1, 0.6, 0.3]), ["coat", "bag", "shirt"], "Prediction", k=2))
    assert "bag 60.0%; shirt 30.0%" in text.sentence
    assert [row[1] for row in text.rows] == ["bag", "shirt"]


def test_a_figure_built_by_hand_gets_a_sentence_from_its_own_traces():
    bars = go.Figure(go.Bar(x=["a", "b", "c"], y=[1.0, 4.0, 2.0], name="counts"))
    bars.update_layout(title="Counts", xaxis_title="letter", yaxis_title="count")
    text = describe(bars)
    assert text.sentence.startswith("Counts: bars; x axis: letter; y axis: count.")
    assert "Values from 1 to 4; the largest at b (counts)." in text.sentence
    assert text.rows == (("counts", "a", "1"), ("counts", "b", "4"), ("counts", "c", "2"))
    heat = go.Figure(go.Heatmap(z=[[0.0, 0.2], [0.7, 0.1]]))
    assert "largest at (1, 0) 0.7" in describe(heat).sentence


def test_a_hand_built_grid_of_heatmaps_names_each_by_its_subplot_title():
    from plotly.subplots import make_subplots

    fig = make_subplots(1, 2, subplot_titles=["before<br>training", "after"])
    fig.add_trace(go.Heatmap(z=[[1.0, 2.0]]), 1, 1)
    fig.add_trace(go.Heatmap(z=[[3.0, -4.0]]), 1, 2)
    sentence = describe(fig).sentence
    assert "before training: largest at (0, 1) 2" in sentence and "after: largest at (0, 1) -4" in sentence


def test_a_builders_text_survives_the_figure_going_through_json():
    fig = figures.panels([figures.Panel(np.eye(3), "x", "w")], "T", query=(0, 0))
    again = go.Figure(json.loads(fig.to_json()))
    assert describe(again) == describe(fig) != describe_figure(fig)


def test_the_sentences_are_translated_with_the_figure():
    zh = i18n.translations("zh").gettext
    z = np.arange(9.0).reshape(3, 3)
    with translator(zh):
        made = [describe(figures.panels([figures.Panel(z, "", "w")], "图", query=(1, 1))),
                describe(figures.topk_bar(np.array([0.2, 0.8]), ["甲", "乙"], "预测")),
                describe(figures.affinity_matrix(np.eye(4), "矩阵", grid=(2, 2), colorbar_title="A", query_token=1)),
                describe(go.Figure(go.Bar(x=["甲"], y=[1.0])))]
    for text in made:
        assert not untranslated_english([text.sentence, *text.columns]), text


# --------------------------------------------------------------------------
# The app: every chart drawn has its text alternative next to it
# --------------------------------------------------------------------------


def _charts_and_alternatives(node) -> list[tuple[dict, object, object]]:
    """``(figure, its caption, its table's popover or None)`` for every chart in the subtree, in order.

    After the chart comes either the caption alone, or a row whose first column holds the caption and whose second
    holds the popover with the table.
    """
    found = []
    children = list((getattr(node, "children", None) or {}).values())
    for index, child in enumerate(children):
        if child.type == "plotly_chart":
            after = children[index + 1] if index + 1 < len(children) else None
            caption = popover = None
            if after is not None and after.type == "caption":
                caption = after
            elif after is not None and after.type in ("horizontal", "flex_container"):
                first, second = (list(column.children.values()) for column in list(after.children.values())[:2])
                caption = first[0] if first else None
                popover = second[0] if second else None
            found.append((json.loads(child.proto.spec), caption, popover))
        else:
            found += _charts_and_alternatives(child)
    return found


def _unescaped(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def assert_every_chart_speaks(at, lang: str) -> int:
    """Each chart is followed by its sentence and, when it has data, the table; returns how many charts."""
    label = i18n.translations(lang).gettext("Table")
    charts = _charts_and_alternatives(at.main) + _charts_and_alternatives(at.sidebar)
    for figure, caption, expander in charts:
        title = str(figure.get("layout", {}).get("title", {}).get("text", ""))[:60]
        with translator(i18n.translations(lang).gettext):  # a generic text is made in the session's language
            expected = describe(go.Figure(figure))
        assert caption is not None and caption.type == "caption", f"no caption after the chart {title!r}"
        assert _unescaped(caption.value) == expected.sentence, title
        if expected.columns:
            assert expander is not None and expander.type == "popover", title
            assert expander.proto.popover.label == label, title
            assert expander.get("table"), title
        if lang == "zh":
            english = untranslated_english([expected.sentence])
            assert not english, f"English in the Chinese text alternative of {title!r}: {english}"
    return len(charts)


PAGES = (HOME, EXPLORER, INSPECTOR, BLEND, ZOO)
ANALYSIS_TABS = tuple(analysis_tabs())  # read from the page's TABS, so a new tab is walked too


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("page", PAGES)
def test_every_chart_of_every_page_has_its_text_alternative(with_weights, page, lang):
    at = start(page, query={"lang": lang})
    assert assert_every_chart_speaks(at, lang) >= 1, f"{page} drew no chart: the walk checked nothing"


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("tab", ANALYSIS_TABS)
def test_every_chart_of_every_analysis_tab_has_its_text_alternative(with_weights, tab, lang, monkeypatch, tmp_path):
    monkeypatch.setenv("CONTAINER_EDU_FASHION_MNIST", str(tmp_path / "no-fashion-mnist"))  # the bundled samples
    at = start(ANALYSIS, session={"an_tab": i18n.translations(lang).gettext(tab)}, query={"lang": lang})
    assert assert_every_chart_speaks(at, lang) >= 1, f"the {tab!r} tab drew no chart"


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("lesson", [lesson.KEY for lesson in LESSONS])
def test_every_chart_of_every_lesson_step_has_its_text_alternative(lesson, lang):
    """Each step opened from its address (``?lesson=&step=``), as a shared link would; a predict step shows its
    figures only after the prediction, so the walk checks what a first visit draws, across all steps."""
    module = next(m for m in LESSONS if m.KEY == lesson)
    for number in range(1, len(lesson_steps(module)) + 1):
        at = start(LESSONS_PAGE, query={"lesson": lesson, "step": str(number), "lang": lang})
        assert_every_chart_speaks(at, lang)


@pytest.mark.parametrize("lesson", [lesson.KEY for lesson in LESSONS if hasattr(lesson, "PREDICTION")])
def test_the_figures_a_prediction_reveals_have_their_text_alternative(lesson):
    from lesson_support import open_revealed

    assert_every_chart_speaks(open_revealed(lesson), "en")
