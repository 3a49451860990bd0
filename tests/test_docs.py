"""The documentation's contracts: links resolve, every benchmark command names a script and
options that exist, every table of numbers sits beside its command and holds numbers a
benchmark printed, the README's first screen shows a newcomer where to start, its code map
is the package's, the docstring examples run as tests, and the docstrings' cross-references
(:func:`cmtoy.pairs.teacher_step`) name things that exist."""

import importlib
import inspect
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BENCHMARKS_README = ROOT / "benchmarks" / "README.md"
DOCS = [README, BENCHMARKS_README]
FIRST_SCREEN = 40  # lines a newcomer sees before scrolling

FENCE = re.compile(r"^```.*?^```[ \t]*$", re.M | re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
DECIMAL = re.compile(r"\d+\.\d+")
BENCH_COMMAND = re.compile(r"benchmarks/(bench_\w+\.py)((?:[ \t]+[^\s`|]+)*)")


def prose(text):
    """The text with fenced code blocks blanked out (their lines kept, so numbering holds)."""
    return FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def slug(heading):
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(path):
    return {slug(line.lstrip("#")) for line in prose(path.read_text()).splitlines() if re.match(r"#{1,6} ", line)}


def tables(path):
    """Each Markdown table as (preamble, table): the text since the previous heading, and its lines."""
    found, preamble, current = [], [], []
    for line in path.read_text().splitlines():
        if line.startswith("|"):
            current.append(line)
            continue
        if current:
            found.append(("\n".join(preamble), current))
            preamble, current = [], []
        preamble = [] if re.match(r"#{1,6} ", line) else preamble + [line]
    if current:
        found.append(("\n".join(preamble), current))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_something_that_exists(doc):
    links = [link for link in LINK.findall(prose(doc.read_text())) if not re.match(r"[a-z]+:", link)]
    assert links, f"{doc.name} has no relative links: the check would be void"
    for link in links:
        target, _, anchor = link.partition("#")
        path = (doc.parent / target).resolve() if target else doc
        assert path.exists(), f"{doc.relative_to(ROOT)} links to {link}, which does not exist"
        if anchor:
            assert path.suffix == ".md", f"{doc.relative_to(ROOT)}: anchor #{anchor} into a non-Markdown file"
            assert anchor in anchors(path), f"{doc.relative_to(ROOT)} links to {link}: no such heading"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_benchmark_command_names_a_script_and_options_that_exist(doc):
    commands = BENCH_COMMAND.findall(doc.read_text())
    assert commands, f"{doc.name} names no benchmark command"
    for script, arguments in commands:
        path = ROOT / "benchmarks" / script
        assert path.exists(), f"{doc.relative_to(ROOT)} runs benchmarks/{script}, which does not exist"
        source = path.read_text()
        for option in re.findall(r"--[\w-]+", arguments):
            assert f'"{option}"' in source, f"{doc.relative_to(ROOT)}: benchmarks/{script} has no option {option}"


def exercise_names():
    """The classroom exercises, in the flat layout or nbgrader's source/<assignment>/ one."""
    folder = ROOT / "notebooks" / "exercises"
    names = {p.stem for p in folder.glob("*.ipynb")} | {p.name for p in folder.glob("source/*") if p.is_dir()}
    assert len(names) >= 6, names
    return sorted(names)


def test_the_first_screen_says_what_cmtoy_is_and_where_to_start():
    text = README.read_text()
    first = "\n".join(text.splitlines()[:FIRST_SCREEN])
    commands = re.findall(r"```\n(python3 -m venv[^\n]*)\n```", text)
    assert len(commands) == 2 and all(command in first for command in commands), \
        f"both fresh-machine commands must be in the README's first {FIRST_SCREEN} lines"
    assert "consistency model" in first
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for name in notebooks + exercise_names():
        assert name in first, f"the README's first {FIRST_SCREEN} lines do not name {name}"
    for target in ("benchmarks/README.md", "#classroom-exercises", "#how-the-code-is-organised"):
        assert f"]({target})" in first, f"the README's first {FIRST_SCREEN} lines do not link to {target}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_table_of_numbers_sits_beside_the_command_that_prints_it(doc):
    numeric = [(preamble, rows) for preamble, rows in tables(doc)
               if DECIMAL.search(re.sub(r"`[^`]*`", "", "\n".join(rows)))]  # code spans are not results
    assert numeric, f"{doc.name} has no table of numbers: the check would be void"
    for preamble, rows in numeric:
        assert "benchmarks/bench_" in preamble + "\n".join(rows), \
            f"{doc.relative_to(ROOT)}: no benchmark command between the previous heading and the table {rows[0]}"


def results_text(names):
    return "\n".join((ROOT / "benchmarks" / "results" / name).read_text() for name in names)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_tables_that_cite_raw_output_hold_only_numbers_it_printed(doc):
    checked = 0
    for preamble, rows in tables(doc):
        cited = sorted(set(re.findall(r"results/(bench_\w+\.md)", preamble)))
        if not cited:
            continue
        for name in cited:
            assert (ROOT / "benchmarks" / "results" / name).exists(), f"{doc.relative_to(ROOT)} cites results/{name}"
        printed = set(DECIMAL.findall(results_text(cited)))
        header = [cell.strip() for cell in rows[0].strip("|").split("|")]
        for row in rows[2:]:
            for column, cell in zip(header, row.strip("|").split("|")):
                if column == "mean":  # computed from the printed per-seed values beside it
                    continue
                for number in DECIMAL.findall(cell):
                    checked += 1
                    assert number in printed, (f"{doc.relative_to(ROOT)}: {number} ({column!r} in {row.strip()}) "
                                               f"is not in the raw output it cites, {cited}")
    assert checked, f"{doc.name}: no table cites benchmarks/results/: the check would be void"


def package_map(init):
    """The module names of the ``name``  description table in a package's docstring."""
    return re.findall(r"^``(\w+)``\s", (ROOT / init).read_text(), re.M)


def test_the_readme_code_map_is_the_package_map():
    section = README.read_text().split("## How the code is organised", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `cmtoy/(\w+)(?:\.py|/)` \|", section, re.M)
    assert listed == package_map("cmtoy/__init__.py"), "README's map differs from cmtoy/__init__.py's"
    viz_row = next(line for line in section.splitlines() if line.startswith("| `cmtoy/viz/`"))
    assert re.findall(r"`(\w+)`", viz_row) == package_map("cmtoy/viz/__init__.py")
    for module in listed:
        assert (ROOT / "cmtoy" / f"{module}.py").exists() or (ROOT / "cmtoy" / module).is_dir(), module


def test_the_suite_collects_the_docstring_examples():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "--doctest-modules" in options["addopts"].split()
    assert "cmtoy" in options["testpaths"]


DOCTEST_RUN = """
import collections, sys, pytest
names = []
class Record:
    def pytest_collection_modifyitems(self, items):
        names.extend(item.nodeid for item in items)
code = pytest.main(["-q", "-p", "no:cacheprovider", "--doctest-modules", "cmtoy"], plugins=[Record()])
files = collections.defaultdict(list)
for name, module in list(sys.modules.items()):
    path = getattr(module, "__file__", None) or ""
    if "/cmtoy/" in path.replace("\\\\", "/"):
        files[path].append(name)
print("EXIT", int(code))
print("ITEMS", *names)
print("TWICE", *[f"{names}" for names in files.values() if len(names) > 1])
"""


def test_docstring_examples_pass_and_each_module_is_imported_once():
    result = subprocess.run([sys.executable, "-c", DOCTEST_RUN], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    lines = {line.split(" ", 1)[0]: line for line in result.stdout.splitlines() if line.split(" ", 1)[0].isupper()}
    assert lines.get("EXIT") == "EXIT 0", result.stdout[-3000:] + result.stderr[-3000:]
    items = lines["ITEMS"].split()[1:]
    for example in ("cmtoy.targets.GaussianMixture", "cmtoy.interpolant.Interpolant.flow_map",
                    "cmtoy.interpolant.Interpolant.interpolate", "cmtoy.sampling.check_sampling_times",
                    "cmtoy.viz.learned_widgets.sampling_times"):
        assert any(item.endswith("::" + example) for item in items), f"no doctest of {example}: {items}"
    assert lines["TWICE"] == "TWICE", f"collection imported a cmtoy file under two names: {lines['TWICE']}"


CROSS_REFERENCE = re.compile(r":(func|class|mod|meth|data|attr):`~?([\w.]+)`")


def resolve(target, module):
    """The object a Sphinx-style cross-reference names, from ``module`` or the cmtoy package; None if none."""
    parts = target.split(".")
    starts = []
    if parts[0] == "cmtoy":
        for i in range(len(parts), 0, -1):
            try:
                starts.append((importlib.import_module(".".join(parts[:i])), parts[i:]))
                break
            except ImportError:
                continue
    else:
        starts += [(module, parts), (importlib.import_module("cmtoy"), parts)]
    for obj, rest in starts:
        for attr in rest:
            obj = getattr(obj, attr, None)
        if obj is not None:
            return obj
    if len(parts) == 1:  # a bare :meth:`name`: a method of a class of the module
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if hasattr(cls, parts[0]):
                return getattr(cls, parts[0])
    return None


def test_every_cross_reference_in_a_docstring_names_something_that_exists():
    checked = 0
    for path in sorted((ROOT / "cmtoy").rglob("*.py")):
        if path.name == "__main__.py":  # runs the CLI when imported
            continue
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"))
        for role, target in CROSS_REFERENCE.findall(path.read_text()):
            checked += 1
            assert resolve(target, module) is not None, \
                f"{path.relative_to(ROOT)}: :{role}:`{target}` names nothing (moved or renamed?)"
    assert checked > 20, checked
