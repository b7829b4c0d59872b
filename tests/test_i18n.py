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
import pickle
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from streamlit.testing.v1 import AppTest

from accessibility_support import analysis_tabs
from apptest_support import (ANALYSIS, BLEND, EXPLORER, HOME, INSPECTOR, LESSONS_PAGE, ZOO, assert_clean,
                             assert_no_exception, open_link, start, texts)
from app import i18n
from app.i18n import catalog as i18n_catalog
from app.lessons import LESSON_KEYS, LESSONS
from i18n_support import DEFAULT_ALLOW, rendered_texts, untranslated_english

#: (page, area) drawn in Chinese and checked for English; area is "sidebar" or "main". Extend as you translate.
TRANSLATED: list[tuple[str, str]] = [
    (HOME, "sidebar"),
    (HOME, "main"),
    (BLEND, "sidebar"),  # the sidebar with the model picker and the checkpoint loader
    (INSPECTOR, "main"),
    (BLEND, "main"),
    (ZOO, "main"),
    (ANALYSIS, "main"),  # its first tab; the others: test_every_analysis_tab_shows_no_english_in_chinese
    (EXPLORER, "main"),  # with its default operator; every operator: test_the_explorer_..._for_every_operator
]

#: Text of the test fixtures, not of the app: the training command recorded in the fake model cards
#: (``conftest.fake_weights_dir``), which the Model zoo shows as it is (a command, like the real ``python -m ...``).
FIXTURE_TEXT = ("test bundle",)
#: Lessons (keys of app.lessons.LESSON_KEYS) drawn in Chinese, frame included, and checked for English (main area).
LESSONS_TRANSLATED: tuple[str, ...] = LESSON_KEYS  # all of them


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


open_app = open_link  # the page opened from an address (?lang=zh, ?lesson=...)


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
    english = untranslated_english(shown, DEFAULT_ALLOW + FIXTURE_TEXT)
    assert not english, f"untranslated English on {page} ({area}): {english}"


def test_the_inspectors_prediction_names_the_classes_in_chinese(with_weights):
    """The bar chart's class names are data of the figure, which the text check does not read."""
    import json

    at = open_app(INSPECTOR, {"lang": "zh"})
    bars = [json.loads(chart.proto.spec) for chart in at.main.get("plotly_chart") if chart.key == "insp_pred"]
    assert bars, "the prediction chart was not drawn"
    names = [name for trace in bars[0]["data"] for name in trace.get("y", [])]
    assert len(names) == 5 and not untranslated_english(names) and not any(name.isascii() for name in names), names


ANALYSIS_TABS = tuple(analysis_tabs())  # read from the page's TABS, so a new tab is walked too
#: Widgets of the Analysis page drawn by shared helpers outside the page (app/widgets.py's block, head and query
#: pickers; the sample names of app/samples.py in the image pickers): checked with those helpers, not here.
SHARED_WIDGETS = ("an_pair_block", "an_pair_head", "an_image_a", "an_image_b", "an_roll_image")


def _has_fashion_mnist() -> bool:
    from container_edu.data import load_fashion_mnist

    try:
        load_fashion_mnist("test")
    except Exception:  # noqa: BLE001 - missing or damaged: the data set is not there to use
        return False
    return True


@pytest.mark.parametrize("data", ["with the data set", "without the data set"])
@pytest.mark.parametrize("tab", ANALYSIS_TABS)
def test_every_analysis_tab_shows_no_english_in_chinese(with_weights, tab, data, monkeypatch, tmp_path):
    """Both ways a learner meets the page: with Fashion-MNIST (the Debian package, or a folder the variable names)
    and without it, where the gallery averages over the bundled samples and says why (a DatasetError's sentence)."""
    from collections import Counter

    if data == "without the data set":
        monkeypatch.setenv("CONTAINER_EDU_FASHION_MNIST", str(tmp_path / "no-fashion-mnist"))
    elif not _has_fashion_mnist():
        pytest.skip("Fashion-MNIST is not installed here (Debian's dataset-fashion-mnist, or "
                    "CONTAINER_EDU_FASHION_MNIST): the case without it runs instead")
    at = start(ANALYSIS, session={"an_tab": i18n.translations("zh").gettext(tab)}, query={"lang": "zh"})
    shown = Counter(rendered_texts(at.main))
    for key in SHARED_WIDGETS:
        for widget in at.main.get("selectbox"):
            if widget.key == key:
                shown -= Counter(rendered_texts(widget))
    assert any("图" in text for text in shown), list(shown)  # the tab was drawn, in Chinese
    english = untranslated_english(shown.elements())
    assert not english, f"untranslated English on the Analysis page's {tab!r} tab: {english}"


def test_the_open_analysis_tab_stays_open_when_the_language_changes(with_weights):
    at = open_app(ANALYSIS, {})
    at.session_state["an_tab"] = "Rollout"
    at.run()
    at.sidebar.radio[0].set_value("zh").run()
    assert_clean(at)
    assert at.session_state["an_tab"] == i18n.translations("zh").gettext("Rollout") != "Rollout"
    assert any(m.value == "**它是什么，不是什么**" for m in at.markdown)  # the rollout tab, in Chinese
    at.sidebar.radio[0].set_value("en").run()
    assert at.session_state["an_tab"] == "Rollout"
    assert any(m.value == "**What this is and is not**" for m in at.markdown)


@pytest.mark.parametrize("weights", ["shipped", "no_weights"])
@pytest.mark.parametrize("lesson", LESSONS_TRANSLATED)
def test_every_lesson_shows_no_english_in_chinese(request, lesson, weights):
    """Every lesson, frame included, with the repository's trained weights (cards, tables, the paired test) and
    without any (random stand-ins)."""
    from app.lessons.parts.widgets import PICKER_KEY

    if weights != "shipped":
        request.getfixturevalue(weights)
    at = open_app(LESSONS_PAGE, {"lesson": lesson, "lang": "zh"})
    assert at.selectbox(key=PICKER_KEY).value == lesson  # the address opened this lesson
    shown = rendered_texts(at.main)
    assert len(shown) >= 10, shown  # the lesson was drawn
    english = untranslated_english(shown)
    assert not english, f"untranslated English in lesson {lesson!r}: {english}"


@pytest.mark.parametrize("lesson", [lesson.KEY for lesson in LESSONS if hasattr(lesson, "PREDICTION")])
def test_every_step_of_a_lesson_shows_no_english_in_chinese(no_weights, lesson):
    """A lesson in steps shows one step at a time: walk them all, with a prediction made (what it reveals too)."""
    from app.lessons.parts.steps import lesson_steps, step_key

    module = next(module for module in LESSONS if module.KEY == lesson)
    at = open_app(LESSONS_PAGE, {"lesson": lesson, "lang": "zh"})
    for step in lesson_steps(module):
        at.segmented_control(key=step_key(lesson)).set_value(step.id).run()
        radios = [radio for radio in at.radio if radio.key == module.PREDICTION.key]
        if step.id == "predict" and radios:  # the zoo offers no prediction without two trained models
            radios[0].set_value(radios[0].options[0]).run()
        assert_no_exception(at)
        shown = rendered_texts(at.main)
        english = untranslated_english(shown)
        assert not english, f"untranslated English in step {step.id!r} of lesson {lesson!r}: {english}"


@pytest.mark.parametrize("operator", ["attention", "conv", "mixer", "multihead_mlp", "container", "container_light",
                                      "container_pam"])
def test_the_explorer_shows_no_english_in_chinese_for_every_operator(no_weights, operator):
    """Each operator has its own description, formula, traits, matrix labels and blend sliders."""
    from container_edu.analysis.explore import OPERATORS

    assert set(OPERATORS) == {"attention", "conv", "mixer", "multihead_mlp", "container", "container_light",
                              "container_pam"}, "a new operator: add it to the list above"
    at = open_app(EXPLORER, {"lang": "zh", "op": operator})
    assert at.selectbox(key="ex_operator").value == operator  # the address chose it
    shown = rendered_texts(at.main)
    assert any("等价性检验通过" in text for text in shown), shown
    english = untranslated_english(shown)
    assert not english, f"untranslated English in the explorer ({operator}): {english}"


def test_every_kind_text_the_explorer_draws_has_a_chinese_translation():
    """The explorer draws each kind's description, formula and traits (``container_edu.ops.kinds``, English)."""
    from app.explorer import KIND_DESCRIPTIONS, KIND_FORMULAS, KIND_TRAITS
    from container_edu.ops.kinds import KINDS

    catalog = i18n.translations("zh")
    for kind in KINDS.values():
        assert kind.description in KIND_DESCRIPTIONS, f"add N_({kind.description!r}) to app.explorer.KIND_DESCRIPTIONS"
        assert kind.traits in KIND_TRAITS, kind.traits
        assert catalog.gettext(kind.description) != kind.description
        assert catalog.gettext(kind.traits) != kind.traits
        if untranslated_english([kind.formula]):  # a formula with words (not only symbols) is translated
            assert kind.formula in KIND_FORMULAS, f"add N_({kind.formula!r}) to app.explorer.KIND_FORMULAS"
            assert catalog.gettext(kind.formula) != kind.formula


def test_the_block_picker_says_what_the_core_says_in_english_and_chinese_in_chinese(monkeypatch):
    """``app.widgets.describe_block`` redraws ``container_edu.record.inspection.describe_block`` in the session's language."""
    import torch

    from app import widgets
    from app.registry import build_random
    from container_edu.record.inspection import describe_block, run_inspection

    model = build_random("fmnist_container_light", "cpu")
    inspection = run_inspection(model, torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    records = list(inspection.records.values())
    assert any(r.attention is None for r in records) and any(r.attention is not None for r in records)
    assert [widgets.describe_block(r) for r in records] == [describe_block(r) for r in records]
    monkeypatch.setattr(i18n, "current_language", lambda: "zh")
    for record in records:
        shown = widgets.describe_block(record)
        assert record.name in shown and "网格" in shown and not untranslated_english([shown]), shown


def test_page_titles_are_translated_in_the_menu():
    from app.navigation import PAGE_SPECS

    catalog = i18n.translations("zh")
    for spec in PAGE_SPECS:
        assert catalog.gettext(spec.title) != spec.title, spec.title
        assert spec.url_path.isascii()  # addresses are the same in every language


def test_every_aggregation_kind_has_a_chinese_name():
    """The kinds' names (``container_edu.ops.kinds``, marked ``N_`` there) are in the catalogue, translated."""
    from container_edu.ops.kinds import KINDS

    template = i18n_catalog.read_catalog(i18n_catalog.POT_PATH)
    catalog = i18n.translations("zh")
    for kind in KINDS.values():
        assert template.get(kind.label) is not None, f"mark {kind.label!r} with N_ in container_edu/ops/kinds.py"
        assert catalog.gettext(kind.label) != kind.label


def test_model_labels_are_english_by_default_and_translated_when_drawn():
    from app.i18n import Text

    text = Text("{name} · untrained", (("name", "fmnist_conv"),))
    assert text.english == text.shown() == "fmnist_conv · untrained"  # outside a run: English
    zh = i18n.translations("zh")
    assert zh.gettext(text.template).format(name="fmnist_conv") == "fmnist_conv · 未训练"


def test_core_figures_are_drawn_in_the_language_of_the_installed_translator():
    """The core writes its figure text through ``container_edu.text``: English by default, Chinese under the app's hook."""
    import numpy as np

    from container_edu import figures
    from container_edu.text import translator

    matrices = {"attention": np.eye(4) / 1.0, "multihead_mlp": np.ones((4, 4)) / 4}
    draw = lambda: figures.operator_comparison(matrices, (2, 2), labels={"attention": "head 1"})  # noqa: E731
    english = draw().layout
    assert english.xaxis.title.text == "key token j"
    assert english.annotations[0].text == "Self-attention<br>A_0(X) (head 1)"
    with translator(i18n.translations("zh").gettext):
        chinese = draw().layout
    assert chinese.xaxis.title.text == "键词元 j"
    assert [a.text for a in chinese.annotations][:2] == ["自注意力<br>A_0(X) (head 1)", "多头的MLP<br>A_0^mlp"]
    assert chinese.title.text.startswith("2 个仿射矩阵") and "N = 2×2 = 4" in chinese.title.text
    assert draw().layout.xaxis.title.text == "key token j"  # the hook is gone after the ``with``


def _core_errors(weights_folder: Path) -> list[BaseException]:
    """Real errors of the core, as a user meets them on the Image inspector, Blend and Model zoo pages."""
    import io as _io

    import torch

    from container_edu.hub.checkpoints import CheckpointError, load_checkpoint_state_dict
    from container_edu.data.images import ImageError, load_image
    from container_edu.hub.bundled import PretrainedError, load_pretrained
    from container_edu.hub.weights_store import WeightsError, import_checkpoint
    from container_edu.hub.weights_store import fetch as weights_fetch

    def raised(call, *args, **kwargs) -> BaseException:
        try:
            call(*args, **kwargs)
        except (ImageError, CheckpointError, PretrainedError, WeightsError) as error:
            return error
        raise AssertionError(f"{call.__name__}{args} raised nothing")

    holds_no_tensors = _io.BytesIO()
    torch.save({"epoch": 3}, holds_no_tensors)
    return [
        raised(load_image, b""),
        raised(load_image, b"<!doctype html><html></html>"),
        raised(load_image, b"%PDF-1.4 not an image"),
        raised(load_image, b"plain text, not an image"),
        raised(load_image, b"\x89PNG\r\n\x1a\n" + b"0" * 40),
        raised(load_image, b"x" * 2048, max_bytes=1024),
        raised(load_image, "/nonexistent/picture.png"),
        raised(load_checkpoint_state_dict, b""),
        raised(load_checkpoint_state_dict, holds_no_tensors.getvalue()),
        raised(load_checkpoint_state_dict, "/nonexistent/container_light.pth"),
        # container_edu.hub.safe_load: what a file that is not a safe checkpoint turns out to be
        raised(load_checkpoint_state_dict, pickle.dumps({"weight": [1.0, 2.0]})),
        raised(load_checkpoint_state_dict, b"\x89PNG\r\n\x1a\n" + b"0" * 64),
        raised(load_checkpoint_state_dict, b"some notes, not weights at all\n" * 4),
        raised(load_checkpoint_state_dict, pickle.dumps(os.system)),
        raised(load_checkpoint_state_dict, holds_no_tensors.getvalue()[:200]),
        # container_edu.hub.weights_store (no network: the address is refused before any connection)
        raised(weights_fetch, "ftp://127.0.0.1/container_light.pth", directory=weights_folder),
        raised(import_checkpoint, "/nonexistent/container_light.pth", directory=weights_folder),
        raised(load_pretrained, "no_such_model"),
    ]


def test_core_errors_carry_templates_that_the_app_translates(monkeypatch, tmp_path):
    """Every error of the core is a ``ContainerEduError``: an English template (in the catalogue) and its fields.

    ``str(error)`` is the English sentence; the app shows the translated template with the same fields.
    """
    from app import errors
    from container_edu.errors import ContainerEduError

    template_ids = {message.id for message in i18n_catalog.read_catalog(i18n_catalog.POT_PATH) if message.id}
    core_errors = _core_errors(tmp_path)
    for error in core_errors:
        assert isinstance(error, ContainerEduError), repr(error)
        assert error.template in template_ids, f"not extracted: {error.template!r}"
    error = core_errors[-1]
    assert errors.friendly_message(error, "x") == str(error)  # English outside a run
    monkeypatch.setattr(i18n, "current_language", lambda: "zh")
    for error in core_errors:
        shown = errors.friendly_message(error, "x")
        sentence = shown
        for value in _field_texts(error.fields):  # paths, sizes, a library's own detail: kept as they are
            sentence = sentence.replace(value, " ")
        assert shown != str(error) and not untranslated_english([sentence]), shown
    assert "'no_such_model'" in errors.friendly_message(error, "x")  # the fields are kept


def _field_texts(fields: dict) -> list[str]:
    from container_edu.text import Message

    texts = []
    for value in fields.values():
        texts += _field_texts(value.fields) if isinstance(value, Message) else [str(value)]
    return sorted(texts, key=len, reverse=True)


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
# Lessons: runs and texts built from the core
# --------------------------------------------------------------------------



def _lesson_in_chinese(lesson: str) -> AppTest:
    from app.lessons.parts.widgets import PICKER_KEY

    at = open_app(LESSONS_PAGE, {"lesson": lesson, "lang": "zh"})
    assert at.selectbox(key=PICKER_KEY).value == lesson  # the address opened this lesson
    return at


def test_a_finished_training_run_is_shown_in_chinese():
    """The run's status comes from the training thread as a code (no session there) and is put in words when drawn."""
    import time

    from test_lessons import HAVE_DATA

    if not HAVE_DATA:
        pytest.skip("Fashion-MNIST is not installed")
    at = _lesson_in_chinese("train")
    at.segmented_control(key="train_step").set_value("predict").run()
    at.radio(key="train_prediction").set_value(at.radio(key="train_prediction").options[0]).run()
    at.segmented_control(key="train_step").set_value("run").run()
    at.select_slider(key="train_subset").set_value(256)
    at.slider(key="train_epochs").set_value(1)
    at.text_input(key="train_name").set_value("zh_run")
    at.run()
    at.button(key="train_start").click().run()
    for _poll in range(960):  # bounded by count; each poll waits half a second for the thread
        job = at.session_state["train_job"]
        if job.collected:
            break
        time.sleep(0.5)
        at.run()
    assert at.session_state["train_job"].collected, at.session_state["train_job"].status
    assert_clean(at)
    assert any(s.value.startswith("运行已完成") for s in at.success), texts(at.success)
    english = untranslated_english(rendered_texts(at.main))
    assert not english, f"untranslated English after a run: {english}"


def test_lesson_constants_that_repeat_numbers_match_them():
    """Options marked whole with N_ spell out numbers the code uses; they must stay in step with it."""
    from app.lessons import trained

    band = trained.NEAR_START
    assert trained.LEAN_PREDICTIONS == (f"towards attention (α above {0.5 + band})",
                                        f"towards the conv (α below {0.5 - band})",
                                        f"nowhere clear (within {band} of 0.5)")


def test_the_data_source_is_described_as_the_core_describes_it_in_english(tmp_path):
    from app.lessons.parts.resources import source_label
    from container_edu.data import DataSource

    for is_subset in (True, False):
        source = DataSource(tmp_path, is_subset)
        assert source_label(source) == source.label


def test_a_cards_dataset_is_filled_again_from_its_recipe_and_translated(fake_weights_dir):
    """The card's ``dataset`` (English, written by ``write_bundle``) is the template filled from the card's recipe."""
    import dataclasses

    from container_edu.hub.bundled import list_pretrained
    from container_edu.hub.cards import describe_dataset
    from container_edu.text import translator

    cards = list_pretrained(fake_weights_dir)
    assert cards
    zh = i18n.translations("zh").gettext
    for card in cards.values():
        assert describe_dataset(card) == card.dataset  # English: the same text
        assert describe_dataset(card) is not card.dataset  # rebuilt from the template and the recipe
        with translator(zh):
            assert "训练图像" in describe_dataset(card)
        other = dataclasses.replace(card, dataset="another dataset")
        with translator(zh):
            assert describe_dataset(other) == "another dataset"  # written otherwise: its own words


def test_math_sentence_sets_the_words_in_text_and_the_fields_as_math():
    from app.lessons.parts.math_text import math_sentence

    assert (math_sentence("after {layers} layers: all {tokens} tokens", layers="L", tokens="N")
            == r"\text{after } L \text{ layers: all } N \text{ tokens}")
    assert math_sentence("{n} 个词元", n="N") == r"N \text{ 个词元}"  # a translation may move the math
    assert math_sentence("50% of {x}", x="x") == r"\text{50\% of } x"  # TeX's special characters escaped


def test_checkpoint_and_image_errors_are_shown_in_chinese(no_weights, tmp_path):
    """The sidebar's path loader and the image upload show the core's errors through the translated templates."""
    from app.widgets import decode_upload

    at = open_app(INSPECTOR, {"lang": "zh"})
    at.sidebar.text_input(key="checkpoint_path").set_value(str(tmp_path / "missing.pth"))  # in a form: sent on submit
    at.sidebar.button(key="checkpoint_load").click().run()
    assert_no_exception(at)
    errors = texts(at.sidebar.error)
    assert "missing.pth" in errors and not untranslated_english([errors]), errors
    at.sidebar.file_uploader(key="checkpoint_upload").set_value(("broken.pth", b"\x80\x04garbage", "x")).run()
    shown = texts(at.sidebar.error)
    assert shown.count("broken.pth") <= 1 and not untranslated_english([shown]), shown
    # Outside a session the upload's message is English; the template it matches is translated in Chinese.
    _image, message = decode_upload("notes.txt", b"plain text, not an image")
    assert message is not None and "notes.txt" in message
