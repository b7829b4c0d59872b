"""Maintaining the catalogues: extract the template, update the Chinese ``.po``, check it (``python -m app.i18n``).

::

    python -m app.i18n extract   # app/, pages/, streamlit_app.py -> app/locale/messages.pot
    python -m app.i18n update    # merge the template into app/locale/zh/LC_MESSAGES/messages.po
    python -m app.i18n check     # template up to date, every message translated, placeholders kept

The files are written so that several translators can work at once and merge cleanly: entries grouped by
source file (``sort_by_file``), file names without line numbers, one line per string (no wrapping), and
fixed header dates (an extract that finds the same strings writes the same bytes).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import tempfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from app.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, po_path

__all__ = ["REPO_ROOT", "POT_PATH", "KEYWORDS", "extract", "update", "read_catalog", "placeholders",
           "untranslated", "placeholder_mismatches", "stale_template", "check", "main"]

REPO_ROOT = LOCALE_DIR.parents[1]
POT_PATH = LOCALE_DIR / f"{DOMAIN}.pot"
MAPPING_FILE = REPO_ROOT / "babel.cfg"
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "translate": (1,)}
COMMENT_TAGS = ("Translators:",)  # a comment `# Translators: ...` above a call reaches the .po
_FIXED_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
_WRITE_OPTIONS = {"width": 0, "sort_by_file": True, "include_lineno": False, "ignore_obsolete": True}

# What must come through a translation unchanged: format fields ({name}, {0}, {value:.1e}; not {{ }}),
# printf fields (%s, %(name)s), inline code (`sa_weight`), link targets ((https://...)) and icons (:material/home:).
_PLACEHOLDER = re.compile(r":material/[a-z_]+:|(?<!\{)\{[^{}]*\}(?!\})|%\([A-Za-z_]\w*\)[sdifr]|%[sdifr]|`[^`]+`|\]\([^)\s]+\)")


def _template(creation_date: dt.datetime = _FIXED_DATE) -> Catalog:
    return Catalog(project="container_edu", domain=DOMAIN, creation_date=creation_date,
                   revision_date=creation_date, fuzzy=False, charset="utf-8")


def _write(catalog: Catalog, path: Path) -> None:
    buffer = io.BytesIO()
    write_po(buffer, catalog, **_WRITE_OPTIONS)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def extract(out: Path = POT_PATH, root: Path = REPO_ROOT) -> Catalog:
    """Collect every marked string under ``root`` (as ``babel.cfg`` says) into the template ``out``."""
    with MAPPING_FILE.open() as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    catalog = _template()
    for filename, lineno, message, comments, context in extract_from_dir(
            str(root), method_map, options_map, keywords=KEYWORDS, comment_tags=COMMENT_TAGS,
            strip_comment_tags=True):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    _write(catalog, out)
    return catalog


def read_catalog(path: Path, language: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=language)


def update(language: str = "zh") -> Catalog:
    """Merge the template into ``language``'s ``.po``: new strings appear untranslated, vanished ones go."""
    template = read_catalog(POT_PATH)
    target = po_path(language)
    if target.exists():
        catalog = read_catalog(target, language)
    else:
        catalog = Catalog(locale=language, domain=DOMAIN, project="container_edu", fuzzy=False)
    # No fuzzy matching: a near-miss guess would be shown to nobody (fuzzy entries are not compiled) yet look done.
    catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
    catalog.creation_date = catalog.revision_date = _FIXED_DATE
    _write(catalog, target)
    return catalog


def _ids(catalog: Catalog) -> set:
    return {message.id for message in catalog if message.id}


def _strings(value: str | tuple | list) -> list[str]:
    return [value] if isinstance(value, str) else [v for v in value if v is not None]


def placeholders(text: str) -> Counter:
    """The placeholders of one string, counted (a translation may reorder them, not drop or add any)."""
    return Counter(_PLACEHOLDER.findall(text))


def untranslated(template: Catalog, catalog: Catalog) -> list[str]:
    """The template's messages that ``catalog`` lacks, leaves empty or marks fuzzy."""
    missing = []
    for message in template:
        if not message.id:
            continue
        entry: Message | None = catalog.get(message.id, context=message.context)
        key = message.id if isinstance(message.id, str) else message.id[0]
        if entry is None or entry.fuzzy or not all(s.strip() for s in _strings(entry.string or "")) or \
                not _strings(entry.string or ""):
            missing.append(key)
    return missing


def placeholder_mismatches(catalog: Catalog) -> list[str]:
    """Messages whose translation does not keep the placeholders, inline code and link targets of the original."""
    problems = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        originals = _strings(message.id)
        expected = placeholders(originals[-1])  # the plural's fields (it names {count}); the singular may not
        for translated in _strings(message.string):
            if translated and placeholders(translated) != expected:
                problems.append(f"{originals[0]!r}: expected {sorted(expected.elements())}, "
                                f"got {sorted(placeholders(translated).elements())} in {translated!r}")
    return problems


def stale_template(root: Path = REPO_ROOT) -> tuple[set, set]:
    """(in the source but not the template, in the template but no longer in the source)."""
    with tempfile.TemporaryDirectory() as folder:
        fresh = _ids(extract(Path(folder) / "fresh.pot", root))
    committed = _ids(read_catalog(POT_PATH))
    return fresh - committed, committed - fresh


def check(languages: Iterable[str] = tuple(code for code in LANGUAGES if code != "en")) -> list[str]:
    """Everything a commit must satisfy, as readable problems (none: all good)."""
    problems = []
    new, gone = stale_template()
    if new or gone:
        problems.append(f"messages.pot is out of date ({len(new)} new, {len(gone)} removed strings): "
                        "run `python -m app.i18n extract` and `python -m app.i18n update`")
        problems += [f"  new: {text!r}" for text in sorted(map(str, new))[:20]]
    template = read_catalog(POT_PATH)
    for language in languages:
        catalog = read_catalog(po_path(language), language)
        problems += [f"[{language}] not translated (or fuzzy): {text!r}" for text in untranslated(template, catalog)]
        problems += [f"[{language}] placeholders differ: {text}" for text in placeholder_mismatches(catalog)]
    return problems


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "extract":
        catalog = extract()
        print(f"{POT_PATH.relative_to(REPO_ROOT)}: {len(_ids(catalog))} messages")
    elif command == "update":
        for language in (code for code in LANGUAGES if code != "en"):
            catalog = update(language)
            todo = untranslated(read_catalog(POT_PATH), catalog)
            print(f"{po_path(language).relative_to(REPO_ROOT)}: {len(_ids(catalog))} messages, {len(todo)} to translate")
    elif command == "check":
        problems = check()
        print("\n".join(problems) if problems else "catalogues OK: template up to date, everything translated")
        return 1 if problems else 0
    else:
        print("usage: python -m app.i18n extract|update|check")
        return 2
    return 0
