"""The load test's quick mode as a test: 2 browser sessions x 4 actions, each sees only its own results.

Runs ``tools/load_test.py --quick``: its own fresh server on a free
127.0.0.1 port, one headless Chromium, two browser contexts that open the
Image inspector as the server's first requests, then upload different images
and move the query and the head. The load is a number of actions, not a time
window, and every action has a generous time limit, so a slow or busy machine
makes the run longer, never failing. Asserts what must always hold: no
errors, every session completed all its actions, and every upload showed that
session's own image's prediction. The latency percentiles are printed for
information only (``pytest -s``), never asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# A safety net for a hung browser, not a speed limit: the tool stops itself after its own, longer hard limit
# (server start-up plus one action timeout per action), far beyond what the run takes on a busy machine.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1800)]

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
QUICK_SESSIONS, QUICK_ACTIONS = 2, 4  # what --quick means (tools/load_test.py)


def test_quick_load_test_sessions_see_only_their_own_results(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install the Debian package 'chromium' to run the load test")
    pytest.importorskip("playwright.async_api", reason="the playwright Python package is not installed")
    out = tmp_path / "load.json"
    completed = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "load_test.py"), "--quick", "--json", str(out),
         "--log", str(tmp_path / "server.log")],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )
    print(completed.stdout[-4000:])
    assert out.exists(), f"the load test wrote no results (exit {completed.returncode}):\n{completed.stderr[-4000:]}"
    result = json.loads(out.read_text())
    assert result["sessions"] == QUICK_SESSIONS and result["actions_per_session"] == QUICK_ACTIONS
    server_log = tmp_path / "server.log"
    log_tail = server_log.read_text(errors="replace")[-4000:] if server_log.exists() else "(no server log)"
    assert result["errors"] == [], (result["errors"], log_tail)
    assert result["mismatches"] == [], result["mismatches"]
    # Every session did all its actions (upload, query, head, upload), and both uploads showed its own result.
    assert result["completed"] == {str(s): QUICK_ACTIONS for s in range(QUICK_SESSIONS)}, result["completed"]
    assert result["own_results"] == {str(s): 2 for s in range(QUICK_SESSIONS)}, result["own_results"]
    assert result["actions"] == QUICK_SESSIONS * QUICK_ACTIONS
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
