"""The layout: the folders of harness/ are the stages, and data flows one way through them.

Pure reading of the source (no kernel).  Every import counts, those under
`if TYPE_CHECKING:` too (a type hint is a dependency a reader has to follow):

- a module imports only modules of its own folder or of an earlier stage;
- no module imports itself back through others (no cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

HARNESS = Path(__file__).resolve().parents[2] / "harness"

# The stages in data-flow order, by top-level name under harness/.
STAGES: list[tuple[str, ...]] = [
    ("core",),  # shared: paths, deadlines, validation, safe text, run-folder writes, evidence
    ("scenario",),  # the language: loading, cases, probes, topologies, expectations, rows
    ("lab",),  # the kernel: namespaces, netlink, the builder, capture, probes
    ("importer",),  # reads a listing, writes YAML the scenario models validate, proves it
    ("case",),  # one case: session, observation, verdict, its record
    ("runs",),  # the run folder's store, stopped runs, repeats, comparison
    ("outputs",),  # summary.md, JSON lines, TAP, JUnit, the console, the report
    ("guests",),  # other kernels and the matrix of them
    ("pytest_plugin", "data_only", "cli", "__main__"),  # on top
]


def _modules() -> dict[str, Path]:
    found = {}
    for path in HARNESS.rglob("*.py"):
        parts = path.relative_to(HARNESS).with_suffix("").parts
        name = ".".join(p for p in parts if p != "__init__") or "__init__"
        found[name] = path
    return found


MODULES = _modules()


def _stage(module: str) -> int:
    head = module.split(".")[0]
    for number, names in enumerate(STAGES):
        if head in names:
            return number
    raise AssertionError(f"harness.{module} is in no stage of tests/unit/test_layout.py: add it")


def _target(package: str, name: str | None = None) -> str:
    """The module an import names: `from harness.lab import netns` imports harness.lab.netns."""
    if name is not None and f"{package}.{name}" in MODULES:
        return f"{package}.{name}"
    return package


def _imports(path: Path) -> set[str]:
    """Every harness module `path` imports, type-hint-only imports included."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "harness":
                imported |= {_target(a.name) for a in node.names}
            elif node.module.startswith("harness."):
                package = node.module.removeprefix("harness.")
                imported |= {_target(package, a.name) for a in node.names}
        elif isinstance(node, ast.Import):
            imported |= {
                a.name.removeprefix("harness.") for a in node.names if a.name.startswith("harness.")
            }
    assert not any(
        isinstance(n, ast.ImportFrom) and n.level for n in ast.walk(ast.parse(path.read_text()))
    ), f"{path}: relative import (write harness.... in full)"
    return imported


GRAPH = {module: _imports(path) for module, path in MODULES.items()}


def test_every_module_has_a_stage() -> None:
    for module in GRAPH:
        if module != "__init__":
            _stage(module)


def test_data_flows_one_way() -> None:
    backwards = [
        f"harness.{module} imports the later harness.{target}"
        for module, targets in GRAPH.items()
        if module != "__init__"
        for target in sorted(targets)
        if _stage(target) > _stage(module)
    ]
    assert backwards == []


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle in `graph`, as the modules along it; [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str]:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[module] = 2
        return []

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return []


def test_no_import_cycle() -> None:
    assert " -> ".join(_cycle(GRAPH)) == ""


def test_the_cycle_check_sees_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]


def test_the_readme_table_names_every_module() -> None:
    """README's "How it works" names each module of a stage folder whose row lists modules
    (a subfolder it names stands for its modules): a new module, a new output format or
    kernel source among them, cannot leave the table stale."""
    readme = (HARNESS.parent / "README.md").read_text()
    start = readme.index("## How it works")
    table = readme[start : readme.index("Where a new thing goes:", start)]
    rows = {
        line.split("`harness/")[1].split("/`")[0]: line
        for line in table.splitlines()
        if line.startswith("| ") and "`harness/" in line
    }
    unnamed = []
    for path in sorted(HARNESS.rglob("*.py")):
        rel = path.relative_to(HARNESS)
        row = rows.get(rel.parts[0]) if len(rel.parts) > 1 else None
        if row is None or path.name == "__init__.py" or ".py`" not in row:
            continue  # top-level modules, and folders the table describes as a whole
        named = f"`{path.name}`" in row or any(f"`{folder}/`" in row for folder in rel.parts[1:-1])
        if not named:
            unnamed.append(str(rel))
    assert unnamed == [], f"README's 'How it works' does not name: {unnamed}"
