"""The app in English or 中文: gettext catalogues, the session's language, and the sidebar's language selector.

Every user-facing string goes through :func:`_` (``from app.i18n import _``)::

    st.subheader(_("Where to go next"))
    st.caption(_("{count} trained model(s)").format(count=len(cards)))   # never an f-string inside _()

A module-level constant is marked with :func:`N_` (so that extraction finds
it) and translated where it is drawn, because the language is a choice of
the session, not of the process::

    GOALS = [N_("See attention pick tokens by content.")]
    ...
    st.markdown(_(goal))

The Chinese source is ``app/locale/zh/LC_MESSAGES/messages.po`` (in the
repository). It is compiled here, in memory, the first time a process needs
it and again whenever the file changes, so ``streamlit run streamlit_app.py``
needs no build step. Outside a Streamlit run (tests, the core, the command
line) everything is English, unless a block says otherwise with
``with outside_streamlit_in("zh"):`` (``python -m app.lessons worksheet``). How to extract, update and check the
catalogue: ``docs/translating.md`` (``python -m app.i18n extract|update|check``).
"""

from __future__ import annotations

import contextlib
import contextvars
import gettext
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from container_edu.text import Message, set_translator, translator

__all__ = ["LANGUAGES", "DEFAULT_LANGUAGE", "LANG_PARAM", "LANG_KEY", "LOCALE_DIR", "DOMAIN", "_", "N_", "ngettext",
           "current_language", "translations", "language_selector", "po_path", "Text", "outside_streamlit_in"]

#: The languages the app offers, in the selector's order, with the name each one has in itself.
LANGUAGES: dict[str, str] = {"en": "English", "zh": "中文"}
DEFAULT_LANGUAGE = "en"
LANG_PARAM = "lang"  # ?lang=zh in the page address
LANG_KEY = "language"  # the session's choice, in st.session_state
_WIDGET_KEY = "_language_selector"
_ADDRESS_PAGE = "*"  # the language is one choice for the whole session, as the model is (see app.url_state)

LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
DOMAIN = "messages"

_compiled: dict[str, tuple[float, gettext.GNUTranslations]] = {}  # language -> (.po mtime, catalogue)
_compile_lock = threading.Lock()  # sessions run in threads: one compiles, the others wait and reuse it
# The language of text made outside a Streamlit run (a command that writes a worksheet): English unless set.
_OUTSIDE_STREAMLIT: contextvars.ContextVar[str] = contextvars.ContextVar("app_i18n_language", default=DEFAULT_LANGUAGE)


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def _compile(po_file: Path, language: str) -> gettext.GNUTranslations:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po_file.open("rb") as source:
        catalog = read_po(source, locale=language)
    binary = io.BytesIO()
    write_mo(binary, catalog, use_fuzzy=False)  # a fuzzy entry is a guess: English is shown until it is checked
    binary.seek(0)
    return gettext.GNUTranslations(binary)


def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of ``language`` (English, or a language without a ``.po``: the messages unchanged)."""
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    po_file = po_path(language)
    try:
        mtime = po_file.stat().st_mtime
    except OSError:
        return gettext.NullTranslations()
    cached = _compiled.get(language)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    with _compile_lock:
        cached = _compiled.get(language)
        if cached is None or cached[0] != mtime:
            cached = (mtime, _compile(po_file, language))
            _compiled[language] = cached
    return cached[1]


def _in_streamlit_run() -> bool:
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:  # pragma: no cover - Streamlit is a dependency of the app, not of the core
        return False
    return get_script_run_ctx(suppress_warning=True) is not None


def _parse_language(text: str | None) -> str:
    """The language an address names; anything else (a typo, an unknown language) is English, no error."""
    return text if text in LANGUAGES else DEFAULT_LANGUAGE


def current_language() -> str:
    """``"en"`` or ``"zh"``: the session's language (English outside a Streamlit run).

    A ``?lang=`` that came from outside (a shared link, an edited address) is applied first, following
    :mod:`app.address`: only a value that differs from what the app last wrote counts, so the
    selector's own choice wins otherwise.
    """
    if not _in_streamlit_run():
        return _OUTSIDE_STREAMLIT.get()
    import streamlit as st

    from app import address

    raw = address.incoming(_ADDRESS_PAGE, LANG_PARAM)
    if raw is not None:
        st.session_state[LANG_KEY] = _parse_language(raw)
    return _parse_language(st.session_state.get(LANG_KEY))


@contextlib.contextmanager
def outside_streamlit_in(language: str) -> Iterator[None]:
    """Make text in ``language`` outside a Streamlit run (a command line, a test): ``_``, ``ngettext``, every
    lesson constant's ``shown()`` and the core's messages follow it until the block ends. A Streamlit run keeps
    its session's language."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}: one of {', '.join(LANGUAGES)}")
    token = _OUTSIDE_STREAMLIT.set(language)
    try:
        with translator(translations(language).gettext):
            yield
    finally:
        _OUTSIDE_STREAMLIT.reset(token)


def _(message: str) -> str:
    """``message`` in the session's language (unchanged in English or when it has no translation)."""
    return translations(current_language()).gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for extraction and return it unchanged; translate it with :func:`_` where it is drawn."""
    return message


def ngettext(singular: str, plural: str, count: int) -> str:
    """``singular`` or ``plural`` for ``count``, translated (Chinese has one form); format ``{count}`` afterwards."""
    return translations(current_language()).ngettext(singular, plural, count)


@dataclass(frozen=True)
class Text:
    """A message made once and drawn in each session's language: an English template (marked with ``N_``), its
    fields, and which fields are themselves messages (a kind's name). Hashable, so objects holding it may be cached
    across sessions, whatever their language."""

    template: str
    args: tuple[tuple[str, object], ...] = ()
    translated_args: frozenset[str] = frozenset()

    @property
    def english(self) -> str:
        return self.template.format(**dict(self.args))

    def shown(self) -> str:
        """The text in the current session's language."""
        args = {name: value.shown(_) if isinstance(value, Message) else
                _(value) if name in self.translated_args and isinstance(value, str) else value
                for name, value in self.args}
        return _(self.template).format(**args)


def language_selector() -> str:
    """English / 中文 at the top of the sidebar; the choice is kept for the session and in the address.

    Returns the language now shown. English is the default and leaves the address without ``lang``, so the
    links of an English session stay as they were; a Chinese session's address says ``?lang=zh`` on every page
    (written again on each run, as :func:`app.url_state.publish_model` writes ``?model=``, because switching
    pages starts from a fresh address).
    """
    import streamlit as st

    from app import address

    # The core writes its figure text and error messages through this hook (a contextvar: this script run's
    # thread only); ``_`` follows the session's language, so one hook serves every language.
    set_translator(_)
    language = current_language()
    st.session_state[LANG_KEY] = language
    # The widget's own state is dropped on a page that does not draw it; it is set from the session's choice.
    st.session_state[_WIDGET_KEY] = language

    def remember() -> None:
        st.session_state[LANG_KEY] = st.session_state[_WIDGET_KEY]

    st.radio("Language / 语言", options=list(LANGUAGES), format_func=LANGUAGES.__getitem__, key=_WIDGET_KEY,
             horizontal=True, on_change=remember, label_visibility="collapsed")
    address.publish(_ADDRESS_PAGE, LANG_PARAM, None if language == DEFAULT_LANGUAGE else language)
    return language
