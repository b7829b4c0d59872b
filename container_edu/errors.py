"""The one base class of the project's errors: a message written for the user, as a template with fields.

``str(error)`` is the English sentence (the command line, logs, a notebook). The app shows the same sentence in the
session's language with :meth:`ContainerEduError.shown`: the template is translated, then the fields go in, so
no sentence has to be recognised again after it was written.
"""

from __future__ import annotations

from container_edu.text import Message, Translator, fill

__all__ = ["ContainerEduError"]


class ContainerEduError(Exception):
    """A user-facing error: ``template`` (English, with ``{named}`` fields, marked with ``N_``) and its ``fields``.

    Subclasses also derive from the built-in type callers already catch (``ValueError``, ``RuntimeError``).
    """

    def __init__(self, template: str, /, **fields: object) -> None:
        self.template = template
        self.fields = fields
        super().__init__(fill(template, fields, str))

    def __str__(self) -> str:
        return fill(self.template, self.fields, str)

    def shown(self, translate_template: Translator) -> str:
        """The message in ``translate_template``'s language."""
        return fill(self.template, self.fields, translate_template)

    def __reduce__(self):  # pickled (a worker process's error) with its template, not the filled English
        return _rebuild, (type(self), self.template, self.fields)

    @property
    def message(self) -> Message:
        return Message(self.template, dict(self.fields))


def _rebuild(cls: type[ContainerEduError], template: str, fields: dict[str, object]) -> ContainerEduError:
    return cls(template, **fields)
