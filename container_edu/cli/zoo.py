"""``python -m container_edu zoo``: the bundled models side by side."""

from __future__ import annotations

import argparse

import torch

from container_edu.cli.table import aligned_table
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
    print(zoo_table(rows, verify=args.verify))
    return 0


def zoo_table(rows: list[dict], *, verify: bool) -> str:
    """The zoo as an aligned Markdown table: each row names its model and how many images it trained on, since
    a variant alone (three "attention" rows: the full set, 6,000 and 1,000 images) does not say which it is."""
    columns = ["model", "variant", "training images", "test accuracy (card)"]
    columns += ["test accuracy (now)"] if verify else []
    columns += ["parameters", "CPU latency / image", "learned blend", "epochs", "train time"]
    table = []
    for row in rows:
        images = row.get("training_images")
        cells = [row["name"], row["variant"], f"{images:,}" if images else "—", f"{row['test_accuracy']:.2f}%"]
        if verify:
            cells.append(f"{row['measured_accuracy']:.2f}%")
        cells += [f"{row['parameters']:,}", f"{row['latency_ms']:.2f} ms", row["blend"], str(row["epochs"]),
                  f"{row['train_minutes']:.0f} min"]
        table.append(cells)
    numbers = {"training images", "test accuracy (card)", "test accuracy (now)", "parameters", "CPU latency / image",
               "epochs", "train time"}
    return aligned_table(columns, table, right=numbers, markdown=True)
