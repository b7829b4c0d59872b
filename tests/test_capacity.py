"""The arithmetic of tools/capacity.py's table (the measurements themselves are the tool's job, not a test's)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import capacity  # noqa: E402

COSTS = {"open a page": 0.2, "upload and inspect": 0.5, "change head or query": 0.1, "lesson experiment": 1.0}


def test_learners_per_core_follow_from_the_mix_the_rate_and_the_planned_load():
    mix = {"open a page": 1, "upload and inspect": 2, "change head or query": 5, "lesson experiment": 2}
    result = capacity.table(COSTS, idle_per_session=0.001, memory_per_session=50.0, base_mb=300.0, cores=4,
                            memory_gb=8.0, utilisation=0.5, mix=mix, rates=(3, 6))
    per_action = (0.2 + 2 * 0.5 + 5 * 0.1 + 2 * 1.0) / 10
    assert result["cpu_s_per_action_in_mix"] == pytest.approx(per_action)
    for row, rate in zip(result["rows"], (3, 6)):
        demand = rate / 60 * per_action + 0.001
        assert row["learners_per_core"] == pytest.approx(0.5 / demand)
        assert row["learners_by_cpu"] == pytest.approx(4 * 0.5 / demand)
        assert row["learners_by_memory"] == pytest.approx((8 * 1024 - 4 * 300) / 50)
        assert row["binds_first"] == "CPU"
    assert result["rows"][0]["learners_per_core"] == pytest.approx(2 * result["rows"][1]["learners_per_core"],
                                                                   rel=0.05)


def test_memory_binds_first_when_sessions_are_large():
    result = capacity.table(COSTS, idle_per_session=0.0, memory_per_session=2000.0, base_mb=300.0, cores=16,
                            memory_gb=8.0, utilisation=0.7, rates=(2,))
    row = result["rows"][0]
    assert row["learners_by_memory"] == pytest.approx((8 * 1024 - 16 * 300) / 2000)
    assert row["binds_first"] == "memory" and row["learners_by_memory"] < row["learners_by_cpu"]
