"""The app in 中文: the catalogue is complete and current, the language follows the address, no English is left.

- every message of ``app/locale/messages.pot`` has a checked (non-fuzzy, non-empty) Chinese translation;
- placeholders, inline code, link targets and icons are the same in the translation;
- the template is up to date with the source (a new, unmarked-up string fails here);
- ``?lang=zh`` selects Chinese, ``?lang=en`` and unknown values English, and the choice survives page switches;
- the translated parts of the app, drawn in Chinese under ``AppTest``, contain no English sentence.

Translators: add each page or area you finish to ``TRANSLATED`` (see docs/translating.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from streamlit.testing.v1 import AppTest

from app import i18n, i18n_catalog
from i18n_support import DEFAULT_ALLOW, rendered_texts, untranslated_english
from test_app_pages import ENTRY, TIMEOUT, assert_clean, texts

HOME = "pages/1_Home.py"
BLEND = "pages/4_Blend.py"

#: (page, area) drawn in Chinese and checked for English; area is "sidebar" or "main". Extend as you translate.
TRANSLATED: list[tuple[str, str]] = [
    (HOME, "sidebar"),
    (HOME, "main"),
    (BLEND, "sidebar"),  # the sidebar with the model picker and the checkpoint loader
]


# --------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------


def test_every_message_has_a_checked_chinese_translation():
    template = i18n_catalog.read_catalog(i18n_catalog.POT_PATH)
    assert len(template) > 0
    catalog = i18n_catalog.read_catalog(i18n.po_path("zh"), "zh")
    missing = i18n_catalog.untranslated(template, catalog)
    assert not missing, f"{len(missing)} strings without a (non-fuzzy) translation, e.g. {missing[:5]}"


def test_translations_keep_the_placeholders():
    catalog = i18n_catalog.read_catalog(i18n.po_path("zh"), "zh")
    problems = i18n_catalog.placeholder_mismatches(catalog)
    assert not problems, "\n".join(problems)


def test_the_template_is_up_to_date_with_the_source():
    new, gone = i18n_catalog.stale_template()
    assert not new and not gone, (f"run `python -m app.i18n extract && python -m app.i18n update`, then translate: "
                                  f"new {sorted(map(str, new))[:5]}, gone {sorted(map(str, gone))[:5]}")


# The checks above must be able to fail: each is run here on a catalogue with the fault it looks for.

def _catalog(entries: dict[str, str], fuzzy: tuple[str, ...] = ()) -> Catalog:
    catalog = Catalog(locale="zh")
    for msgid, msgstr in entries.items():
        catalog.add(msgid, msgstr, flags=("fuzzy",) if msgid in fuzzy else ())
    return catalog


def test_untranslated_finds_missing_empty_and_fuzzy_entries():
    template = _catalog({"One": "", "Two": "", "Three": "", "Four": ""})
    catalog = _catalog({"One": "一", "Two": "", "Three": "三"}, fuzzy=("Three",))
    assert sorted(i18n_catalog.untranslated(template, catalog)) == ["Four", "Three", "Two"]


@pytest.mark.parametrize("msgid, msgstr, ok", [
    ("{count} models", "{count} 个模型", True),
    ("{count} models", "{n} 个模型", False),
    ("{a} and {b}", "{b} 和 {a}", True),  # reordering is fine
    ("{size:.0f} MB", "{size} MB", False),  # the format spec is part of the field
    ("%s files", "文件", False),
    ("%(name)s is here", "%(name)s 在这里", True),
    ("Set `sa_weight`", "设置 `α`", False),  # inline code stays as it is
    ("[release]({url})", "[发布页]({url})", True),
    (":material/link_off: Ignored", "已忽略", False),
    ("Braces {{ }} are literal", "花括号 {{ }} 是字面量", True),
])
def test_placeholder_check(msgid, msgstr, ok):
    assert (not i18n_catalog.placeholder_mismatches(_catalog({msgid: msgstr}))) is ok


def test_a_new_unextracted_string_makes_the_template_stale(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "fresh.py").write_text('from app.i18n import _\n\nTITLE = _("A string nobody extracted")\n')
    new, gone = i18n_catalog.stale_template(tmp_path)
    assert "A string nobody extracted" in new
    assert "Home" in gone  # the real template's strings are not in this tiny tree


# --------------------------------------------------------------------------
# Compiling at start
# --------------------------------------------------------------------------


def test_english_outside_a_streamlit_run():
    assert i18n.current_language() == "en"
    assert i18n._("Home") == "Home"
    assert i18n.N_("Home") == "Home"


def test_the_catalogue_is_compiled_in_memory_and_recompiled_when_the_po_changes(tmp_path, monkeypatch):
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(i18n, "_compiled", {})
    po = i18n.po_path("zh")
    po.parent.mkdir(parents=True)

    def write(msgstr: str, mtime: int) -> None:
        po.write_text(f'msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
                      f'msgid "Home"\nmsgstr "{msgstr}"\n\n#, fuzzy\nmsgid "Blend"\nmsgstr "猜的"\n', encoding="utf-8")
        os.utime(po, (mtime, mtime))

    write("首页", 1_000_000)
    assert i18n.translations("zh").gettext("Home") == "首页"
    assert i18n.translations("zh").gettext("Blend") == "Blend"  # fuzzy: not shown
    write("主页", 2_000_000)
    assert i18n.translations("zh").gettext("Home") == "主页"
    assert i18n.translations("fr").gettext("Home") == "Home"  # no catalogue: English


# --------------------------------------------------------------------------
# The language in the session and the address
# --------------------------------------------------------------------------


def open_app(page: str, params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.switch_page(page)
    at.run()
    assert_clean(at)
    assert not at.error, texts(at.error)
    return at


def sidebar_heading(at: AppTest) -> str:
    return at.sidebar.markdown[0].value


def test_lang_zh_in_the_address_selects_chinese(no_weights):
    at = open_app(HOME, {"lang": "zh"})
    assert at.session_state[i18n.LANG_KEY] == "zh"
    assert sidebar_heading(at) == "### 图解 Container"
    assert at.sidebar.radio[0].value == "zh"
    assert at.query_params["lang"] == "zh"


@pytest.mark.parametrize("value", ["en", "fr", "", "zh-TW", "<b>"])
def test_english_or_an_unknown_language_gives_english_without_an_error(no_weights, value):
    at = open_app(HOME, {"lang": value})
    assert at.session_state[i18n.LANG_KEY] == "en"
    assert sidebar_heading(at) == "### Container, explained"
    assert "lang" not in at.query_params  # English is the default: the address does not need to say it


def test_the_language_survives_a_page_switch_and_a_later_link_changes_it(no_weights):
    at = open_app(HOME, {"lang": "zh"})
    at.query_params.clear()  # a click in the page menu opens the next page with a fresh address
    at.switch_page(BLEND)
    at.run()
    assert_clean(at)
    assert at.session_state[i18n.LANG_KEY] == "zh" and sidebar_heading(at) == "### 图解 Container"
    assert at.query_params["lang"] == "zh"  # a link copied here opens in Chinese
    at.query_params["lang"] = "en"  # the visitor edits the address
    at.run()
    assert sidebar_heading(at) == "### Container, explained" and "lang" not in at.query_params


def test_the_selector_switches_the_language_and_the_address(no_weights):
    at = open_app(HOME, {})
    assert sidebar_heading(at) == "### Container, explained" and "lang" not in at.query_params
    at.sidebar.radio[0].set_value("zh").run()
    assert_clean(at)
    assert sidebar_heading(at) == "### 图解 Container" and at.query_params["lang"] == "zh"
    at.sidebar.radio[0].set_value("en").run()
    assert sidebar_heading(at) == "### Container, explained" and "lang" not in at.query_params


# --------------------------------------------------------------------------
# No English left where the app is translated
# --------------------------------------------------------------------------


def test_the_english_checker_finds_sentences_and_spares_names_code_and_math():
    found = untranslated_english([
        "这是 Container-Light 的 `sa_weight`，见 [论文](https://arxiv.org/abs/2106.01401)。",
        "网格 N x N，$A = softmax(QK^T)$，blocks2.0，82.3% top-1，Fashion-MNIST 上的 ImageNet 权重。",
        "每个头 the learned weights 都不同。",
        "Download and install",
    ], DEFAULT_ALLOW)
    assert found == ["the learned weights", "Download and install"]
    assert untranslated_english(["Download and install"], allow=["Download and install"]) == []


@pytest.mark.parametrize("page, area", TRANSLATED)
def test_translated_parts_show_no_english_in_chinese(with_weights, page, area):
    at = open_app(page, {"lang": "zh"})
    shown = rendered_texts(at.sidebar if area == "sidebar" else at.main)
    assert len(shown) >= 3, shown  # the area was drawn
    english = untranslated_english(shown)
    assert not english, f"untranslated English on {page} ({area}): {english}"


def test_page_titles_are_translated_in_the_menu():
    from app.navigation import PAGE_SPECS

    catalog = i18n.translations("zh")
    for spec in PAGE_SPECS:
        assert catalog.gettext(spec.title) != spec.title, spec.title
        assert spec.url_path.isascii()  # addresses are the same in every language


def test_every_aggregation_kind_has_a_chinese_name():
    """The model picker shows the kinds' names (``container_edu.kinds``, English) through ``registry.KIND_LABELS``."""
    from app.registry import KIND_LABELS
    from container_edu.kinds import KINDS

    catalog = i18n.translations("zh")
    for kind in KINDS.values():
        assert kind.label in KIND_LABELS, f"add N_({kind.label!r}) to app.registry.KIND_LABELS"
        assert catalog.gettext(kind.label) != kind.label


def test_model_labels_are_english_by_default_and_translated_when_drawn():
    from app.i18n import Text

    text = Text("{name} · untrained", (("name", "fmnist_conv"),))
    assert text.english == text.shown() == "fmnist_conv · untrained"  # outside a run: English
    zh = i18n.translations("zh")
    assert zh.gettext(text.template).format(name="fmnist_conv") == "fmnist_conv · 未训练"


def test_core_figure_phrases_are_translated_after_drawing(monkeypatch):
    import plotly.graph_objects as go

    from app import figure_text

    fig = go.Figure(layout={"title": {"text": "Three matrices"}, "xaxis": {"title": {"text": "key token j"}},
                            "annotations": [{"text": "Self-attention<br>A_0(X) (head 10)"},
                                            {"text": "Multi-head MLP<br>A^mlp (shared by all channels)"}]})
    assert figure_text.localize(fig) is fig  # English: untouched
    monkeypatch.setattr(i18n, "current_language", lambda: "zh")
    monkeypatch.setattr(figure_text, "current_language", lambda: "zh")
    layout = figure_text.localize(fig).layout
    assert layout.xaxis.title.text == "键词元 j"
    assert [a.text for a in layout.annotations] == ["自注意力<br>A_0(X) (头 10)", "多头的MLP<br>A^mlp (所有通道共享)"]
    assert layout.title.text == "Three matrices"  # not a known phrase: the page translates its own titles


def _modules_importing_gettext() -> list[Path]:
    import ast

    root = i18n_catalog.REPO_ROOT
    files = [*sorted((root / "app").rglob("*.py")), *sorted((root / "pages").glob("*.py")), root / "streamlit_app.py"]
    found = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.ImportFrom) and (node.module or "").endswith("i18n")
               and any(alias.name == "_" and alias.asname is None for alias in node.names)
               for node in ast.walk(tree)):
            found.append(path)
    return found


def _assigns_underscore(source: str) -> list[int]:
    import ast

    return sorted(node.lineno for node in ast.walk(ast.parse(source))
                  if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store))


def test_no_module_that_translates_uses_underscore_as_a_variable():
    """``a, _ = ...`` makes ``_`` local to the whole function: every ``_("...")`` in it raises UnboundLocalError."""
    modules = _modules_importing_gettext()
    assert any(path.name == "sidebar.py" for path in modules)
    problems = {str(path): lines for path in modules if (lines := _assigns_underscore(path.read_text()))}
    assert not problems, f"rename the throwaway `_` (e.g. `_spacer`) at {problems}"
    assert _assigns_underscore("def f():\n    a, _ = 1, 2\n    for _ in []:\n        pass\n") == [2, 3]


# --------------------------------------------------------------------------
# Lessons 5-8 (attention, cost, reach, container), drawn in Chinese
# --------------------------------------------------------------------------

LESSONS_PAGE = "pages/6_Lessons.py"
#: Lessons whose own texts are translated; the frame they are drawn in (title, goals, quiz, Verify) is app/lessons'.
LESSONS_TRANSLATED_5_8: list[str] = ["attention", "cost", "reach", "container"]


@pytest.mark.parametrize("key", LESSONS_TRANSLATED_5_8)
def test_lessons_5_to_8_show_no_english_in_chinese(with_weights, key):
    at = open_app(LESSONS_PAGE, {"lesson": key, "lang": "zh"})
    assert at.session_state["lesson_picker"] == key  # the address chose the lesson
    shown = rendered_texts(at.main)
    assert len(shown) >= 10, shown  # the lesson was drawn
    english = untranslated_english(shown)
    assert not english, f"untranslated English in lesson {key}: {english}"


def test_math_sentence_sets_the_words_in_text_and_the_fields_as_math():
    from app.lessons.math_text import math_sentence

    assert (math_sentence("after {layers} layers: all {tokens} tokens", layers="L", tokens="N")
            == r"\text{after } L \text{ layers: all } N \text{ tokens}")
    assert math_sentence("{n} 个词元", n="N") == r"N \text{ 个词元}"  # a translation may move the math
    assert math_sentence("50% of {x}", x="x") == r"\text{50\% of } x"  # TeX's special characters escaped
