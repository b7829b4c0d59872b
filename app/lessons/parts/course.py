"""The course order, and every lesson number a learner sees, computed from it.

In code a lesson is named by its ``KEY`` only (``app/lessons/<KEY>.py``); a learner sees its number, its place in
:data:`ORDER`. A text that names another lesson takes the name from :func:`lesson_ref` through a field of its
message (``_("... ({mixer_lesson}) ...").format(mixer_lesson=lesson_ref("mixer"))``), never a literal number, so
moving a lesson in ``ORDER`` renumbers the picker, the headers, the buttons and every cross-reference at once.
Read ``ORDER`` as ``course.ORDER`` at draw time (not ``from ... import ORDER``): a test moves a lesson by replacing it.
"""

from __future__ import annotations

from app.i18n import _

__all__ = ["ORDER", "lesson_number", "lesson_ref", "lesson_span", "lesson_refs"]

#: The arc: conv, then mixer, then attention each relax one constraint; cost comes before Container uses it.
#: A lesson that taught two things is two lessons (``shift`` after ``conv``, ``reach`` after ``cost``); ``paper``
#: closes the course with the synthesis and the paper's evidence.
ORDER: tuple[str, ...] = ("matrix", "conv", "shift", "mixer", "attention", "cost", "reach", "container", "trained",
                          "zoo", "train", "measured", "paper")


def lesson_number(key: str) -> int:
    """The lesson's number as the learner sees it: its place in the course, from 1."""
    return ORDER.index(key) + 1


def lesson_ref(key: str) -> str:
    """The lesson ``key`` named in running text, in the session's language ("lesson N", "第 N 课")."""
    return _("lesson {number}").format(number=lesson_number(key))


def lesson_span(first: str, last: str) -> str:
    """The run of lessons from ``first`` to ``last``, the lower number first ("lessons N-M")."""
    low, high = sorted((lesson_number(first), lesson_number(last)))
    return _("lessons {first}-{last}").format(first=low, last=high)


def lesson_refs() -> dict[str, str]:
    """A field ``<key>_lesson`` for every lesson, to fill a template drawn by shared code (a goal, a table cell)."""
    return {f"{key}_lesson": lesson_ref(key) for key in ORDER}
