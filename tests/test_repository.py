"""The repository's contracts: the README's commands are the ones CI runs, and the math
modules stay free of plotting and widgets (DESIGN.md, "Data flow")."""

import ast
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


# DESIGN.md: everything that imports matplotlib or ipywidgets lives in cmtoy/viz/ (the CLI's
# figures command imports cmtoy.viz lazily); `import cmtoy` and every module outside viz
# load neither.
HEAVY = ("matplotlib", "ipywidgets", "IPython", "PIL")
PACKAGE = ROOT / "cmtoy"


def modules_outside_viz():
    return sorted(p for p in PACKAGE.rglob("*.py") if "viz" not in p.relative_to(PACKAGE).parts)


def imported_roots(path):
    """The top-level names of every module a file imports, at any depth of its code."""
    tree = ast.parse(path.read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def lazy_viz_imports(path):
    """Relative imports of cmtoy.viz in a file that sit inside a function (lazy), and at module level."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = {"lazy": 0, "eager": 0}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0 and (node.module or "").split(".")[0] == "viz":
            found["eager" if id(node) in top else "lazy"] += 1
    return found


def test_only_viz_imports_matplotlib_or_ipywidgets():
    outside = modules_outside_viz()
    assert PACKAGE / "training.py" in outside and not any("viz" in p.parts for p in outside)
    for path in outside:
        heavy = imported_roots(path) & set(HEAVY)
        assert not heavy, f"{path.relative_to(ROOT)} imports {sorted(heavy)}: move it into cmtoy/viz/"
        viz = lazy_viz_imports(path)
        assert viz["eager"] == 0, f"{path.relative_to(ROOT)} imports cmtoy.viz at module level"
        if viz["lazy"]:
            assert path.name == "cli.py", f"{path.relative_to(ROOT)} imports cmtoy.viz: only the CLI may, lazily"


def test_importing_everything_outside_viz_loads_no_plotting():
    names = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in modules_outside_viz()]
    names = [name.removesuffix(".__init__") for name in names if not name.endswith("__main__")]
    code = "; ".join(f"import {name}" for name in names)
    code += f"; import sys; print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]", f"importing the modules outside cmtoy/viz loads {loaded.strip()}"


def test_the_package_has_no_import_cycle():
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                if node.module:
                    edges.add(f"{base}.{node.module}")
                else:  # from . import name: the submodule base.name
                    edges.update(f"{base}.{alias.name}" for alias in node.names)
        graph[module] = edges
    def resolve(target):  # "from .module import name" names the module
        return target if target in graph else target.rpartition(".")[0]

    state = {}

    def visit(module, stack):
        state[module] = "open"
        for target in sorted(resolve(t) for t in graph[module]):
            if target == module or target not in graph or target == "cmtoy" or target.endswith("__init__"):
                continue
            if state.get(target) == "open":
                raise AssertionError(f"import cycle: {' -> '.join(stack + [module, target])}")
            if target not in state:
                visit(target, stack + [module])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_old_module_names_say_where_they_moved():
    code = "import cmtoy.widgets"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert "cmtoy.widgets moved to cmtoy.viz.widgets" in result.stderr
