"""The small Fashion-MNIST subset shipped inside the package, and the choice between it and the full set.

The full set (60,000 + 10,000 images) is optional: it is read from the folder
:func:`~container_edu.data.fashion_mnist.resolve_data_dir` names. When its
files are not there, :func:`data_source` falls back to the class-balanced
subset in ``fashion_mnist_subset/`` (written by
``tools/make_fashion_mnist_subset.py``; MIT licence in that folder), so that
every experiment of the lessons runs after a plain install. The subset is
read by the same IDX reader, so it is checked like the full set. A present
but damaged full set is *not* replaced silently: loading it raises.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from container_edu.data.fashion_mnist import NUM_CLASSES, SPLIT_FILES, load_fashion_mnist, resolve_data_dir

__all__ = ["SUBSET_DIR", "SUBSET_PER_CLASS", "DataSource", "data_source", "full_set_present", "load_split"]

SUBSET_DIR = Path(__file__).resolve().parent / "fashion_mnist_subset"
#: Images per class in each split of the shipped subset.
SUBSET_PER_CLASS: dict[str, int] = {"train": 200, "test": 100}


@dataclass(frozen=True)
class DataSource:
    """Where a split was read from; ``label`` says it in words for a figure's caption."""

    directory: Path
    is_subset: bool

    @property
    def label(self) -> str:
        if self.is_subset:
            train, test = (SUBSET_PER_CLASS[split] * NUM_CLASSES for split in ("train", "test"))
            return (f"the bundled Fashion-MNIST subset ({train:,} training and {test:,} test images, "
                    "class-balanced; the full set was not found)")
        return f"the full Fashion-MNIST set in {self.directory}"


def full_set_present(data_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether all four files of the full set exist (gzip'd or not) in the folder the reader would use."""
    folder = resolve_data_dir(data_dir)
    stems = [stem for pair in SPLIT_FILES.values() for stem in pair]
    return all((folder / (stem + ".gz")).is_file() or (folder / stem).is_file() for stem in stems)


def data_source(data_dir: str | os.PathLike[str] | None = None) -> DataSource:
    """The full set when its files are present, else the shipped subset."""
    if full_set_present(data_dir):
        return DataSource(resolve_data_dir(data_dir), is_subset=False)
    return DataSource(SUBSET_DIR, is_subset=True)


def load_split(
    split: Literal["train", "test"], data_dir: str | os.PathLike[str] | None = None
) -> tuple[torch.Tensor, torch.Tensor, DataSource]:
    """``load_fashion_mnist`` from :func:`data_source`: ``(images, labels, source)``."""
    source = data_source(data_dir)
    images, labels = load_fashion_mnist(split, source.directory)
    return images, labels, source
