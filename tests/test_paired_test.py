"""McNemar's paired test against cases computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from container_edu.analysis.stats import mcnemar, mcnemar_exact_p


def test_exact_p_matches_a_hand_computed_binomial_tail():
    # b = 1, c = 5: n = 6, P[X <= 1] = (1 + 6) / 64, two-sided 14 / 64.
    assert mcnemar_exact_p(1, 5) == pytest.approx(14 / 64, rel=1e-12)
    assert mcnemar_exact_p(5, 1) == pytest.approx(14 / 64, rel=1e-12)
    # b = 0, c = 3: 2 * (1/8) = 0.25.
    assert mcnemar_exact_p(0, 3) == pytest.approx(0.25, rel=1e-12)
    # Equal counts: the tail includes the centre, so p is 1 after capping.
    assert mcnemar_exact_p(4, 4) == 1.0 and mcnemar_exact_p(0, 0) == 1.0


def test_large_counts_agree_with_the_normal_approximation():
    b, c = 400, 500
    z = (abs(c - b) - 1) / math.sqrt(b + c)  # with the continuity correction
    normal = math.erfc(z / math.sqrt(2))  # two-sided
    assert mcnemar_exact_p(b, c) == pytest.approx(normal, rel=0.05)
    assert mcnemar_exact_p(20_000, 20_400) < 0.05  # no overflow at data-set sizes


def test_contingency_counts_from_right_wrong_vectors():
    first = torch.tensor([1, 1, 1, 0, 0, 1, 0, 1], dtype=torch.bool)
    second = torch.tensor([1, 0, 0, 1, 0, 1, 0, 0], dtype=torch.bool)
    result = mcnemar(first, second)
    assert (result.both_right, result.only_first_right, result.only_second_right, result.both_wrong) == (2, 3, 1, 2)
    assert result.images == 8 and result.accuracy_gap_points == pytest.approx(25.0)
    assert result.p_value == pytest.approx(2 * (1 + 4) / 16, rel=1e-12)  # b = 3, c = 1: n = 4, P[X <= 1] = 5/16
    with pytest.raises(ValueError):
        mcnemar(first, second[:4])
