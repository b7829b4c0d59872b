"""Argument checks shared by the core: one wording for one mistake, wherever it is made.

Each check raises ``ValueError`` (or the ``error`` class it is given) with a
message that names the argument and the value it got.
"""

from __future__ import annotations

import operator

import torch

from container_edu.errors import ContainerEduError
from container_edu.text import N_

__all__ = ["positive_int", "check_grid", "check_heads", "as_index", "grid_query", "head_index"]


def positive_int(name: str, value: object, error: type[Exception] = ValueError) -> int:
    """``value`` when it is an ``int`` of at least 1 (bools are not counts); else ``error``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _error(error, N_("{name} must be a positive integer, got {value}"), name=name, value=repr(value))
    return value


def _error(error: type[Exception], template: str, **fields: object) -> Exception:
    """``error`` with the message ``template`` filled: the project's errors keep template and fields (translated where
    shown), other exception types get the English sentence."""
    if issubclass(error, ContainerEduError):
        return error(template, **fields)
    return error(template.format(**fields))


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


def grid_query(query: object, height: int, width: int, *, where: str = "",
               error: type[Exception] = ValueError) -> tuple[int, int]:
    """A query token's grid position ``(y, x)``, given as a token index (row-major) or a ``(y, x)`` pair.

    Integers may be Python, NumPy or one-element tensor integers; bools and floats are refused.
    ``where`` names the grid in the message (``"blocks2.0"``); ``error`` is the caller's error class.
    """
    grid = {"h": height, "w": width, "where": where}
    try:
        token = as_index(query)
    except TypeError:
        token = None
    if token is not None:
        if not 0 <= token < height * width:
            template = (N_("query token {token} is outside the {h} x {w} token grid of {where}: a token index runs "
                           "from 0 to {last} (or pass (y, x))") if where else
                        N_("query token {token} is outside the {h} x {w} token grid: a token index runs from 0 to "
                           "{last} (or pass (y, x))"))
            raise _error(error, template, token=token, last=height * width - 1, **grid)
        return divmod(token, width)
    try:
        pair = tuple(query)
        if len(pair) != 2:
            raise TypeError
        y, x = (as_index(v) for v in pair)
    except TypeError:
        raise _error(error, N_("query must be a token index or a (y, x) pair of integers, got {query}"),
                     query=repr(query)) from None
    if not (0 <= y < height and 0 <= x < width):
        template = (N_("query ({y}, {x}) is outside the {h} x {w} token grid of {where}: y runs from 0 to {last_y} "
                       "and x from 0 to {last_x}") if where else
                    N_("query ({y}, {x}) is outside the {h} x {w} token grid: y runs from 0 to {last_y} and x from 0 "
                       "to {last_x}"))
        raise _error(error, template, y=y, x=x, last_y=height - 1, last_x=width - 1, **grid)
    return y, x


def head_index(head: object, num_heads: int, *, where: str = "", error: type[Exception] = ValueError) -> int:
    """``head`` as an ``int`` when it is an integer from 0 to ``num_heads - 1``; ``where`` names the block."""
    try:
        index = as_index(head)
    except TypeError:
        index = -1
    if not 0 <= index < num_heads:
        template = (N_("block {where} has {count} head(s): head must be an integer from 0 to {last}, got {head}")
                    if where else
                    N_("the block has {count} head(s): head must be an integer from 0 to {last}, got {head}"))
        raise _error(error, template, where=where, count=num_heads, last=num_heads - 1, head=repr(head))
    return index
