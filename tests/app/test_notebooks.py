"""Every notebook in ``notebooks/`` executes top to bottom in a fresh kernel (no hidden state).

Each notebook runs in its own kernel with ``notebooks/`` as the working directory and the non-interactive
matplotlib backend. A cell that raises fails the test with the cell's source and the traceback. The
timeout is a hang guard, not a speed assertion (the notebooks aim at well under a minute each).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
HANG_GUARD_S = 600


def test_notebooks_exist():
    assert len(NOTEBOOKS) >= 4, f"expected the four story notebooks in {NOTEBOOK_DIR}, found {NOTEBOOKS}"


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=HANG_GUARD_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    try:
        client.execute(cwd=str(NOTEBOOK_DIR), env=dict(os.environ))
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell raised\n{exc}", pytrace=False)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"{path.name}: error in cell {cell.source[:80]!r}"
