"""Words inside a lesson's formulas, in the session's language.

A formula with prose in it (``\\text{after } L \\text{ layers}``) is marked as one sentence whose math parts are
named fields (``_("after {layers} layers")``), so that a translator sees the whole sentence and may reorder it;
:func:`math_sentence` then sets the translated words in ``\\text{}`` and the fields as math.
"""

from __future__ import annotations

import re

__all__ = ["math_sentence"]

_FIELD = re.compile(r"\{(\w+)\}")
_TEXT_SPECIAL = re.compile(r"([\\%&#_$^~{}])")


def _text(words: str) -> str:
    if not words:
        return ""
    return r"\text{" + _TEXT_SPECIAL.sub(lambda match: "\\" + match.group(1), words) + "}"


def math_sentence(sentence: str, **math: str) -> str:
    """``sentence`` (already translated) as LaTeX: its words in ``\\text{}``, each ``{field}`` the given math."""
    parts = _FIELD.split(sentence)
    return " ".join(piece for index, part in enumerate(parts)
                    if (piece := math[part] if index % 2 else _text(part)))
