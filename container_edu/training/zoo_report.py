"""``python -m container_edu zoo``: the bundled models side by side, latency measured now.

Prints a Markdown table (the README's results table is pasted from it):
test accuracy from each model card, and, measured on this machine in this
run, the accuracy again on the 10,000 test images (``--verify``) and the
CPU latency of one image.
"""

from __future__ import annotations

import argparse
import time

import torch

from container_edu.ops.kinds import for_variant
from container_edu.hub.bundled import list_pretrained, load_pretrained

__all__ = ["latency_ms", "zoo_rows", "add_parser"]


@torch.no_grad()
def latency_ms(model: torch.nn.Module, repeats: int = 50) -> float:
    """Median wall time in ms of one forward pass on one 28 x 28 image (batch 1, CPU)."""
    x = torch.randn(1, 1, 28, 28)
    for _ in range(5):
        model(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - start)
    times.sort()
    return 1000 * times[len(times) // 2]


def _blend_text(final_blend: dict[str, tuple[float, float]], variant: str) -> str:
    if not final_blend:
        return "—"
    if for_variant(variant).blend == "sigmoid":
        return ", ".join(f"{name}: σ(s)={alpha:.2f}" for name, (alpha, _) in final_blend.items())
    return ", ".join(f"{name}: α={alpha:.2f}, β={beta:.2f}" for name, (alpha, beta) in final_blend.items())


def zoo_rows(verify: bool = False, data_dir: str | None = None) -> list[dict]:
    """One row per bundled model: card figures, plus figures measured now."""
    rows = []
    if verify:
        from container_edu.data import load_fashion_mnist, to_model_input
        from container_edu.training.train import evaluate

        images, labels = load_fashion_mnist("test", data_dir)
        x_test = to_model_input(images)
    for name, card in list_pretrained().items():
        model = load_pretrained(name, device="cpu")
        row = {
            "name": name,
            "variant": card.variant,
            "test_accuracy": card.test_accuracy,
            "parameters": card.parameter_count,
            "latency_ms": latency_ms(model),
            "blend": _blend_text(card.final_blend, card.variant),
            "epochs": card.epochs,
            "train_minutes": card.wall_time_seconds / 60,
        }
        if verify:
            row["measured_accuracy"] = evaluate(model, x_test, labels)
        rows.append(row)
    return rows


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
