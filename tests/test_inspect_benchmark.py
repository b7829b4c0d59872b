"""tools/inspect_benchmark.py runs and reports every step (no time limit is asserted: figures only)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tools"))

import inspect_benchmark  # noqa: E402


def test_one_small_run_reports_each_step(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert inspect_benchmark.main(["--sizes", "224", "--repeats", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for step in inspect_benchmark.STEPS:
        assert f"  {step}" in printed
    assert "goal 1.0 s" in printed and "load average" in printed
    results = json.loads(out.read_text())["results"]
    summary = results["224"]
    assert summary["total"]["min"] >= summary["forward"]["min"] > 0
    # The three families, side by side in the same run (issue 24), each with every step.
    for name in inspect_benchmark.FAMILIES:
        assert f"{name} (random weights, all blocks recorded) 224×224" in printed
        assert results[f"{name}@224"]["total"]["min"] >= results[f"{name}@224"]["forward"]["min"] > 0
