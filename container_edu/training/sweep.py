"""The data-size sweep: ``python -m container_edu sweep {run,report}``.

Does a static affinity pay off when data is scarce? The five zoo variants are
trained with one recipe on class-balanced subsets of 1,000, 6,000 and 54,000
training images (the 6,000 validation images held out as for the bundled
models), three seeds each. The subset depends only on size and seed, so every
variant sees the same images.

Steps. At 54,000 images the recipe is the bundled models' (10 epochs, 4,220
steps), so their seed-0 cards count as sweep runs. Ten epochs of a small
subset are only 80 (1,000 images) or 470 (6,000) steps, so every size trains
for ``max(10 epochs, MIN_STEPS)`` steps, warm-up a tenth of them. ``MIN_STEPS``
is chosen before any test image is looked at by a validation-only pilot
(run by ``sweep run`` first): conv and attention on a
1,000-image subset of a seed no sweep run uses, for each candidate step count;
the rule takes the smallest candidate whose validation accuracy is within
``PILOT_TOLERANCE`` points of the best candidate's, for both variants.

Results are data in the package (``container_edu/data/sweep_results.json``),
appended by the command after each finished run. ``sweep run`` skips finished
runs; several ``sweep run`` processes may work at once (each claims a run with
a file lock, which the system frees if its process dies); an interrupted run
resumes from its last saved state in ``--state-dir`` when it is there and
restarts cleanly when it is not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tempfile
import time
from pathlib import Path

from filelock import FileLock, Timeout

from container_edu.hub.cards import read_card
from container_edu.models import MIXINGS, ZOO_PREFIX
from container_edu.training.train import (
    TrainSettings,
    _atomic_write,
    evaluate,
    machine_description,
    train,
    write_bundle,
)

__all__ = ["SIZES", "SEEDS", "FULL_SIZE", "RESULTS_PATH", "Job", "settings_for", "planned_jobs", "load_results",
           "run_sweep"]

SIZES = (1_000, 6_000, 54_000)
SEEDS = (0, 1, 2)
FULL_SIZE = 54_000  # all training images once the validation tenth is held out
BASE_EPOCHS = 10
BUNDLED_SIZES = (1_000, 6_000)  # seed-0 weights shipped as fmnist_<variant>_n<size>
PILOT_SIZE = 1_000
PILOT_SEED = 100
PILOT_VARIANTS = ("conv", "attention")
PILOT_CANDIDATES = (500, 1_000, 2_000)
PILOT_TOLERANCE = 0.5  # points; about one standard error of an accuracy near 85% on 6,000 validation images
VALIDATIONS = 10  # validation points per run (and resumable states): hundreds of epochs at 1,000 images
REPORT_KEYS = ("variant", "train_size", "seed", "test_accuracy", "val_accuracy", "steps", "wall_time_seconds")
RESULTS_PATH = Path(__file__).resolve().parents[1] / "data" / "sweep_results.json"
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"


@dataclasses.dataclass(frozen=True)
class Job:
    variant: str
    train_size: int
    seed: int
    steps: int  # the minimum step count the run's epochs are derived from
    pilot: bool = False

    @property
    def key(self) -> str:
        kind = "pilot" if self.pilot else "run"
        return f"{kind}_{self.variant}_n{self.train_size}_s{self.seed}_m{self.steps}"


def steps_per_epoch(size: int, batch_size: int = TrainSettings.batch_size) -> int:
    return math.ceil(size / batch_size)


def settings_for(variant: str, size: int, seed: int, min_steps: int) -> TrainSettings:
    """The one recipe: ``max(10 epochs, min_steps)`` steps, a tenth of them warm-up; at 54,000 the bundled recipe."""
    epochs = max(BASE_EPOCHS, math.ceil(min_steps / steps_per_epoch(size)))
    full = size == FULL_SIZE
    return TrainSettings(mixing=variant, epochs=epochs, seed=seed, warmup_epochs=epochs / 10,
                         train_subset=None if full else size, balanced_subset=not full)


def total_steps(settings: TrainSettings) -> int:
    return settings.epochs * steps_per_epoch(settings.train_subset or FULL_SIZE, settings.batch_size)


# ---------------------------------------------------------------- results file


def load_results(path: Path | None = None) -> dict:
    """The results file (default :data:`RESULTS_PATH`, looked up now): ``{"pilot": [...], "runs": [...]}``."""
    path = path or RESULTS_PATH
    if not path.exists():
        return {"pilot": [], "runs": []}
    data = json.loads(path.read_text())
    data.setdefault("pilot", [])
    data.setdefault("runs", [])
    return data


def _results_lock(path: Path) -> FileLock:
    # The lock lives outside the package (no stray file beside committed data), one per results file.
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return FileLock(Path(tempfile.gettempdir()) / f"container_edu_sweep_{digest}.lock")


def _append(path: Path, section: str, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with _results_lock(path):
        data = load_results(path)
        data[section] = [r for r in data[section] if r.get("key") != record["key"]] + [record]
        data[section].sort(key=lambda r: (r["train_size"], r["seed"], r["variant"], r.get("steps", 0)))
        text = json.dumps(data, indent=1) + "\n"
        _atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def chosen_min_steps(pilot: list[dict]) -> int | None:
    """The pilot's rule, on validation accuracy only; ``None`` until every pilot run has finished."""
    val = {(r["variant"], r["min_steps"]): r["val_accuracy"] for r in pilot}
    if any((v, m) not in val for v in PILOT_VARIANTS for m in PILOT_CANDIDATES):
        return None
    for candidate in PILOT_CANDIDATES:
        if all(val[(v, candidate)] >= max(val[(v, m)] for m in PILOT_CANDIDATES) - PILOT_TOLERANCE
               for v in PILOT_VARIANTS):
            return candidate
    return PILOT_CANDIDATES[-1]


def pilot_jobs() -> list[Job]:
    return [Job(v, PILOT_SIZE, PILOT_SEED, m, pilot=True) for m in PILOT_CANDIDATES for v in PILOT_VARIANTS]


def planned_jobs(min_steps: int, sizes=SIZES, seeds=SEEDS, variants=MIXINGS) -> list[Job]:
    """Smallest sizes first, then seed, so a partial sweep has whole size-by-seed slices."""
    return [Job(v, n, s, min_steps) for n in sizes for s in seeds for v in variants]


def _recipe_matches(card_training: dict, settings: TrainSettings) -> bool:
    wanted = {k: v for k, v in dataclasses.asdict(settings).items() if k != "model"}
    defaults = {f.name: f.default for f in dataclasses.fields(TrainSettings) if f.name != "model"}
    return all(card_training.get(k, defaults[k]) == v for k, v in wanted.items())


def import_bundled_runs(results_path: Path, min_steps: int, weights_dir: Path = WEIGHTS_DIR) -> list[str]:
    """Record the bundled 54,000-image seed-0 models as sweep runs when their card's recipe is the sweep's."""
    done = {r["key"] for r in load_results(results_path)["runs"]}
    imported = []
    for variant in MIXINGS:
        job = Job(variant, FULL_SIZE, 0, min_steps)
        card_path = weights_dir / f"{ZOO_PREFIX}{variant}.json"
        if job.key in done or not card_path.exists():
            continue
        card = read_card(card_path)
        settings = settings_for(variant, FULL_SIZE, 0, min_steps)
        if not _recipe_matches(card.training or {}, settings) or card.extra.get("epochs") != settings.epochs:
            continue
        _append(results_path, "runs", {
            "key": job.key, "variant": variant, "train_size": FULL_SIZE, "seed": 0,
            "test_accuracy": card.metrics["test_accuracy"], "val_accuracy": card.metrics["val_accuracy"],
            "steps": total_steps(settings), "wall_time_seconds": card.extra["wall_time_seconds"],
            "epochs": settings.epochs, "blend": {k: list(v) for k, v in card.final_blend.items()},
            "source": f"bundled card {card_path.name} (sha256 {card.sha256[:12]}; its wall time includes a "
                      "test evaluation after every epoch)",
            "machine": card.extra.get("machine"),
        })
        imported.append(card_path.name)
    return imported


# ---------------------------------------------------------------- running


def _claim(state_dir: Path, job: Job) -> FileLock | None:
    """A lock on ``job`` held by this process, or ``None`` when another process is running it.

    Release it when the run ends. The operating system drops the locks of a process that dies, so a
    crashed run's job is free again at once.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    claim = FileLock(state_dir / f"{job.key}.claim")
    try:
        claim.acquire(timeout=0)
    except Timeout:
        return None
    return claim


def run_job(job: Job, *, results_path: Path, state_dir: Path, weights_dir: Path, data_dir: str | None,
            command: str, validations: int = VALIDATIONS) -> dict:
    """Train one run (resuming its saved state if any), measure it and append it to the results."""
    from container_edu.data import load_fashion_mnist, to_model_input

    settings = settings_for(job.variant, job.train_size, job.seed, job.steps)
    state_path = state_dir / f"{job.key}.state.pt"
    started = time.perf_counter()
    result = train(settings, data_dir=data_dir, evaluate_test=False, state_path=state_path, resume=True,
                   validate_every=max(1, settings.epochs // validations))
    record = {
        "key": job.key, "variant": job.variant, "train_size": job.train_size, "seed": job.seed,
        "val_accuracy": result.history[-1].val_accuracy, "steps": total_steps(settings), "epochs": settings.epochs,
        "blend": result.history[-1].blend, "machine": machine_description(),
    }
    if job.pilot:  # validation only: the pilot chooses the step rule, so it never sees a test image
        record["min_steps"] = job.steps
        record["wall_time_seconds"] = round(result.wall_seconds, 1)
        _append(results_path, "pilot", record)
    else:
        images, labels = load_fashion_mnist("test", data_dir)
        test_started = time.perf_counter()
        test_accuracy = evaluate(result.model, to_model_input(images), labels)
        result.history[-1].test_accuracy = test_accuracy
        record["test_accuracy"] = test_accuracy
        # Training time (summed over resumed pieces) plus the one test evaluation.
        record["wall_time_seconds"] = round(result.wall_seconds + time.perf_counter() - test_started, 1)
        record["source"] = command
        if job.seed == 0 and job.train_size in BUNDLED_SIZES:
            name = f"{ZOO_PREFIX}{job.variant}_n{job.train_size}"
            result.wall_seconds = record["wall_time_seconds"]
            write_bundle(result, weights_dir, command=command, name=name)
            record["bundled_as"] = name
        _append(results_path, "runs", record)
    state_path.unlink(missing_ok=True)
    print(f"{job.key}: val {record['val_accuracy']:.2f}%"
          + (f", test {record['test_accuracy']:.2f}%" if "test_accuracy" in record else "")
          + f", {record['steps']} steps, {time.perf_counter() - started:.0f} s this session", flush=True)
    return record


def run_sweep(*, results_path: Path | None = None, state_dir: Path = Path("runs/sweep"),
              weights_dir: Path = WEIGHTS_DIR, data_dir: str | None = None, sizes=SIZES, seeds=SEEDS,
              variants=MIXINGS, max_runs: int | None = None, min_steps: int | None = None,
              command: str = "python -m container_edu sweep run", validations: int = VALIDATIONS) -> int:
    """Run what is missing (the pilot first, unless ``min_steps`` is given); returns the number of runs trained."""
    results_path = results_path or RESULTS_PATH
    trained = 0
    while min_steps is None:
        data = load_results(results_path)
        min_steps = chosen_min_steps(data["pilot"])
        if min_steps is not None:
            break
        done = {r["key"] for r in data["pilot"]}
        todo = [job for job in pilot_jobs() if job.key not in done]
        claimed = next(((job, claim) for job in todo if (claim := _claim(state_dir, job)) is not None), None)
        if claimed is None:  # every missing pilot run is being trained by another process
            time.sleep(15)
            continue
        job, claim = claimed
        try:
            if job.key not in {r["key"] for r in load_results(results_path)["pilot"]}:  # finished while claiming
                run_job(job, results_path=results_path, state_dir=state_dir, weights_dir=weights_dir,
                        data_dir=data_dir, command=command, validations=validations)
        finally:
            claim.release()
    if FULL_SIZE in sizes and 0 in seeds:
        for name in import_bundled_runs(results_path, min_steps, weights_dir):
            print(f"counted the bundled {name} as the 54,000-image seed-0 run (same recipe)", flush=True)
    for job in planned_jobs(min_steps, sizes, seeds, variants):
        if max_runs is not None and trained >= max_runs:
            break
        if job.key in {r["key"] for r in load_results(results_path)["runs"]}:
            continue
        claim = _claim(state_dir, job)
        if claim is None:
            continue
        try:
            if job.key not in {r["key"] for r in load_results(results_path)["runs"]}:  # finished while claiming
                run_job(job, results_path=results_path, state_dir=state_dir, weights_dir=weights_dir,
                        data_dir=data_dir, command=command, validations=validations)
                trained += 1
        finally:
            claim.release()
    return trained
