"""No module of the core, the app or the pages grows past 500 lines (split it by responsibility first)."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_LINES = 500
MODULES = sorted(path for folder in ("container_edu", "app", "pages") for path in (REPO / folder).rglob("*.py"))


def test_the_modules_are_found():
    assert len(MODULES) > 50 and any(path.name == "4_Blend.py" for path in MODULES)


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(REPO)))
def test_no_module_is_over_500_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(REPO)} has {lines} lines: split it by responsibility"
