"""``python -m container_edu zoo``: the bundled models side by side."""

from __future__ import annotations

import argparse

import torch

from container_edu.training.zoo_report import zoo_rows


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("zoo", help="the bundled models side by side (Markdown table)")
    parser.add_argument("--verify", action="store_true", help="re-measure test accuracy on the 10,000 test images")
    parser.add_argument("--data-dir", default=None)
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    rows = zoo_rows(args.verify, args.data_dir)
    if not rows:
        print("no bundled models; train them with `python -m container_edu train --variant NAME`")
        return 1
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; latency: median of 50 single-image passes")
    header = "| variant | test accuracy (card) | parameters | CPU latency / image | learned blend | epochs | train time |"
    if args.verify:
        header = header.replace("| parameters", "| test accuracy (now) | parameters")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in rows:
        cells = [row["variant"], f"{row['test_accuracy']:.2f}%"]
        if args.verify:
            cells.append(f"{row['measured_accuracy']:.2f}%")
        cells += [f"{row['parameters']:,}", f"{row['latency_ms']:.2f} ms", row["blend"], str(row["epochs"]),
                  f"{row['train_minutes']:.0f} min"]
        print("| " + " | ".join(cells) + " |")
    return 0
