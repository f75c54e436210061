"""An imported topology builds what its listing builds: checked against iproute2 in twin namespaces.

For each listing under tests/listings/ (the seed articles' commands, and
listings written in the style of the kernel's selftests/net set-up functions),
`harness import` translates it; the harness builds the topology (and applies
the changes the importer wrote for the skeleton's case); and the same listing,
with the importer's address mapping applied to its words, is executed with
real iproute2, net-tools and sysctl in twin namespaces this test owns.  Then
both sides are read with `ip -j` and compared: links (name, kind, up, master,
veth peer, macvlan parent and mode, vrf table, a MAC the listing set), the
addresses of every interface, the routes of every table, the rules, the
permanent and proxy neighbours, and every sysctl the topology sets.

The listing never touches the machine: each command runs under
`nsenter --net=` into an anonymous namespace of the twin lab (`NetNS.path`);
`ip netns add/set/del` are left out (the twin namespaces exist already),
`ip netns exec NS` and `ip -n NS` become the nsenter, and a namespace named
after `netns` (link add/set) becomes that twin namespace's path, which
iproute2 opens as a file.  Nothing is ever created under /run/netns.

What the twin adds of its own, to match what the harness does in every
namespace: lo is up before the listing runs; with IPv6, duplicate address
detection is off (the harness adds IPv6 addresses without DAD); and the fd of
each tun/tap device is held open, as the harness holds it (so the device has
carrier).  Link-local IPv6 addresses (made from random MACs) and their local
routes are not compared; labels and broadcast addresses are not either
(a topology has no field for them, see the import report).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.core.validation import sysctl_path
from harness.importer import ImportResult, import_listing
from harness.importer.ipwords import ip_object, ip_verb, split_options
from harness.importer.shell_words import Command
from harness.lab.builder import build
from harness.lab.kernel_features import missing
from harness.lab.link_makers import IFF_NO_PI, IFF_TAP, IFF_TUN, TUNSETIFF
from harness.lab.netns import Lab, NetNS
from harness.scenario import Topology
from tests.conftest import ip_json, needs_root

pytestmark = [needs_root, pytest.mark.kernel]

LISTINGS = Path(__file__).parents[1] / "listings"
# Listing -> (line, outcome) of every line the import report lists as not (fully) translated.
EXPECTED_REPORT: dict[str, set[tuple[int, str]]] = {
    "seed-so-dontroute.txt": {(33, "unsupported")},  # the article's ./udpsend2
    "seed-tun-tap-source.txt": set(),
    "seed-route-commands.txt": set(),
    "selftest-router.sh": set(),
    "selftest-redirect.sh": set(),
    "article-root-namespace.txt": set(),
    "selftest-dummy-vrf.sh": set(),
    "selftest-words.sh": set(),
    "selftest-multipath.sh": set(),
}
CONFIGURING = {"ip", "ifconfig", "route", "sysctl", "brctl"}  # the tools the twin runs
SETTLE_DEADLINE_S = 5.0  # routes of IPv6 addresses and carriers follow a moment after the commands


# --------------------------------------------------------------------------- the twin


def _twin_commands(command: Command, result: ImportResult, lab: Lab) -> Iterator[list[str]]:
    """The argv to run for one listing command inside the twin lab (none for `ip netns add`,
    and none for what only sends, captures or shows: ping, tcpdump, an article's program)."""
    words = list(command.words)
    ns = ""  # the machine's own namespace, until the command names another
    while words[:3] == ["ip", "netns", "exec"] and command.redirect is None:
        ns, words = words[3], words[4:]
    if words[0] not in CONFIGURING and command.redirect is None:
        return
    if command.redirect is not None:
        # The shell opens the file in its own namespace, before any `ip netns exec`.
        while words[:3] == ["ip", "netns", "exec"]:
            words = words[4:]
        script = f"{shlex.join(result.address_map.words(words))} > {shlex.quote(command.redirect)}"
        yield ["nsenter", f"--net={_twin(lab, result, ns).path}", "sh", "-c", script]
        return
    while words and words[0] == "ip":
        # The options as iproute2 reads them (ipwords: `-n`, `-net`, `--netns` ...).
        given, rest = split_options(words[1:])
        options = []
        for name, value in given:
            if name == "-netns":
                ns = str(value)
            else:
                options += [name] if value is None else [name, value]
        if rest and ip_object(rest[0]) == "netns":
            verb = ip_verb("netns", rest[1:])
            if verb == "exec":
                ns, words = rest[2], rest[3:]
                continue
            assert verb in ("add", "set", "delete"), command.text
            return  # the twin namespaces are the test's own
        words = ["ip", *options, *rest]
        if rest and ip_object(rest[0]) == "link":
            words = [
                _twin(lab, result, w).path if i and words[i - 1] == "netns" else w
                for i, w in enumerate(words)
            ]
        break
    # Nothing may name a namespace other than by a twin's path (never /run/netns).
    named = [words[i + 1] for i, w in enumerate(words[:-1]) if w in ("netns", "-n", "-netns")]
    assert all(n.startswith("/proc/") for n in named), command.text
    mapped = result.address_map.words(words)
    yield ["nsenter", f"--net={_twin(lab, result, ns).path}", *mapped]


def _twin(lab: Lab, result: ImportResult, ns: str) -> NetNS:
    return lab[result.host_names.get(ns, "(machine)")]


def run_twin(lab: Lab, result: ImportResult) -> None:
    """Execute the listing, addresses mapped, in twin namespaces (one per host)."""
    for name in {*result.host_names.values(), "(machine)"}:  # for commands that only show
        ns = lab.namespace(name)
        subprocess.run(["nsenter", f"--net={ns.path}", "ip", "link", "set", "lo", "up"], check=True)
        if result.topology.uses_ipv6:
            ns.write_sysctls({f"net.ipv6.conf.{k}.accept_dad": 0 for k in ("all", "default")})
    for command in result.listing.commands:
        for argv in _twin_commands(command, result, lab):
            assert argv[0] == "nsenter" and argv[1].startswith("--net=/proc/")
            done = subprocess.run(argv, capture_output=True, text=True)
            assert done.returncode == 0, f"line {command.line}: {argv[2:]}: {done.stderr}"
    for host_name, host in result.topology.hosts.items():
        for ifname, iface in host.interfaces.items():
            if iface.resolved_kind in ("tun", "tap"):
                lab.defer(os.close, _attach_tun(lab[host_name], ifname, iface.resolved_kind))


def _attach_tun(ns: NetNS, ifname: str, kind: str) -> int:
    """Open the persistent device `ip tuntap add` made, as the harness holds its own."""
    with ns.entered():
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    flags = (IFF_TUN if kind == "tun" else IFF_TAP) | IFF_NO_PI
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", ifname.encode(), flags))
    return fd


# --------------------------------------------------------------------------- reading both sides


def _peers(lab: Lab, hosts: list[str]) -> dict[tuple[str, int], str]:
    """(host, netnsid) -> the host that id names in that host's namespace."""
    ids = {}
    for a in hosts:
        for b in hosts:
            if a != b:
                nsid = lab[a].ipr.get_netnsid(fd=lab[b].fd)
                if nsid and nsid.get("nsid") is not None and nsid["nsid"] >= 0:
                    ids[(a, nsid["nsid"])] = b
    return ids


def state(lab: Lab, result: ImportResult) -> dict[str, Any]:
    """What iproute2 shows of every host of the topology, in comparable form."""
    hosts = list(result.topology.hosts)
    ids = _peers(lab, hosts)
    names = {
        h: {link["ifindex"]: link["ifname"] for link in ip_json(lab[h], "link")} for h in hosts
    }
    ipv6 = result.topology.uses_ipv6
    families = ["-4", "-6"] if ipv6 else ["-4"]
    seen: dict[str, Any] = {}
    for host in hosts:
        ns, spec = lab[host], result.topology.hosts[host]
        links = {}
        for link in ip_json(ns, "-d", "link", "show"):
            if link["ifname"] == "lo":
                continue
            info = link.get("linkinfo", {})
            data = info.get("info_data", {})
            kind = data.get("type") if info.get("info_kind") == "tun" else info.get("info_kind")
            peer = None
            if kind == "veth":
                netnsid = link.get("link_netnsid")
                other = host if netnsid is None else ids.get((host, netnsid), "?")
                peer = (
                    f"{other}.{names.get(other, {}).get(link.get('link_index'), link.get('link'))}"
                )
            iface = spec.interfaces.get(link["ifname"])
            links[link["ifname"]] = {
                "kind": kind,
                "up": "UP" in link["flags"],
                "master": link.get("master"),
                "peer": peer,
                "parent": link.get("link") if kind in ("macvlan", "ipvlan") else None,
                "mode": data.get("mode") if kind in ("macvlan", "ipvlan") else None,
                "table": data.get("table") if kind == "vrf" else None,
                "mac": link.get("address") if iface is not None and iface.mac else None,
                "mtu": link["mtu"],
                "txqlen": link.get("txqlen"),
            }
        addresses = sorted(
            (a["ifname"], f"{i['local']}/{i['prefixlen']}", bool(i.get("secondary")))
            for family in families
            for a in ip_json(ns, family, "addr", "show")
            for i in a["addr_info"]
            if not i["local"].startswith("fe80:")
        )
        routes = sorted(
            json.dumps(route, sort_keys=True)
            for family in families
            for route in ip_json(ns, family, "route", "show", "table", "all")
            if not (route.get("table") == "local" and route.get("dst", "").startswith("fe80:"))
        )
        rules = [json.dumps(r, sort_keys=True) for f in families for r in ip_json(ns, f, "rule")]
        neighbours = sorted(
            json.dumps(n, sort_keys=True)
            for f in families
            for what in (["nud", "permanent"], ["proxy"])
            for n in ip_json(ns, f, "neigh", "show", *what)
        )
        keys = [
            *spec.sysctls,
            *(k for c in result.changes if c.host == host for k in c.sysctl or {}),
        ]
        # A conf.default key reaches the links made after it: read it on every link
        # (slash form: a link name may hold a dot).
        keys += [
            sysctl_path(k).replace("/default/", f"/{i}/")
            for k in keys
            if "/conf/default/" in sysctl_path(k)
            for i in links
        ]
        sysctls = {key: ns.read_sysctl(key) for key in sorted(set(keys))}
        seen[host] = {
            "links": links,
            "addresses": addresses,
            "routes": routes,
            "rules": rules,
            "neighbours": neighbours,
            "sysctls": sysctls,
        }
    return seen


def _differences(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{host}.{part}": {"harness": ours[host][part], "iproute2": theirs[host][part]}
        for host in ours
        for part in ours[host]
        if ours[host][part] != theirs[host][part]
    }


# --------------------------------------------------------------------------- the test


@contextlib.contextmanager
def _labs() -> Iterator[tuple[Lab, Lab]]:
    with Lab("imported") as ours, Lab("twin") as twin:
        yield ours, twin


@pytest.mark.parametrize("listing", sorted(EXPECTED_REPORT))
def test_imported_topology_builds_what_the_listing_builds(
    host_untouched: None, listing: str
) -> None:
    result = import_listing((LISTINGS / listing).read_text(), listing)
    reported = {
        (e.line, e.outcome) for e in result.entries if e.outcome in ("unsupported", "partly")
    }
    assert reported == EXPECTED_REPORT[listing]
    reasons = missing(result.topology.kernel_features())
    if reasons:
        pytest.skip("; ".join(reasons))
    with _labs() as (ours, twin):
        net = build(ours, result.topology)
        for change in result.changes:
            net.apply(change)
        run_twin(twin, result)
        deadline = time.monotonic() + SETTLE_DEADLINE_S
        while True:
            differences = _differences(state(ours, result), state(twin, result))
            if not differences or time.monotonic() > deadline:
                break
        assert differences == {}


def test_the_comparison_sees_a_route_the_topology_lacks(host_untouched: None) -> None:
    """The comparison above is not blind: one route left out of the topology is found."""
    listing = "seed-route-commands.txt"
    result = import_listing((LISTINGS / listing).read_text(), listing)
    document = {"hosts": {**result.document["hosts"], "a": {**result.document["hosts"]["a"]}}}
    del document["hosts"]["a"]["routes"]
    short = Topology.model_validate(document)
    with _labs() as (ours, twin):
        build(ours, short)
        run_twin(twin, result)
        differences = _differences(state(ours, result), state(twin, result))
    assert list(differences) == ["a.routes"]
    missing_routes = set(differences["a.routes"]["iproute2"]) - set(
        differences["a.routes"]["harness"]
    )
    assert [json.loads(r)["gateway"] for r in missing_routes] == ["192.0.2.1"]
