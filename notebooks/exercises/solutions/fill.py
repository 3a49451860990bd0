"""Write the exercise notebooks with the reference solutions filled in (for teachers and tests).

Every exercise notebook marks the cells a student fills in with the cell tag ``exercise``;
each such cell defines one or more functions. The solution module next to this file with
the notebook's name (``01_interpolant_and_marginal.py`` for
``01_interpolant_and_marginal.ipynb``) defines the same functions. Filling replaces each
tagged cell by the solution module's imports followed by the solution source of the
functions that cell defines.

    python notebooks/exercises/solutions/fill.py OUT_DIR     # writes OUT_DIR/*_solved.ipynb
"""

from __future__ import annotations

import ast
import pathlib
import sys

import nbformat

SOLUTIONS = pathlib.Path(__file__).resolve().parent
EXERCISES = SOLUTIONS.parent


def defined_functions(source):
    """Names of the top-level functions a piece of code defines, in order."""
    return [node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]


def solution_sources(path):
    """(import lines, {function name: source}) of a solution module."""
    text = pathlib.Path(path).read_text()
    tree = ast.parse(text)
    imports = [ast.get_source_segment(text, n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    functions = {n.name: ast.get_source_segment(text, n) for n in tree.body if isinstance(n, ast.FunctionDef)}
    return "\n".join(imports), functions


def exercise_cells(nb):
    """The code cells tagged ``exercise``, in order."""
    return [c for c in nb.cells if c.cell_type == "code" and "exercise" in c.metadata.get("tags", [])]


def fill(nb, solution_path):
    """The notebook with every exercise cell replaced by its solution (a new object).

    Raises KeyError naming a function that an exercise cell defines but the solution lacks.
    """
    nb = nbformat.from_dict(nb)  # a deep copy; the caller's notebook is untouched
    imports, functions = solution_sources(solution_path)
    for cell in exercise_cells(nb):
        names = defined_functions(cell.source)
        missing = [n for n in names if n not in functions]
        if missing:
            raise KeyError(f"{solution_path} does not define {missing}, which an exercise cell asks for")
        cell.source = "\n\n\n".join([imports] * bool(imports) + [functions[n] for n in names])
    return nb


def main(out_dir):
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(EXERCISES.glob("*.ipynb")):
        nb = fill(nbformat.read(path, as_version=4), SOLUTIONS / f"{path.stem}.py")
        nbformat.write(nb, out_dir / f"{path.stem}_solved.ipynb")
        print("wrote", out_dir / f"{path.stem}_solved.ipynb")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
