"""Every phrase the core's figures can draw comes out in Chinese through ``app.figure_text`` (and English stays as is).

Each figure function of ``container_edu.figures`` is drawn for the kinds that reach it (attention only, conv
only, Container, Container-Light, every kind side by side), localized in Chinese, and its titles, axis titles,
colour-bar titles, panel titles, notes and legend names are searched for English words; only symbols, code
names and proper names may stay.
"""

from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go
import pytest

import container_edu as ce
from app import figure_text, i18n
from container_edu import figures
from container_edu.ops.kinds import KINDS
from i18n_support import DEFAULT_ALLOW

#: English that stays in every language: the formulas' function names, names, and the glossary's term in
#: parentheses after its translation (轮（epoch）).
ALLOW = (*DEFAULT_ALLOW, "MLP", "softmax", "（epoch）")
_MARKUP = re.compile(r"<[^>]+>")
# A word of two letters or more that is not part of a symbol or code name (A_m^static, blocks2.0, fmnist_conv).
_WORD = re.compile(r"(?<![A-Za-z0-9_^.])[A-Za-z]{2,}(?![A-Za-z0-9_(])")


def english_words(texts: list[str]) -> list[str]:
    found = []
    for text in texts:
        plain = _MARKUP.sub(" ", text)
        for name in sorted(ALLOW, key=len, reverse=True):
            plain = plain.replace(name, " ")
        found += _WORD.findall(plain)
    return found


def figure_texts(fig: go.Figure) -> list[str]:
    """What a reader sees as words: titles, axis and colour-bar titles, notes and panel titles, legend names."""
    layout = fig.to_plotly_json()["layout"]
    texts = [layout.get("title", {}).get("text", "")]
    for name, part in layout.items():
        if name.startswith(("xaxis", "yaxis")) or name == "coloraxis":
            texts.append(((part.get("title") or {}).get("text")) or "")
            texts.append(((part.get("colorbar") or {}).get("title") or {}).get("text") or "")
    texts += [a.get("text", "") for a in layout.get("annotations", [])]
    for trace in fig.data:
        texts.append(trace.name or "")
        colorbar = getattr(trace, "colorbar", None)
        if colorbar is not None and colorbar.title.text:
            texts.append(colorbar.title.text)
    return [text for text in texts if text]


_NUMBERS = re.compile(r"[A-Za-z_]*\d[\w.]*")  # 7, 0.565, blocks2.1, A_0
_HOVER_FIELD = re.compile(r"%\{[^}]*\}")  # Plotly's %{customdata[0]}: data, not words


def hover_texts(fig: go.Figure) -> list[str]:
    return [_HOVER_FIELD.sub(" ", trace.hovertemplate) for trace in fig.data if getattr(trace, "hovertemplate", None)]


@pytest.fixture(scope="module")
def inspections():
    picture = np.random.default_rng(0).integers(0, 255, (28, 28), dtype=np.uint8)
    return {name: ce.inspect(f"fmnist_{name}", picture, device="cpu")
            for name in ("container_light", "container", "attention", "conv")}


def core_figures(inspections) -> dict[str, go.Figure]:
    """One of each figure the core draws (the titles a page passes in are already translated, as a page does)."""
    rng = np.random.default_rng(1)
    out: dict[str, go.Figure] = {}
    probabilities = rng.dirichlet(np.ones(10))
    classes = [f"class{i}" for i in range(10)]
    out["topk_bar"] = figures.topk_bar(probabilities, classes, "前 5 个预测")
    out["probability_comparison"] = figures.probability_comparison(probabilities, probabilities[::-1], classes, "概率")
    blend = {"blocks2.0": (0.4, 0.7), "blocks2.1": (0.6, 0.2)}
    out["blend_bars"] = figures.blend_bars(blend, "混合权重", show_beta=True)
    for kind in ("container_light", "container"):
        out[f"blend_figure {kind}"] = figures.blend_figure(blend, "混合权重", kind=kind)
    history = [{"epoch": e, "test_accuracy": 50.0 + e, "val_accuracy": 49.0 + e, "blend": {"blocks2.0": [0.5, 0.5]}}
               for e in (1, 2)]
    out["history_accuracy"] = figures.history_accuracy({"fmnist_container": history}, "准确率")
    out["history_blend"] = figures.history_blend({"fmnist_container": history}, "α")
    matrix = rng.random((12, 12))
    out["affinity_matrix"] = figures.affinity_matrix(matrix, "矩阵", grid=(3, 4), colorbar_title="A[i, j]",
                                                     query_token=5)
    out["panels"] = figures.panels([figures.Panel(matrix[0].reshape(3, 4), "行")], "行", clickable=True)
    out["grid_row"] = figures.grid_row(matrix[0].reshape(3, 4), "行", colorbar_title="A", query=(1, 1))
    out["image_figure"] = figures.image_figure(np.zeros((8, 8, 3), dtype=np.uint8), "图像")
    for name, result in inspections.items():
        block = result.blocks[-1]
        maps = result.maps(block, (2, 3), head=0)
        out[f"query_maps_figure {name}"] = figures.query_maps_figure(maps, result.seen, clickable=True)
        out[f"query_maps_figure {name} no image"] = figures.query_maps_figure(maps)
        for part in maps.parts:
            out[f"heads_figure {name} {part}"] = figures.heads_figure(maps, part, result.seen)
            out[f"head_matrix_figure {name} {part}"] = figures.head_matrix_figure(
                result.matrix(block, part, 0), maps, part)
        if {"attention", "static"} <= set(maps.parts):
            moved = ce.inspect(f"fmnist_{name}", np.zeros((28, 28), dtype=np.uint8), blend={block: 0.0},
                               device="cpu").maps(block, (2, 3), head=0)
            out[f"blend_change_figure {name}"] = figures.blend_change_figure(maps, moved, result.seen)
            out[f"blend_change_figure {name} no image"] = figures.blend_change_figure(maps, moved)
    grid = (3, 4)
    every_kind = {key: rng.random((12, 12)) for key in KINDS}
    labels = {key: {"head": "head 0", "channel": "channel 0", "shared": "shared by all channels"}[kind.affinity_per]
              for key, kind in KINDS.items()}
    out["operator_comparison"] = figures.operator_comparison(every_kind, grid, labels=labels)
    out["operator_comparison query"] = figures.operator_comparison(every_kind, grid, labels=labels, query=(1, 2))
    return out


@pytest.fixture
def chinese(monkeypatch):
    monkeypatch.setattr(i18n, "current_language", lambda: "zh")
    monkeypatch.setattr(figure_text, "current_language", lambda: "zh")


def test_english_words_finds_words_and_spares_symbols_and_names():
    assert english_words(["Block blocks2.0, 头 3", "A_m^static 与 softmax(Q K) 的 Container-Light", "值 value"]) \
        == ["Block", "value"]


def test_every_core_figure_has_no_english_left_in_chinese(inspections, chinese):
    drawn = core_figures(inspections)
    assert len(drawn) > 30
    problems = {}
    for name, fig in drawn.items():
        english = english_words(figure_texts(fig))
        localized = figure_text.localize(fig)
        left = english_words(figure_texts(localized)) + english_words(hover_texts(localized))
        if left:
            problems[name] = left
        # every field (block names, heads, query, grid, α, β) comes through into the translation
        assert sorted(_NUMBERS.findall(str(localized.layout.title.text))) == \
            sorted(_NUMBERS.findall(str(fig.layout.title.text))), name
        # the check can fail: every figure but the two titled only by the caller has English before localizing
        assert english or name.startswith(("image_figure", "grid_row")), f"{name}: nothing English to translate?"
    assert not problems, "\n".join(f"{name}: {sorted(set(words))}" for name, words in problems.items())


def test_english_figures_are_untouched(inspections):
    for fig in core_figures(inspections).values():
        assert figure_text.localize(fig) is fig


def _title_lines(fig: go.Figure) -> list[str]:
    return fig.layout.title.text.split("<br>")


def test_a_translated_title_is_wrapped_again_to_the_cores_width_and_given_room(chinese):
    from container_edu.figures.heatmaps import _columns

    english = ("Block blocks2.1, head 0, query (2, 3) on the 4×4 grid: row i = 11 of each affinity, over the image "
               "the model sees")
    fig = figures.image_figure(np.zeros((8, 8, 3), dtype=np.uint8), english, title_width=40)
    assert len(_title_lines(fig)) > 1
    for width in (40, None):  # given, or taken from the core's own lines
        localized = figure_text.localize(fig, title_width=width)
        lines = _title_lines(localized)
        translated = figure_text.translate_known(english)
        assert translated != english
        assert "".join(lines).replace(" ", "") == translated.replace(" ", "")  # nothing lost, only line breaks
        if width:
            assert localized.layout.title.text == figures.wrap_title(translated, width)
        assert max(map(_columns, lines)) <= 40
        breaks = len(lines) - 1
        grown = 21 * (breaks - (len(_title_lines(fig)) - 1)) + 8 * breaks
        assert localized.layout.height == fig.layout.height + grown
        assert localized.layout.margin.t == fig.layout.margin.t + grown
        assert localized.layout.title.pad.t == fig.layout.title.pad.t + 8 * breaks


def test_a_page_title_replaces_the_cores_and_a_chinese_title_keeps_the_cores_wrapping(chinese):
    picture = np.zeros((8, 8, 3), dtype=np.uint8)
    fig = figures.image_figure(picture, "What the model sees, after preprocessing", title_width=30)
    title = "模型看到的图像：预处理（缩放、归一化）之后的输入，共 28×28 个像素"
    localized = figure_text.localize(fig, title=title, title_width=30)
    assert localized.layout.title.text == figures.wrap_title(title, 30)

    drawn = figures.image_figure(picture, title, title_width=30)  # the page passes its own title to the core
    kept = figure_text.localize(drawn)
    assert kept.layout.title.text == drawn.layout.title.text
    breaks = drawn.layout.title.text.count("<br>")
    assert breaks and kept.layout.title.pad.t == drawn.layout.title.pad.t + 8 * breaks  # taller Chinese lines


def test_sentences_outside_figures_come_out_in_chinese(chinese):
    """The data-size sweep's report and a card's dataset sentence (``translate_known``): only code names stay."""
    from container_edu.training.sweep_report import report_markdown

    report = report_markdown()
    shown = figure_text.translate_known(report, figure_text.REPORT_PHRASES)
    code_names = {"attention", "conv", "mixer", "container", "container_light"}
    assert english_words(report.splitlines())  # the check can fail
    assert set(english_words(shown.splitlines())) <= code_names
    assert sorted(re.findall(r"\d+", shown)) == sorted(re.findall(r"\d+", report))  # every field kept
    card = ("Fashion-MNIST (Debian package dataset-fashion-mnist): 54,000 training images (10% of the training split "
            "held out for validation), 10,000 test images")
    dataset = figure_text.translate_known(card, figure_text.ZOO_PHRASES)
    assert set(english_words([dataset.replace("dataset-fashion-mnist", "")])) == {"Debian"}  # a name
    assert "54,000" in dataset and "10%" in dataset


def test_a_chinese_title_with_a_glossary_term_is_not_translated_again(chinese):
    title = "每轮（epoch）的准确率"  # the page's title, passed through the core; "epoch" is one of PHRASES
    assert figure_text.translate_known(title) == title
    assert figure_text.translate_known("epoch") != "epoch"


def test_english_sentences_are_untouched():
    text = "- runs finished: 3 of 45"
    assert figure_text.translate_known(text, figure_text.REPORT_PHRASES) is text
