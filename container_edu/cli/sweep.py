"""``python -m container_edu sweep run|report``: the data-size sweep and its report."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch

from container_edu.models import MIXINGS
from container_edu.training import sweep as sweep_module
from container_edu.training.sweep import (
    FULL_SIZE,
    RESULTS_PATH,
    SEEDS,
    SIZES,
    VALIDATIONS,
    WEIGHTS_DIR,
    run_sweep,
)
from container_edu.training.sweep_report import RESULTS_DOC


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sweep", help="the data-size sweep of the zoo variants", description=sweep_module.__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="sweep_command", required=True)
    run = actions.add_parser("run", help="train the runs that are missing (the pilot first)")
    run.add_argument("--sizes", type=_size, nargs="+", default=list(SIZES), help="training-set sizes (default: all)")
    run.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    run.add_argument("--variants", nargs="+", default=list(MIXINGS), choices=MIXINGS)
    run.add_argument("--max-runs", type=int, default=None, help="stop after training this many runs")
    run.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    run.add_argument("--data-dir", default=None)
    run.add_argument("--state-dir", type=Path, default=Path("runs/sweep"),
                     help="resumable states and run claims (lock files; default runs/sweep)")
    run.add_argument("--results", type=Path, default=None, help=argparse.SUPPRESS)
    run.add_argument("--weights-dir", type=Path, default=WEIGHTS_DIR, help=argparse.SUPPRESS)
    run.add_argument("--min-steps", type=int, default=None, help=argparse.SUPPRESS)  # tests: skip the pilot
    run.add_argument("--validations", type=int, default=VALIDATIONS, help=argparse.SUPPRESS)
    run.set_defaults(run=_run)
    report = actions.add_parser("report", help="the results so far (Markdown table, or --json)")
    report.add_argument("--json", action="store_true", help="one JSON object per finished run")
    report.add_argument("--results", type=Path, default=None, help=argparse.SUPPRESS)
    report.add_argument("--update-doc", type=Path, nargs="?", default=None, const=RESULTS_DOC, metavar="FILE",
                        help=f"replace the table between the sweep-report markers in FILE with this report "
                             f"(default {RESULTS_DOC})")
    report.set_defaults(run=_report)


def _size(text: str) -> int:
    size = int(text)
    if not 10 <= size <= FULL_SIZE:
        raise argparse.ArgumentTypeError(f"a training-set size is 10 to {FULL_SIZE:,} images, got {size}")
    return size


def _run(args: argparse.Namespace) -> int:
    from container_edu.data import DatasetError

    torch.set_num_threads(args.threads)
    command = "python -m container_edu " + " ".join(shlex.quote(a) for a in args.argv)
    try:
        trained = run_sweep(results_path=args.results, state_dir=args.state_dir, weights_dir=args.weights_dir,
                            data_dir=args.data_dir, sizes=tuple(args.sizes), seeds=tuple(args.seeds),
                            variants=tuple(args.variants), max_runs=args.max_runs, min_steps=args.min_steps,
                            command=command, validations=args.validations)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"trained {trained} run(s); results in {args.results or RESULTS_PATH}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from container_edu.training.sweep_report import BLOCK_END, BLOCK_START, report_block, report_markdown, report_rows

    if args.update_doc is not None:
        text = args.update_doc.read_text()
        if report_block(text) is None:
            print(f"error: {args.update_doc} has no sweep-report markers", file=sys.stderr)
            return 2
        head, rest = text.split(BLOCK_START, 1)
        tail = rest.split(BLOCK_END, 1)[1]
        report = report_markdown(args.results)
        args.update_doc.write_text(f"{head}{BLOCK_START}\n{report}\n{BLOCK_END}{tail}")
        print(f"updated the sweep table in {args.update_doc}")
        return 0
    if args.json:
        print(json.dumps(report_rows(args.results), indent=1))
    else:
        print(report_markdown(args.results))
    return 0
