"""``python -m container_edu bench``: explicit affinities against fused operators, and model forwards."""

from __future__ import annotations

import argparse

import torch

from container_edu.training.bench import bench_core, bench_models, format_table, machine_info

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
