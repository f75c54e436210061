"""Loading: YAML files -> validated, fully resolved `Scenario` objects.

Every field is checked on load; an error names the file, the field and what is
wrong, so a typo never turns into a confusing kernel error.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from harness.env import SCENARIO_DIR, TOPOLOGY_DIR
from harness.scenario.case import Case, Scenario, ScenarioFile
from harness.scenario.topology import Topology


class ScenarioError(ValueError):
    """A scenario or topology file is malformed; says which file, which field and what is wrong."""

    def __init__(self, path: Path | str, field: str, problem: str) -> None:
        self.path, self.field, self.problem = Path(path), field, problem
        where = f"{self.path}: {field}: " if field else f"{self.path}: "
        super().__init__(where + problem)


def _field_path(loc: tuple[int | str, ...], doc: Any) -> str:
    """Render a pydantic location as `cases[2](far-no-default).probe.dst`.

    Only parts that exist in the document are kept: pydantic also puts the
    names of union branches and validators into a location.  A last part that
    is not in the document is a missing field, and is named.
    """
    out = ""
    node = doc
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            out += f"[{part}]"
            node = node[part]
            if isinstance(node, dict) and "id" in node:
                out += f"({node['id']})"
        elif isinstance(node, dict) and part in node:
            out += f".{part}" if out else str(part)
            node = node[part]
        elif last and isinstance(part, str) and re.fullmatch(r"[a-z_]+", part):
            out += f".{part}" if out else part
    return out


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


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            path, "", f"not a text file (not UTF-8 at byte {exc.start}): a scenario is YAML"
        ) from None
    except OSError as exc:
        raise ScenarioError(path, "", f"cannot read: {exc.strerror}") from None
    try:
        # libyaml's parser when PyYAML has it: the pure-Python one made up most
        # of collection time (1.4 s for the catalogue, once per xdist worker).
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ScenarioError(path, "", f"not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ScenarioError(path, "", "must be a YAML mapping at the top level")
    return doc


def validate(model: type[BaseModel], doc: Any, path: Path) -> Any:
    """`model` validated from `doc`, or a ScenarioError naming the first real problem."""
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        errors = exc.errors()
        # For a union (a topology name or an inline topology), pydantic reports
        # every branch; the deepest error at the first failing place that is not
        # merely "this branch wants another type" is the real one.
        first = max(
            (e for e in errors if e["loc"][:1] == errors[0]["loc"][:1]),
            key=lambda e: (len(e["loc"]), not e["type"].endswith("_type")),
        )
        message = first["msg"].removeprefix("Value error, ")
        more = len({e["loc"][:1] for e in errors}) - 1
        if more:
            message += f" (and problems in {more} more field{'s' if more > 1 else ''})"
        raise ScenarioError(path, _field_path(first["loc"], doc), message) from None


@functools.lru_cache(maxsize=64)
def load_topology(name: str, directory: Path = TOPOLOGY_DIR) -> Topology:
    """Load fixtures/topologies/NAME.yaml (cached: topologies are immutable models)."""
    path = directory / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in directory.glob("*.yaml"))
        raise FileNotFoundError(f"no topology {name!r} in {directory} (known: {', '.join(known)})")
    doc = _read_yaml(path)
    doc.setdefault("name", name)
    topology: Topology = validate(Topology, doc, path)
    return topology


def load_scenario(path: Path | str, topology_dir: Path = TOPOLOGY_DIR) -> Scenario:
    """Load and check one scenario file, resolving its topology and cross-references."""
    path = Path(path)
    doc = _read_yaml(path)
    raw: ScenarioFile = validate(ScenarioFile, doc, path)
    if isinstance(raw.topology, str):
        try:
            topology = load_topology(raw.topology, topology_dir)
        except FileNotFoundError as exc:
            raise ScenarioError(path, "topology", str(exc)) from None
        except ScenarioError as exc:
            raise ScenarioError(
                path, "topology", f"in {exc.path}: {exc.field}: {exc.problem}"
            ) from None
    else:
        topology = raw.topology
    _check_references(path, topology, raw.cases)
    return Scenario(
        path=path,
        name=path.stem,
        claim=raw.claim.strip(),
        source=raw.source,
        topology=topology,
        cases=raw.cases,
    )


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
                if change.link is not None:
                    new_name = change.parsed()[1].name
                    if new_name:
                        renamed.setdefault(change.host, set()).add(new_name)
            probe = act.probe
            host(f"{at}.probe.host", probe.host)
            for field, ifname in probe.interfaces():
                interface(f"{at}.probe.{field}", probe.host, ifname)
            for key, said in (("expect", act.expect), ("kernel_does", act.kernel_does)):
                if said is None:
                    continue
                for field, ref in said.references(probe.host):
                    place = f"{at}.{key}.{field}{ref.where}"
                    host(place, ref.host, ref.lan_allowed)
                    interface(place, ref.host, ref.ifname)


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
        else:
            raise FileNotFoundError(f"no scenario file or folder {root}")
    return found
