"""A two-layer token-mixing MLP seen as an affinity: its static linear part and its input-dependent Jacobian.

MLP-Mixer mixes the ``N`` tokens of each channel ``c`` with one MLP shared by all channels::

    y_c = W2 GELU(W1 u_c + b1) + b2          u_c, y_c: (N,);  W1: (D, N);  W2: (N, D);  b1: (D,);  b2: (N,)

The paper's unified view writes token mixing as ``Y = A^mix V`` with one static dense ``A^mix``. For this MLP:

- **Linear part** (GELU replaced by the identity): ``y_c = (W2 W1) u_c + (W2 b1 + b2)``. The matrix ``W2 W1``
  ``(N, N)`` is static (the same for every image and channel); the offset ``W2 b1 + b2`` ``(N,)`` is a constant
  added to every channel, the bias term of the linear view (it is not part of any affinity).
- **Jacobian** (the affinity the MLP really applies around this input): ``J_c = dy_c / du_c =
  W2 diag(GELU'(z_c)) W1`` with ``z_c = W1 u_c + b1``. Each hidden unit ``k`` passes on its share of ``W2 W1``
  scaled by ``GELU'(z_ck)``, which runs from about -0.17 to 1.13 (0.5 at ``z = 0``, 1 for large ``z``, 0 for very
  negative ``z``). So ``J_c`` equals ``W2 W1`` only where every hidden unit sits on GELU's linear side; it depends
  on the image and differs from channel to channel.

The paper's "static and dense" view holds exactly for the linear part and approximately for the MLP as far as
:func:`relative_difference` of the Jacobians from ``W2 W1`` is small.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["linear_part", "linear_offset", "gelu_derivative", "hidden_preactivation", "jacobian", "jacobian_row",
           "relative_difference", "shape_difference", "hidden_gram", "jacobian_differences"]


def _check_weights(fc1_weight: Tensor, fc2_weight: Tensor) -> tuple[int, int]:
    if fc1_weight.dim() != 2 or fc2_weight.dim() != 2 or fc2_weight.shape != fc1_weight.shape[::-1]:
        raise ValueError(
            f"fc1.weight must be (D, N) and fc2.weight (N, D), got {tuple(fc1_weight.shape)} and "
            f"{tuple(fc2_weight.shape)}"
        )
    hidden, tokens = fc1_weight.shape
    return tokens, hidden


def linear_part(fc1_weight: Tensor, fc2_weight: Tensor) -> Tensor:
    """``W2 W1``, ``(N, N)``: the static affinity the MLP would be without its GELU; row ``i`` mixes into token ``i``."""
    _check_weights(fc1_weight, fc2_weight)
    return fc2_weight @ fc1_weight


def linear_offset(fc1_bias: Tensor, fc2_weight: Tensor, fc2_bias: Tensor) -> Tensor:
    """``W2 b1 + b2``, ``(N,)``: the constant the linear view adds to every channel (its bias, not an affinity)."""
    return fc2_weight @ fc1_bias + fc2_bias


def gelu_derivative(z: Tensor) -> Tensor:
    """Exact GELU's slope ``Phi(z) + z phi(z)`` (standard normal CDF and density), elementwise."""
    cdf = 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))
    density = torch.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return cdf + z * density


def hidden_preactivation(u: Tensor, fc1_weight: Tensor, fc1_bias: Tensor) -> Tensor:
    """``z = W1 u_c + b1`` for every channel: ``u`` ``(B, N, C)`` normalised tokens -> ``(B, C, D)``."""
    return u.transpose(1, 2) @ fc1_weight.T + fc1_bias  # (B, C, N) @ (N, D) -> (B, C, D)


def jacobian(z: Tensor, fc1_weight: Tensor, fc2_weight: Tensor) -> Tensor:
    """``W2 diag(GELU'(z)) W1`` for each leading index of ``z``: ``z`` ``(..., D)`` -> ``(..., N, N)``.

    ``J[..., i, j] = dy_i / du_j``: how much token ``j``'s value moves output token ``i`` (same channel).
    Memory ``N^2`` per entry of ``z``'s leading shape: pass one channel's ``z`` for one matrix.
    """
    _check_weights(fc1_weight, fc2_weight)
    return (fc2_weight * gelu_derivative(z).unsqueeze(-2)) @ fc1_weight  # (N, D) * (..., 1, D) @ (D, N)


def jacobian_row(z: Tensor, fc1_weight: Tensor, fc2_weight: Tensor, query: int) -> Tensor:
    """Row ``query`` of :func:`jacobian` without building the matrix: ``z`` ``(..., D)`` -> ``(..., N)``."""
    _check_weights(fc1_weight, fc2_weight)
    return (fc2_weight[query] * gelu_derivative(z)) @ fc1_weight  # (..., D) @ (D, N)


def relative_difference(matrices: Tensor, reference: Tensor) -> Tensor:
    """``||J - R||_F / ||R||_F`` over the last two axes: ``(..., N, N)`` against ``(N, N)`` -> ``(...)``.

    0 means the Jacobian is the linear part; 0.5 means it is off by half the linear part's size.
    """
    return torch.linalg.matrix_norm(matrices - reference) / torch.linalg.matrix_norm(reference)


def shape_difference(matrices: Tensor, reference: Tensor) -> Tensor:
    """The part of ``J`` no rescaling of ``R`` explains: ``min_s ||J - s R||_F / ||J||_F`` -> ``(...)``.

    A uniform slope (every hidden unit at ``GELU' = 0.5``, as near ``z = 0``) halves ``J`` without changing which
    tokens it mixes: :func:`relative_difference` says 0.5, this says 0. It is ``sqrt(1 - cos^2)`` of the angle
    between ``J`` and ``R`` flattened.
    """
    flat = matrices.flatten(-2)
    ref = reference.flatten()
    cosine = (flat @ ref) / (flat.norm(dim=-1) * ref.norm()).clamp_min(torch.finfo(flat.dtype).tiny)
    return (1.0 - cosine.clamp(-1.0, 1.0) ** 2).clamp_min(0.0).sqrt()


def hidden_gram(fc1_weight: Tensor, fc2_weight: Tensor) -> Tensor:
    """``G = (W2ᵀ W2) ∘ (W1 W1ᵀ)``, ``(D, D)`` (``∘``: elementwise product).

    For any hidden-unit weights ``d`` ``(D,)``, ``||W2 diag(d) W1||_F^2 = dᵀ G d`` (expand the trace of
    ``W1ᵀ diag(d) W2ᵀ W2 diag(d) W1``), so the Frobenius norms of all ``C`` Jacobians of a block cost ``C D^2``
    instead of building ``C`` matrices of ``N x N`` (``C N^2 D``).
    """
    _check_weights(fc1_weight, fc2_weight)
    return (fc2_weight.T @ fc2_weight) * (fc1_weight @ fc1_weight.T)


def jacobian_differences(z: Tensor, fc1_weight: Tensor, fc2_weight: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`relative_difference` and :func:`shape_difference` of every ``J(z)`` from ``W2 W1``, without the matrices.

    ``z`` ``(..., D)`` pre-activations -> two tensors ``(...)``, float64 (``1 - cos^2`` near 0 needs the digits).
    Exact up to rounding: ``J - W2 W1 = W2 diag(GELU'(z) - 1) W1``, and norms and inner products of such matrices
    are quadratic forms in :func:`hidden_gram`.
    """
    gram = hidden_gram(fc1_weight.double(), fc2_weight.double())  # (D, D)
    slope = gelu_derivative(z.double())  # (..., D)
    ones = torch.ones_like(slope[..., :1].expand_as(slope))
    linear_sq = ((ones @ gram) * ones).sum(-1)  # ||W2 W1||^2
    jacobian_sq = ((slope @ gram) * slope).sum(-1)  # ||J||^2
    cross = ((slope @ gram) * ones).sum(-1)  # <J, W2 W1>
    gap = slope - 1.0
    relative = ((gap @ gram) * gap).sum(-1).clamp_min(0.0).sqrt() / linear_sq.sqrt()
    cosine = cross / (jacobian_sq * linear_sq).sqrt().clamp_min(torch.finfo(torch.float64).tiny)
    return relative, (1.0 - cosine.clamp(-1.0, 1.0) ** 2).clamp_min(0.0).sqrt()
