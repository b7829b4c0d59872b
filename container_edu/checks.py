"""Argument checks shared by the core: one wording for one mistake, wherever it is made.

Each check raises ``ValueError`` (or the ``error`` class it is given) with a
message that names the argument and the value it got.
"""

from __future__ import annotations

import operator

import torch

from container_edu.errors import ContainerEduError
from container_edu.text import N_

__all__ = ["positive_int", "check_grid", "check_heads", "as_index"]


def positive_int(name: str, value: object, error: type[Exception] = ValueError) -> int:
    """``value`` when it is an ``int`` of at least 1 (bools are not counts); else ``error``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        template, fields = N_("{name} must be a positive integer, got {value}"), {"name": name, "value": repr(value)}
        if issubclass(error, ContainerEduError):
            raise error(template, **fields)
        raise error(template.format(**fields))
    return value


def check_grid(height: object, width: object) -> tuple[int, int]:
    """An ``H x W`` token grid: two positive integers."""
    return positive_int("height", height), positive_int("width", width)


def check_heads(channels: int, num_heads: object) -> int:
    """The channels per head, ``channels / num_heads``, when ``num_heads`` divides ``channels``."""
    positive_int("num_heads", num_heads)
    if channels % num_heads != 0:
        raise ValueError(
            f"num_heads={num_heads} does not divide the {channels} channels: "
            f"each head needs the same number of channels (try a divisor of {channels})"
        )
    return channels // num_heads


def as_index(value: object) -> int:
    """An integer (Python, NumPy, integer tensor of one element) as ``int``.

    Raises ``TypeError`` for bools, floats, bool or float tensors and anything else without ``__index__``.
    """
    if isinstance(value, bool) or (
        isinstance(value, torch.Tensor) and (value.dtype.is_floating_point or value.dtype == torch.bool)
    ):
        raise TypeError(f"an index must be an integer, got {value!r}")
    return operator.index(value)
