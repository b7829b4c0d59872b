"""A model's weights version: a cache key that changes whenever its weights may have changed.

``id(model)`` is not one: Python gives the id of a collected model to the next
object, and a model that keeps training keeps its id while its weights move.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Hashable

from torch import nn

__all__ = ["weights_version"]

_NUMBERS: weakref.WeakKeyDictionary[nn.Module, int] = weakref.WeakKeyDictionary()
_NEXT_NUMBER = itertools.count(1)
_NUMBERS_LOCK = threading.Lock()


def weights_version(model: nn.Module) -> Hashable:
    """``(model number, each parameter's and buffer's identity and change count)``.

    The number is given to a model object the first time it is asked for and is
    never given again (a model made later at a recycled address gets a new one).
    The change counts are PyTorch's tensor version counters, which every in-place
    change increments: an optimizer step, ``load_state_dict``, BatchNorm's running
    statistics in a training-mode forward, ``weight.mul_(2)`` under ``no_grad``.
    A parameter replaced by another tensor object changes the identities. Cheap:
    one pass over the tensors, no weight is read.
    """
    with _NUMBERS_LOCK:
        number = _NUMBERS.get(model)
        if number is None:
            number = _NUMBERS[model] = next(_NEXT_NUMBER)
    tensors = itertools.chain(model.parameters(), model.buffers())
    # _version is the counter autograd itself relies on to detect in-place changes of saved tensors.
    return number, tuple((id(tensor), tensor._version) for tensor in tensors)
