"""The state a listing's `ip ... show` output shows -> the `ip` commands that set it up.

Each command carries the line of the dump it comes from, so the import report
and the import's proof point at that line.  What the kernel makes by itself is
not set up again: `proto kernel` routes (from addresses), the local table's
entries, IPv6 link-local addresses and `fe80::/64`, `ff00::/8`, the default
rules (0, 32766, 32767), and neighbours it learnt (only PERMANENT entries are
set).  A link a dump shows is a NIC of the machine (`eth0`, `ens3`, `wlan0`;
`eth0@if5`, a veth whose peer is in a namespace the dump does not show), unless
the dump shows it is made: `ip -d` names its kind, two links name each other
(`veth0@veth1`, `veth1@veth0`: a veth pair), `X.N@X` (a VLAN, as iproute2
names them), or another link names it as `master` (taken as a bridge).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field

from harness.importer.dumps import Addr, DumpState, Link, Neigh, Route, Rule
from harness.importer.model import MAX_PER_HOST, Entry
from harness.importer.shell_words import Command
from harness.scenario.link_kinds import IP_LINK_KINDS

DEFAULT_RULES = {(0, "lookup local"), (32766, "lookup main"), (32767, "lookup default")}
_LEARNT = {"dhcp": "DHCP", "ra": "a router advertisement", "redirect": "an ICMP redirect"}
# Words of a printed route that are state, not set-up (print_route's flags and cache info).
_ROUTE_STATE = frozenset(
    [
        "linkdown",
        "dead",
        "pervasive",
        "offload",
        "trap",
        "notify",
        "unresolved",
        "rt_offload",
        "rt_trap",
        "rt_offload_failed",
    ]
)
# Route metrics (print_rta_metrics): left out, the report says so.
_ROUTE_METRICS = frozenset(
    [
        "mtu",
        "advmss",
        "hoplimit",
        "rtt",
        "rttvar",
        "reordering",
        "window",
        "cwnd",
        "ssthresh",
        "realms",
        "rto_min",
        "initcwnd",
        "initrwnd",
        "quickack",
        "features",
        "fastopen_no_cookie",
        "congctl",
    ]
)
_ROUTE_STATE_VALUED = frozenset(["expires", "error", "users", "age", "used", "ipid"])
_ADDRESS_STATE = frozenset(
    [
        "secondary",
        "dynamic",
        "deprecated",
        "tentative",
        "dadfailed",
        "permanent",
        "mngtmpaddr",
        "stable-privacy",
        "optimistic",
    ]
)
# What a topology's address cannot say: left out, the report says so (NetworkManager's
# `noprefixroute` addresses come with its own prefix route, shown as `proto kernel`).
_ADDRESS_LEFT = frozenset(["noprefixroute", "metric", "proto"])
_MADE_KINDS = frozenset(["bridge", "vrf", "dummy", "vlan", "macvlan", "ipvlan", "veth"])


@dataclass
class Setup:
    """The commands a dump's state needs, in an order the translation can take them, and
    what the report says about the dump's other lines."""

    commands: list[Command] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    unmade: set[str] = field(default_factory=set)  # links of a kind the harness cannot make
    state: DumpState = field(default_factory=DumpState)  # what was read, within the bounds

    def on_unmade(self, line: int, text: str, dev: str | None) -> bool:
        """Whether `dev` is a link that is not made (then the line is reported as not set up:
        never as a NIC of the same name)."""
        if dev not in self.unmade:
            return False
        self.note(line, text, f"on {dev}, which is not made", "unsupported")
        return True

    def add(self, line: int, text: str, words: list[str]) -> None:
        """One synthesized command, from dump line `line` (`text`, as pasted)."""
        self.commands.append(Command(line, text, tuple(words)))

    def note(self, line: int, text: str, reason: str, outcome: str = "note") -> None:
        """A report line about a dump line."""
        self.entries.append(Entry(line, text[:80], outcome, reason))


def setup_commands(state: DumpState) -> Setup:
    """The commands that set up what the dumps show: links, addresses, routes, rules,
    neighbours, in that order (a gateway must be on a subnet first)."""
    setup = Setup()
    for block in state.blocks:
        if block.command is not None:
            lines = f"lines {block.first}-{block.last}" if block.last >= block.first else "none"
            setup.note(
                block.command,
                f"ip {block.kind} show",
                f"shows state: its output ({lines}) is read as the state it shows",
            )
    # A host holds at most MAX_PER_HOST of each (model.py); past it every further command
    # costs the translation a comparison with each one before it, so a dump's excess is
    # one report line, not 100,000 commands refused one by one.
    state = bounded(state, setup)
    setup.state = state
    _links(state, setup)
    _addresses(state, setup)
    _routes(state, setup)
    _rules(state, setup)
    _neighbours(state, setup)
    setup.entries += state.entries
    return setup


def bounded(state: DumpState, setup: Setup) -> DumpState:
    """The state with at most MAX_PER_HOST links, addresses, routes, rules, neighbours.

    A host holds at most that many of each (model.py); past it every further command
    costs the translation a comparison with each one before it, so a dump's excess is one
    report line, not 100,000 commands refused one by one."""
    links = list(state.links.values())
    if len(links) > MAX_PER_HOST:
        extra = links[MAX_PER_HOST]
        setup.note(extra.line, extra.name, _TOO_MANY.format("links"), "unsupported")
        state = dataclasses.replace(state, links={k.name: k for k in links[:MAX_PER_HOST]})
    addresses, routes, rules, neighbours = (
        state.addresses,
        state.routes,
        state.rules,
        state.neighbours,
    )
    for what, items in (
        ("addresses", addresses),
        ("routes", routes),
        ("rules", rules),
        ("neighbours", neighbours),
    ):
        if len(items) > MAX_PER_HOST:
            setup.note(
                items[MAX_PER_HOST].line,
                items[MAX_PER_HOST].text,
                _TOO_MANY.format(what),
                "unsupported",
            )
    return dataclasses.replace(
        state,
        addresses=addresses[:MAX_PER_HOST],
        routes=routes[:MAX_PER_HOST],
        rules=rules[:MAX_PER_HOST],
        neighbours=neighbours[:MAX_PER_HOST],
    )


_TOO_MANY = f"more than {MAX_PER_HOST} {{}}: the rest of them is not set up"


# --------------------------------------------------------------------------- links


def made_kind(state: DumpState, link: Link) -> str | None:
    """The kind of link the listing must make, or None for a NIC (and lo)."""
    if link.name == "lo":
        return None
    if link.kind in _MADE_KINDS:
        return link.kind
    other = state.links.get(link.at or "")
    if other is not None and other.at == link.name:
        return "veth"
    if (
        other is not None
        and link.name.startswith(f"{other.name}.")
        and link.name.split(".")[-1].isdigit()
    ):
        return "vlan"
    if any(o.master == link.name for o in state.links.values()):
        return link.kind if link.kind in ("bridge", "vrf") else "bridge"
    return None


def _links(state: DumpState, setup: Setup) -> None:
    made: set[str] = set()
    # Parents and bridges first: a VLAN needs its parent, a port its master.
    order = sorted(state.links.values(), key=lambda k: (made_kind(state, k) != "bridge", k.line))
    for link in order:
        kind = made_kind(state, link)
        if kind is None or link.name in made:
            if kind is None and link.name != "lo" and link.at and link.at.startswith("if"):
                setup.note(
                    link.line,
                    link.name,
                    f"{link.name}@{link.at}: a veth whose peer is in a namespace the dump does "
                    "not show: taken as a NIC of the machine",
                )
            continue
        made.add(link.name)
        text = f"{link.name}: {kind}"
        if kind not in IP_LINK_KINDS:
            setup.unmade.add(link.name)
            kinds = ", ".join(sorted(IP_LINK_KINDS))
            setup.note(link.line, text, f"a {kind}: the harness makes {kinds}", "unsupported")
            continue
        if kind == "veth":
            peer = link.at if link.at in state.links else None
            if peer is None:
                continue
            made.add(peer)
            setup.add(
                link.line,
                text,
                ["ip", "link", "add", link.name, "type", "veth", "peer", "name", peer],
            )
        elif kind == "vlan":
            vlan_id = link.name.split(".")[-1]
            if "id" in link.details[:-1]:
                vlan_id = link.details[link.details.index("id") + 1]
            parent = link.at or link.name.rsplit(".", 1)[0]
            setup.add(
                link.line,
                text,
                [
                    "ip",
                    "link",
                    "add",
                    "link",
                    parent,
                    "name",
                    link.name,
                    "type",
                    "vlan",
                    "id",
                    vlan_id,
                ],
            )
        elif kind == "vrf" and "table" in link.details[:-1]:
            table = link.details[link.details.index("table") + 1]
            setup.add(
                link.line, text, ["ip", "link", "add", link.name, "type", "vrf", "table", table]
            )
        elif kind in ("bridge", "dummy"):
            setup.add(link.line, text, ["ip", "link", "add", link.name, "type", kind])
            if link.kind is None:
                setup.note(
                    link.line,
                    link.name,
                    f"{link.name} is a master of other links: taken as a bridge",
                )
        else:
            setup.note(
                link.line, link.name, f"a {kind} link: its settings are not shown", "unsupported"
            )
    for link in sorted(state.links.values(), key=lambda k: k.line):
        if link.name in setup.unmade:
            continue
        if link.name == "lo" and link.up and link.mtu in (None, 65536):
            continue  # as in every harness namespace
        words = ["ip", "link", "set", "dev", link.name]
        if link.mtu is not None and link.mtu != (65536 if link.name == "lo" else 1500):
            words += ["mtu", str(link.mtu)]
        if link.master is not None and link.master in state.links:
            words += ["master", link.master]
        words.append("up" if link.up else "down")
        setup.add(link.line, _header_text(link), words)


def _header_text(link: Link) -> str:
    return f"{link.name}{'@' + link.at if link.at else ''}: <{','.join(sorted(link.flags))}>"


# --------------------------------------------------------------------------- addresses


def _addresses(state: DumpState, setup: Setup) -> None:
    seen: set[tuple[str, str]] = set()
    for addr in state.addresses:
        key = (addr.dev, str(addr.iface))
        if key in seen:
            continue  # shown again by a later dump (`ip a` and `ip -br a`)
        seen.add(key)
        if setup.on_unmade(addr.line, addr.text, addr.dev):
            continue
        reason = _kernel_address(addr)
        if reason:
            setup.note(addr.line, addr.text, reason, "ignored")
            continue
        words = ["ip", "addr", "add", str(addr.iface)]
        if addr.peer is not None:
            words += ["peer", addr.peer]
        if addr.brd is not None and addr.iface.version == 4:
            default = str(addr.iface.network.broadcast_address)
            if addr.brd != default or addr.iface.network.prefixlen >= 31:
                words += ["brd", addr.brd]
        if addr.scope not in ("global", "universe"):
            words += ["scope", addr.scope]
        left = sorted(f for f in addr.flags - _ADDRESS_STATE if f.split()[0] in _ADDRESS_LEFT)
        if left:
            reason = f"left out: {', '.join(left)} (a topology's address has no such option)"
            setup.note(addr.line, addr.text, reason, "partly")
        kept = addr.flags - _ADDRESS_STATE - set(left)
        words += [w for f in sorted(kept) for w in f.split()]
        if addr.label is not None and addr.label != addr.dev:
            words += ["label", addr.label]
        words += ["dev", addr.dev]
        if addr.dynamic or "dynamic" in addr.flags:
            setup.note(addr.line, addr.text, "a dynamic address (DHCP, SLAAC): set up as static")
        setup.add(addr.line, addr.text, words)
    _inferred_addresses(state, setup, seen)


def _kernel_address(addr: Addr) -> str:
    """Why the kernel makes this address itself ("" when it does not)."""
    if addr.iface.ip.is_link_local and addr.iface.version == 6:
        return "a link-local address: the kernel makes it from the link's MAC"
    if addr.dev == "lo" and addr.iface.ip.is_loopback:
        return "lo's own address: every namespace has it once lo is up"
    if "temporary" in addr.flags:
        return "an IPv6 privacy address (temporary): the kernel makes it"
    return ""


def _inferred_addresses(state: DumpState, setup: Setup, seen: set[tuple[str, str]]) -> None:
    """`192.168.1.0/24 dev eth0 proto kernel scope link src 192.168.1.10` says eth0 has
    192.168.1.10/24: set it up when no address dump of that family shows eth0 (fib_add_ifaddr
    makes that route from that address)."""
    shown = {
        (addr_block.family, addr_block.dev)
        for addr_block in state.shown("address")
        if not (addr_block.brief is False and addr_block.kind == "link")
    }
    for route in state.routes:
        src, dev = route.value("src"), route.value("dev")
        if route.value("proto") != "kernel" or route.table != "main" or not src or not dev:
            continue
        if route.kind != "unicast" or (4, dev) in shown or (None, dev) in shown:
            continue
        if (4, None) in shown or (None, None) in shown:
            continue
        try:
            network = ipaddress.ip_network(route.dst, strict=False)
            iface = ipaddress.ip_interface(f"{src}/{network.prefixlen}")
        except ValueError:
            continue
        if (dev, str(iface)) in seen:
            continue
        seen.add((dev, str(iface)))
        setup.note(route.line, route.text, f"{iface} on {dev}: read from the kernel's route")
        setup.add(route.line, route.text, ["ip", "addr", "add", str(iface), "dev", dev])


# --------------------------------------------------------------------------- routes


def kernel_route(route: Route) -> str:
    """Why the kernel makes this route itself ("" when the listing must add it)."""
    dst = route.dst
    if route.value("proto") == "kernel":
        return "made by the kernel from an address (proto kernel)"
    if route.table == "local" and route.kind in ("local", "broadcast", "multicast", "anycast"):
        return "the local table's entry for an address (the kernel makes it)"
    if dst.startswith("fe80::/64") or dst.lower().startswith("ff00::/8"):
        return "made by the kernel for every IPv6 link"
    return ""


def route_words(route: Route) -> tuple[list[str], list[str]]:
    """The `ip route add` words of a printed route, and the printed words left out."""
    words, left = [], []
    printed = list(route.words)
    i = 0
    while i < len(printed):
        word = printed[i]
        value = printed[i + 1] if i + 1 < len(printed) else None
        if word in _ROUTE_STATE:
            i += 1
            continue
        if word in _ROUTE_STATE_VALUED or word == "pref":
            if word == "pref" and value != "medium":
                left.append(f"pref {value}")
            i += 2
            continue
        if word in _ROUTE_METRICS and value is not None:
            lock = value == "lock" and i + 2 < len(printed)
            left.append(" ".join(printed[i : i + (3 if lock else 2)]))
            i += 3 if lock else 2
            continue
        if word == "proto":
            i += 2  # iproute2 writes `proto boot`; what made it is said in the report
            continue
        if word == "via" and value in ("inet", "inet6") and i + 2 < len(printed):
            family = 6 if value == "inet6" else 4
            if family == route.family:
                words += ["via", printed[i + 2]]
                i += 3
                continue
        if word == "metric" and route.family == 6 and value == "1024":
            i += 2  # ip6's default metric (IP6_RT_PRIO_USER)
            continue
        if word == "scope" and value == _default_scope(route):
            i += 2
            continue
        words.append(word)
        i += 1
    if route.table != "main":
        words += ["table", route.table]
    for hop in route.nexthops:
        words += ["nexthop", *[w for w in hop if w not in _ROUTE_STATE]]
    return words, left


def _default_scope(route: Route) -> str:
    """The scope `ip route add` gives a route of this kind (iproute.c: iproute_modify)."""
    if route.kind == "local":
        return "host"
    if route.kind in ("broadcast", "multicast", "anycast") or (
        route.kind == "unicast" and route.value("via") is None and not route.nexthops
    ):
        return "link"
    return "global"


def _routes(state: DumpState, setup: Setup) -> None:
    seen: set[tuple[int, str, str]] = set()
    # Routes without a gateway first: a gateway must be reachable when its route is added.
    order = sorted(
        state.routes, key=lambda r: (r.value("via") is not None or bool(r.nexthops), r.line)
    )
    for route in order:
        key = (route.family, route.table, " ".join(route.words))
        if key in seen:
            continue
        seen.add(key)
        reason = kernel_route(route)
        if reason:
            setup.note(route.line, route.text, reason, "ignored")
            continue
        if setup.on_unmade(route.line, route.text, route.value("dev")):
            continue
        words, left = route_words(route)
        proto = route.value("proto")
        if proto in _LEARNT:
            setup.note(
                route.line, route.text, f"learnt from {_LEARNT[proto]}: set up as a static route"
            )
        if "expires" in route.words:
            setup.note(route.line, route.text, "expires: set up as a route that does not")
        if left:
            setup.note(route.line, route.text, f"left out: {', '.join(left)}", "partly")
        family = ["-6"] if route.family == 6 else []
        setup.add(route.line, route.text, ["ip", *family, "route", "add", *words])


# --------------------------------------------------------------------------- rules, neighbours


def rule_words(rule: Rule) -> list[str]:
    """The `ip rule add` words of a printed rule (`from all` is every source: left out)."""
    words = list(rule.words)
    if words[:2] == ["from", "all"]:
        words = words[2:]
    elif words[:3] == ["not", "from", "all"]:
        words = ["not", *words[3:]]
    return words


def _rules(state: DumpState, setup: Setup) -> None:
    seen: set[tuple[int, int, str]] = set()
    for rule in state.rules:
        words = rule_words(rule)
        key = (rule.family, rule.pref, " ".join(words))
        if key in seen:
            continue
        seen.add(key)
        if (rule.pref, " ".join(words)) in DEFAULT_RULES:
            setup.note(rule.line, rule.text, "a default rule (every namespace has it)", "ignored")
            continue
        family = ["-6"] if rule.family == 6 else []
        setup.add(
            rule.line, rule.text, ["ip", *family, "rule", "add", "pref", str(rule.pref), *words]
        )


def _neighbours(state: DumpState, setup: Setup) -> None:
    seen: set[tuple[str, str]] = set()
    for neigh in state.neighbours:
        if (neigh.address, neigh.dev) in seen:
            continue
        seen.add((neigh.address, neigh.dev))
        if setup.on_unmade(neigh.line, neigh.text, neigh.dev):
            continue
        words = _neigh_words(neigh)
        if words is None:
            reason = f"learnt by the kernel ({neigh.state}): not set up"
            if neigh.state == "NOARP":
                reason = "made by the kernel (NOARP): not set up"
            setup.note(neigh.line, neigh.text, reason, "ignored")
            continue
        setup.add(neigh.line, neigh.text, words)


def _neigh_words(neigh: Neigh) -> list[str] | None:
    family = ["-6"] if neigh.family == 6 else []
    if neigh.state == "proxy":
        return ["ip", *family, "neigh", "add", "proxy", neigh.address, "dev", neigh.dev]
    if neigh.state != "PERMANENT" or neigh.lladdr is None:
        return None
    words = ["ip", *family, "neigh", "add", neigh.address, "lladdr", neigh.lladdr]
    return [*words, "dev", neigh.dev, "nud", "permanent"]
