"""The generated parts of the instructor guides (docs/teaching/README.md, README_zh.md), from the lessons' own data.

A guide keeps its hand-written text; what the code knows is written between ``<!-- generated:NAME -->`` and
``<!-- /generated:NAME -->``: the learning objectives (each lesson's ``GOALS``), the time table
(:mod:`app.lessons.timing`) and the 45- and 90-minute paths. ``python -m app.lessons guide`` rewrites them after
a lesson changes; ``--check`` says whether they are stale. Each path also lists its lesson keys in an HTML comment
(``<!-- path:90 matrix conv ... -->``) so that a test can check its claim against the estimator.
"""

from __future__ import annotations

import re
from pathlib import Path

from app import i18n
from app.i18n import _
from app.lessons import timing
from app.lessons.worksheet import lesson_goals

__all__ = ["GUIDES", "PATHS", "generated_blocks", "update_guide", "times_report"]

_ROOT = Path(__file__).resolve().parents[2]
GUIDES: dict[str, Path] = {"en": _ROOT / "docs" / "teaching" / "README.md",
                           "zh": _ROOT / "docs" / "teaching" / "README_zh.md"}
#: (budget in minutes, whether the concept inventory's two sittings come out of it): neither, because a lab that
#: spends 20 of its 90 minutes on the inventory does not reach Container; the guide suggests it as homework.
PATHS: tuple[tuple[int, bool], ...] = ((45, False), (90, False))

# Docs text, not app text: the guides are written in each language by hand, and so are these few labels.
_LABELS = {
    "en": {
        "lesson": "Lesson", "steps": "steps", "words": "words", "controls": "controls", "questions": "questions",
        "prediction": "prediction", "minutes": "est. minutes", "yes": "yes", "no": "not listed yet",
        "total": "All lessons", "inventory": "Concept inventory, one sitting: about {minutes} min "
                                             "({count} questions).",
        "no_inventory": "Concept inventory: not in this version of the course.",
        "path": "{budget}-minute path: {total} min estimated",
        "path_inventory": "the concept inventory before the first lesson and after the last ({minutes} min each)",
        "item": "Lesson {number}, {title}: {minutes} min",
    },
    "zh": {
        "lesson": "课", "steps": "步数", "words": "词数", "controls": "控件", "questions": "题数",
        "prediction": "预测", "minutes": "估计分钟", "yes": "有", "no": "尚未列出",
        "total": "全部课程", "inventory": "概念测验，一次：约 {minutes} 分钟（{count} 题）。",
        "no_inventory": "概念测验：本版课程尚无。",
        "path": "{budget} 分钟路线：估计 {total} 分钟",
        "path_inventory": "第一课之前和最后一课之后各做一次概念测验（每次 {minutes} 分钟）",
        "item": "第 {number} 课《{title}》：{minutes} 分钟",
    },
}


def _objectives(estimates, lessons) -> str:
    lines = []
    for estimate, lesson in zip(estimates, lessons):
        lines.append(f"**{estimate.number}. {_(lesson.TITLE)}** (`{lesson.KEY}`)\n")
        lines += [f"- {goal}" for goal in lesson_goals(lesson)]
        lines.append("")
    return "\n".join(lines).rstrip()


def _times(estimates, labels) -> str:
    head = (f"| # | {labels['lesson']} | {labels['steps']} | {labels['words']} | {labels['controls']} | "
            f"{labels['questions']} | {labels['prediction']} | {labels['minutes']} |")
    rows = [head, "|---|---|---|---|---|---|---|---|"]
    for e in estimates:
        prediction = labels["yes"] if e.has_prediction else labels["no"]
        rows.append(f"| {e.number} | {_(e.title)} (`{e.key}`) | {len(e.steps)} | {e.words} | {e.controls} | "
                    f"{e.questions} | {prediction} | {e.minutes} |")
    total = sum(e.minutes for e in estimates)
    rows.append(f"| | {labels['total']} | {sum(len(e.steps) for e in estimates)} | {sum(e.words for e in estimates)}"
                f" | {sum(e.controls for e in estimates)} | {sum(e.questions for e in estimates)} | | {total} |")
    count = len(timing.inventory_questions())
    rows.append("")
    rows.append(labels["inventory"].format(minutes=timing.inventory_minutes(), count=count) if count
                else labels["no_inventory"])
    return "\n".join(rows)


def _paths(estimates, labels) -> str:
    lines = []
    for budget, with_inventory in PATHS:
        inventory = with_inventory and bool(timing.inventory_questions())
        chosen = timing.course_path(budget, estimates, with_inventory=inventory)
        sitting = timing.inventory_minutes() if inventory else 0
        total = sum(e.minutes for e in chosen) + 2 * sitting
        lines.append(f"#### {labels['path'].format(budget=budget, total=total)}\n")
        lines.append(f"<!-- path:{budget} {' '.join(e.key for e in chosen)} -->")
        if inventory:
            lines.append("- " + labels["path_inventory"].format(minutes=sitting))
        lines += ["- " + labels["item"].format(number=e.number, title=_(e.title), minutes=e.minutes) for e in chosen]
        lines.append("")
    return "\n".join(lines).rstrip()


def generated_blocks(language: str) -> dict[str, str]:
    """The guide's generated parts in ``language``, by name."""
    from app.lessons import LESSONS

    estimates = timing.estimate_course()
    labels = _LABELS[language]
    with i18n.outside_streamlit_in(language):
        return {"objectives": _objectives(estimates, LESSONS), "times": _times(estimates, labels),
                "paths": _paths(estimates, labels)}


def _replace(text: str, name: str, content: str) -> str:
    pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"the guide has no <!-- generated:{name} --> ... <!-- /generated:{name} --> block")
    return pattern.sub(lambda match: match.group(1) + content + "\n" + match.group(2), text)


def update_guide(path: Path, language: str, write: bool = True) -> bool:
    """Rewrite the generated parts of the guide at ``path`` (unless ``write`` is false); True if they changed."""
    text = path.read_text(encoding="utf-8")
    updated = text
    for name, content in generated_blocks(language).items():
        updated = _replace(updated, name, content)
    if updated != text and write:
        path.write_text(updated, encoding="utf-8")
    return updated != text


def times_report() -> str:
    """The estimate per lesson and per step, the constants it rests on, and the paths (English, for the terminal)."""
    estimates = timing.estimate_course()
    lines = [f"Estimated, not measured: words / {timing.READING_WORDS_PER_MINUTE} per minute + "
             f"{timing.MINUTES_PER_STEP} min per step + {timing.MINUTES_PER_CONTROL} min per control + "
             f"{timing.MINUTES_PER_PREDICTION} min per prediction + {timing.MINUTES_PER_QUESTION} min per question."]
    for e in estimates:
        steps = ", ".join(f"{step.id} {step.words} w {step.controls} c" for step in e.steps)
        lines.append(f"{e.number:>2}. {e.key:<10} {e.minutes:>3} min  ({len(e.steps)} steps: {steps}; "
                     f"{e.questions} questions; prediction {'listed' if e.has_prediction else 'not listed'})")
    lines.append(f"    all lessons {sum(e.minutes for e in estimates)} min; concept inventory "
                 f"{timing.inventory_minutes()} min a sitting")
    for budget, with_inventory in PATHS:
        chosen = timing.course_path(budget, estimates, with_inventory=with_inventory)
        lines.append(f"{budget}-minute path{' (with the inventory twice)' if with_inventory else ''}: "
                     f"{' '.join(e.key for e in chosen)} = {sum(e.minutes for e in chosen)} min of lessons")
    return "\n".join(lines)
