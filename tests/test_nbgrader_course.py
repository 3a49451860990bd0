"""The classroom exercises as an nbgrader course: release, submit, autograde, feedback, grades.

The whole cycle runs on a copy of notebooks/exercises/ in tmp_path (its gradebook database
too), through nbgrader's command line with this interpreter:

- ``generate_assignment`` writes exactly the committed release/ notebooks, which contain
  none of the source's solution lines and none of its hidden tests;
- three students hand in exercise 01: the release notebook unchanged (no points), the
  solved notebook (every point) and a typical wrong answer (the points of the part that
  is right), whose feedback shows the checker's hint;
- the release notebooks run top to bottom in a fresh kernel and every visible check cell
  prints "NOT YET", without an error of its own.
"""

from __future__ import annotations

import csv
import html
import os
import re
import shutil
import subprocess
import sys

import pytest

from test_exercises import EXERCISES, RELEASES, ROOT, SOURCES, flat, solution_cells

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbgrader")

ASSIGNMENTS = sorted(path.parent.name for path in SOURCES)
GRADED = "01_interpolant_and_marginal"  # the assignment the fake students hand in
WRONG_MARGINAL = '''def marginal_pdf(t, x, mixture, schedule):
    """p_t(x), but the components are not weighted."""
    a, s = schedule.alpha(t), schedule.sigma(t)
    v = a**2 * mixture.stds**2 + s**2
    x = np.asarray(x, dtype=float)[:, None]
    return np.sum(np.exp(-0.5 * (x - a * mixture.means) ** 2 / v) / np.sqrt(2 * np.pi * v), axis=1)
'''


def _env():
    env = dict(os.environ, MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # nbgrader runs the `alembic` script of its environment to set up the gradebook
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
    return env


def nbgrader(course, *args):
    """Run ``python -m nbgrader ARGS`` in the course directory; its gradebook stays there."""
    db = f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}"
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args, db, f"--CourseDirectory.root={course}"],
                          cwd=course, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def solution_lines(nb):
    """The code lines only found between nbgrader's solution markers or inside hidden tests."""
    lines, public, inside = [], set(), False
    for cell in nb.cells:
        for line in cell.source.splitlines():
            if line.strip() in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
                inside = True
            elif line.strip() in ("### END SOLUTION", "### END HIDDEN TESTS"):
                inside = False
            elif inside and line.strip() and not line.strip().startswith("#"):
                lines.append(line.strip())
            elif not inside:
                public.add(line.strip())
    return [line for line in lines if line not in public]


def with_cells(nb, sources):
    """A copy of the notebook with the solution cells named in ``sources`` (grade_id -> code) replaced."""
    nb = nbformat.from_dict(nb)
    for cell in solution_cells(nb):
        cell.source = sources.get(cell.metadata["nbgrader"]["grade_id"], cell.source)
    return nb


def hand_in(course, student, nb):
    folder = course / "submitted" / student / GRADED
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{GRADED}.ipynb")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course with the assignments generated and three hand-ins autograded."""
    course = tmp_path_factory.mktemp("course")
    shutil.copy(EXERCISES / "nbgrader_config.py", course)
    shutil.copytree(EXERCISES / "source", course / "source")
    nbgrader(course, "generate_assignment", "*")

    release = nbformat.read(course / "release" / GRADED / f"{GRADED}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / GRADED / f"{GRADED}.ipynb", as_version=4)
    solved = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution_cells(source)}
    hand_in(course, "unchanged", release)
    hand_in(course, "solved", with_cells(release, solved))
    hand_in(course, "wrong", with_cells(release, dict(solved, marginal_pdf=WRONG_MARGINAL)))
    nbgrader(course, "autograde", GRADED, "--create")
    nbgrader(course, "generate_feedback", GRADED)
    nbgrader(course, "export", f"--to={course / 'grades.csv'}")
    return course


def test_generate_assignment_writes_the_committed_release(course):
    generated = sorted((course / "release").glob("*/*.ipynb"))
    assert [p.parent.name for p in generated] == ASSIGNMENTS == [p.parent.name for p in RELEASES]
    for new, committed in zip(generated, RELEASES):
        assert new.read_text() == committed.read_text(), (
            f"{committed} is stale: regenerate it with `nbgrader generate_assignment --force {new.parent.name}`")


@pytest.mark.parametrize("path", RELEASES, ids=[p.stem for p in RELEASES])
def test_release_contains_no_solution_and_no_hidden_test(path):
    source = nbformat.read(EXERCISES / "source" / path.parent.name / path.name, as_version=4)
    release = nbformat.read(path, as_version=4)
    secret = solution_lines(source)
    assert len(secret) >= 2  # the check below must have something to find
    text = "\n".join(cell.source for cell in release.cells)
    assert [line for line in secret if line in text] == []
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text and "seed=" not in text
    assert all("raise NotImplementedError" in cell.source for cell in solution_cells(release))


def test_autograde_scores_the_three_students(course):
    with open(course / "grades.csv") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f) if row["assignment"] == GRADED}
    source = nbformat.read(EXERCISES / "source" / GRADED / f"{GRADED}.ipynb", as_version=4)
    max_score = sum(c.metadata["nbgrader"].get("points", 0) for c in source.cells if "nbgrader" in c.metadata)
    assert max_score > 0 and float(rows["solved"]["max_score"]) == max_score
    assert float(rows["unchanged"]["score"]) == 0.0
    assert float(rows["solved"]["score"]) == max_score
    assert 0.0 < float(rows["wrong"]["score"]) < max_score


def feedback_text(course, student):
    page = (course / "feedback" / student / GRADED / f"{GRADED}.html").read_text()
    return flat(html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_feedback_shows_the_checkers_hint(course):
    wrong = feedback_text(course, "wrong")
    assert "mixture weights are missing" in wrong
    assert "AssertionError" in wrong
    assert "seed 2024" not in wrong  # the visible check failed first: the hidden mixtures stay hidden
    assert "not implemented yet" in feedback_text(course, "unchanged")
    assert "mixture weights are missing" not in feedback_text(course, "solved")


@pytest.mark.parametrize("path", RELEASES, ids=[p.stem for p in RELEASES])
def test_release_notebook_runs_and_each_check_says_not_yet(path):
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    # a stub raises in the cells that use it, and the graded cells fail: that is expected
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}}).execute(env=_env())
    checks = [cell for cell in nb.cells if cell.cell_type == "code" and cell.source.startswith("check_")]
    assert checks
    for cell in checks:
        assert not [out for out in cell.outputs if out.output_type == "error"], cell.source
        text = "".join(out.get("text", "") for out in cell.outputs if out.output_type == "stream")
        assert ": NOT YET" in text and "not implemented yet" in flat(text), (cell.source, text)


def test_readme_points_at_the_course_as_it_is():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Classroom exercises"):readme.index("\n## ", readme.index("## Classroom exercises") + 1)]
    table = re.findall(r"^\| (\d\d_\w+) \|", section, flags=re.M)
    assert table == ASSIGNMENTS
    paths = re.findall(r"`((?:notebooks/exercises/)?release/[\w/]+\.ipynb)`", section)
    assert paths
    for path in paths:
        assert (EXERCISES / path.removeprefix("notebooks/exercises/")).is_file(), path
    for name in ("nbgrader_config.py", "source/<exercise>/<exercise>.ipynb", "generate_assignment", "autograde",
                 "generate_feedback", "export", "submit"):
        assert name in section
    assert "solutions/" not in section and "fill.py" not in section
