"""The data-size sweep's results as a table, JSON rows and figures' data (``python -m container_edu sweep report``)."""

from __future__ import annotations

import statistics
from pathlib import Path

from container_edu.models import MIXINGS
from container_edu.text import N_, translate
from container_edu.training.sweep import (
    REPORT_KEYS,
    SEEDS,
    SIZES,
    chosen_min_steps,
    load_results,
    planned_jobs,
    settings_for,
    total_steps,
)

__all__ = ["report_rows", "summary", "separated_pairs", "blend_summary", "remaining_seconds", "report_markdown",
           "report_block", "BLOCK_START", "BLOCK_END", "RESULTS_DOC"]


def report_rows(results_path=None) -> list[dict]:
    """One object per finished run with exactly :data:`REPORT_KEYS`."""
    return [{key: run[key] for key in REPORT_KEYS} for run in load_results(results_path)["runs"]]


def _mean_std(values: list[float]) -> tuple[float, float | None]:
    """The mean and the sample standard deviation (``None`` for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def summary(runs: list[dict]) -> dict[tuple[str, int], dict]:
    """``(variant, size)`` -> mean, sample std (``None`` for one seed) and n of the test accuracy."""
    cells: dict[tuple[str, int], list[float]] = {}
    for run in runs:
        cells.setdefault((run["variant"], run["train_size"]), []).append(run["test_accuracy"])
    out = {}
    for key, values in cells.items():
        mean, std = _mean_std(values)
        out[key] = {"mean": mean, "std": std, "n": len(values)}
    return out


def separated_pairs(cells: dict[tuple[str, int], dict], size: int) -> list[tuple[str, str]]:
    """``(better, worse)`` pairs at ``size`` whose mean ± std intervals do not overlap (two seeds or more each)."""
    stats = {v: c for (v, n), c in cells.items() if n == size and c["std"] is not None}
    pairs = []
    for a, ca in stats.items():
        for b, cb in stats.items():
            if ca["mean"] - ca["std"] > cb["mean"] + cb["std"]:
                pairs.append((a, b))
    return sorted(pairs, key=lambda p: (-stats[p[0]]["mean"], -stats[p[1]]["mean"]))


def blend_summary(runs: list[dict]) -> dict[tuple[str, int, str], dict]:
    """``(variant, size, block)`` -> mean/std/n of the final alpha and beta, for the blended variants."""
    cells: dict[tuple[str, int, str], list[tuple[float, float]]] = {}
    for run in runs:
        for block, (alpha, beta) in (run.get("blend") or {}).items():
            cells.setdefault((run["variant"], run["train_size"], block), []).append((alpha, beta))
    out = {}
    for key, pairs in cells.items():
        alpha, alpha_std = _mean_std([a for a, _ in pairs])
        beta, beta_std = _mean_std([b for _, b in pairs])
        out[key] = {"alpha": alpha, "alpha_std": alpha_std, "beta": beta, "beta_std": beta_std, "n": len(pairs)}
    return out


def _cell_text(cell: dict | None) -> str:
    if cell is None:
        return "—"
    spread = f" ± {cell['std']:.2f}" if cell["std"] is not None else ""
    return f"{cell['mean']:.2f}{spread} (n={cell['n']})"


def remaining_seconds(data: dict, min_steps: int | None, workers: int = 2) -> tuple[int, float] | None:
    """Steps still to train and their wall time with ``workers`` runs at once, from the measured seconds per step.

    Each variant's seconds per step is the median over its finished runs (all variants' median where it has
    none yet); ``None`` before the step rule is chosen or before any run has a measured time.
    """
    if min_steps is None:
        return None
    finished = {(r["variant"], r["train_size"], r["seed"]) for r in data["runs"]}
    timed = [r for r in data["runs"] + data["pilot"] if r.get("wall_time_seconds") and r.get("steps")]
    if not timed:
        return None
    per_step = {}
    for variant in MIXINGS:
        rates = sorted(r["wall_time_seconds"] / r["steps"] for r in timed if r["variant"] == variant)
        per_step[variant] = rates[len(rates) // 2] if rates else None
    known = sorted(rate for rate in per_step.values() if rate is not None)
    fallback = known[len(known) // 2]
    steps = seconds = 0.0
    for job in planned_jobs(min_steps):
        if (job.variant, job.train_size, job.seed) in finished:
            continue
        job_steps = total_steps(settings_for(job.variant, job.train_size, job.seed, min_steps))
        steps += job_steps
        seconds += job_steps * (per_step[job.variant] or fallback)
    return int(steps), seconds / workers


def report_markdown(results_path=None) -> str:
    data = load_results(results_path)
    runs = data["runs"]
    cells = summary(runs)
    # Each line a template with fields: the app shows the report in the session's language, the README in English.
    lines = [translate("Test accuracy (%) on the 10,000 test images, mean ± sample std over seeds (n = seeds "
                       "finished)."), "",
             translate("| variant |") + " " + " ".join(translate("{size} images |", size=format(n, ",")) for n in SIZES),
             "|---|" + "---|" * len(SIZES)]
    for variant in MIXINGS:
        lines.append(f"| {variant} | " + " | ".join(_cell_text(cells.get((variant, n))) for n in SIZES) + " |")
    lines.append("")
    for size in SIZES:
        pairs = separated_pairs(cells, size)
        text = "; ".join(f"{a} > {b}" for a, b in pairs) if pairs else translate("no two variants' intervals separate")
        lines.append(translate("- {size} images, ranking where mean ± std intervals separate: {text}",
                               size=format(size, ","), text=text))
    finished = {(r["variant"], r["train_size"], r["seed"]) for r in runs}
    missing: dict[tuple[int, tuple[int, ...]], list[str]] = {}
    for size in SIZES:
        for variant in MIXINGS:
            seeds = tuple(s for s in SEEDS if (variant, size, s) not in finished)
            if seeds:
                missing.setdefault((size, seeds), []).append(variant)
    planned = len(SIZES) * len(SEEDS) * len(MIXINGS)
    done = sum(1 for key in finished if key[1] in SIZES and key[2] in SEEDS)
    line = translate("- runs finished: {done} of {planned}", done=done, planned=planned)
    if missing:
        line += translate("; still to train: ") + "; ".join(
            translate(N_("{size} images, seeds {seeds}: {variants}") if len(seeds) > 1 else
                      N_("{size} images, seed {seeds}: {variants}"),
                      size=format(size, ","), seeds=", ".join(map(str, seeds)), variants=", ".join(variants))
            for (size, seeds), variants in missing.items())
    lines.append(line)
    pilot_min = chosen_min_steps(data["pilot"])
    estimate = remaining_seconds(data, pilot_min)
    if estimate is not None and estimate[0]:
        lines.append(translate("- estimated rest: {steps} steps, about {hours} h of wall time with two runs at once, at "
                               "the seconds per step measured so far on this machine (shared, so a rough figure)",
                               steps=format(estimate[0], ","), hours=format(estimate[1] / 3600, ".1f")))
    blends = blend_summary(runs)
    if blends:
        lines += ["", translate("Final blend of each mixed block (α = weight of the dynamic A(X), β of the static part; "
                                "container_light: α = σ(s), β = 1 - α), mean over seeds:"), "",
                  translate("| variant | block |") + " " + " | ".join(f"{n:,}" for n in SIZES) + " |",
                  "|---|---|" + "---|" * len(SIZES)]
        for variant in ("container", "container_light"):
            for block in sorted({b for (v, _, b) in blends if v == variant}):
                cells_text = []
                for n in SIZES:
                    c = blends.get((variant, n, block))
                    cells_text.append("—" if c is None else f"α {c['alpha']:.2f}, β {c['beta']:.2f} (n={c['n']})")
                lines.append(f"| {variant} | {block} | " + " | ".join(cells_text) + " |")
    if pilot_min is not None:
        pilot = ", ".join(translate("{variant} {steps} steps: val {accuracy}", variant=r["variant"],
                                    steps=format(r['min_steps'], ","), accuracy=format(r["val_accuracy"], ".2f") + "%")
                          for r in data["pilot"])
        lines += ["", translate("Step rule: max(10 epochs, {steps} steps) at batch 128, chosen by the validation-only "
                                "pilot ({pilot}).", steps=format(pilot_min, ","), pilot=pilot)]
    return "\n".join(lines)


#: The page of the results, relative to the repository root; its table sits between the markers below.
RESULTS_DOC = Path("docs/results.md")
BLOCK_START = "<!-- sweep-report:start (python -m container_edu sweep report --update-doc docs/results.md) -->"
BLOCK_END = "<!-- sweep-report:end -->"


def report_block(text: str) -> str | None:
    """What stands between the markers in ``text`` (``None`` without them)."""
    if BLOCK_START not in text or BLOCK_END not in text:
        return None
    return text.split(BLOCK_START, 1)[1].split(BLOCK_END, 1)[0].strip("\n")
