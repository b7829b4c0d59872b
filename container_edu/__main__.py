"""Command line: ``python -m container_edu {bench,train,predict,inspect,weights,...}``."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each command lives in its own module of container_edu.cli, which provides add_parser(subparsers);
# the parser's ``run`` default is called with the parsed arguments.
COMMAND_MODULES = ("bench", "train", "predict", "zoo", "weights", "sweep", "classes")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m container_edu", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(f"container_edu.cli.{module_name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv  # the exact command, for model cards
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
