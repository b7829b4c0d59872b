"""The core's user-facing text: English templates with named fields, translated by whoever installed a translator.

The core never imports the app and speaks English on the command line and in a notebook. Its sentences (figure
titles, axis and colour-bar titles, hover texts, error messages) are written as templates with named fields and
filled here::

    title = translate("Block {block}, head {m}", block=maps.block, m=maps.head)
    raise DatasetError(N_("Fashion-MNIST not found in {root}"), root=root)

A translator (``str -> str``, e.g. a gettext function) installed with :func:`translator` or
:func:`set_translator` turns each template into the session's language before the fields go in; without one the
text is English. It lives in a :class:`contextvars.ContextVar` (like ``record_affinities``), so two app sessions,
each running in its own thread, never see each other's language.

``N_`` marks a template that is filled later (an error's message); ``translate`` translates and fills at once.
Both are extraction keywords of ``babel.cfg``, so ``python -m app.i18n extract`` finds every core template.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

__all__ = ["Translator", "N_", "Message", "translate", "current_translator", "set_translator", "translator"]

Translator = Callable[[str], str]


def _identity(template: str) -> str:
    return template


_TRANSLATOR: contextvars.ContextVar[Translator] = contextvars.ContextVar("container_edu_translator",
                                                                         default=_identity)


def N_(template: str) -> str:
    """Mark ``template`` for extraction and return it unchanged (it is translated where it is filled)."""
    return template


def current_translator() -> Translator:
    return _TRANSLATOR.get()


def set_translator(translate_template: Translator) -> contextvars.Token:
    """Install ``translate_template`` for the rest of this context (a thread: one Streamlit script run)."""
    return _TRANSLATOR.set(translate_template)


@contextlib.contextmanager
def translator(translate_template: Translator) -> Iterator[None]:
    """Translate the core's text with ``translate_template`` inside the ``with``."""
    token = _TRANSLATOR.set(translate_template)
    try:
        yield
    finally:
        _TRANSLATOR.reset(token)


@dataclass(frozen=True)
class Message:
    """A template and its fields, filled when shown: a sentence that is itself a field of another sentence
    (why a download failed, inside "Download failed: {reason}.")."""

    template: str
    fields: dict[str, object] = field(default_factory=dict)

    def __str__(self) -> str:
        return fill(self.template, self.fields, _identity)

    def __hash__(self) -> int:  # held by objects cached for every session (hashable like the template itself)
        return hash((self.template, tuple(sorted((name, repr(value)) for name, value in self.fields.items()))))

    def shown(self, translate_template: Translator | None = None) -> str:
        return fill(self.template, self.fields, translate_template or current_translator())


def fill(template: str, fields: dict[str, object], translate_template: Translator) -> str:
    """``template`` translated, with ``fields`` in it (a :class:`Message` field is translated in turn)."""
    translated = translate_template(template)
    if not fields:  # a sentence without fields may hold braces of its own (a repr in a message)
        return translated
    values = {name: value.shown(translate_template) if isinstance(value, Message) else value
              for name, value in fields.items()}
    return translated.format(**values)


def translate(template: str, /, **fields: object) -> str:
    """``template`` in the installed translator's language (English by default), with ``fields`` filled in."""
    return fill(template, fields, current_translator())
