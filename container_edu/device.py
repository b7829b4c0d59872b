"""Where tensors go: the GPU when there is one, else the CPU."""

from __future__ import annotations

import torch


def default_device(preferred: str | torch.device | None = None) -> torch.device:
    """``preferred`` if given, else ``cuda`` if available, then ``mps``, else ``cpu``.

    Raises ``ValueError`` when ``preferred`` names a device this machine lacks.
    """
    if preferred is not None:
        device = torch.device(preferred)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("a CUDA device was asked for, but PyTorch sees no CUDA GPU on this machine")
        if device.type == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError("an MPS device was asked for, but it is not available on this machine")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if hasattr(torch.backends, "mps") and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
