"""``python -m container_edu bench {core,models,all} [--quick]``: what the explicit view costs, measured.

Two targets, each printed as one aligned table whose ratios come from
timings taken side by side in this process (the functions of a row are
timed in interleaved rounds, so that a change in machine load hits both):

- ``core``: each explicit affinity plus :func:`~container_edu.ops.affinity.aggregate`
  against the fused PyTorch operator it reproduces, at 14 x 14 = 196 tokens
  with stage 4's width (512 channels, 16 heads), batch 1 (Container-Light's
  stage 4 is 7 x 7 at 224 x 224 input and 14 x 14 at 448 x 448), and
  :func:`~container_edu.ops.affinity.depthwise_conv_row` at stage 1 (56 x 56,
  64 channels) with the largest tensor it allocates;
- ``models``: Container-Light's forward at 224 x 224 on the fast path,
  while recording (inside ``record_affinities()``), and as the straight
  transcription of the reference code (``reference_forward``).

Times are medians of ``torch.utils.benchmark.Timer.blocked_autorange``;
"noise" is, for the noisier of the row's two measurements, the larger of its
interquartile range within a round and the spread of its medians over the
rounds, relative to its median: a ratio closer to 1 than that is a tie. ``--quick`` shortens every measurement (and
skips batch 16) for a smoke test; its numbers are rough.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.benchmark import Timer

from container_edu.ops import affinity as aff

__all__ = ["add_parser", "run", "machine_info", "LargestAllocation", "bench_core", "bench_models"]

#: The attention-sized setting: 14 x 14 tokens with Container-Light's stage-4 width and heads
#: (its stage 4 is 7 x 7 at 224 x 224 input, 14 x 14 at 448 x 448), and stage 1 at 224 x 224.
MIXED = {"height": 14, "width": 14, "channels": 512, "heads": 16}
STAGE1 = {"height": 56, "width": 56, "channels": 64}
KERNEL = 5


# ----------------------------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class Timing:
    seconds: float  # median over rounds of each round's median
    noise: float  # the larger of: IQR / median within a round (median over rounds), spread of the round medians


def measure(functions: dict[str, Callable[[], object]], rounds: int, min_run_time: float) -> dict[str, Timing]:
    """Time each function with ``blocked_autorange``, interleaving them round by round."""
    threads = torch.get_num_threads()
    medians: dict[str, list[float]] = {name: [] for name in functions}
    noises: dict[str, list[float]] = {name: [] for name in functions}
    for function in functions.values():  # warm up (allocator, oneDNN primitive caches)
        function()
    for _ in range(rounds):
        for name, function in functions.items():
            timer = Timer(stmt="function()", globals={"function": function}, num_threads=threads)
            result = timer.blocked_autorange(min_run_time=min_run_time)
            medians[name].append(result.median)
            noises[name].append(result.iqr / result.median if result.median > 0 else 0.0)
    timings = {}
    for name in functions:
        median = statistics.median(medians[name])
        spread = (max(medians[name]) - min(medians[name])) / median if median > 0 else 0.0
        timings[name] = Timing(median, max(statistics.median(noises[name]), spread))
    return timings


def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def format_bytes(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.2f} {unit}"
    return f"{size} B"


@dataclass(frozen=True)
class Row:
    case: str
    setting: str
    measured: str  # what the "time" column times
    timing: Timing
    baseline: str
    baseline_timing: Timing
    goal: float | None = None  # the ratio to stay at or under, if there is one
    max_diff: float | None = None  # largest |measured - baseline| output difference, relative to the output scale
    comparable: bool = True  # False when the two sides compute different things: the ratio is context, not a speed-up

    @property
    def ratio(self) -> float:
        return self.timing.seconds / self.baseline_timing.seconds

    def cells(self) -> list[str]:
        if not self.comparable:
            goal = "not comparable"
        elif self.goal is None:
            goal = "-"
        else:
            goal = f"<= {self.goal:.1f}x " + ("ok" if self.ratio <= self.goal else "MISSED")
        diff = "-" if self.max_diff is None else f"{self.max_diff:.1e}"
        noise = max(self.timing.noise, self.baseline_timing.noise)
        return [
            self.case, self.setting, self.measured, format_seconds(self.timing.seconds), self.baseline,
            format_seconds(self.baseline_timing.seconds), f"{self.ratio:.2f}x", goal, diff, f"{noise:.0%}",
        ]


HEADER = ["case", "setting", "measured", "time", "baseline", "time", "ratio", "goal", "max|diff|", "noise"]
RIGHT_ALIGNED = {3, 5, 6, 8, 9}


def format_table(rows: list[Row]) -> str:
    table = [HEADER] + [row.cells() for row in rows]
    widths = [max(len(line[column]) for line in table) for column in range(len(HEADER))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if column in RIGHT_ALIGNED else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(table[0]), rule] + [line(cells) for cells in table[1:]])


def relative_difference(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """``max |actual - expected|`` over ``max(1, max |expected|)``: the tolerance scale of the tests."""
    scale = max(1.0, expected.abs().max().item())
    return (actual - expected).abs().max().item() / scale


# ----------------------------------------------------------------------------------------------- memory


class LargestAllocation(TorchDispatchMode):
    """Watches every operator: the largest tensor storage it creates and the total it creates.

    Outputs that share storage with an input (views) allocate nothing and are
    not counted. The total is an upper bound on the peak of live memory.
    """

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0
        self.total = 0
        self._seen: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {
            value.untyped_storage().data_ptr()
            for value in tree_flatten((args, kwargs or {}))[0]
            if isinstance(value, torch.Tensor)
        }
        for value in tree_flatten(out)[0]:
            if not isinstance(value, torch.Tensor):
                continue
            storage = value.untyped_storage()
            pointer = storage.data_ptr()
            if pointer in inputs or pointer in self._seen:
                continue
            self._seen.add(pointer)
            self.largest = max(self.largest, storage.nbytes())
            self.total += storage.nbytes()
        return out


# ---------------------------------------------------------------------------------------------- machine


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_info() -> str:
    return "\n".join(
        [
            f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.machine()}",
            f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
            f"oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}; "
            f"python {platform.python_version()}; float32, CPU, eval mode, no_grad",
        ]
    )


# ------------------------------------------------------------------------------------------------- core


def _sdpa_tokens(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_heads: int) -> torch.Tensor:
    """F.scaled_dot_product_attention from and to ``(B, N, C)`` tokens (the same layout the explicit path uses)."""
    batch, num_tokens, channels = q.shape
    head_dim = channels // num_heads

    def heads(t: torch.Tensor) -> torch.Tensor:
        return t.view(batch, num_tokens, num_heads, head_dim).transpose(1, 2)

    out = F.scaled_dot_product_attention(heads(q), heads(k), heads(v))
    return out.transpose(1, 2).reshape(batch, num_tokens, channels)


@torch.no_grad()
def bench_core(quick: bool = False) -> tuple[list[Row], list[str]]:
    """The explicit affinities against the fused operators; returns the rows and notes on memory."""
    rounds, min_run_time = (1, 0.05) if quick else (3, 0.5)
    generator = torch.Generator().manual_seed(0)
    rows: list[Row] = []

    # --- attention at 14 x 14: softmax(Q K^T s) built explicitly, then A V, vs the fused kernel
    height, width, channels, heads = MIXED["height"], MIXED["width"], MIXED["channels"], MIXED["heads"]
    num_tokens = height * width
    q, k, v = (torch.randn(1, num_tokens, channels, generator=generator) for _ in range(3))
    setting = f"N={num_tokens} ({height}x{width}) C={channels} M={heads}"

    def explicit_attention() -> torch.Tensor:
        return aff.aggregate(aff.attention(q, k, heads), v)

    def fused_attention() -> torch.Tensor:
        return _sdpa_tokens(q, k, v, heads)

    timings = measure({"explicit": explicit_attention, "fused": fused_attention}, rounds, min_run_time)
    rows.append(Row("attention", setting, "attention()+aggregate()", timings["explicit"],
                    "F.scaled_dot_product_attention", timings["fused"], goal=3.0,
                    max_diff=relative_difference(explicit_attention(), fused_attention())))

    # --- depthwise conv at 14 x 14: the banded (C, N, N) matrix, built and applied, vs conv2d(groups=C)
    for conv_channels in (64, channels):
        weight = torch.randn(conv_channels, 1, KERNEL, KERNEL, generator=generator)
        bias = torch.randn(conv_channels, generator=generator)
        v_map = torch.randn(1, conv_channels, height, width, generator=generator)
        v_tokens = aff.map_to_tokens(v_map)
        prebuilt = aff.depthwise_conv(weight, height, width)
        setting = f"N={num_tokens} ({height}x{width}) C={conv_channels} k={KERNEL}"

        def build_and_aggregate(weight=weight, bias=bias, v_tokens=v_tokens) -> torch.Tensor:
            return aff.aggregate(aff.depthwise_conv(weight, height, width), v_tokens) + bias

        def aggregate_only(prebuilt=prebuilt, bias=bias, v_tokens=v_tokens) -> torch.Tensor:
            return aff.aggregate(prebuilt, v_tokens) + bias

        def fused_conv(weight=weight, bias=bias, v_map=v_map) -> torch.Tensor:
            return F.conv2d(v_map, weight, bias, padding=KERNEL // 2, groups=weight.shape[0])

        timings = measure(
            {"build": build_and_aggregate, "apply": aggregate_only, "fused": fused_conv}, rounds, min_run_time
        )
        expected = aff.map_to_tokens(fused_conv())
        rows.append(Row("depthwise conv", setting, "depthwise_conv()+aggregate()", timings["build"],
                        "F.conv2d(groups=C)", timings["fused"],
                        max_diff=relative_difference(build_and_aggregate(), expected)))
        rows.append(Row("depthwise conv", setting, "aggregate(), A prebuilt", timings["apply"],
                        "F.conv2d(groups=C)", timings["fused"],
                        max_diff=relative_difference(aggregate_only(), expected)))

    # --- MLP-Mixer token mixing: one N x N matrix for all channels (M = 1) vs a plain matmul
    mixing = torch.randn(1, num_tokens, num_tokens, generator=generator) / num_tokens**0.5

    def mixer_aggregate() -> torch.Tensor:
        return aff.aggregate(mixing, v)

    def mixer_matmul() -> torch.Tensor:
        return torch.matmul(mixing[0], v)

    timings = measure({"aggregate": mixer_aggregate, "matmul": mixer_matmul}, rounds, min_run_time)
    rows.append(Row("mixer (M=1)", f"N={num_tokens} ({height}x{width}) C={channels}", "aggregate()",
                    timings["aggregate"], "torch.matmul(A, V)", timings["matmul"],
                    max_diff=relative_difference(mixer_aggregate(), mixer_matmul())))

    # --- one query's conv row at stage 1, never N x N, vs the conv over the whole map
    height, width, channels = STAGE1["height"], STAGE1["width"], STAGE1["channels"]
    num_tokens = height * width
    weight = torch.randn(channels, 1, KERNEL, KERNEL, generator=generator)
    v_map = torch.randn(1, channels, height, width, generator=generator)
    query = (height // 2, width // 2)

    def conv_row() -> torch.Tensor:
        return aff.depthwise_conv_row(weight, height, width, query)

    def full_conv() -> torch.Tensor:
        return F.conv2d(v_map, weight, padding=KERNEL // 2, groups=channels)

    timings = measure({"row": conv_row, "conv": full_conv}, rounds, min_run_time)
    # Not the same work: one query's affinity row (the kernel pasted on the grid) against the whole conv output.
    rows.append(Row("conv row (1 query)", f"N={num_tokens} ({height}x{width}) C={channels} k={KERNEL}",
                    "depthwise_conv_row()", timings["row"], "F.conv2d, full map", timings["conv"], comparable=False))

    with LargestAllocation() as tracker:
        conv_row()
    dense_bytes = num_tokens * num_tokens * 4
    notes = [
        f"memory of depthwise_conv_row at N={num_tokens} ({height}x{width}), C={channels} "
        "(every operator's new output storage, seen by a TorchDispatchMode):",
        f"  largest tensor allocated: {tracker.largest:>13,} B ({format_bytes(tracker.largest)}) = "
        f"{tracker.largest / dense_bytes:.4f} x N*N*4 = {dense_bytes:,} B ({format_bytes(dense_bytes)}): "
        + ("ok, no N x N tensor" if tracker.largest < dense_bytes else "MISSED, an N x N tensor was allocated"),
        f"  all allocations together: {tracker.total:>13,} B ({format_bytes(tracker.total)}), an upper bound on its peak",
        f"  the dense depthwise_conv() at this size would hold C*N*N*4 = {channels * dense_bytes:,} B "
        f"({format_bytes(channels * dense_bytes)}); it is not built",
        "conv row (1 query): not comparable, its ratio is no speed-up: depthwise_conv_row draws one query's "
        "affinity row (C x H x W weights, no values), F.conv2d computes every output token from the values; "
        "the row is listed for its time and memory above",
    ]
    return rows, notes


# ----------------------------------------------------------------------------------------------- models


@torch.no_grad()
def bench_models(quick: bool = False) -> tuple[list[Row], list[str]]:
    """Container-Light's forward: fast path vs recording, and fast path vs the reference transcription."""
    from container_edu.models import create_model
    from container_edu.models.container_light import reference_forward
    from container_edu.record.trace import record_affinities

    rounds, min_run_time = (1, 0.2) if quick else (3, 1.0)
    batches = (1,) if quick else (1, 16)
    torch.manual_seed(0)
    model = create_model("container_light").eval()
    generator = torch.Generator().manual_seed(1)
    rows: list[Row] = []
    for batch in batches:
        x = torch.randn(batch, 3, 224, 224, generator=generator)

        def fast(x=x) -> torch.Tensor:
            return model(x)

        def recording(x=x) -> torch.Tensor:
            with record_affinities():
                return model(x)

        def reference(x=x) -> torch.Tensor:
            return reference_forward(model, x)

        timings = measure({"fast": fast, "recording": recording, "reference": reference}, rounds, min_run_time)
        setting = f"224x224, batch {batch}"
        expected = fast()
        rows.append(Row("Container-Light", setting, "recording on", timings["recording"],
                        "fast path", timings["fast"], goal=1.3,
                        max_diff=relative_difference(recording(), expected)))
        rows.append(Row("Container-Light", setting, "fast path", timings["fast"],
                        "reference_forward()", timings["reference"], goal=1.0,
                        max_diff=relative_difference(expected, reference())))
    notes = [
        "Container-Light with random weights (timing does not depend on them); recording on = the same forward "
        "inside record_affinities(), which keeps every block's affinity (stage 4) or kernel (stages 1-3)."
    ]
    return rows, notes


# -------------------------------------------------------------------------------------------------- CLI

DESCRIPTION = """\
Time the explicit view of context aggregation against the fused PyTorch operators.

  core    attention, depthwise conv and mixer affinities built explicitly and applied
          with aggregate(), against F.scaled_dot_product_attention, F.conv2d(groups=C)
          and a matmul, at 14x14 tokens with stage 4's C=512 and M=16 (batch 1);
          depthwise_conv_row() at stage 1 (56x56, C=64): time and the
          largest tensor it allocates, against N*N*4 bytes
  models  Container-Light forward at 224x224, batch 1 and 16: fast path vs recording
          (record_affinities()) and vs reference_forward() (the reference code)
  all     both

The functions of a row are timed side by side in interleaved rounds with
torch.utils.benchmark (median of blocked_autorange), so the ratios compare like
with like. On a machine shared with other work, try --threads 1.
"""

TARGETS = {
    "core": ("core: explicit affinity + aggregate() vs the fused PyTorch operator (batch 1)", bench_core),
    "models": ("models: Container-Light forward on CPU", bench_models),
}


def run(args: argparse.Namespace) -> int:
    threads = torch.get_num_threads()
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit("--threads must be at least 1")
        torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads)


def _run(args: argparse.Namespace) -> int:
    targets = list(TARGETS) if args.target == "all" else [args.target]
    print(machine_info())
    print(
        "timing: torch.utils.benchmark.Timer.blocked_autorange, median time; the functions of a row are timed "
        "side by side, in interleaved rounds"
        + (" (--quick: short runs, rough numbers)" if args.quick else "")
    )
    for name in targets:
        title, bench = TARGETS[name]
        rows, notes = bench(quick=args.quick)
        print()
        print(title)
        print(format_table(rows))
        for note in notes:
            print(note)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``bench`` on the ``python -m container_edu`` parser."""
    parser = subparsers.add_parser(
        "bench",
        help="time explicit affinities against fused operators, and Container-Light's forward",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "target", nargs="?", choices=("core", "models", "all"), default="all",
        help="core: the affinities at N=196 and the conv row at N=3136; models: Container-Light; all: both",
    )
    parser.add_argument("--quick", action="store_true", help="short measurements and batch 1 only (a smoke test)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    parser.set_defaults(run=run)
    return parser
