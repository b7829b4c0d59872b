"""What the three ImageNet families (DeiT, ConvNeXt, Mixer) check on an input image, said once."""

from __future__ import annotations

from torch import Tensor

from container_edu.errors import ContainerEduError
from container_edu.text import N_

__all__ = ["ModelInputError", "as_pair", "check_image"]


class ModelInputError(ContainerEduError, ValueError):
    """An input image whose size or channels the model was not built for."""


def as_pair(size: int | tuple[int, int]) -> tuple[int, int]:
    """``224 -> (224, 224)``; a ``(height, width)`` pair is returned as a tuple of ints."""
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)


def check_image(x: Tensor, in_chans: int, size: tuple[int, int] | None, model: str) -> None:
    """Raise :class:`ModelInputError` unless ``x`` is ``(B, in_chans, *size)`` (any ``H x W`` when ``size`` is None)."""
    if not isinstance(x, Tensor) or x.dim() != 4 or x.shape[1] != in_chans or (
            size is not None and tuple(x.shape[-2:]) != size):
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        h, w = size if size is not None else ("H", "W")
        raise ModelInputError(N_("{model} takes images of shape (B, {chans}, {h}, {w}); got {shape}"),
                              model=model, chans=in_chans, h=h, w=w, shape=shape)
