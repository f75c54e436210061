"""`harness import LISTING` and `harness new NAME`: their arguments and what they print.

`register` adds both to the `harness` command's subparsers (harness/cli.py).
Bad input (an unreadable listing, nothing usable in it, addresses that do not
fit the documentation ranges, a file that exists already) is a clear message
and exit status 2.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
from pathlib import Path

import yaml

from harness.core.display import one_line
from harness.core.env import IN_CLONE, NEW_SCENARIO_DIR, PROJECT_ROOT, TOPOLOGY_DIR
from harness.core.files import UnreadableFile, read_bounded
from harness.core.validation import NAME_MAX_CHARS, check_name
from harness.importer.proof import CannotProve, Proof, not_proven_header, prove
from harness.importer.skeleton import new_scenario_text
from harness.importer.translate import ImportFailure, import_listing
from harness.importer.writer import (
    report_lines,
    scenario_text,
    topology_text,
    write_new,
)
from harness.scenario import ScenarioError, load_scenario
from harness.scenario.load import MAX_FILE_BYTES

_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
# A name becomes a file name (NAME.yaml), the topology's name and the scenario's (a folder
# of the run folder): the rule every such name keeps (harness.core.validation.check_name).
MAX_NAME = NAME_MAX_CHARS
# A listing is read whole, as the scenario loader reads a scenario (the same limit): the
# kernel's largest net selftest is about 150 kB; /dev/zero would be a MemoryError.
MAX_LISTING_BYTES = MAX_FILE_BYTES


def _name_from(stem: str) -> str:
    name = "-".join(re.findall(r"[a-z0-9]+", stem.lower()))[:MAX_NAME].rstrip("-")
    return name or "imported"


def _name_problem(name: str) -> str | None:
    if len(name) > MAX_NAME:
        return f"longer than {MAX_NAME} characters"
    if not _NAME.fullmatch(name):
        return "lower-case letters, digits and '-'"
    try:
        check_name(name)  # the shared rule; the catalogue's names are also lower-case
    except ValueError as exc:
        return str(exc)
    return None


def _fail(command: str, message: str) -> int:
    print(f"harness {command}: {one_line(message)}", file=sys.stderr)
    return 2


STDIN = Path("-")  # `harness import -`: the listing comes on standard input


def _read_listing(path: Path) -> str:
    """The listing's text (standard input for `-`); OSError or ValueError (the message
    says why) for what is no regular file of a sane size.  Opened without blocking: a
    FIFO would wait for a writer for ever, a device (/dev/zero) never end."""
    if path == STDIN:
        # A pipe ends when its writer closes it; `yes |` never would: at most the same
        # bytes as a file, then refused.
        data = sys.stdin.buffer.read(MAX_LISTING_BYTES + 1)
        if len(data) > MAX_LISTING_BYTES:
            raise ValueError(f"larger than {MAX_LISTING_BYTES >> 20} MiB: not a listing")
        return data.decode("utf-8", errors="replace")
    try:
        data = read_bounded(path, MAX_LISTING_BYTES)
    except UnreadableFile as exc:
        raise ValueError(f"{exc}: not a listing") from None
    return data.decode("utf-8", errors="replace")


def _source(listing: Path) -> str:
    """The listing's name in the files written and in messages."""
    return "standard input" if listing == STDIN else listing.name


def _places(args: argparse.Namespace, name: str, scenario: Path) -> tuple[Path, Path, str]:
    """Where the topology and the skeleton go, and how the skeleton names the topology so
    that it loads; ValueError saying why it cannot.

    In the clone the topology goes to fixtures/topologies and is named by its name;
    outside it (`--scenario ~/claims/x.yaml`), and always when installed (the shipped
    topologies are never written), it goes next to the skeleton, which names it by a
    path relative to itself (harness/scenario/load.py: topology_file).
    """
    folder = Path(os.path.realpath(scenario.parent))
    if args.topology_dir is not None:
        topology = args.topology_dir / f"{name}.yaml"
    elif IN_CLONE and folder.is_relative_to(os.path.realpath(PROJECT_ROOT)):
        topology = TOPOLOGY_DIR / f"{name}.yaml"
    else:
        topology = scenario.parent / f"{name}.topology.yaml"
    real = Path(os.path.realpath(topology.parent)) / topology.name
    if real.parent == Path(os.path.realpath(TOPOLOGY_DIR)):
        return topology, scenario, name
    if not real.is_relative_to(folder):
        raise ValueError(
            f"--topology-dir {args.topology_dir}: the skeleton {scenario} could not name a "
            f"topology there (a topology path stays below the scenario's folder {folder}); "
            "choose a --topology-dir below it, or leave it out"
        )
    return topology, scenario, "./" + os.path.relpath(real, folder)


def _write(command: str, path: Path, text: str) -> str | None:
    """Create `path` (never over a file or through a symlink); why not, or None."""
    try:
        write_new(path, text)
    except OSError as exc:
        if exc.errno == errno.EEXIST and exc.filename not in (str(path), path):
            return f"cannot write {path}: {exc.filename} is no folder"
        if exc.errno == errno.EEXIST:
            return f"{path} exists already (a symlink too): it is not overwritten"
        if exc.errno == errno.ELOOP:
            return f"{path} is a symlink: it is not written through"
        return f"cannot write {path}: {exc.strerror}"
    return None


def _scenario_path(given: Path | None, name: str, k: int, parts: int) -> Path:
    """Where a part's skeleton goes: --scenario (PATH-K for part K of several) or the default
    (the clone's scenarios/imported/, or, installed, the current folder)."""
    if given is None:
        return NEW_SCENARIO_DIR / ("imported" if IN_CLONE else "") / f"{name}.yaml"
    return given if parts == 1 else given.with_name(f"{given.stem}-{k}{given.suffix}")


def cmd_import(args: argparse.Namespace) -> int:
    """Translate a set-up listing into a topology and a scenario skeleton per part, prove
    each against iproute2's replay of the listing, and write them (exit 0) or say what
    differs (exit 1)."""
    listing: Path = args.listing
    try:
        text = _read_listing(listing)
    except OSError as exc:
        return _fail("import", f"cannot read {listing}: {exc.strerror}")
    except ValueError as exc:
        return _fail("import", f"{_source(listing) if listing == STDIN else listing}: {exc}")
    name = args.name or _name_from(listing.stem)
    problem = _name_problem(name)
    if problem:
        return _fail("import", f"--name {name[:MAX_NAME]!r}: {problem}")
    source = _source(listing)
    try:
        result = import_listing(text, source)
        parts = result.every_part
        # One topology and skeleton per part (an episode between tear-downs): NAME-1, NAME-2...
        names = [name] if len(parts) == 1 else [f"{name}-{k}" for k in range(1, len(parts) + 1)]
        problem = next((p for p in map(_name_problem, names) if p), None)
        if problem:
            return _fail("import", f"--name {names[-1][:MAX_NAME]!r}: {problem}")
        files: list[tuple[Path, str, Path, str]] = []
        references: list[str] = []  # how each skeleton names its topology
        for k, (n, part) in enumerate(zip(names, parts, strict=True), start=1):
            scenario_path = _scenario_path(args.scenario, n, k, len(parts))
            topology_path, _, reference = _places(args, n, scenario_path)
            references.append(reference)
            files.append(
                (
                    topology_path,
                    topology_text(part, n, source),
                    scenario_path,
                    scenario_text(part, n, source, reference),
                )
            )
    except ImportFailure as exc:
        print(f"harness import: {one_line(str(exc))}", file=sys.stderr)
        for entry in exc.entries:
            said = one_line(" ".join(entry.text.split())[:70])
            print(f"  line {entry.line}: `{said}`: {one_line(entry.reason)}", file=sys.stderr)
        return 2
    except (yaml.YAMLError, ScenarioError) as exc:  # a translation that does not load back
        problem = " ".join(str(exc).split())
        return _fail("import", f"{listing}: the translation does not load ({problem})")
    except ValueError as exc:  # where the files would go (_places)
        return _fail("import", str(exc))
    if not args.stdout:
        for topology_path, _, scenario_path, _ in files:
            for path in (topology_path, scenario_path):
                if os.path.lexists(path):
                    return _fail("import", f"{path} exists already; choose another --name")
    # Exit 0 only when iproute2's replay of the listing builds every part's topology.
    proofs: list[Proof | None] = []
    unproven: list[list[str]] = []
    for n, part in zip(names, parts, strict=True):
        try:
            proof: Proof | None = prove(part)
            found = [str(d) for d in proof.differences] if proof is not None else []
        except CannotProve as exc:
            proof, found = None, [str(exc)]
        proofs.append(proof)
        unproven.append(found)
        for problem in found:
            of = f"{n}: " if len(parts) > 1 else ""
            print(f"harness import: not proven: {of}{one_line(problem)}", file=sys.stderr)
    refused = any(unproven)
    if refused and not args.unproven:
        print(
            "harness import: nothing written (--unproven writes it marked NOT PROVEN)",
            file=sys.stderr,
        )
        return 1
    files = [
        (
            tp,
            not_proven_header(found) + t if found else t,
            sp,
            not_proven_header(found) + s if found else s,
        )
        for (tp, t, sp, s), found in zip(files, unproven, strict=True)
    ]
    if args.stdout:
        for topology_path, topology, scenario_path, scenario in files:
            print(f"# --- {topology_path}\n{topology}\n# --- {scenario_path}\n{scenario}", end="")
    else:
        # All files or none: those written are removed when one cannot be written.
        written: list[Path] = []
        for topology_path, topology, scenario_path, scenario in files:
            for path, content in ((topology_path, topology), (scenario_path, scenario)):
                failed = _write("import", path, content)
                if failed is not None:
                    for done in written:
                        done.unlink(missing_ok=True)
                    return _fail("import", f"{failed}; nothing written")
                written.append(path)
        for (topology_path, _, scenario_path, _), part, reference in zip(
            files, parts, references, strict=True
        ):
            of = f", part of the listing: {part.part}" if len(parts) > 1 else ""
            print(f"wrote {topology_path} ({len(part.topology.hosts)} hosts{of})")
            print(
                f"wrote {scenario_path} (a skeleton naming `topology: {reference}`: fill in a case)"
            )
    for part, n, proof, found in zip(parts, names, proofs, unproven, strict=True):
        if len(parts) > 1:
            print(f"{n}: {one_line(part.part)}")
        print(f"{part.translated} commands translated from {source}")
        for line in report_lines(part):
            print(line)
        if proof is not None and not found:
            print(
                f"proven: iproute2's replay of the listing builds the same {proof.hosts} hosts "
                f"({proof.replayed} commands replayed, {proof.seconds:.1f} s)"
            )
    return 1 if refused else 0


def cmd_new(args: argparse.Namespace) -> int:
    """Write a commented scenario skeleton for a claim, from scratch."""
    target: str = args.name
    if target.endswith(".yaml") or "/" in target:
        path = Path(target)
        name = _name_from(path.stem)
    else:
        problem = _name_problem(target)
        if problem:
            return _fail("new", f"{target[:MAX_NAME]!r}: a scenario name is {problem}")
        path, name = NEW_SCENARIO_DIR / f"{target}.yaml", target
    if os.path.lexists(path):
        return _fail("new", f"{path} exists already; it is not overwritten")
    text = new_scenario_text(name, path)
    failed = _write("new", path, text)
    if failed is not None:
        return _fail("new", failed)
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
    imp.add_argument(
        "listing", type=Path, help="a file with the article's or script's commands; - for stdin"
    )
    imp.add_argument("--name", help="the topology's and scenario's name (default: the file's)")
    imp.add_argument(
        "--topology-dir",
        type=Path,
        help="where the topology goes (default: fixtures/topologies/, or next to a --scenario "
        "outside the clone; below the skeleton's folder, which names it by path)",
    )
    imp.add_argument(
        "--scenario",
        type=Path,
        help="the skeleton's path (default: scenarios/imported/NAME.yaml in the clone, "
        "./NAME.yaml installed)",
    )
    imp.add_argument("--stdout", action="store_true", help="print both files instead of writing")
    imp.add_argument(
        "--unproven",
        action="store_true",
        help="write the files even when the import is not proven (marked NOT PROVEN; exit 1)",
    )
    imp.set_defaults(func=cmd_import)
    new = sub.add_parser("new", help="a commented scenario skeleton for a claim, from scratch")
    new.add_argument(
        "name",
        help="NAME (writes scenarios/NAME.yaml in the clone, ./NAME.yaml installed) or a path "
        "ending in .yaml",
    )
    new.set_defaults(func=cmd_new)
