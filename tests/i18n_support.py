"""Finding English left in a page drawn in another language (used by tests/test_i18n.py; reusable for any page).

:func:`rendered_texts` collects what a user reads on a page run under ``AppTest`` (markdown, captions, titles,
alerts, widget labels, options and help, expander labels, progress texts, Plotly titles, axis titles and trace
names); :func:`untranslated_english` finds English sentences in it, apart from code, math, links and an allow-list
of names that stay as they are in every language.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence

#: Names, units and code that stay English in the Chinese app (see docs/glossary_zh.md). Extend it with
#: care: an entry hides every English occurrence of it. Longer entries are removed first.
DEFAULT_ALLOW: tuple[str, ...] = (
    "Container: Context Aggregation Network",  # the paper's title, cited as published
    "Gao, Lu, Li, Mottaghi, Kembhavi",  # its authors
    "Container-Light", "Container-PAM", "Container", "Fashion-MNIST", "ImageNet", "MNIST", "PyTorch",
    "Streamlit", "MLP-Mixer", "NeurIPS", "DeiT", "ResNet", "ViT", "English", "Apple", "safetensors",
    "sa_weight", "blocks2.0", "pos_embed", "weights_only", "top-1", "GPU", "CPU", "cuda", "mps", "MB", "sha256",
    "Hugging Face",  # the hub the three families come from (a name)
)

_TEXT_FIELDS = {"body", "label", "help", "placeholder", "options", "text", "caption"}
_REMOVED = re.compile(
    r"```.*?```|`[^`]*`"  # code
    r"|\$\$.*?\$\$|\$[^$\n]+\$"  # math
    r"|\]\([^)]*\)|https?://\S+"  # link targets, addresses
    r"|:material/[a-z_]+:"  # icons
    r"|<[^>]+>",  # markup tags in figure titles (<br>, <b>)
    re.DOTALL)
_WORD = r"[A-Za-z][A-Za-z'’]*(?:-[A-Za-z]+)*[A-Za-z]"  # two letters or more: single letters are math (N x N)
_ENGLISH_RUN = re.compile(rf"(?<![\w.\-/]){_WORD}(?:[ \t]*,?[ \t]+{_WORD}){{2,}}(?![\w\-/])")


def untranslated_english(texts: Iterable[str], allow: Iterable[str] = DEFAULT_ALLOW) -> list[str]:
    """The runs of three or more English words in ``texts`` (after removing code, math, links and ``allow``)."""
    allowed = sorted(set(allow), key=len, reverse=True)
    found = []
    for text in texts:
        plain = _REMOVED.sub(" ", text)
        for term in allowed:
            plain = plain.replace(term, " ")
        found += [match.group(0) for match in _ENGLISH_RUN.finditer(plain)]
    return found


def _proto_texts(message) -> Iterator[str]:
    for field, value in message.ListFields():
        if field.message_type is not None:
            items = value if getattr(field, "is_repeated", False) or isinstance(value, Sequence) else [value]
            for item in items:
                yield from _proto_texts(item)
        elif field.name in _TEXT_FIELDS:
            yield from ([value] if isinstance(value, str) else [v for v in value if isinstance(v, str)])
        elif field.name == "spec":  # a Plotly figure, as JSON
            yield from _figure_texts(json.loads(value))


def _figure_texts(figure: dict) -> Iterator[str]:
    layout = figure.get("layout", {})
    for name, part in layout.items():
        if name == "title" or name.startswith(("xaxis", "yaxis", "coloraxis")):
            title = part.get("title", part) if isinstance(part, dict) else None
            text = title.get("text") if isinstance(title, dict) else title
            if isinstance(text, str):
                yield text
    for annotation in layout.get("annotations", []):
        if isinstance(annotation.get("text"), str):
            yield annotation["text"]
    for trace in figure.get("data", []):
        if isinstance(trace.get("name"), str):
            yield trace["name"]


def rendered_texts(node) -> list[str]:
    """What a user reads in an ``AppTest`` subtree (``at.main``, ``at.sidebar``)."""
    texts = []
    proto = getattr(node, "proto", None)
    if proto is not None and hasattr(proto, "ListFields"):
        texts += list(_proto_texts(proto))
    for child in (getattr(node, "children", None) or {}).values():
        texts += rendered_texts(child)
    return texts
