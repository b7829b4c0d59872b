"""The core writes its text in the language of the installed translator (``container_edu.text``), English by default.

Each figure function of ``container_edu.figures`` is drawn for the kinds that reach it (attention only, conv
only, Container, Container-Light, every kind side by side), once as it is and once with the Chinese catalogue
installed as the translator (as the app installs it for a session), and the Chinese figure's titles, axis titles,
colour-bar titles, panel titles, notes, legend names and hover texts are searched for English words; only
symbols, code names and proper names may stay. The same for the sentences the core writes outside figures.
"""

from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go
import pytest

import container_edu as ce
from app import i18n
from container_edu import figures
from container_edu.ops.kinds import KINDS
from container_edu.text import Message, N_, translate, translator
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
    # The caller names each kind's matrix in the session's language (the explorer: a Message drawn with .shown()).
    names = {"head": Message(N_("head {m}"), {"m": 0}), "channel": Message(N_("channel {c}"), {"c": 0}),
             "shared": Message(N_("shared by all channels"))}
    labels = {key: names[kind.affinity_per].shown() for key, kind in KINDS.items()}
    out["operator_comparison"] = figures.operator_comparison(every_kind, grid, labels=labels)
    out["operator_comparison query"] = figures.operator_comparison(every_kind, grid, labels=labels, query=(1, 2))
    return out


@pytest.fixture
def chinese():
    with translator(i18n.translations("zh").gettext):
        yield


def test_english_words_finds_words_and_spares_symbols_and_names():
    assert english_words(["Block blocks2.0, 头 3", "A_m^static 与 softmax(Q K) 的 Container-Light", "值 value"]) \
        == ["Block", "value"]


def test_every_core_figure_has_no_english_left_in_chinese(inspections):
    english = core_figures(inspections)
    with translator(i18n.translations("zh").gettext):
        chinese = core_figures(inspections)
    assert len(chinese) > 30 and chinese.keys() == english.keys()
    problems = {}
    for name, fig in chinese.items():
        left = english_words(figure_texts(fig)) + english_words(hover_texts(fig))
        if left:
            problems[name] = left
        # every field (block names, heads, query, grid, α, β) comes through into the translation
        assert sorted(_NUMBERS.findall(str(fig.layout.title.text))) == \
            sorted(_NUMBERS.findall(str(english[name].layout.title.text))), name
        # the check can fail: every figure but the two titled only by the caller has English words without the hook
        assert english_words(figure_texts(english[name])) or name.startswith(("image_figure", "grid_row")), \
            f"{name}: nothing English to translate?"
    assert not problems, "\n".join(f"{name}: {sorted(set(words))}" for name, words in problems.items())


def test_without_a_translator_the_core_writes_english():
    assert translate("head {m}", m=3) == "head 3"
    with translator(lambda template: f"«{template}»"):
        assert translate("head {m}", m=3) == "«head 3»"  # the template is translated, then filled
        assert str(Message(N_("head {m}"), {"m": 3})) == "head 3"  # str() of a message is always English
        assert Message(N_("head {m}"), {"m": 3}).shown() == "«head 3»"
        nested = translate("Download failed: {reason}.", reason=Message(N_("{host} stopped answering"), {"host": "h"}))
        assert nested == "«Download failed: «h stopped answering».»"  # a message inside a field: translated too
    assert translate("head {m}", m=3) == "head 3"


def test_a_translator_belongs_to_its_own_thread():
    """Streamlit runs each session's script in its own thread: one session's language never reaches another."""
    import threading

    seen = []
    ready, done = threading.Event(), threading.Event()

    def other_session():
        ready.wait()
        seen.append(translate("epoch"))
        done.set()

    thread = threading.Thread(target=other_session)
    thread.start()
    with translator(i18n.translations("zh").gettext):
        ready.set()
        done.wait(30)
        mine = translate("epoch")
    thread.join()
    assert seen == ["epoch"] and mine != "epoch"


def _title_lines(fig: go.Figure) -> list[str]:
    return fig.layout.title.text.split("<br>")


def test_a_chinese_title_is_wrapped_to_its_width_and_given_room(chinese):
    from container_edu.figures.heatmaps import _columns

    title = translate("Block {block}, head {m}, query ({y}, {x}) on the {h}×{w} grid: row i = {i} of each affinity, "
                      "over the image the model sees", block="blocks2.1", m=0, y=2, x=3, h=4, w=4, i=11)
    assert not english_words([title])
    one_line = figures.image_figure(np.zeros((8, 8, 3), dtype=np.uint8), title, title_width=200)
    fig = figures.image_figure(np.zeros((8, 8, 3), dtype=np.uint8), title, title_width=40)
    lines = _title_lines(fig)
    assert len(lines) > 1 and max(map(_columns, lines)) <= 40
    assert "".join(lines) == title.replace(" ", "") or "".join(lines).replace(" ", "") == title.replace(" ", "")
    breaks = len(lines) - 1
    # a Chinese line stands taller than a Latin one: 8 px more per line break, besides the line's own 21 px
    assert fig.layout.title.pad.t == one_line.layout.title.pad.t + 8 * breaks
    assert fig.layout.height == one_line.layout.height + (21 + 8) * breaks
    assert fig.layout.margin.t == one_line.layout.margin.t + (21 + 8) * breaks


def test_sentences_outside_figures_come_out_in_chinese(chinese):
    """The data-size sweep's report and a card's dataset sentence: only code names stay."""
    from container_edu.training.sweep_report import report_markdown

    shown = report_markdown()
    with translator(str):
        report = report_markdown()
    code_names = {"attention", "conv", "mixer", "container", "container_light"}
    assert english_words(report.splitlines())  # the check can fail
    assert set(english_words(shown.splitlines())) <= code_names
    assert sorted(re.findall(r"\d+", shown)) == sorted(re.findall(r"\d+", report))  # every field kept


def test_every_core_error_template_is_in_the_catalogue():
    """``N_`` and ``translate`` of the core are extraction keywords: every template reaches the translators."""
    import ast

    from app.i18n import catalog

    template_ids = {message.id for message in catalog.read_catalog(catalog.POT_PATH) if message.id}
    found = []
    for path in sorted((catalog.REPO_ROOT / "container_edu").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("N_", "translate") and node.args \
                    and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                found.append(node.args[0].value)
    assert len(found) > 150
    assert not [text for text in found if text not in template_ids]
