"""Write the class-balanced Fashion-MNIST subset shipped in ``container_edu/data/fashion_mnist_subset/``.

Usage: ``python -m tools.make_fashion_mnist_subset [--source DIR]`` (default: the
full set's folder, see ``container_edu.data.resolve_data_dir``).

Why a subset ships at all: the lessons' experiments (accuracy against alpha,
live training) must run after the README's install command alone, on machines
without the full data set. Why these images: the first ``per_class`` images of
each class in file order (no randomness, so the script always writes the same
bytes), kept in their original order so that any prefix stays roughly balanced.
The files are IDX like the full set's, so the one reader checks both.
"""

from __future__ import annotations

import argparse
import gzip
import struct
from pathlib import Path

import numpy as np

from container_edu.data.fashion_mnist import NUM_CLASSES, SPLIT_FILES, load_fashion_mnist, resolve_data_dir
from container_edu.data.subset import SUBSET_DIR, SUBSET_PER_CLASS


def _idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def _write_gz(path: Path, payload: bytes) -> None:
    # mtime=0 and no file name in the header: the same input always gives the same bytes.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
        gz.write(payload)


def balanced_indices(labels: np.ndarray, per_class: int) -> np.ndarray:
    """The first ``per_class`` indices of every class, in file order."""
    chosen = [np.flatnonzero(labels == label)[:per_class] for label in range(NUM_CLASSES)]
    if any(len(indices) < per_class for indices in chosen):
        raise SystemExit(f"the source has fewer than {per_class} images of some class")
    return np.sort(np.concatenate(chosen))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=None, help="folder with the full set's four IDX files")
    args = parser.parse_args()
    source = resolve_data_dir(args.source)
    SUBSET_DIR.mkdir(parents=True, exist_ok=True)
    for split, per_class in SUBSET_PER_CLASS.items():
        images, labels = (tensor.numpy() for tensor in load_fashion_mnist(split, source))
        keep = balanced_indices(labels, per_class)
        image_stem, label_stem = SPLIT_FILES[split]
        _write_gz(SUBSET_DIR / f"{image_stem}.gz", _idx_bytes(images[keep]))
        _write_gz(SUBSET_DIR / f"{label_stem}.gz", _idx_bytes(labels[keep].astype(np.uint8)))
        print(f"{split}: {len(keep)} images ({per_class} per class) from {source}")


if __name__ == "__main__":
    main()
