"""How far AdamW can move one weight, and so the blend α = σ(s), in a run of a given number of steps.

AdamW's step on a weight is ``lr_t · m̂_t / (√v̂_t + ε)`` (plus weight decay, which this recipe does not apply to
``sa_weight``). By Cauchy–Schwarz on the two exponential averages,

    |m̂_t / √v̂_t| ≤ B_t = (1 − β₁)/(1 − β₁ᵗ) · √((1 − β₂ᵗ)/(1 − β₂)) · √(Σ_{j<t} (β₁²/β₂)ʲ),

and a gradient growing like (β₁/β₂)ʲ towards step t reaches it (``tests/test_train_lesson.py`` checks both against
``torch.optim.AdamW``). With the default betas B_1 = 1 and B_t grows towards (1 − β₁)/√((1 − β₂)(1 − β₁²/β₂)) ≈ 7.27;
the often-quoted (1 − β₁)/√(1 − β₂) ≈ 3.16 is the case of one isolated gradient after many zero ones. The learning
rate never exceeds its peak (warm-up, then cosine decay), and dα/ds = α(1 − α) ≤ 1/4, so a run of T steps moves α
by at most ``¼ · lr · Σ_{t ≤ T} B_t``.
"""

from __future__ import annotations

import inspect
import math

import torch

__all__ = ["default_betas", "step_bound", "step_bound_limit", "alpha_ceiling"]


def default_betas() -> tuple[float, float]:
    """The betas ``torch.optim.AdamW`` uses when none are given (the training recipe gives none)."""
    beta1, beta2 = inspect.signature(torch.optim.AdamW).parameters["betas"].default
    return float(beta1), float(beta2)


def step_bound(step: int, betas: tuple[float, float] | None = None) -> float:
    """``B_t``: the largest ``|m̂_t / √v̂_t|`` at step ``step`` (from 1), over every gradient sequence."""
    if step < 1:
        raise ValueError(f"steps are numbered from 1, got {step}")
    beta1, beta2 = betas or default_betas()
    ratio = beta1 * beta1 / beta2
    geometric = step if ratio == 1 else (1 - ratio**step) / (1 - ratio)
    return ((1 - beta1) / (1 - beta1**step) * math.sqrt((1 - beta2**step) / (1 - beta2)) * math.sqrt(geometric))


def step_bound_limit(betas: tuple[float, float] | None = None) -> float:
    """``B_t`` as t grows: ``(1 − β₁) / √((1 − β₂)(1 − β₁²/β₂))`` (for ``β₁² < β₂``)."""
    beta1, beta2 = betas or default_betas()
    return (1 - beta1) / math.sqrt((1 - beta2) * (1 - beta1 * beta1 / beta2))


def alpha_ceiling(steps: int, lr: float, betas: tuple[float, float] | None = None) -> float:
    """The most ``steps`` AdamW steps at learning rate at most ``lr`` can move α = σ(s): ``¼ · lr · Σ B_t``."""
    return 0.25 * lr * sum(step_bound(t, betas) for t in range(1, steps + 1))
