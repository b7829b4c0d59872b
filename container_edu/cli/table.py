"""Aligned text tables for the command line: every column as wide as its widest cell, whatever the names.

Widths count display columns (a CJK character takes two, as in a terminal), so a long model name or path
shifts its column, never the ones after it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Sequence

__all__ = ["display_width", "aligned_table"]


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int, right: bool) -> str:
    space = " " * (width - display_width(text))
    return space + text if right else text + space


def aligned_table(columns: Sequence[str], rows: Sequence[Sequence[object]], *, right: Collection[str] = (),
                  markdown: bool = False) -> str:
    """``rows`` under ``columns``, padded to line up; ``right``: the columns aligned right (numbers).

    ``markdown`` draws a Markdown table (``| a | b |`` with a rule under the header), still padded so that
    it also reads as plain text; otherwise columns are separated by two spaces and the last is not padded.
    """
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max([display_width(name)] + [display_width(row[i]) for row in cells]) for i, name in enumerate(columns)]
    aligned = [name in right for name in columns]

    def line(values: Sequence[str]) -> str:
        padded = [_pad(value, width, flag) for value, width, flag in zip(values, widths, aligned, strict=True)]
        if markdown:
            return "| " + " | ".join(padded) + " |"
        return "  ".join(padded).rstrip()

    lines = [line(list(columns))]
    if markdown:
        lines.append("|" + "|".join("-" * (width + 1) + (":" if flag else "-")
                                    for width, flag in zip(widths, aligned, strict=True)) + "|")
    lines += [line(row) for row in cells]
    return "\n".join(lines)
