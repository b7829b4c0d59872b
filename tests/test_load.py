"""The load test's quick mode as a test: 2 browser sessions for 15 s, each sees only its own results.

Runs ``tools/load_test.py --quick`` (its own server on a free 127.0.0.1
port, one headless Chromium, two browser contexts uploading different images
and moving the query and head). Asserts no errors and that every session saw
its own image's prediction -- never a timing: the latency percentiles are
printed for information only (``pytest -s``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")


def test_quick_load_test_sessions_see_only_their_own_results(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install the Debian package 'chromium' to run the load test")
    pytest.importorskip("playwright.async_api", reason="the playwright Python package is not installed")
    out = tmp_path / "load.json"
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "load_test.py"), "--quick", "--json", str(out),
         "--log", str(tmp_path / "server.log")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=400,
    )
    print(completed.stdout[-4000:])
    assert out.exists(), f"the load test wrote no results (exit {completed.returncode}):\n{completed.stderr[-4000:]}"
    result = json.loads(out.read_text())
    assert result["sessions"] == 2
    assert result["errors"] == [], result["errors"]
    assert result["mismatches"] == [], result["mismatches"]
    assert len(result["own_results"]) == 2 and all(n >= 1 for n in result["own_results"].values()), result["own_results"]
    assert result["actions"] >= 2
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
