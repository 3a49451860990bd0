"""Every notebook in notebooks/ runs top to bottom in a fresh kernel, with no error output.

A notebook is documentation that runs (STYLE.md, principle 12): if one breaks, the suite
fails. Each notebook gets one shared 60 s budget for all its cells (a hang guard, handed
to nbclient as the per-cell timeout that remains), so a notebook that stops being
"seconds to run" is noticed.
"""

from __future__ import annotations

import os
import pathlib
import time

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BUDGET_SECONDS = 60.0


def kernel_env():
    """The test process's environment with the repository on PYTHONPATH.

    In CI cmtoy is pip-installed and this changes nothing; in a checkout it makes the
    kernel import the working tree's cmtoy.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")  # the machine is shared: one BLAS thread
    return env


def error_outputs(nb):
    """Every error output and every stderr stream that carries a warning or traceback."""
    found = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"cell {index}: {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                text = out.get("text", "")
                if "Warning" in text or "Traceback" in text or "Error" in text:
                    found.append(f"cell {index} (stderr): {text.strip()[:500]}")
    return found


def test_there_are_notebooks():
    names = {path.name for path in NOTEBOOKS}
    assert "01_probability_flow.ipynb" in names, f"notebooks found: {sorted(names)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_clean_on_disk(path):
    """Notebooks are saved without outputs and with the python3 kernel."""
    nb = nbformat.read(path, as_version=4)
    assert nb.cells and nb.cells[0].cell_type == "markdown", "a notebook opens with what it teaches"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{path.name} cell {index} has saved outputs: clear them before committing"
            )
            for line in cell.source.splitlines():
                if line.lstrip().startswith(("import ", "from ")):
                    assert "cmtoy" in line, f"{path.name} cell {index}: notebooks import cmtoy only, got {line!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path):
    nb = nbformat.read(path, as_version=4)
    deadline = time.monotonic() + BUDGET_SECONDS

    def remaining(_source):
        # nbclient asks for a timeout per cell: give each the rest of the shared budget
        return max(1, int(deadline - time.monotonic()))

    client = nbclient.NotebookClient(
        nb,
        timeout_func=remaining,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=kernel_env())
    assert not error_outputs(nb), "\n".join(error_outputs(nb))
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code), "every code cell ran"
