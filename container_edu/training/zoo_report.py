"""The zoo's numbers: the bundled models side by side (``python -m container_edu zoo``) and the Model zoo page's tables.

``python -m container_edu zoo`` prints a Markdown table (the results table of
docs/results.md is pasted from it): test accuracy from each model card, and, measured on
this machine in this run, the accuracy again on the 10,000 test images
(``--verify``) and the CPU latency of one image. The page's rows
(:func:`card_row`, :func:`session_row`), blend histories and the data-size
sweep's series (:func:`accuracy_series`, :func:`blend_series`) are made here
too; the app only translates and draws them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence

import torch

from container_edu.hub.bundled import list_pretrained, load_pretrained
from container_edu.hub.cards import ModelCard
from container_edu.ops.kinds import for_variant

__all__ = ["latency_ms", "zoo_rows", "TABLE_COLUMNS", "format_blend", "free_beta", "card_row", "normalise_history",
           "session_row", "training_images", "is_sweep_model", "sweep_runs", "accuracy_series", "blend_series"]


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
            "training_images": training_images(card),
        }
        if verify:
            row["measured_accuracy"] = evaluate(model, x_test, labels)
        rows.append(row)
    return rows


# ---------------------------------------------------------------- the zoo's tables (the Model zoo page draws them)

#: The columns of :func:`card_row` and :func:`session_row`, in order (English: the app translates them when drawn).
TABLE_COLUMNS = ("model", "variant", "test accuracy (%)", "val accuracy (%)", "parameters",
                 "final blend (α, β per mixed block)", "epochs", "wall time", "seed", "training images")


def format_blend(blend: Mapping[str, Sequence[float]] | None) -> str:
    """``{"blocks2.0": [0.62, 0.38]}`` -> ``"blocks2.0: α=0.620 β=0.380"``; ``"—"`` when there is no mixed block."""
    if not blend:
        return "—"
    return "; ".join(f"{block}: α={float(v[0]):.3f} β={float(v[1]):.3f}" for block, v in blend.items())


def free_beta(variant: str | None) -> bool:
    """Whether the zoo variant learns β apart from α (Container); Container-Light's β is 1 − α."""
    from container_edu.ops.kinds import for_variant

    try:
        return for_variant(str(variant)).blend == "alpha_beta"
    except ValueError:  # a variant this version does not know: show α only, as before
        return False


def _minutes(seconds) -> str:
    return f"{float(seconds) / 60:.1f} min" if isinstance(seconds, (int, float)) else "—"


def card_row(card: ModelCard) -> dict:
    """One row of the zoo table from a model card."""
    return {
        "model": card.name,
        "variant": card.variant,
        "test accuracy (%)": card.test_accuracy,
        "val accuracy (%)": card.val_accuracy,
        "parameters": card.parameter_count,
        "final blend (α, β per mixed block)": format_blend(card.final_blend),
        "epochs": card.epochs,
        "wall time": _minutes(card.wall_time_seconds),
        "seed": card.seed,
        "training images": training_images(card),
    }


def normalise_history(history: Sequence) -> list[dict]:
    """Epoch logs as plain dicts, whether they are dicts (model cards) or ``EpochLog`` dataclasses (live training)."""
    rows = []
    for entry in history or []:
        if dataclasses.is_dataclass(entry) and not isinstance(entry, type):
            entry = dataclasses.asdict(entry)
        if isinstance(entry, Mapping) and "epoch" in entry:
            rows.append(dict(entry))
    return rows


def session_row(name: str, entry: Mapping) -> dict:
    """One row of the "trained in this session" table."""
    history = normalise_history(entry.get("history", []))
    settings = entry.get("settings", {})
    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        settings = dataclasses.asdict(settings)
    model = entry.get("model")
    parameters = sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else None
    last = history[-1] if history else {}
    return {
        "model": name,
        "variant": (settings or {}).get("mixing", "?"),
        "test accuracy (%)": last.get("test_accuracy"),
        "val accuracy (%)": last.get("val_accuracy"),
        "parameters": parameters,
        "final blend (α, β per mixed block)": format_blend(last.get("blend")),
        "epochs": len(history),
        "wall time": _minutes(sum(float(h.get("seconds") or 0) for h in history)) if history else "—",
        "seed": (settings or {}).get("seed"),
    }



# ---------------------------------------------------------------- the data-size sweep


def training_images(card: ModelCard) -> int | None:
    """How many training images a card's model saw (54,000 when it trained on the whole training split)."""
    training = card.training or {}
    if training.get("train_subset"):
        return int(training["train_subset"])
    if "val_fraction" in training:
        return round(60_000 * (1 - float(training["val_fraction"])))
    return None


def is_sweep_model(card: ModelCard) -> bool:
    """Whether the card is one of the data-size sweep's small-data models (``fmnist_<variant>_n<size>``)."""
    return bool((card.training or {}).get("balanced_subset"))


def sweep_runs(path=None) -> list[dict]:
    """The finished sweep runs, read now from the package's results file (``[]`` when there is none)."""
    from container_edu.training import sweep

    return sweep.load_results(path or sweep.RESULTS_PATH)["runs"]


def accuracy_series(runs: Sequence[Mapping]) -> dict[str, dict[str, list]]:
    """variant -> sizes, mean and std (0 for one seed) of the test accuracy, and n seeds, sizes ascending."""
    from container_edu.training.sweep_report import summary

    cells = summary(list(runs))
    series: dict[str, dict[str, list]] = {}
    for (variant, size), cell in sorted(cells.items(), key=lambda item: item[0][1]):
        entry = series.setdefault(variant, {"sizes": [], "mean": [], "std": [], "n": []})
        entry["sizes"].append(size)
        entry["mean"].append(cell["mean"])
        entry["std"].append(cell["std"] or 0.0)
        entry["n"].append(cell["n"])
    return series


def blend_series(runs: Sequence[Mapping]) -> dict[tuple[str, str], dict[str, list]]:
    """(variant, block) -> sizes, mean and std of the final α and β, and n seeds, for the blended variants."""
    from container_edu.training.sweep_report import blend_summary

    cells = blend_summary(list(runs))
    series: dict[tuple[str, str], dict[str, list]] = {}
    for (variant, size, block), cell in sorted(cells.items(), key=lambda item: item[0][1]):
        entry = series.setdefault((variant, block), {"sizes": [], "alpha": [], "alpha_std": [], "beta": [],
                                                     "beta_std": [], "n": []})
        entry["sizes"].append(size)
        for key in ("alpha", "beta"):
            entry[key].append(cell[key])
            entry[f"{key}_std"].append(cell[f"{key}_std"] or 0.0)
        entry["n"].append(cell["n"])
    return series
