"""Class view: the lecturer's live view of a class's predictions, answers, inventory gain and completion."""

from app.class_view import render_class_view
from app.i18n import _
from app.page import run_page


def body(ctx) -> None:
    render_class_view()


run_page(_("Class view"), body, intro=_(
    "For the lecturer: what the class predicted before each reveal (live), which check questions it missed at the "
    "first attempt, its concept-inventory gain and how far it got. Open it with the class code and teacher key "
    "that `python -m container_edu class create` printed."))
