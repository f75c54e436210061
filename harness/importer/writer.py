"""The files `harness import` writes: a topology with a comment saying how the listing was
read, and a scenario skeleton naming it, with one example case to fill in.

The topology text is loaded back and validated as a `Topology` before it is
written; both files are created exclusively (an existing file is never
overwritten).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import yaml

from harness.core.display import one_line
from harness.importer.model import Entry
from harness.importer.translate import ImportResult
from harness.scenario import Change, Topology, validate

_OUTCOMES = {
    "note": "Notes",
    "partly": "Translated in part",
    "change": "Written as changes (a topology only adds; see the scenario skeleton)",
    "act": "Acts (traffic and checks: the set-up ends at the first; see the skeleton's steps)",
    "ignored": "Nothing to set up",
    "unsupported": "Not translated",
}


def _flow(value: Any) -> str:
    """A YAML value on one line."""
    text: str = yaml.safe_dump(value, default_flow_style=True, width=1 << 20, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def report_lines(result: ImportResult) -> list[str]:
    """The report on every line that was not simply translated, grouped by outcome."""
    out: list[str] = []
    for outcome, title in _OUTCOMES.items():
        entries = [e for e in result.entries if e.outcome == outcome]
        if entries:
            out.append(f"{title}:")
            out += [f"  {_where(e)}: `{_short(e.text)}`: {one_line(e.reason)}" for e in entries]
    return out


def _wrapped(line: str) -> list[str]:
    """A comment line wrapped at 88 columns; an indented item continues further in."""
    indent = len(line) - len(line.lstrip())
    more = " " * (indent + 4) if indent else ""
    return textwrap.wrap(line, 86, subsequent_indent=more, break_on_hyphens=False) or [""]


def _where(entry: Entry) -> str:
    return f"lines {entry.line}-{entry.last}" if entry.last > entry.line else f"line {entry.line}"


def _short(text: str) -> str:
    text = one_line(" ".join(text.split()))
    return text if len(text) <= 70 else text[:67] + "..."


def _diagram(document: dict[str, Any]) -> str:
    """One line per link (a veth pair once), each end with its addresses."""
    hosts = document["hosts"]

    def end(host: str, ifname: str) -> str:
        iface = hosts[host]["interfaces"][ifname]
        down = " (down)" if iface.get("up") is False else ""
        master = f" (in {iface['master']})" if "master" in iface else ""
        return f"{host}.{ifname}{down}{master} {' '.join(iface.get('addresses', []))}".rstrip()

    lines = []
    for host, spec in hosts.items():
        for ifname, iface in spec.get("interfaces", {}).items():
            if "link" in iface:
                other_host, _, other_if = iface["link"].partition(".")
                if (host, ifname) < (other_host, other_if):
                    lines.append(f"{end(host, ifname)}  <-veth->  {end(other_host, other_if)}")
            else:
                medium = f"port on {iface['lan']}" if "lan" in iface else iface.get("kind", "lo")
                lines.append(f"{end(host, ifname)}  [{medium}]")
    return "\n".join(lines) + "\n"


def topology_text(result: ImportResult, name: str, source: str) -> str:
    """The topology file: the comment on how the listing was read, then the hosts."""
    root = result.host_names.get("")
    machine = (
        "commands outside any namespace act on the machine's own, written here as host "
        f"`{root}`: a namespace of its own (nothing is ever made in the real one)."
        if root
        else "every command acts inside a namespace the listing makes."
    )
    comment = [
        f"Imported by `harness import` from {source} ({result.translated} commands translated). "
        "The listing was read, never run.  Each namespace it makes is a host; " + machine,
        "Addresses are mapped onto the documentation ranges, block by block, host part kept:",
        *[f"  {line}" for line in result.address_map.lines()],
    ]
    if result.part:
        comment.append(
            f"This is one part of the listing, an episode between its tear-downs: {result.part}."
        )
    if result.steps:
        first = result.steps[0].acts[0].line if result.steps[0].acts else 0
        comment.append(
            f"The set-up is what the listing does before its first act (line {first}); "
            f"what it changes after acting is the skeleton's {len(result.steps)} steps."
        )
    renamed = {ns: host for ns, host in result.host_names.items() if ns and ns != host}
    if renamed:
        comment.append(
            "Namespaces renamed: " + ", ".join(f"{a} -> {b}" for a, b in renamed.items())
        )
    for lan, ports in result.lans.items():
        comment.append(f"LAN {lan}: {', '.join(ports)} (NICs the listing uses but never makes)")
    comment += report_lines(result)
    header = "".join(f"# {part}\n" for line in comment for part in _wrapped(one_line(line)))
    body = [
        "description: >",
        f"  Imported from {one_line(source)} by `harness import`; see the comment above.",
        "diagram: |",
        *[f"  {one_line(line)}" for line in _diagram(result.document).splitlines()],
        "hosts:",
    ]
    for host, spec in result.document["hosts"].items():
        body.append(f"  {host}:" + ("" if spec else " {}"))
        if "interfaces" in spec:
            body.append("    interfaces:")
            body += [f"      {n}: {_flow(i)}" for n, i in spec["interfaces"].items()]
        for key in ("nexthops", "routes", "rules", "neighbours"):
            if key in spec:
                body.append(f"    {key}:")
                body += [f"      - {_flow(line)}" for line in spec[key]]
        if "sysctls" in spec:
            body.append("    sysctls:")
            body += [f"      {k}: {_flow(v)}" for k, v in spec["sysctls"].items()]
    text = header + "\n".join(body) + "\n"
    doc = yaml.safe_load(text)
    doc["name"] = name
    checked: Topology = validate(Topology, doc, Path(f"{name}.yaml"))
    assert checked.hosts.keys() == result.topology.hosts.keys()
    return text


def scenario_text(result: ImportResult, name: str, source: str, topology: str = "") -> str:
    """A scenario skeleton naming the topology (`topology`: how the scenario names it, a
    name of fixtures/topologies or a path relative to the skeleton; `name` by default);
    its example case is commented out, so the file does not load (and `harness run`
    refuses it) until a case is filled in."""
    topology = topology or name
    where = (
        f"{topology} (relative to this file)"
        if "/" in topology
        else f"fixtures/topologies/{topology}.yaml"
    )
    hosts = result.topology.hosts
    prober = next((h for h, spec in hosts.items() if _addresses(spec)), next(iter(hosts)))
    others = [a for h, spec in hosts.items() if h != prober for a in _addresses(spec)]
    own = _addresses(hosts[prober])
    dst = others[0] if others else own[0] if own else "192.0.2.1"
    receiver = result.topology.owner_of(dst) or prober
    src = next((a for a in own if (":" in a) == (":" in dst)), None)
    changes = [_change(c) for c in result.changes]
    lines = [
        *[
            f"# {part}"
            for part in _wrapped(
                f"Skeleton written by `harness import` from {one_line(source)}.  Fill in the "
                "claim, the article's section and at least one case: until a case is there, "
                "this file does not load and `harness run` refuses it.  The topology is "
                f"{one_line(where)}; its comment says how the listing was read."
            )
        ],
        "claim: >",
        "  TODO: what the article claims, in our own words.",
        "source:",
        f"  article: {_flow(source)}",
        '  section: "TODO"',
        f"topology: {_flow(topology)}",
        "cases:",
        "  # - id: first-case                  # unique in this file: lower-case, digits, -",
        "  #   title: what the case does, in one line",
    ]
    if result.steps:
        return "\n".join([*lines, *_steps(result, changes, prober, dst)]) + "\n"
    if changes:
        lines.append("  #   change:                         # what the listing did that a topology")
        lines.append(
            "  #                                   # cannot say, applied after the set-up:"
        )
        lines += [f"  #     - {c}" for c in changes]
    lines += [
        f"  #   probe: {{host: {prober}, dst: {_flow(dst)}}}   # a UDP datagram; also proto: "
        "tcp|icmp|raw, sockopts: [SO_DONTROUTE], bind_device: IF, ...",
        "  #   expect:                         # only what the claim is about",
        "  #     errno: ok                     # or ENETUNREACH, ...",
        f"  #     received: [{receiver}" + (f" from {src}]" if src else "]"),
        "  #     # arp, src, egress, icmp, route, seen, not_seen, neighbours, links: see README",
    ]
    return "\n".join(lines) + "\n"


def _change(change: Change) -> str:
    return f"{{host: {change.host}, {change.kind}: {_flow(getattr(change, change.kind))}}}"


def _steps(result: ImportResult, changes: list[str], prober: str, dst: str) -> list[str]:
    """The listing's acts in order, as the case's steps: each the changes the listing made
    since the act before, then a probe to write where the listing acted."""
    lines = ["  #   steps:                          # what the listing does after its set-up"]
    for number, step in enumerate(result.steps, start=1):
        said = [_change(c) for c in step.changes]
        if number == 1:
            said = changes + said  # what the topology cannot say comes first
        lines.append(
            f"  #     - change: {'[]' if not said else ''}".rstrip() + f"  # step {number}"
        )
        lines += [f"  #         - {c}" for c in said]
        acts = "; ".join(f"line {a.line} `{_short(a.text)}`" for a in step.acts)
        lines.append(
            f"  #       probe: {{host: {prober}, dst: {_flow(dst)}}}   # TODO: as {acts}"
            if acts
            else f"  #       probe: {{host: {prober}, dst: {_flow(dst)}}}   # TODO"
        )
        lines.append("  #       expect: {errno: ok}          # TODO: what the claim says of it")
    return lines


def _addresses(host: Any) -> list[str]:
    return [str(a.ip) for i in host.interfaces.values() for a in i.addresses]


def write_new(path: Path, text: str) -> None:
    """Create `path` with `text`; FileExistsError when it is there already, a symlink (even
    a dangling one) included: O_EXCL never follows one, O_NOFOLLOW says so twice.  When
    writing fails half-way the file is removed (an OSError all the same)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
