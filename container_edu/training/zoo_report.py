"""``python -m container_edu zoo``: the bundled models side by side, latency measured now.

Prints a Markdown table (the results table of docs/results.md is pasted from it):
test accuracy from each model card, and, measured on this machine in this
run, the accuracy again on the 10,000 test images (``--verify``) and the
CPU latency of one image.
"""

from __future__ import annotations

import time

import torch

from container_edu.hub.bundled import list_pretrained, load_pretrained
from container_edu.ops.kinds import for_variant

__all__ = ["latency_ms", "zoo_rows"]


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
