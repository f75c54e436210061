"""The layout: data flows one way through the stages, and no module grows past ~500 lines.

Pure reading of the source (no kernel).  A module may import only modules of
its own stage or an earlier one; imports under `if TYPE_CHECKING:` (type hints
only) do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

HARNESS = Path(__file__).resolve().parent.parent / "harness"

# The stages in data-flow order; a module is matched by its dotted name or package.
STAGES: list[tuple[str, ...]] = [
    ("core.env", "core.deadlines", "core.validation", "core.display", "core.run_folder"),
    ("scenario.ipsyntax", "scenario.link_kinds", "scenario.sockopts", "core.evidence"),
    ("scenario.expect",),
    ("scenario",),
    ("lab.neighbour_timers",),
    ("importer",),  # reads a listing, writes YAML the scenario models validate
    ("lab.rtnl", "lab.netns"),
    ("lab.requirements",),  # what every case needs from where it runs
    ("lab.netlink_ip", "lab.readiness", "lab.network", "lab.builder", "lab.kernel_features"),
    ("lab.capture", "lab.probes"),
    ("case.observe", "case.kernel_state"),
    ("case.session",),
    ("case.verdict",),
    ("case.record",),
    ("runs.compare", "outputs.streams"),
    ("case.runner", "runs.store"),
    ("outputs.report", "outputs.console", "runs.repeats"),
    ("guests",),  # boots other kernels; imports nothing of the stages above
    ("guests.matrix", "runs.stopping"),
    ("pytest_plugin", "data_only", "cli", "__main__"),
]
MAX_LINES = 500


def _stage(module: str) -> int:
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        head = ".".join(parts[:length])
        for number, names in enumerate(STAGES):
            if head in names:
                return number
    raise AssertionError(f"harness.{module} is in no stage of tests/test_layout.py: add it")


def _modules() -> dict[str, Path]:
    found = {}
    for path in HARNESS.rglob("*.py"):
        parts = path.relative_to(HARNESS).with_suffix("").parts
        name = ".".join(p for p in parts if p != "__init__") or "__init__"
        found[name] = path
    return found


MODULES = _modules()


def _runtime_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            guarded |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    imported = set()
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("harness."):
            package = node.module.removeprefix("harness.")
            for alias in node.names:  # `from harness.lab import netns` imports harness.lab.netns
                sub = f"{package}.{alias.name}"
                imported.add(sub if sub in MODULES else package)
        elif isinstance(node, ast.Import):
            imported |= {
                a.name.removeprefix("harness.") for a in node.names if a.name.startswith("harness.")
            }
        if isinstance(node, ast.ImportFrom) and node.module == "harness":
            imported |= {a.name for a in node.names}
    return imported


def test_data_flows_one_way() -> None:
    backwards = []
    for module, path in _modules().items():
        if module == "__init__":
            continue
        for target in _runtime_imports(path):
            if _stage(target) > _stage(module):
                backwards.append(f"harness.{module} imports the later harness.{target}")
    assert backwards == []


def test_no_module_is_too_long() -> None:
    long = {
        str(path.relative_to(HARNESS)): n
        for path in HARNESS.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
