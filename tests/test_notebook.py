"""examples/tour.ipynb runs top to bottom in a fresh Jupyter kernel, so it can never rot.

The kernel imports ``container_edu`` from this checkout (``PYTHONPATH``) and
runs in a temporary folder, so the files the notebook writes (maps.html,
maybe maps.svg / maps.png) land there. Its asserts (explicit affinities
against the modules, the model untouched by ``override_blend``) are part of
the test: a failing cell fails it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is in requirements-dev.txt")
nbclient = pytest.importorskip("nbclient", reason="nbclient is in requirements-dev.txt")
pytest.importorskip("ipykernel", reason="ipykernel is in requirements-dev.txt")

REPO_ROOT = Path(__file__).resolve().parents[1]
TOUR = REPO_ROOT / "examples" / "tour.ipynb"


def test_the_tour_is_stored_without_outputs():
    notebook = json.loads(TOUR.read_text(encoding="utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code, "the tour has no code cells"
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code), (
        "examples/tour.ipynb is stored with outputs: clear them (Jupyter: Edit > Clear All Outputs) before committing")


def test_the_tour_uses_the_installed_package_only():
    sources = "\n".join("".join(cell["source"]) for cell in json.loads(TOUR.read_text(encoding="utf-8"))["cells"])
    assert "import streamlit" not in sources and "from app" not in sources and "import app" not in sources


@pytest.mark.slow
@pytest.mark.timeout(1800)  # a cold kernel on a busy CI machine: generous, the run itself takes well under a minute
def test_the_tour_runs_top_to_bottom(tmp_path, monkeypatch):
    notebook = nbformat.read(TOUR, as_version=4)
    # The kernel is a child process: it inherits the environment, so this checkout comes first on its path.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    client = nbclient.NotebookClient(
        notebook, timeout=900, startup_timeout=300, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, when a cell fails

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    figures = [output for output in outputs if "application/vnd.plotly.v1+json" in output.get("data", {})]
    assert len(figures) >= 5, f"expected the tour's five figures, got {len(figures)}"
    text = "".join(output.get("text", "") for output in outputs)
    assert "Inspection of fmnist_container_light" in "".join(
        output.get("data", {}).get("text/plain", "") for output in outputs)
    assert (tmp_path / "maps.html").stat().st_size > 0
    assert "wrote maps.svg and maps.png" in text or "static export is not available here" in text
