"""``python -m container_edu train``: train a zoo model on Fashion-MNIST and write its bundle."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch

from container_edu.data.fashion_mnist import DatasetError
from container_edu.models import MIXINGS, ZOO_PREFIX
from container_edu.training import train as train_module
from container_edu.training.train import TrainSettings, train, write_bundle


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a zoo model on Fashion-MNIST", description=train_module.__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", required=True, choices=MIXINGS, help="how the mixed stage aggregates")
    parser.add_argument("--epochs", type=int, default=TrainSettings.epochs)
    parser.add_argument("--seed", type=int, default=TrainSettings.seed)
    parser.add_argument("--batch-size", type=int, default=TrainSettings.batch_size)
    parser.add_argument("--lr", type=float, default=TrainSettings.lr)
    parser.add_argument("--train-subset", type=int, default=None, help="train on this many images only")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="output folder (default: runs/)")
    parser.add_argument("--data-dir", default=None, help="Fashion-MNIST folder (default: $CONTAINER_EDU_FASHION_MNIST "
                        "or /usr/share/datasets/fashion-mnist)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--resume", action="store_true", help="continue from <out>/<name>.state.pt")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = TrainSettings(mixing=args.variant, epochs=args.epochs, seed=args.seed, batch_size=args.batch_size,
                             lr=args.lr, train_subset=args.train_subset)
    name = ZOO_PREFIX + args.variant
    command = "python -m container_edu " + " ".join(shlex.quote(a) for a in args.argv)
    try:
        result = train(settings, data_dir=args.data_dir, progress=True,
                       state_path=args.out / f"{name}.state.pt", resume=args.resume)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    card = write_bundle(result, args.out, command=command)
    final = result.history[-1]
    print(f"{name}: test accuracy {final.test_accuracy:.2f}% after {final.epoch} epochs "
          f"in {result.wall_seconds / 60:.1f} min; wrote {card} and {card.with_suffix('.safetensors')}")
    return 0
