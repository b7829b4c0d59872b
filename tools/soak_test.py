#!/usr/bin/env python
"""Soak test: many inspections in a row in one process; does memory stay flat? (issue #7, "long use")

Each iteration does what the Image inspector does for a new picture, with a
different image every time:

- decode the image's PNG bytes with the safe loader (``load_image``);
- the app's default zoo model (bundled ``fmnist_container_light``, else its
  random stand-in): preprocess, ``run_inspection`` (a recorded forward pass,
  with a blend override on every other iteration), then ``block_maps`` for
  every block (another head and query each time) and one ``head_matrix``;
- unless ``--no-imagenet``: the same for the ImageNet Container-Light with
  random weights at ``--imagenet-size`` pixels (the full model, a small input).

The resident memory (``VmRSS`` from ``/proc/self/status``, after
``gc.collect()``) is read after ``--warmup`` iterations and at the end; the
growth between the two is the number that matters (goal: under 50 MB for 200
iterations). ``--keep-results`` keeps every inspection (a deliberate leak),
to show that the measurement sees a leak of that size.

Usage::

    python tools/soak_test.py                      # 200 iterations, zoo + ImageNet Container-Light
    python tools/soak_test.py --no-imagenet --json out.json
    python tools/soak_test.py --keep-results       # the deliberate leak, for comparison
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
REPO_ROOT = TOOLS.parent
for folder in (str(TOOLS), str(REPO_ROOT)):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from learner_images import picture  # noqa: E402

GOAL_MB = 50.0


def status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def rss_mb() -> float:
    gc.collect()
    return status_mb("VmRSS")


def inspect_everything(inspection, number: int) -> int:
    """The widget path: every block's maps for some head and query, and one N x N matrix. Returns a checksum."""
    from container_edu.record.inspection import block_maps, head_matrix

    touched = 0
    for block in inspection.blocks:
        record = inspection.records[block]
        maps = block_maps(inspection, block, number % max(record.num_heads, 1),
                          (number % record.grid[0], (3 * number) % record.grid[1]))
        touched += maps.blended_heads.size
    mixed = inspection.mixed_blocks or inspection.blocks
    matrix = head_matrix(inspection, mixed[-1], number, "blended")
    return touched + (0 if matrix is None else matrix.size)


def run(iterations: int, warmup: int, imagenet_size: int | None, keep_results: bool, threads: int) -> dict:
    import torch
    import torch.nn.functional as F

    from app import registry
    from container_edu.record.inspection import run_inspection
    from container_edu.data.images import load_image
    from container_edu.hub.cards import card_for_model

    torch.set_num_threads(threads)
    zoo, zoo_name = registry.default_model()
    mixed = [name for name, module in zoo.named_modules() if type(module).__name__ == "AggregationBlock"]
    imagenet = registry.build_random("container_light") if imagenet_size else None
    kept: list = []
    trace: list[tuple[int, float]] = []
    rss_start = rss_mb()
    rss_warm = None
    started = time.perf_counter()
    warm_started = started
    for number in range(iterations):
        image = load_image(picture(0, number))
        x, _ = registry.preprocess(card_for_model(zoo), image)
        overrides = {mixed[number % len(mixed)]: (number % 11) / 10} if mixed and number % 2 else None
        inspection = run_inspection(zoo, x, overrides)
        inspect_everything(inspection, number)
        if keep_results:
            kept.append(inspection)
        if imagenet is not None:
            x, _ = registry.preprocess(card_for_model(imagenet), image)
            x = F.interpolate(x, size=(imagenet_size, imagenet_size), mode="bilinear", antialias=True)
            inspection = run_inspection(imagenet, x)
            inspect_everything(inspection, number)
            if keep_results:
                kept.append(inspection)
        del inspection, image, x
        if number + 1 == warmup:
            rss_warm = rss_mb()
            warm_started = time.perf_counter()
        if (number + 1) % 20 == 0:
            trace.append((number + 1, rss_mb()))
    rss_end = rss_mb()
    elapsed = time.perf_counter() - started
    if rss_warm is None:  # fewer iterations than the warm-up
        rss_warm = rss_start
    measured = iterations - min(warmup, iterations)
    return {
        "iterations": iterations, "warmup": warmup, "measured_iterations": measured,
        "zoo_model": zoo_name,
        "imagenet": None if imagenet is None else f"container_light (random weights) at {imagenet_size}x{imagenet_size}",
        "keep_results": keep_results, "kept": len(kept),
        "rss_start_mb": rss_start, "rss_after_warmup_mb": rss_warm, "rss_end_mb": rss_end,
        "growth_mb": rss_end - rss_warm, "peak_rss_mb": status_mb("VmHWM"),
        "seconds": elapsed, "seconds_per_iteration": (time.perf_counter() - warm_started) / max(measured, 1),
        "trace": trace, "goal_mb": GOAL_MB,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch_threads": threads,
                    "platform": platform.platform()},
    }


def print_summary(result: dict) -> None:
    line = "-" * 72
    print(line)
    print(f"Soak test: {result['iterations']} inspections in one process "
          f"({result['measured_iterations']} measured after a warm-up of {result['warmup']})")
    print(f"zoo model: {result['zoo_model']}")
    print(f"ImageNet model: {result['imagenet'] or 'not run (--no-imagenet)'}")
    if result["keep_results"]:
        print(f"DELIBERATE LEAK: every inspection kept ({result['kept']} objects)")
    print(line)
    print(f"{'RSS at start':<40}{result['rss_start_mb']:>10.1f} MB")
    print(f"{'RSS after warm-up':<40}{result['rss_after_warmup_mb']:>10.1f} MB")
    print(f"{'RSS at the end':<40}{result['rss_end_mb']:>10.1f} MB")
    print(f"{'growth (end - after warm-up)':<40}{result['growth_mb']:>10.1f} MB   (goal < {result['goal_mb']:.0f} MB)")
    print(f"{'peak RSS (VmHWM)':<40}{result['peak_rss_mb']:>10.1f} MB")
    print(f"{'time per iteration (after warm-up)':<40}{1000 * result['seconds_per_iteration']:>10.1f} ms")
    print("RSS every 20 iterations: " + ", ".join(f"{n}: {mb:.1f}" for n, mb in result["trace"]))
    print(f"verdict: {'PASS' if result['growth_mb'] < result['goal_mb'] else 'FAIL'} "
          f"(growth {result['growth_mb']:.1f} MB {'<' if result['growth_mb'] < result['goal_mb'] else '>='} "
          f"{result['goal_mb']:.0f} MB)")
    print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--imagenet-size", type=int, default=128,
                        help="input side of the ImageNet Container-Light pass (default 128; the app uses 224)")
    parser.add_argument("--no-imagenet", action="store_true", help="only the zoo model")
    parser.add_argument("--keep-results", action="store_true", help="keep every inspection: a deliberate leak")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.warmup < 0:
        parser.error("--iterations must be >= 1 and --warmup >= 0")
    result = run(args.iterations, args.warmup, None if args.no_imagenet else args.imagenet_size,
                 args.keep_results, args.threads)
    print_summary(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["growth_mb"] < result["goal_mb"] else 1


if __name__ == "__main__":
    sys.exit(main())
