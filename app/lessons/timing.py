"""How long each lesson takes: an estimate read from the lessons' own code, and the 45- and 90-minute paths.

Nothing here was measured with students. Per lesson:

    minutes = words / READING_WORDS_PER_MINUTE + steps · MINUTES_PER_STEP + controls · MINUTES_PER_CONTROL
              + MINUTES_PER_PREDICTION (if it has a PREDICTION) + questions · MINUTES_PER_QUESTION

``words``: the English words a step's drawing code hands to ``_()`` or ``N_()`` (read from its source, following
the calls it makes into the lesson's own module and ``app/lessons/parts``), plus its goals, prediction and
questions (prompt, options and the right option's feedback) where the step draws them. ``controls``: widgets and
charts its code draws (a slider, a radio, a chart, a table). Every text the code can show is counted, also one
shown only in some cases (a warning), so the estimate leans high. A live training run's wall time is not counted.
:func:`course_path` picks the lessons of a timed path by a fixed priority, so a path always fits its budget as
estimated now; ``python -m app.lessons times`` prints the table.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import textwrap
from dataclasses import dataclass
from types import ModuleType

from app.lessons.parts.steps import lesson_steps

__all__ = ["READING_WORDS_PER_MINUTE", "MINUTES_PER_STEP", "MINUTES_PER_CONTROL", "MINUTES_PER_PREDICTION",
           "MINUTES_PER_QUESTION", "PRIORITY", "PREREQUISITES", "StepEstimate", "LessonEstimate", "estimate_lesson",
           "estimate_course", "inventory_questions", "inventory_minutes", "course_path", "word_count"]

#: Silent reading of technical prose with symbols: slower than the ~240 words a minute of general non-fiction.
READING_WORDS_PER_MINUTE = 150
MINUTES_PER_STEP = 0.5  # find one's place in a new screen
MINUTES_PER_CONTROL = 0.5  # move a slider, read a chart or a table
MINUTES_PER_PREDICTION = 1.0  # think before choosing
MINUTES_PER_QUESTION = 0.5  # choose and press Check (reading the prompt, options and feedback is counted apart)

#: The order in which a timed path takes lessons: the unification first (matrix, the three operators, Container),
#: then the closing synthesis, then what deepens it. A lesson missing here (a new one) comes last.
PRIORITY: tuple[str, ...] = ("matrix", "conv", "attention", "container", "paper", "mixer", "shift", "trained",
                             "cost", "reach", "measured", "zoo", "train")
#: What a lesson builds on: a path takes it only after these (a synthesis without Container would be hollow).
PREREQUISITES: dict[str, tuple[str, ...]] = {
    "conv": ("matrix",), "shift": ("conv",), "mixer": ("matrix",), "attention": ("matrix",), "cost": ("attention",),
    "reach": ("cost",), "container": ("conv", "attention"), "trained": ("container",), "zoo": ("container",),
    "train": ("container",), "measured": ("conv", "attention"), "paper": ("container",),
}

_CONTROLS = frozenset({"radio", "slider", "select_slider", "selectbox", "multiselect", "toggle", "checkbox",
                       "number_input", "text_input", "data_editor", "segmented_control", "pills", "button",
                       "file_uploader", "plotly_chart", "pyplot", "image", "dataframe", "table", "show_figure"})
# Drawn by the step machinery or counted from the lesson's data (goals, prediction, questions), not from code.
_NOT_FOLLOWED = frozenset({"app.lessons.parts.widgets", "app.lessons.parts.steps", "app.lessons.parts.progress",
                           "app.lessons.parts.course"})
_MARKERS = frozenset({"_", "N_"})
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*|\d+(?:[.,]\d+)*")


def word_count(text: str) -> int:
    """Words and numbers in an English text (a placeholder's name counts as the one word it stands for)."""
    return len(_WORD.findall(text))


def _question_words(question) -> int:
    texts = [question.english_prompt, *question.options, question.feedback(question.right_option)]
    return sum(word_count(text) for text in texts)


def _prediction_words(prediction) -> int:
    return word_count(prediction.prompt) + sum(word_count(option) for option in prediction.options)


@dataclass(frozen=True)
class StepEstimate:
    id: str
    title: str
    words: int
    controls: int

    @property
    def minutes(self) -> float:
        return self.words / READING_WORDS_PER_MINUTE + MINUTES_PER_STEP + self.controls * MINUTES_PER_CONTROL


@dataclass(frozen=True)
class LessonEstimate:
    key: str
    number: int
    title: str
    steps: tuple[StepEstimate, ...]
    questions: int
    has_prediction: bool

    @property
    def words(self) -> int:
        return sum(step.words for step in self.steps)

    @property
    def controls(self) -> int:
        return sum(step.controls for step in self.steps)

    @property
    def minutes(self) -> int:
        """Whole minutes, rounded up: a plan is made of them."""
        exact = (sum(step.minutes for step in self.steps) + self.questions * MINUTES_PER_QUESTION
                 + (MINUTES_PER_PREDICTION if self.has_prediction else 0.0))
        return -int(-exact // 1)


class _StepReader:
    """Words and controls of one step's drawing code, following the calls it makes into lesson code."""

    def __init__(self, lesson: ModuleType) -> None:
        self.lesson = lesson
        self.words = 0
        self.controls = 0
        self._seen: set[object] = set()
        self._data_counted: set[str] = set()

    def read(self, function) -> None:
        if function in self._seen:
            return
        self._seen.add(function)
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        except (OSError, TypeError, SyntaxError):  # a lambda or a builtin: nothing to read
            return
        namespace = getattr(inspect.getmodule(function), "__dict__", {})
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self._call(node, namespace)

    def _count_once(self, name: str, words: int) -> None:
        if name not in self._data_counted:
            self._data_counted.add(name)
            self.words += words

    def _call(self, node: ast.Call, namespace: dict) -> None:
        callee = node.func
        name = callee.id if isinstance(callee, ast.Name) else callee.attr if isinstance(callee, ast.Attribute) else ""
        if name in _MARKERS:
            self.words += sum(word_count(arg.value) for arg in node.args
                              if isinstance(arg, ast.Constant) and isinstance(arg.value, str))
            return
        if name in _CONTROLS:
            self.controls += 1
        if name == "goals":
            self._count_once("goals", sum(word_count(goal) for goal in getattr(self.lesson, "GOALS", ())))
        elif name == "quiz":
            self._count_once("quiz", sum(_question_words(q) for q in getattr(self.lesson, "QUESTIONS", ())))
        elif name == "ask" and getattr(self.lesson, "PREDICTION", None) is not None:
            self._count_once("prediction", _prediction_words(self.lesson.PREDICTION))
        target = self._resolve(callee, namespace)
        if target is not None:
            self.read(target)

    @staticmethod
    def _resolve(callee: ast.expr, namespace: dict):
        """The lesson-code function a call names (``helper(...)`` or ``module.helper(...)``), else None."""
        if isinstance(callee, ast.Name):
            target = namespace.get(callee.id)
        elif isinstance(callee, ast.Attribute) and isinstance(callee.value, ast.Name):
            owner = namespace.get(callee.value.id)
            target = getattr(owner, callee.attr, None) if isinstance(owner, ModuleType) else None
        else:
            return None
        module = getattr(target, "__module__", None) or ""
        if inspect.isfunction(target) and module.startswith("app.lessons") and module not in _NOT_FOLLOWED:
            return target
        return None


def estimate_lesson(lesson: ModuleType, number: int) -> LessonEstimate:
    steps = []
    for step in lesson_steps(lesson):
        reader = _StepReader(lesson)
        reader.read(step.draw)
        steps.append(StepEstimate(step.id, step.title, reader.words, reader.controls))
    return LessonEstimate(lesson.KEY, number, lesson.TITLE, tuple(steps), len(getattr(lesson, "QUESTIONS", ())),
                          getattr(lesson, "PREDICTION", None) is not None)


def estimate_course() -> tuple[LessonEstimate, ...]:
    """Every lesson of the course, in its order."""
    from app.lessons import LESSONS

    return tuple(estimate_lesson(lesson, number) for number, lesson in enumerate(LESSONS, start=1))


def inventory_questions() -> tuple:
    """The concept inventory's questions (``app.lessons.inventory.QUESTIONS``), or () while it does not exist."""
    try:
        inventory = importlib.import_module("app.lessons.inventory")
    except ModuleNotFoundError as missing:
        if missing.name != "app.lessons.inventory":
            raise  # the inventory exists but something it imports does not: that is a bug to see
        return ()
    return tuple(getattr(inventory, "QUESTIONS", ()))


def inventory_minutes() -> int:
    """One sitting of the concept inventory (it is taken twice: before lesson 1 and after the last lesson)."""
    questions = inventory_questions()
    exact = (sum(_question_words(q) for q in questions) / READING_WORDS_PER_MINUTE
             + len(questions) * MINUTES_PER_QUESTION)
    return -int(-exact // 1)


def course_path(budget: int, estimates: tuple[LessonEstimate, ...], with_inventory: bool = False
                ) -> tuple[LessonEstimate, ...]:
    """The lessons that fit ``budget`` minutes, taken by :data:`PRIORITY` once their :data:`PREREQUISITES` are
    taken (one that does not fit, or is not ready, is skipped and the next tried), in course order.
    ``with_inventory``: the inventory's two sittings come out of the budget first."""
    left = budget - (2 * inventory_minutes() if with_inventory else 0)
    rank = {key: index for index, key in enumerate(PRIORITY)}
    chosen = []
    for estimate in sorted(estimates, key=lambda e: (rank.get(e.key, len(rank)), e.number)):
        needed = set(PREREQUISITES.get(estimate.key, ())) & {e.key for e in estimates}  # those in this course
        ready = needed <= {e.key for e in chosen}
        if ready and estimate.minutes <= left:
            chosen.append(estimate)
            left -= estimate.minutes
    return tuple(sorted(chosen, key=lambda e: e.number))
