"""The repository's contracts: the README's commands are the ones CI runs, and the math
modules stay free of plotting and widgets (DESIGN.md, "Data flow")."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    return re.findall(r"```\n(python3 -m venv[^\n]*)\n```", (ROOT / "README.md").read_text())


def test_readme_has_exactly_two_fresh_machine_commands():
    commands = readme_commands()
    assert len(commands) == 2, commands
    assert "cmtoy figures" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme_commands()[1] in ci.splitlines()


# DESIGN.md: math modules never import matplotlib or ipywidgets; plotting and widgets are
# imported explicitly (cmtoy/__init__.py promises that ``import cmtoy`` loads neither).
MATH_MODULES = ["targets", "mixture_kernels", "schedules", "interpolant", "mlp", "optim",
                "consistency", "pairs", "training", "sampling", "metrics", "checkpoint"]


def test_math_modules_load_neither_matplotlib_nor_ipywidgets():
    for name in MATH_MODULES:
        assert (ROOT / "cmtoy" / f"{name}.py").is_file(), f"cmtoy/{name}.py is gone: update MATH_MODULES"
    imports = "; ".join(["import cmtoy"] + [f"import cmtoy.{name}" for name in MATH_MODULES])
    heavy = ("matplotlib", "ipywidgets", "IPython")
    code = f"{imports}; import sys; print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(heavy)!r}))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]", f"importing the math modules loads {loaded.strip()}"
