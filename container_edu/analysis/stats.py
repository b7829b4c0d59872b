"""McNemar's paired test: do two classifiers scored on the *same* test images differ?

Two accuracies measured on one test set are not independent samples: most
images are right (or wrong) for both models. McNemar's test uses only the
discordant images, ``b`` (model 1 right, model 2 wrong) and ``c`` (the
reverse). Under the null hypothesis of equal accuracy each discordant image is
a fair coin, so the exact two-sided p-value is
``min(1, 2 * P[Binomial(b + c, 1/2) <= min(b, c)])``. The exact form is used
because ``b + c`` can be small; no continuity correction is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["McNemarResult", "mcnemar", "mcnemar_exact_p"]


@dataclass(frozen=True)
class McNemarResult:
    both_right: int
    only_first_right: int  # b
    only_second_right: int  # c
    both_wrong: int
    p_value: float

    @property
    def images(self) -> int:
        return self.both_right + self.only_first_right + self.only_second_right + self.both_wrong

    @property
    def accuracy_gap_points(self) -> float:
        """Accuracy of the first minus the second, in percentage points: (b − c) / n."""
        return 100.0 * (self.only_first_right - self.only_second_right) / max(self.images, 1)


def mcnemar_exact_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value from the two discordant counts."""
    if b < 0 or c < 0:
        raise ValueError(f"counts must be non-negative, got b={b}, c={c}")
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    # Sum in log space so that n in the tens of thousands does not overflow.
    log_terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2)
                 for i in range(k + 1)]
    top = max(log_terms)
    tail = math.exp(top) * sum(math.exp(t - top) for t in log_terms)
    return min(1.0, 2.0 * tail)


def mcnemar(first_right: torch.Tensor, second_right: torch.Tensor) -> McNemarResult:
    """McNemar's test from two boolean vectors: ``first_right[i]`` says model 1 got image i right."""
    first, second = torch.as_tensor(first_right).bool(), torch.as_tensor(second_right).bool()
    if first.shape != second.shape or first.ndim != 1:
        raise ValueError(f"need two 1-D vectors of one length, got {tuple(first.shape)} and {tuple(second.shape)}")
    b = int((first & ~second).sum())
    c = int((~first & second).sum())
    return McNemarResult(int((first & second).sum()), b, c, int((~first & ~second).sum()), mcnemar_exact_p(b, c))
