"""What ``import app`` must have finished importing before any page runs (see the end of ``app/__init__.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_importing_app_imports_pandas_whole_before_any_page_draws_a_figure():
    code = "import sys, app; assert 'pandas' in sys.modules; import pandas; assert hasattr(pandas, 'Series')"
    completed = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-2000:]
