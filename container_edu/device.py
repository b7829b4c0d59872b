"""Where tensors go: the GPU when there is one, else the CPU."""

from __future__ import annotations

import torch


def exact_float32() -> None:
    """Make CUDA compute float32 as float32: no TF32 in matrix products or cuDNN convolutions.

    TF32 (on by default for cuDNN convolutions) keeps 10 mantissa bits, so a GPU
    inspection would drift about 1e-3 from the CPU one; this project's maps
    are checked against the modules to float32 precision. Process-wide and idempotent.
    """
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def default_device(preferred: str | torch.device | None = None) -> torch.device:
    """``preferred`` if given, else ``cuda`` if available, then ``mps``, else ``cpu``.

    Choosing a CUDA device also calls :func:`exact_float32`. Raises
    ``ValueError`` when ``preferred`` names a device this machine lacks.
    """
    if preferred is not None:
        device = torch.device(preferred)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("a CUDA device was asked for, but PyTorch sees no CUDA GPU on this machine")
        if device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError("an MPS device was asked for, but it is not available on this machine")
        if device.type == "cuda":
            exact_float32()
        return device
    if torch.cuda.is_available():
        exact_float32()
        return torch.device("cuda")
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
