"""`harness import LISTING` and `harness new NAME`: their arguments and what they print.

`register` adds both to the `harness` command's subparsers (harness/cli.py).
Bad input (an unreadable listing, nothing usable in it, addresses that do not
fit the documentation ranges, a file that exists already) is a clear message
and exit status 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from harness.env import SCENARIO_DIR, TOPOLOGY_DIR
from harness.importer.skeleton import new_scenario_text
from harness.importer.translate import ImportFailure, import_listing
from harness.importer.writer import report_lines, scenario_text, topology_text, write_new
from harness.scenario import ScenarioError, load_scenario

_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


def _name_from(stem: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", stem.lower())) or "imported"


def _fail(command: str, message: str) -> int:
    print(f"harness {command}: {message}", file=sys.stderr)
    return 2


def cmd_import(args: argparse.Namespace) -> int:
    """Translate a set-up listing into a topology and a scenario skeleton."""
    listing: Path = args.listing
    try:
        text = listing.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return _fail("import", f"cannot read {listing}: {exc.strerror}")
    name = args.name or _name_from(listing.stem)
    if not _NAME.fullmatch(name):
        return _fail("import", f"--name {name!r}: lower-case letters, digits and '-'")
    topology_path = args.topology_dir / f"{name}.yaml"
    scenario_path = args.scenario or SCENARIO_DIR / "imported" / f"{name}.yaml"
    if not args.stdout:
        for path in (topology_path, scenario_path):
            if path.exists():
                return _fail("import", f"{path} exists already; choose another --name")
    try:
        result = import_listing(text, listing.name)
    except ImportFailure as exc:
        print(f"harness import: {exc}", file=sys.stderr)
        for entry in exc.entries:
            said = " ".join(entry.text.split())[:70]
            print(f"  line {entry.line}: `{said}`: {entry.reason}", file=sys.stderr)
        return 2
    topology = topology_text(result, name, listing.name)
    scenario = scenario_text(result, name, listing.name)
    if args.stdout:
        print(f"# --- {topology_path}\n{topology}\n# --- {scenario_path}\n{scenario}", end="")
    else:
        write_new(topology_path, topology)
        write_new(scenario_path, scenario)
        print(f"wrote {topology_path} ({len(result.topology.hosts)} hosts)")
        print(f"wrote {scenario_path} (a skeleton: fill in the claim and a case)")
        if topology_path.parent.resolve() != TOPOLOGY_DIR.resolve():
            print(
                f"note: the scenario names topology {name!r}, which the loader looks for in "
                f"{TOPOLOGY_DIR}"
            )
    print(f"{result.translated} commands translated from {listing}")
    for line in report_lines(result):
        print(line)
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    """Write a commented scenario skeleton for a claim, from scratch."""
    target: str = args.name
    if target.endswith(".yaml") or "/" in target:
        path = Path(target)
        name = _name_from(path.stem)
    else:
        if not _NAME.fullmatch(target):
            return _fail(
                "new", f"{target!r}: a scenario name is lower-case letters, digits and '-'"
            )
        path, name = SCENARIO_DIR / f"{target}.yaml", target
    if path.exists():
        return _fail("new", f"{path} exists already; it is not overwritten")
    text = new_scenario_text(name)
    write_new(path, text)
    try:
        load_scenario(path)
    except ScenarioError as exc:  # the skeleton itself is wrong: say so, keep nothing
        path.unlink()
        return _fail("new", f"the skeleton does not load ({exc}); nothing written")
    print(f"wrote {path}: fill in the claim, the source and the cases (every field is explained)")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `import` and `new` to the `harness` command."""
    imp = sub.add_parser(
        "import", help="a set-up listing (ip, ifconfig, route, sysctl) -> topology and skeleton"
    )
    imp.add_argument("listing", type=Path, help="a file with the article's or script's commands")
    imp.add_argument("--name", help="the topology's and scenario's name (default: the file's)")
    imp.add_argument(
        "--topology-dir", type=Path, default=TOPOLOGY_DIR, help="where the topology goes"
    )
    imp.add_argument(
        "--scenario", type=Path, help="the skeleton's path (default: scenarios/imported/NAME.yaml)"
    )
    imp.add_argument("--stdout", action="store_true", help="print both files instead of writing")
    imp.set_defaults(func=cmd_import)
    new = sub.add_parser("new", help="a commented scenario skeleton for a claim, from scratch")
    new.add_argument("name", help="NAME (writes scenarios/NAME.yaml) or a path ending in .yaml")
    new.set_defaults(func=cmd_new)
