"""The README and docs/ say what the repository does: its two set-up commands are the ones CI runs, every system
package CI installs is named, every link and picture resolves, and every command line shown parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from container_edu.__main__ import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
APP_COMMAND = "pip install -r requirements.txt && streamlit run streamlit_app.py"
TEST_COMMAND = "pip install -r requirements-dev.txt && python -m pytest"


def section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def fenced_blocks(text: str, language: str = "bash") -> list[str]:
    return [block.strip() for block in re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)]


def test_set_up_is_two_commands_one_for_the_app_one_for_the_tests():
    assert fenced_blocks(section(README.read_text(encoding="utf-8"), "Set up")) == [APP_COMMAND, TEST_COMMAND]


def test_ci_runs_the_readmes_test_command_verbatim():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert any(line == TEST_COMMAND or line.startswith(TEST_COMMAND + " ||") for line in lines)


def test_every_system_package_ci_installs_is_named_in_the_set_up():
    packages = re.findall(r"need\+=\(([\w.-]+)\)", (ROOT / ".ci" / "run").read_text(encoding="utf-8"))
    assert {"chromium", "dataset-fashion-mnist", "haproxy", "fonts-noto-cjk"} <= set(packages)
    set_up = section(README.read_text(encoding="utf-8"), "Set up")
    missing = [name for name in packages if f"`{name}`" not in set_up]
    assert not missing, f"the README's set-up does not name {missing}"


def test_the_readme_links_a_guide_for_each_topic():
    guides = section(README.read_text(encoding="utf-8"), "Guides")
    for page in ("imagenet_weights", "notebook", "classroom", "results", "glossary", "layout"):
        assert f"(docs/{page}.md)" in guides, page


def links(text: str) -> list[str]:
    """Relative targets of Markdown links and pictures (addresses on the web, in-page anchors and code left out)."""
    prose = re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    targets = re.findall(r"\]\(([^)\s]+)\)", prose)
    return [t.split("#", 1)[0] for t in targets if not re.match(r"[a-z]+:", t) and not t.startswith("#")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_and_picture_resolves(page):
    found = links(page.read_text(encoding="utf-8"))
    missing = [target for target in found if not (page.parent / target).exists()]
    assert not missing, f"{page.name} links to files that do not exist: {missing}"


def test_the_link_finder_sees_pictures_and_skips_web_addresses():
    text = "![a `q`](docs/screenshots/x.png) [b](https://example.org/y) [c](other.md#part) [d](#here) `](...)`"
    assert links(text) == ["docs/screenshots/x.png", "other.md"]


def command_lines(text: str) -> list[str]:
    """Each `python -m container_edu ...` line of a bash block, without its comment, environment and line breaks."""
    found = []
    for block in fenced_blocks(text):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if "container_edu" in words and words[words.index("container_edu") - 1] == "-m":
                found.append(words[words.index("container_edu") + 1:])
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_command_line_shown_parses(page):
    for words in command_lines(page.read_text(encoding="utf-8")):
        try:
            build_parser().parse_args(words)
        except SystemExit as exit_:  # argparse's way to refuse, after printing why
            pytest.fail(f"{page.name}: `python -m container_edu {shlex.join(words)}` does not parse ({exit_})")


def test_the_command_lines_are_found_and_a_wrong_one_would_not_parse():
    weights = (ROOT / "docs" / "imagenet_weights.md").read_text(encoding="utf-8")
    assert ["weights", "list"] in command_lines(weights)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["weights", "download"])


def test_every_command_named_in_prose_exists():
    commands = build_parser()._subparsers._group_actions[0].choices  # argparse keeps them here
    text = " ".join(page.read_text(encoding="utf-8") for page in PAGES)
    named = set(re.findall(r"python -m container_edu\s+([a-z]+)", " ".join(text.split())))
    assert named and named <= set(commands), named - set(commands)
