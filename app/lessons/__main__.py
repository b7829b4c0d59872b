"""``python -m app.lessons worksheet|times|guide``: material for teaching with the lessons.

- ``worksheet --lang en|zh [--answers] --out FILE.html [--pdf]``: the printable worksheet or answer key
  (:mod:`app.lessons.worksheet`); ``--pdf`` prints it to ``FILE.pdf`` too with the headless Chromium, if installed.
- ``times``: each lesson's estimated minutes and how they add up (:mod:`app.lessons.timing`), and the timed paths.
- ``guide [--check]``: rewrite the generated parts of docs/teaching/README.md and README_zh.md (``--check``: only
  say whether they are up to date; exit 1 when not).

A wrong argument prints one line and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.i18n import LANGUAGES


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _output_file(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in (".html", ".htm"):
        raise argparse.ArgumentTypeError(f"{text!r} must end in .html")
    if not path.parent.resolve().is_dir():
        raise argparse.ArgumentTypeError(f"{text!r}: the folder {str(path.parent)!r} does not exist")
    return path


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="python -m app.lessons", description="Material for teaching with the lessons.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{worksheet,times,guide}")
    worksheet = commands.add_parser("worksheet", help="write the printable worksheet or answer key")
    worksheet.add_argument("--lang", required=True, choices=sorted(LANGUAGES))
    worksheet.add_argument("--answers", action="store_true", help="the answer key: right options and feedback")
    worksheet.add_argument("--out", required=True, type=_output_file, help="the HTML file to write")
    worksheet.add_argument("--pdf", action="store_true", help="also print it to the same name with .pdf (Chromium)")
    commands.add_parser("times", help="print each lesson's estimated time and the timed paths")
    guide = commands.add_parser("guide", help="rewrite the generated parts of docs/teaching/")
    guide.add_argument("--check", action="store_true", help="only check that they are up to date")
    return parser


def _worksheet(args: argparse.Namespace) -> int:
    from app.lessons.worksheet import PdfUnavailable, build_worksheet, write_pdf

    args.out.write_text(build_worksheet(args.lang, answers=args.answers), encoding="utf-8")
    print(f"wrote {args.out}")
    if args.pdf:
        pdf = args.out.with_suffix(".pdf")
        try:
            write_pdf(args.out, pdf)
        except PdfUnavailable as reason:
            print(f"{reason}: skipped {pdf}", file=sys.stderr)
        else:
            print(f"wrote {pdf}")
    return 0


def _times() -> int:
    from app.lessons.teaching_guide import times_report

    print(times_report())
    return 0


def _guide(check: bool) -> int:
    from app.lessons.teaching_guide import GUIDES, update_guide

    stale = [path for language, path in GUIDES.items() if update_guide(path, language, write=not check)]
    for path in stale:
        print(f"{path}: {'out of date' if check else 'rewritten'}")
    return 1 if check and stale else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "worksheet":
        return _worksheet(args)
    if args.command == "times":
        return _times()
    return _guide(args.check)


if __name__ == "__main__":
    sys.exit(main())
