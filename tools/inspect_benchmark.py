#!/usr/bin/env python
"""Server time to inspect one uploaded photo with the ImageNet Container-Light, at 224 and at 448 (issue 11), and
with the paper's three families beside it at 224 (issue 24).

What the Image inspector does on the server for a new upload, step by step,
with the ImageNet architecture (random weights: the authors' weights cost
the same time) on the default device:

1. **decode**: the uploaded JPEG bytes through the safe loader (``load_image``);
2. **preprocess**: resize and centre crop to the input size (``center_crop_input``);
3. **forward**: one forward pass with every block recorded (``run_inspection``:
   18 blocks, the attention of stage 4, results brought back to the CPU);
4. **figures**: the first figures the page draws (what the model sees, the
   top-5 bar, the default block's maps over the picture), built and
   serialised to JSON as Streamlit sends them.

The three families (``--families``, on by default: DeiT-Small/16, ConvNeXt-Tiny, MLP-Mixer-B/16, random
weights, which cost the same time as trained ones) take the same steps at 224 as the Three families view does:
decode, their own preprocessing, one forward pass with every block recorded
(:func:`container_edu.record.families.record_family`), and the view's figure for the centre patch (the Mixer's
includes its Jacobian row). Each repeat runs Container-Light and the three one after the other, so the four are
measured side by side under the same load.

Each size is measured ``--repeats`` times after one warm-up; the median and
the minimum are printed with the goals (1.0 s at 224, 3.0 s at 448, on the
2-core CPU of the reference machine). On a machine shared with other work,
the minimum is the closer estimate of what the code costs; say so when you
quote the figures.

Usage::

    python tools/inspect_benchmark.py                 # 224 and 448, 5 repeats
    python tools/inspect_benchmark.py --sizes 224 320 448 --repeats 3 --json out.json
    python tools/inspect_benchmark.py --sizes 224 --no-families     # Container-Light alone
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

GOALS_S = {224: 1.0, 448: 3.0}
STEPS = ("decode", "preprocess", "forward", "figures", "total")
#: The three families of issue 24, at 224 only (the size their weights were trained at); goal 1.0 s each.
FAMILIES = ("deit_small", "convnext_tiny", "mixer_b16")
FAMILY_SIZE = 224


def photo_jpeg(width: int = 1600, height: int = 1200) -> bytes:
    """A photo-sized JPEG (smooth gradients, shapes and noise: compresses like a real photo)."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.stack([200 * xx / width + 30, 160 * yy / height + 40, 120 + 60 * np.sin(xx / 90) * np.cos(yy / 70)], -1)
    pixels += rng.normal(0, 12, pixels.shape)
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, y0 = int(rng.integers(0, width - 200)), int(rng.integers(0, height - 200))
        draw.ellipse((x0, y0, x0 + int(rng.integers(60, 400)), y0 + int(rng.integers(60, 400))),
                     fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def inspect_once(model, data: bytes, size: int, class_names: list[str]) -> dict[str, float]:
    """One upload, as the page handles it; returns seconds per step."""
    from container_edu import figures
    from container_edu.data.images import DEFAULT_MAX_UPLOAD_BYTES, load_image
    from container_edu.data.input_size import center_crop_input, preprocessing_at
    from container_edu.hub.cards import imagenet_preprocessing
    from container_edu.record.inspection import block_maps, run_inspection

    times: dict[str, float] = {}
    start = time.perf_counter()
    image = load_image(data, max_bytes=DEFAULT_MAX_UPLOAD_BYTES)
    times["decode"] = time.perf_counter() - start

    mark = time.perf_counter()
    x, crop = center_crop_input(image, preprocessing_at(imagenet_preprocessing(), size))
    x = x.unsqueeze(0)
    import numpy as np

    seen = np.asarray(crop)
    times["preprocess"] = time.perf_counter() - mark

    mark = time.perf_counter()
    inspection = run_inspection(model, x)
    times["forward"] = time.perf_counter() - mark

    mark = time.perf_counter()
    block = inspection.mixed_blocks[-1]
    grid = inspection.records[block].grid
    maps = block_maps(inspection, block, 0, (grid[0] // 2, grid[1] // 2))
    shown = [
        figures.image_figure(seen, f"What the model sees ({size}×{size}, after preprocessing)", height=300),
        figures.topk_bar(inspection.probabilities, class_names, "Prediction p(class | image), top 5"),
        figures.query_maps_figure(maps, seen, opacity=0.6, clickable=True),
    ]
    payload = sum(len(figure.to_json()) for figure in shown)
    times["figures"] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - start
    times["json_bytes"] = float(payload)
    return times


def family_once(name: str, model, data: bytes) -> dict[str, float]:
    """One upload inspected with a family model as the Three families view does it; seconds per step."""
    import numpy as np

    from container_edu.analysis import families as fam
    from container_edu.data.images import DEFAULT_MAX_UPLOAD_BYTES, load_image
    from container_edu.data.transforms import preprocess
    from container_edu.figures.families import family_figure
    from container_edu.hub.families import family_preprocessing
    from container_edu.record.families import record_family

    times: dict[str, float] = {}
    start = time.perf_counter()
    image = load_image(data, max_bytes=DEFAULT_MAX_UPLOAD_BYTES)
    times["decode"] = time.perf_counter() - start

    mark = time.perf_counter()
    x, seen = preprocess(family_preprocessing(name), image)
    times["preprocess"] = time.perf_counter() - mark

    mark = time.perf_counter()
    recording = record_family(model, x)
    times["forward"] = time.perf_counter() - mark

    mark = time.perf_counter()
    query = (fam.QUERY_GRID[0] // 2, fam.QUERY_GRID[1] // 2)
    block = fam.default_block(name, fam.view_blocks(name, recording))
    rows = fam.rows_of(name, recording[block], query)
    payload = len(family_figure(rows, name, image=np.asarray(seen), clickable=True).to_json())
    times["figures"] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - start
    times["json_bytes"] = float(payload)
    return times


def _summary(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {step: {"median": statistics.median(r[step] for r in runs), "min": min(r[step] for r in runs)}
            for step in STEPS}


def _print(title: str, summary: dict, goal: float | None, json_bytes: float) -> None:
    verdict = ""
    if goal:
        verdict = (f"  goal {goal:.1f} s: median {summary['total']['median'] / goal:.2f}× the goal "
                   f"({'met' if summary['total']['median'] <= goal else 'NOT met'})")
    print(f"\n{title} (seconds, median / min):{verdict}")
    for step in STEPS:
        print(f"  {step:<11} {summary[step]['median']:7.3f} / {summary[step]['min']:7.3f}")
    print(f"  figures JSON {json_bytes / 1024:.0f} KB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 448])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", metavar="PATH", default=None, help="also write the figures as JSON")
    parser.add_argument("--families", action=argparse.BooleanOptionalAction, default=True,
                        help="also the three families (DeiT-Small, ConvNeXt-Tiny, MLP-Mixer-B/16) at 224, side by "
                             "side with Container-Light")
    args = parser.parse_args(argv)

    import torch

    from app.registry import build_random
    from container_edu.data.imagenet import imagenet_class_names

    if args.threads:
        torch.set_num_threads(args.threads)
    model = build_random("container_light")
    device = next(model.parameters()).device
    class_names = imagenet_class_names()
    data = photo_jpeg()
    load = os.getloadavg()
    print(f"ImageNet Container-Light (random weights) on {device}, {torch.get_num_threads()} torch threads, "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), load average {load[0]:.1f} "
          f"at start; upload: a 1600×1200 JPEG of {len(data) / 1024:.0f} KB")
    families = {}
    if args.families:
        families = {name: build_random(name) for name in FAMILIES}  # seeded random weights, as the view's
    results = {}
    for size in args.sizes:
        side_by_side = families if size == FAMILY_SIZE else {}
        inspect_once(model, data, size, class_names)  # warm-up: allocator, lazy imports, caches
        for name, family in side_by_side.items():
            family_once(name, family, data)
        runs: dict[str, list] = {"container_light": [], **{name: [] for name in side_by_side}}
        for _ in range(args.repeats):  # round-robin: every model sees the same changes of load
            runs["container_light"].append(inspect_once(model, data, size, class_names))
            for name, family in side_by_side.items():
                runs[name].append(family_once(name, family, data))
        for name, measured in runs.items():
            summary = _summary(measured)
            results[size if name == "container_light" else f"{name}@{size}"] = summary
            title = (f"{size}×{size}, {args.repeats} runs" if name == "container_light" else
                     f"{name} (random weights, all blocks recorded) {size}×{size}, {args.repeats} runs")
            _print(title, summary, GOALS_S.get(size), measured[-1]["json_bytes"])
    load = os.getloadavg()
    print(f"\nload average {load[0]:.1f} at the end (other processes share these CPUs: figures vary with it)")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": str(device), "threads": torch.get_num_threads(),
                                               "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
