"""A page's choices in its address (``st.query_params``), so that a view can be shared as a link.

Binding one widget to one parameter takes two calls around the widget::

    url = UrlState("inspector")
    url.restore("head", "insp_head", integer(0, heads - 1))   # before the widget is created
    head = st.selectbox("Head m", ..., key="insp_head")
    url.publish("head", head)                                  # after: the address follows the widget

:meth:`UrlState.restore` applies the address's value only when it came from
outside (a link opened, or another page's ``st.switch_page(...,
query_params=...)``), that is when it differs from what this page last wrote
or applied; otherwise the widget's own state wins. Widgets read their
session-state key when they are created, which is why restoring must come
first. A value that does not parse, or is not a valid choice now (a block of
another model, a head beyond the block's count), is ignored with a short note
(:meth:`UrlState.show_notes`), never an exception. Writing ``st.query_params``
triggers no rerun, so publishing on every run costs nothing.

The model lives in the sidebar and is shared by every page with a model
picker: :func:`restore_model` and :func:`publish_model` bind it under the
name ``model``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from app import address
from app.i18n import _
from app.registry import FAMILY, ModelRef

__all__ = ["UrlState", "Parser", "choice", "integer", "number", "MODEL_PARAM", "model_param", "restore_model",
           "publish_model", "show_model_note"]

Parser = Callable[[str], Any]  # the widget's value from the address's text; ValueError with a short reason if bad

_MODEL_NOTES_KEY = "_url_state_model_notes"
MODEL_PARAM = "model"
_UNTRAINED = "untrained:"
_MODEL_PAGE = "*"  # the model is one choice for the whole session, so its record is shared by the pages


def choice(options: Sequence[Any], *, what: str = "choice") -> Parser:
    """A parser accepting one of ``options`` (compared as text, returned as the option itself)."""
    by_text = {str(option): option for option in options}

    def parse(text: str) -> Any:
        if text not in by_text:
            shown = ", ".join(list(by_text)[:6]) + (", …" if len(by_text) > 6 else "")
            raise ValueError(_("not a {what} here (choose from {shown})").format(what=what, shown=shown))
        return by_text[text]

    return parse


def integer(low: int, high: int) -> Parser:
    """A parser accepting an integer in ``low..high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(_("not a whole number")) from None
        if not low <= value <= high:
            raise ValueError(_("outside {low}..{high}").format(low=low, high=high))
        return value

    return parse


def number(low: float, high: float, *, decimals: int = 2) -> Parser:
    """A parser accepting a finite number in ``[low, high]``, rounded to ``decimals`` (the slider's step)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(_("not a number")) from None
        if not low <= value <= high:  # also rejects nan
            raise ValueError(_("outside {low:g}..{high:g}").format(low=low, high=high))
        return round(value, decimals)

    return parse


@dataclass
class UrlState:
    """The address parameters of one page (``page`` names it, so two pages may both have a ``block``)."""

    page: str
    notes: list[str] = field(default_factory=list)

    def incoming(self, name: str) -> str | None:
        """The address's text for ``name`` when it came from outside (not what this page wrote last), else ``None``."""
        return address.incoming(self.page, name)

    def restore(self, name: str, key: str, parse: Parser) -> bool:
        """Before the widget with ``key`` exists: put the address's value of ``name`` in its state; ``True`` if set."""
        raw = self.incoming(name)
        if raw is None:
            return False
        try:
            value = parse(raw)
        except (ValueError, TypeError) as error:
            self.note(name, raw, str(error))
            return False
        st.session_state[key] = value
        return True

    def note(self, name: str, raw: str, reason: str) -> None:
        # The text comes from a link anyone can write: shown as plain characters, never as markdown.
        shown = re.sub(r"[^A-Za-z0-9._:,/ -]", "?", raw[:40])
        self.notes.append(f"`{name}={shown}`: {reason}")

    def publish(self, name: str, value: object | None) -> None:
        """Make the address say ``name=value`` (``None``: drop ``name``); writing triggers no rerun."""
        address.publish(self.page, name, value)

    def show_notes(self) -> None:
        """One short caption for the parameters of the address that were ignored in this run (nothing if none)."""
        notes = self.notes + st.session_state.pop(_MODEL_NOTES_KEY, [])
        if notes:
            st.caption(_(":material/link_off: Some settings in the address were ignored and the page's own "
                         "choices kept: {notes}.").format(notes="; ".join(notes)))
        self.notes = []

    @contextmanager
    def notes_here(self) -> Iterator[UrlState]:
        """Run a page body; the notes about its address appear here, above it (collected while the body runs)."""
        slot = st.container()
        try:
            yield self
        finally:
            with slot:
                self.show_notes()


# --------------------------------------------------------------------------
# The model (sidebar picker, shared by the pages)
# --------------------------------------------------------------------------


def model_param(ref: ModelRef) -> str | None:
    """How the address names a model: its registry name (``untrained:`` for random weights); ``None`` for models of
    this session only (uploaded, trained here, loaded from a path), which a link cannot carry. A family installed in
    the weights folder is named by its name (``deit_small``): the link opens it wherever it is installed."""
    if ref.source in ("bundled", FAMILY):
        return ref.name
    if ref.source == "random":
        return _UNTRAINED + ref.name
    return None


def _find_model(text: str, refs: Iterable[ModelRef]) -> ModelRef | None:
    refs = list(refs)
    if text.startswith(_UNTRAINED):
        name = text.removeprefix(_UNTRAINED)
        return next((ref for ref in refs if ref.source == "random" and ref.name == name), None)
    for source in ("bundled", FAMILY, "random"):  # a bare name is the trained model, else its stand-in
        for ref in refs:
            if ref.source == source and ref.name == text:
                return ref
    return None


def restore_model(refs: Iterable[ModelRef], model_key: str) -> None:
    """Before the model picker: choose the model the address names (by setting ``st.session_state[model_key]``)."""
    page = UrlState(_MODEL_PAGE)
    raw = page.incoming(MODEL_PARAM)
    if raw is None:
        return
    ref = _find_model(raw, refs)
    if ref is None:
        page.note(MODEL_PARAM, raw, _("no such model here"))
        st.session_state[_MODEL_NOTES_KEY] = page.notes
        return
    st.session_state[model_key] = ref.key


def publish_model(ref: ModelRef) -> None:
    """After the model picker: the address names the chosen model (or drops it when a link cannot carry it)."""
    UrlState(_MODEL_PAGE).publish(MODEL_PARAM, model_param(ref))


def show_model_note(ref: ModelRef) -> None:
    """Say so when the chosen model cannot travel in a link."""
    if model_param(ref) is None:
        st.caption(_(":material/link_off: This model exists in this session only: a link to this page opens the "
                     "default model instead."))
