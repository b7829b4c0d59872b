"""Affinity matrices of the paper, built explicitly.

Every operator in the unified view aggregates values with an affinity matrix:

    Y = concat(A_1 V_1, ..., A_M V_M) W_o                                (paper, eq. 1)

This module builds the ``A_m`` of each operator as a plain tensor, so that a
learner can look at it and so that tests can hold it equal to the fused
operator. Notation (see ``shared/docs/unified_framework.md``):

- ``B`` batch, ``N = H * W`` tokens in row-major order (token ``i = y * W + x``),
  ``C`` channels, ``M`` heads of ``C / M`` contiguous channels each.
- An affinity is ``(B, M, N, N)`` when it depends on the input (dynamic) and
  ``(M, N, N)`` when it does not (static, shared over the batch).

No function here builds an ``N x N`` matrix unless its name promises one;
``depthwise_conv_row`` draws one query's row on the grid in ``O(C H W)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from container_edu.checks import check_grid, check_heads, grid_query

__all__ = [
    "attention",
    "depthwise_conv",
    "depthwise_conv_row",
    "aggregate",
    "blend",
    "head_mean",
    "token_index",
    "tokens_to_map",
    "map_to_tokens",
    "MAX_DENSE_ELEMENTS",
]

#: Largest tensor (in elements) the explicit builders allocate: 2^30 floats are 4 GiB. Beyond it they
#: raise ``ValueError`` instead of trying the allocation (``depthwise_conv_row`` draws one row cheaply).
MAX_DENSE_ELEMENTS = 2**30

#: The name aggregation.py calls it by.
_check_heads = check_heads


def _check_tensor(name: str, value: object, dims: tuple[int, ...], layout: str) -> Tensor:
    if not isinstance(value, Tensor) or value.dim() not in dims:
        shape = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(f"{name} must be {layout}, got {shape}")
    return value


def _check_size(what: str, elements: int, hint: str = "") -> None:
    if elements > MAX_DENSE_ELEMENTS:
        raise ValueError(
            f"{what} would have {elements:,} entries, more than the {MAX_DENSE_ELEMENTS:,} this module builds{hint}"
        )


def _check_depthwise_kernel(weight: Tensor) -> int:
    if not isinstance(weight, Tensor) or weight.dim() != 4 or weight.shape[1] != 1 or weight.shape[0] < 1:
        shape = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"a depthwise kernel has shape (C, 1, k, k) with C >= 1, got {shape}")
    k_h, k_w = weight.shape[-2:]
    if k_h != k_w or k_h % 2 == 0:
        raise ValueError(
            f"the kernel must be square with an odd size (3, 5, 7, ...) so that it has a centre; got {k_h} x {k_w}"
        )
    return k_h


def token_index(y: int, x: int, width: int) -> int:
    """Row-major token index of grid position ``(y, x)``: ``i = y * W + x``."""
    return y * width + x


def map_to_tokens(x: Tensor) -> Tensor:
    """``(B, C, H, W)`` feature map -> ``(B, N, C)`` tokens in row-major order."""
    _check_tensor("a feature map", x, (4,), "(B, C, H, W)")
    return x.flatten(2).transpose(1, 2)


def tokens_to_map(tokens: Tensor, height: int, width: int) -> Tensor:
    """``(B, N, C)`` tokens -> ``(B, C, H, W)`` feature map (inverse of ``map_to_tokens``)."""
    _check_tensor("tokens", tokens, (3,), "(B, N, C)")
    check_grid(height, width)
    batch, num_tokens, channels = tokens.shape
    if num_tokens != height * width:
        raise ValueError(f"{num_tokens} tokens do not fill a {height} x {width} grid")
    return tokens.transpose(1, 2).reshape(batch, channels, height, width)


def attention(q: Tensor, k: Tensor, num_heads: int, scale: float | None = None) -> Tensor:
    """Self-attention affinity ``A_m = softmax(Q_m K_m^T * s)``: dynamic and dense.

    Args:
        q, k: queries and keys, ``(B, N, C)``; head ``m`` owns channels
            ``[m * C/M, (m + 1) * C/M)``.
        num_heads: ``M``; must divide ``C``.
        scale: ``s``; defaults to ``(C / M) ** -0.5``.

    Returns:
        ``(B, M, N, N)``; each row is a probability distribution over the
        ``N`` key tokens (sums to 1).
    """
    if not (isinstance(q, Tensor) and isinstance(k, Tensor)) or q.dim() != 3 or q.shape != k.shape:
        shapes = [tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__ for t in (q, k)]
        raise ValueError(f"q and k must both be (B, N, C), got {shapes[0]} and {shapes[1]}")
    batch, num_tokens, channels = q.shape
    head_dim = check_heads(channels, num_heads)
    if head_dim == 0:
        raise ValueError(f"q and k have no channels, got {tuple(q.shape)}: each head needs at least one")
    _check_size("the attention affinity (B, M, N, N)", batch * num_heads * num_tokens * num_tokens)
    if scale is None:
        scale = head_dim**-0.5
    q = q.reshape(batch, num_tokens, num_heads, head_dim).transpose(1, 2)  # (B, M, N, C/M)
    k = k.reshape(batch, num_tokens, num_heads, head_dim).transpose(1, 2)  # (B, M, N, C/M)
    logits = (q * scale) @ k.transpose(-2, -1)  # (B, M, N, N)
    return logits.softmax(dim=-1)


def _kernel_taps(weight: Tensor, height: int, width: int) -> tuple[Tensor, Tensor, Tensor]:
    """For every query token and kernel tap that lands inside the grid: (query, key, tap) indices."""
    size = _check_depthwise_kernel(weight)
    pad = size // 2
    device = weight.device
    ys = torch.arange(height, device=device).view(height, 1, 1, 1)
    xs = torch.arange(width, device=device).view(1, width, 1, 1)
    dy = torch.arange(size, device=device).view(1, 1, size, 1)
    dx = torch.arange(size, device=device).view(1, 1, 1, size)
    # conv2d is cross-correlation: output (y, x) reads input (y + dy - p, x + dx - p) with weight w[dy, dx].
    key_y = ys + dy - pad
    key_x = xs + dx - pad
    inside = (key_y >= 0) & (key_y < height) & (key_x >= 0) & (key_x < width)  # (H, W, k, k)
    query = (ys * width + xs).expand(height, width, size, size)
    key = key_y * width + key_x
    tap = (dy * size + dx).expand(height, width, size, size)
    return query[inside], key[inside], tap[inside]


def depthwise_conv(weight: Tensor, height: int, width: int) -> Tensor:
    """Depthwise-convolution affinity: static and sparse, one matrix per channel.

    ``A_c[i, j] = w_c[y_j - y_i + p, x_j - x_i + p]`` when both offsets lie in
    ``[-p, p]`` (``p = k // 2``), else 0: the matrix that
    ``nn.Conv2d(C, C, k, padding=k // 2, groups=C)`` multiplies each channel's
    ``N`` values with (bias excluded; it adds ``b_c`` after ``A_c V_c``).

    Args:
        weight: ``(C, 1, k, k)`` depthwise kernel, ``k`` odd.
        height, width: the token grid ``H x W``.

    Returns:
        ``(C, N, N)`` with ``N = H * W``. Dense: ``C N^2`` floats, so only for
        small grids; use :func:`depthwise_conv_row` for one query on a large grid.
    """
    check_grid(height, width)
    _check_depthwise_kernel(weight)
    channels = weight.shape[0]
    num_tokens = height * width
    _check_size(f"the dense conv affinity (C, N, N) of a {height} x {width} grid", channels * num_tokens * num_tokens,
                " (use depthwise_conv_row for one query's row)")
    query, key, tap = _kernel_taps(weight, height, width)
    taps = weight.reshape(channels, -1)[:, tap]  # (C, number of in-grid taps)
    flat_index = query * num_tokens + key
    dense = weight.new_zeros(channels, num_tokens * num_tokens)
    # Each (query, key) pair appears once: offsets are unique per query, so index_put never collides.
    dense = dense.index_put((torch.arange(channels, device=weight.device)[:, None], flat_index[None, :]), taps)
    return dense.view(channels, num_tokens, num_tokens)


def depthwise_conv_row(weight: Tensor, height: int, width: int, query: int | tuple[int, int]) -> Tensor:
    """One query's row of the depthwise-conv affinity, drawn on the grid.

    Row ``i`` of ``A_c`` reshaped to ``H x W`` is the kernel pasted with its
    centre at the query and cut at the border (zero padding). Built in
    ``O(C H W)`` memory, never ``N x N``, so it is instant at 56 x 56.

    Args:
        weight: ``(C, 1, k, k)`` depthwise kernel, ``k`` odd.
        height, width: the token grid.
        query: token index ``i`` (row-major) or grid position ``(y, x)``.

    Returns:
        ``(C, H, W)``: ``out[c, y_j, x_j] = A_c[i, j]``.
    """
    size = _check_depthwise_kernel(weight)
    check_grid(height, width)
    _check_size(f"a conv row (C, H, W) on a {height} x {width} grid", weight.shape[0] * height * width)
    qy, qx = grid_query(query, height, width)
    pad = size // 2
    row = weight.new_zeros(weight.shape[0], height, width)
    # Kernel tap (dy, dx) lands on key (qy + dy - p, qx + dx - p); keep the part inside the grid.
    top, left = qy - pad, qx - pad
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + size, height), min(left + size, width)
    row[:, y0:y1, x0:x1] = weight[:, 0, y0 - top : y1 - top, x0 - left : x1 - left]
    return row


def aggregate(affinity: Tensor, v: Tensor) -> Tensor:
    """Multi-head context aggregation ``concat(A_1 V_1, ..., A_M V_M)``.

    Args:
        affinity: ``(B, M, N, N)`` (dynamic) or ``(M, N, N)`` (static, shared
            over the batch). ``M = 1`` shares one matrix across all channels
            (MLP-Mixer); ``M = C`` gives each channel its own (depthwise conv).
        v: values ``V``, ``(B, N, C)``; the channels are split into ``M``
            contiguous groups of ``C / M``.

    Returns:
        ``(B, N, C)``, before the output projection ``W_o``.
    """
    _check_tensor("v", v, (3,), "(B, N, C)")
    _check_tensor("affinity", affinity, (3, 4), "(B, M, N, N) or (M, N, N)")
    if affinity.shape[-1] != affinity.shape[-2]:
        raise ValueError(f"affinity must be (B, M, N, N) or (M, N, N), got {tuple(affinity.shape)}")
    batch, num_tokens, channels = v.shape
    num_heads = affinity.shape[-3]
    if affinity.shape[-1] != num_tokens:
        raise ValueError(f"affinity is over {affinity.shape[-1]} tokens but v has {num_tokens}")
    if affinity.dim() == 4 and affinity.shape[0] != batch:
        raise ValueError(f"affinity has batch {affinity.shape[0]} but v has batch {batch}")
    head_dim = check_heads(channels, num_heads)
    v_heads = v.reshape(batch, num_tokens, num_heads, head_dim).transpose(1, 2)  # (B, M, N, C/M)
    out = affinity @ v_heads  # (B, M, N, C/M)
    return out.transpose(1, 2).reshape(batch, num_tokens, channels)


def blend(dynamic: Tensor, static: Tensor, alpha: float | Tensor, beta: float | Tensor) -> Tensor:
    """Container's affinity ``alpha * A(X) + beta * A_static``.

    The dynamic affinity has one matrix per attention head (``M``); the static
    one may have one per head too, one in all (``1``, MLP-Mixer), or one per
    channel (``C``, depthwise conv). In the last case each head's attention
    matrix is shared by the ``C / M`` channels of that head, so the result is
    per channel.

    Args:
        dynamic: ``(B, M, N, N)`` or ``(M, N, N)``.
        static: ``(S, N, N)`` or ``(B, S, N, N)`` with ``S`` in ``{1, M}`` or a multiple of ``M``.
        alpha, beta: the blend weights (floats or tensors that broadcast).

    Returns:
        ``(B, max(M, S), N, N)`` (or without ``B`` when neither input has one).
    """
    _check_tensor("the dynamic affinity", dynamic, (3, 4), "(B, M, N, N) or (M, N, N)")
    _check_tensor("the static affinity", static, (3, 4), "(S, N, N) or (B, S, N, N)")
    num_heads, num_static = dynamic.shape[-3], static.shape[-3]
    if dynamic.shape[-1] != dynamic.shape[-2]:
        raise ValueError(f"the dynamic affinity must be (B, M, N, N) or (M, N, N), got {tuple(dynamic.shape)}")
    if num_heads < 1 or num_static < 1:
        raise ValueError(
            f"each affinity needs at least one matrix, got {tuple(dynamic.shape)} and {tuple(static.shape)}"
        )
    if dynamic.dim() == 4 and static.dim() == 4 and 1 not in (dynamic.shape[0], static.shape[0]) \
            and dynamic.shape[0] != static.shape[0]:
        raise ValueError(f"the dynamic affinity has batch {dynamic.shape[0]} but the static one has {static.shape[0]}")
    if dynamic.shape[-2:] != static.shape[-2:]:
        raise ValueError(
            f"dynamic and static affinities cover different token counts: {tuple(dynamic.shape)} vs {tuple(static.shape)}"
        )
    if num_static > num_heads:
        if num_static % num_heads != 0:
            raise ValueError(f"{num_static} static matrices cannot be shared out over {num_heads} heads")
        dynamic = dynamic.repeat_interleave(num_static // num_heads, dim=-3)
    elif num_static not in (1, num_heads):
        raise ValueError(f"static affinity has {num_static} matrices; expected 1, {num_heads} or a multiple of {num_heads}")
    return alpha * dynamic + beta * static


def head_mean(per_channel: Tensor, num_heads: int) -> Tensor:
    """Average a per-channel affinity ``(..., C, N, N)`` over each head's channels -> ``(..., M, N, N)``.

    The head-level view of a blended Container affinity, whose conv part is
    per channel.
    """
    if not isinstance(per_channel, Tensor) or per_channel.dim() < 3:
        shape = tuple(per_channel.shape) if isinstance(per_channel, Tensor) else type(per_channel).__name__
        raise ValueError(f"the per-channel affinity must be (..., C, N, N), got {shape}")
    channels = per_channel.shape[-3]
    head_dim = check_heads(channels, num_heads)
    shape = per_channel.shape[:-3] + (num_heads, head_dim) + per_channel.shape[-2:]
    return per_channel.reshape(shape).mean(dim=-3)
