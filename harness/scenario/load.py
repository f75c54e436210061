"""Loading: YAML files -> validated, fully resolved `Scenario` objects.

Every field is checked on load; an error names the file, the field and what is
wrong, so a typo never turns into a confusing kernel error.
"""

from __future__ import annotations

import errno
import functools
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from harness.core.env import SCENARIO_DIR, TOPOLOGY_DIR
from harness.core.files import UnreadableFile, read_bounded
from harness.core.validation import NAME_MAX_CHARS, FieldError, check_name
from harness.scenario.case import Case, Scenario, ScenarioFile
from harness.scenario.footprint import listener_count
from harness.scenario.limits import MAX_LISTENERS, neighbour_wait_problem
from harness.scenario.topology import Topology
from harness.scenario.yamldoc import (
    DuplicateKey,
    TooLarge,
    UniqueKeyLoader,
    field_key,
    node_at,
    text_problem,
)


class ScenarioError(ValueError):
    """A scenario or topology file is malformed; says which file, which field and what is wrong."""

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        self.path, self.field, self.problem = Path(path), field, problem
        where = f"{self.path}: {field}: " if field else f"{self.path}: "
        super().__init__(where + problem)


def _field_path(loc: tuple[int | str, ...], doc: Any, missing: bool = False) -> str:
    """Render a pydantic location as `cases[2](far-no-default).probe.dst`.

    Only parts that exist in the document are kept: pydantic also puts the
    names of union branches and validators into a location.  When the field is
    `missing`, its name (the last part, not in the document) is kept too.
    """
    out = ""
    node = doc
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            out += f"[{part}]"
            node = node[part]
            if isinstance(node, dict) and _shown_id(node.get("id")):
                out += f"({node['id']})"
        elif isinstance(node, dict) and part in node:
            out += field_key(part, out)
            node = node[part]
        elif last and missing and isinstance(part, str):
            out += field_key(part, out)
    return out


def _shown_id(value: object) -> bool:
    """Whether a case's id may stand in a message as it is: not one with a newline, an
    escape sequence or 300 characters (that is the problem being reported)."""
    return isinstance(value, str) and len(value) <= NAME_MAX_CHARS and value.isprintable()


_SCENARIO_KEY = re.compile(rb"^cases\s*:", re.MULTILINE)


def is_scenario_file(path: Path) -> bool:
    """A YAML file is a scenario when it has a top-level `cases:` key (a topology has
    `hosts:`); YAML of other kinds, and other projects', is never taken for one."""
    if path.suffix not in (".yaml", ".yml"):
        return False
    try:
        with path.open("rb") as stream:
            head = stream.read(1 << 20)
    except OSError:
        return False
    return bool(_SCENARIO_KEY.search(head))


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's several-line message as one line: where, what, and in what."""
    if not isinstance(exc, yaml.MarkedYAMLError):  # the reader's: a character YAML refuses
        text = " ".join(str(exc).split())
        return "not valid YAML: " + text.replace(' in "<unicode string>",', " at")
    where = exc.problem_mark or exc.context_mark
    at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
    context = ""
    if exc.context:
        mark = exc.context_mark
        started = f" from line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        context = f" ({exc.context}{started})"
    return f"not valid YAML{at}: {exc.problem or 'unreadable'}{context}"


# The catalogue's largest file is 5.5 kB; a file far larger is not a scenario, and
# reading it whole (say /dev/zero) would only end in a MemoryError.
MAX_FILE_BYTES = 4 << 20


def _read_text(path: Path, follow_links: bool = True) -> str:
    """The file's text; a ScenarioError for what is no readable UTF-8 file of a sane size."""
    try:
        data = read_bounded(path, MAX_FILE_BYTES, follow_links)
    except FileNotFoundError as exc:
        raise ScenarioError(path, "", f"cannot read: {exc.strerror}") from None
    except UnreadableFile as exc:
        raise ScenarioError(path, "", f"{exc}: not a scenario") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            path, "", f"not a text file (not UTF-8 at byte {exc.start}): a scenario is YAML"
        ) from None


def _read_yaml(path: Path, follow_links: bool = True) -> Any:
    text = _read_text(path, follow_links)
    loader: UniqueKeyLoader | None = None
    try:
        loader = UniqueKeyLoader(text)
        doc = loader.get_single_data()
    except TooLarge as exc:
        raise ScenarioError(path, "", str(exc)) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(path, "", _yaml_problem(exc)) from None
    except DuplicateKey as exc:
        raise ScenarioError(
            path,
            str(exc.key),
            f"given twice in one mapping (lines {exc.first} and {exc.second}); "
            "YAML would keep only the last",
        ) from None
    except RecursionError:
        raise ScenarioError(path, "", "not valid YAML: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    if doc is None:
        raise ScenarioError(path, "", "empty: a scenario is a YAML mapping (claim, source, ...)")
    if not isinstance(doc, dict):
        raise ScenarioError(
            path, "", f"must be a YAML mapping at the top level, not a {type(doc).__name__}"
        )
    problem = text_problem(doc, loader.written if loader else {})
    if problem:
        raise ScenarioError(path, *problem)
    return doc


def _located(error: ErrorDetails) -> ErrorDetails:
    """The error with its place made exact: a FieldError names the field it is about."""
    raised = error.get("ctx", {}).get("error")
    if isinstance(raised, FieldError):
        return {**error, "loc": (*error["loc"], *raised.where)}
    return error


def _wrong_branch(error: ErrorDetails, doc: Any) -> bool:
    """A union branch that wants another type: a `..._type` error whose last place is the
    branch's name (`str`, `int`), not a key or item of the document."""
    if not error["type"].endswith("_type"):
        return False
    node = doc
    *path, last = error["loc"]
    for part in path:
        in_mapping = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_mapping or in_list:
            node = node[part]
    in_mapping = isinstance(node, dict) and last in node
    in_list = isinstance(node, list) and isinstance(last, int) and last < len(node)
    return not (in_mapping or in_list)


def _first_problem(errors: list[ErrorDetails], doc: Any) -> ErrorDetails:
    """The error to report: the first one (in the model's order) in the first field that
    has any, leaving out union branches that merely want another type (`topology:` is a
    name or an inline topology: a mapping fails the name branch with "should be a valid
    string", and the inline branch says what is really wrong)."""
    first_field = [e for e in errors if e["loc"][:1] == errors[0]["loc"][:1]]
    real = [e for e in first_field if not _wrong_branch(e, doc)]
    if real:
        return real[0]
    # Every branch wants another type (`int | str` given a list): the deepest is nearest.
    return max(first_field, key=lambda e: len(e["loc"]))


def validate(model: type[BaseModel], doc: Any, path: Path) -> Any:
    """`model` validated from `doc`, or a ScenarioError naming the first real problem."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        errors = [_located(e) for e in exc.errors()]
        first = _first_problem(errors, doc)
        message = first["msg"].removeprefix("Value error, ")
        more = len({e["loc"][:1] for e in errors}) - 1
        if more:
            message += f" (and problems in {more} more field{'s' if more > 1 else ''})"
        field = _field_path(first["loc"], doc, missing=first["type"] == "missing")
        raise ScenarioError(path, field, message) from None


_TOPOLOGY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# A topology path is written by hand (`./mynet.yaml`, `topos/x.yaml`); PATH_MAX is 4096.
MAX_TOPOLOGY_PATH = 1024
NO_CASE_YET = "no case yet: fill in at least one case (see the commented example)"


def _naming(value: str, directory: Path) -> str:
    return (
        f"topology {value!r}: a topology is named by its file name in {directory}, "
        "without '.yaml' or a folder, or by a path to a .yaml file relative to the "
        "scenario's folder (`./mynet.yaml`)"
    )


def is_topology_path(value: str) -> bool:
    """`topology:` names a file by path (relative to the scenario) rather than by a name
    of fixtures/topologies: it holds a `/` or ends in .yaml."""
    return "/" in value or value.endswith((".yaml", ".yml"))


def topology_file(scenario: Path, value: str, topology_dir: Path = TOPOLOGY_DIR) -> Path:
    """The file `topology: PATH` of `scenario` names, symbolic links resolved: one inside
    the scenario's folder (or below it) or inside `topology_dir`; FileNotFoundError, or
    ValueError saying why it may not be read.

    A scenario from elsewhere is data: followed anywhere, `../../etc/x.yaml` (or a
    link to /etc in its folder) would have the harness, as root, read the host's YAML
    and show parts of it in messages and records.  So the resolved file must lie in
    the folder the scenario came in, never beside it (`../x.yaml` from a file saved
    in /tmp would be /x.yaml), or among the clone's own topologies.
    """
    if len(value) > MAX_TOPOLOGY_PATH:
        raise ValueError(f"a topology path is at most {MAX_TOPOLOGY_PATH} characters")
    if value.startswith(("/", "~")):
        raise ValueError(
            f"{value!r}: a topology path is relative to the scenario file's folder "
            "(`./mynet.yaml`, `topos/x.yaml`)"
        )
    if not value.endswith((".yaml", ".yml")):
        raise ValueError(_naming(value, topology_dir))
    folder = Path(os.path.abspath(scenario)).parent
    # Where it leads is checked before whether it exists: a refusal must not tell a
    # file of the host that exists from one that does not.
    real = Path(os.path.realpath(folder / value))
    roots = [Path(os.path.realpath(folder)), Path(os.path.realpath(topology_dir))]
    if not any(real.is_relative_to(root) for root in roots):
        raise ValueError(
            f"{value!r} leads outside the scenario's folder {roots[0]} and {roots[1]}: "
            "a topology path stays below the scenario's folder (a scenario reads no other "
            "file of the host)"
        )
    if not os.path.lexists(real):
        raise FileNotFoundError(f"no topology file {value!r} (in {folder})")
    return real


def _topology_in(path: Path, name: str, follow_links: bool = True) -> Topology:
    """The topology file `path`, called `name` unless it names itself."""
    doc = _read_yaml(path, follow_links)
    if "cases" in doc and "hosts" not in doc:
        raise ScenarioError(path, "cases", "this is a scenario, not a topology")
    doc.setdefault("name", name)
    topology: Topology = validate(Topology, doc, path)
    return topology


@functools.lru_cache(maxsize=64)
def load_topology(name: str, directory: Path = TOPOLOGY_DIR) -> Topology:
    """Load fixtures/topologies/NAME.yaml (cached: topologies are immutable models)."""
    if not _TOPOLOGY_NAME.fullmatch(name) or len(name) > NAME_MAX_CHARS:
        # A name is a file name in `directory`: `../x` would read YAML from anywhere.
        raise ValueError(_naming(name, directory))
    path = directory / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in directory.glob("*.yaml"))
        raise FileNotFoundError(f"no topology {name!r} in {directory} (known: {', '.join(known)})")
    return _topology_in(path, name)


def load_scenario(path: Path | str, topology_dir: Path = TOPOLOGY_DIR) -> Scenario:
    """Load and check one scenario file, resolving its topology and cross-references."""
    path = Path(path)
    try:
        # The file's name names the scenario in the run folder (records/KERNEL/NAME/).
        check_name(path.stem, "scenario file name")
    except ValueError as exc:
        raise ScenarioError(path, "", f"{exc} (rename the file)") from None
    doc = _read_yaml(path)
    if "hosts" in doc and "cases" not in doc:
        raise ScenarioError(
            path, "hosts", "this is a topology, not a scenario: a scenario names it in 'topology:'"
        )
    if "cases" in doc and doc["cases"] in (None, []):
        # A skeleton of `harness import` or `harness new` before its case is written.
        raise ScenarioError(path, "cases", NO_CASE_YET)
    raw: ScenarioFile = validate(ScenarioFile, doc, path)
    topology_path: Path | None = None
    if isinstance(raw.topology, str):
        try:
            if is_topology_path(raw.topology):
                topology_path = topology_file(path, raw.topology, topology_dir)
                # Resolved already: a link put in its place since is refused, not followed.
                topology = _topology_in(topology_path, raw.topology, follow_links=False)
            else:
                topology_path = topology_dir / f"{raw.topology}.yaml"
                topology = load_topology(raw.topology, topology_dir)
        except ScenarioError as exc:
            raise ScenarioError(
                path, "topology", f"in {exc.path}: {exc.field}: {exc.problem}"
            ) from None
        except (FileNotFoundError, ValueError) as exc:
            raise ScenarioError(path, "topology", str(exc)) from None
    else:
        topology = raw.topology
    _check_references(path, topology, raw.cases)
    _check_case_bounds(path, topology, raw.cases)
    return Scenario(
        path=path,
        name=path.stem,
        claim=raw.claim.strip(),
        source=raw.source,
        topology=topology,
        topology_file=topology_path,
        cases=raw.cases,
    )


def setup_place(scenario: Scenario, item: tuple[str | int, ...]) -> tuple[str, str]:
    """Where an item of the scenario's topology (`hosts`, `a`, `routes`, 0) is written, as
    `FILE:LINE hosts.a.routes[0]`, and its text as written there ('' for a mapping or
    a field left to its default).  Read again from the file: only when a set-up fails."""
    file = scenario.topology_file or scenario.path
    where = item if scenario.topology_file else ("topology", *item)
    field = ""
    for part in where:
        field += f"[{part}]" if isinstance(part, int) else field_key(part, field)
    try:
        shown = Path(os.path.abspath(file)).relative_to(Path.cwd())
    except ValueError:
        shown = file
    try:
        found = node_at(_read_text(file), where)
    except ScenarioError:
        found = None
    if found is None:
        return f"{shown} {field}", ""
    node, line, itself = found
    written = node.value if itself and isinstance(node, yaml.ScalarNode) else ""
    return f"{shown}:{line} {field}", str(written)


def _check_references(path: Path, topology: Topology, cases: list[Case]) -> None:
    """Every host, LAN and interface a case names exists (or is made by an earlier change)."""
    seen: set[str] = set()
    hosts = topology.hosts
    lans = topology.lans()
    names = ", ".join(hosts)

    def host(where: str, name: str, lan_allowed: bool = False) -> None:
        if name in hosts or (lan_allowed and name in lans):
            return
        what = "host or LAN" if lan_allowed else "host"
        raise ScenarioError(path, where, f"no {what} {name!r} (hosts: {names})")

    renamed: dict[str, set[str]] = {}  # names given by `link set X name Y` earlier in a case

    def interface(where: str, host_name: str, ifname: str | None) -> None:
        if host_name not in hosts:
            return  # a LAN's switch: its port names are the harness's own
        known = {*hosts[host_name].interfaces, "lo", *renamed.get(host_name, set())}
        if ifname is not None and ifname not in known:
            raise ScenarioError(path, where, f"host {host_name!r} has no interface {ifname!r}")

    for i, case in enumerate(cases):
        where = f"cases[{i}]({case.id})"
        if case.id in seen:
            raise ScenarioError(path, f"{where}.id", f"case id {case.id!r} is used twice")
        seen.add(case.id)
        for k, listener in enumerate(case.listeners or []):
            host(f"{where}.listeners[{k}].host", listener.host)
            interface(f"{where}.listeners[{k}].bind_device", listener.host, listener.bind_device)
            interface(f"{where}.listeners[{k}].join_dev", listener.host, listener.join_dev)
        renamed.clear()
        for a, act in enumerate(case.acts()):
            at = where if case.steps is None else f"{where}.steps[{a}]"
            for j, change in enumerate(act.change):
                host(f"{at}.change[{j}].host", change.host)
                if change.fails_with is None:
                    # A device the host does not have is the kernel's ENODEV at run time:
                    # a typo, unless the claim is that the kernel refuses the change.
                    for field, ifname in change.devices():
                        interface(f"{at}.change[{j}].{field}", change.host, ifname)
                if change.link is not None:
                    new_name = change.parsed()[1].name
                    if new_name:
                        renamed.setdefault(change.host, set()).add(new_name)
            probe = act.probe
            if probe is not None:
                host(f"{at}.probe.host", probe.host)
                for field, ifname in probe.interfaces():
                    interface(f"{at}.probe.{field}", probe.host, ifname)
            for key, said in (("expect", act.expect), ("kernel_does", act.kernel_does)):
                if said is None:
                    continue
                # Without a probe the fields given name their hosts themselves.
                for field, ref in said.references(probe.host if probe else ""):
                    place = f"{at}.{key}.{field}{ref.where}"
                    host(place, ref.host, ref.lan_allowed)
                    interface(place, ref.host, ref.ifname)


def _check_case_bounds(path: Path, topology: Topology, cases: list[Case]) -> None:
    """What each case holds and waits for is within the process's bounds: its listeners
    (limits.MAX_LISTENERS), and how long its neighbour timers may hold an act."""
    for i, case in enumerate(cases):
        where = f"cases[{i}]({case.id})"
        listeners = listener_count(topology, case, stop_after=MAX_LISTENERS + 1)
        if listeners > MAX_LISTENERS:
            field = f"{where}.listeners" if case.listeners is not None else where
            raise ScenarioError(
                path,
                field,
                f"opens more than {MAX_LISTENERS} listeners (one for each flow's port on "
                "every other host, unless 'listeners' says): more than a case may hold",
            )
        for name, host in topology.hosts.items():
            settings = [
                (f"topology.hosts.{name}.sysctls[{key!r}]", key, value)
                for key, value in host.sysctls.items()
            ]
            for a, act in enumerate(case.acts()):
                at = where if case.steps is None else f"{where}.steps[{a}]"
                settings += [
                    (f"{at}.change[{j}].sysctl[{key!r}]", key, value)
                    for j, change in enumerate(act.change)
                    if change.host == name
                    for key, value in (change.sysctl or {}).items()
                ]
            problem = neighbour_wait_problem(settings)
            if problem:
                raise ScenarioError(path, *problem)


def discover(paths: list[Path] | None = None) -> list[Path]:
    """Scenario files under the given files/folders (default: scenarios/), sorted.

    A file named explicitly is taken as a scenario whatever it holds (and refused
    with a clear error when it is not one); in a folder, only the YAML files
    that are scenarios (is_scenario_file) are.
    """
    found: list[Path] = []
    for root in paths or [SCENARIO_DIR]:
        if root.is_dir():
            found += sorted(p for p in root.rglob("*") if p.is_file() and is_scenario_file(p))
        elif root.exists():
            found.append(root)
        elif root.is_symlink():
            # exists() says False for a link that loops as for one to nothing: say which.
            target = os.readlink(root)
            try:
                root.stat()
            except OSError as exc:
                what = "loops" if exc.errno == errno.ELOOP else f"fails: {exc.strerror}"
                raise ScenarioError(
                    root, "", f"a symbolic link to {target!r} that {what}"
                ) from None
        else:
            raise FileNotFoundError(f"no scenario file or folder {root}")
    return found
