"""Every notebook runs, top to bottom, after a tiny pipeline run (outputs are committed cleared)."""

import json
import os
import shutil

import nbformat
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from nbclient import NotebookClient

from tests.conftest import PROJECT_ROOT, make_project
from tests.pipelines.test_representation_pipeline import TINY

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


def test_notebooks__committed_without_outputs():
    assert NOTEBOOKS
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text())
        assert all(not cell.get("outputs") and not cell.get("execution_count")
                   for cell in notebook["cells"] if cell["cell_type"] == "code"), path.name


@pytest.fixture(scope="module")
def run_project(tiny_raw, tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("nb") / "project", TINY, tiny_raw)
    shutil.copytree(PROJECT_ROOT / "notebooks", root / "notebooks")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        bootstrap_project(root)
        with KedroSession.create(project_path=root) as session:
            session.run(pipeline_names=["pouring"])
    finally:
        os.chdir(cwd)
    return root


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_notebooks__run_without_error(run_project, name, monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    notebook = nbformat.read(run_project / "notebooks" / name, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(run_project / "notebooks")}}).execute()
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    plotting = [c for c in notebook.cells if c.cell_type == "code"
                and any(call in c.source for call in ("_figure(", "retrieval_sheet(", "plt.subplots("))]
    assert plotting
    for cell in plotting:  # each plotting cell shows its picture, not only raises nothing
        assert any("image/png" in o.get("data", {}) for o in cell.get("outputs", [])), cell.source[:80]


def test_reporting__importing_it_leaves_matplotlibs_backend_alone():
    import subprocess
    import sys

    code = ("import matplotlib; before = matplotlib.get_backend(); import carl_pipeline.reporting; "
            "assert matplotlib.get_backend() == before, (before, matplotlib.get_backend())")
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, "MPLBACKEND": "svg"},
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
