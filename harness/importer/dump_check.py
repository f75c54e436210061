"""Whether a namespace's state, as `ip -j` reads it, is the state a listing's dumps show.

The import's proof replays the commands synthesized from a dump; this checks
the other way round, against the dump itself: read the built host (the
machine's own namespace of the listing) with the `ip -j` reads of IP_READS and
give `dump_differences(mapped_dump, reads)` the results.  Only what the dumps
show is compared (the families, tables and links they list), and not what
differs by nature between two machines: IPv6 link-local addresses and their
routes, MACs, the local table's multicast routes, learnt neighbours, and
the `proto` of a route (iproute2 writes `boot`; the dump may say dhcp or ra).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from typing import Any

from harness.importer.addresses import AddressMap
from harness.importer.dump_setup import rule_words
from harness.importer.dumps import Block, DumpState, Route

# What to read of the built namespace: key -> `ip -j` arguments.
IP_READS: dict[str, tuple[str, ...]] = {
    "link": ("-d", "link", "show"),
    "addr": ("addr", "show"),
    "route4": ("-4", "route", "show", "table", "all"),
    "route6": ("-6", "route", "show", "table", "all"),
    "rule4": ("-4", "rule", "show"),
    "rule6": ("-6", "rule", "show"),
    "neigh": ("neigh", "show", "nud", "permanent"),
}
_RULE_KEYS = {"from": "src", "to": "dst", "iif": "iif", "oif": "oif", "tos": "tos"}
_RULE_KEYS |= {"fwmark": "fwmark", "lookup": "table", "table": "table", "goto": "goto"}


def mapped(state: DumpState, amap: AddressMap) -> DumpState:
    """The dump with its addresses mapped as the import mapped the listing's."""
    return dataclasses.replace(
        state,
        addresses=[
            dataclasses.replace(
                a,
                iface=amap.interface(a.iface),
                peer=None if a.peer is None else amap.word(a.peer),
                brd=None if a.brd is None else amap.word(a.brd),
            )
            for a in state.addresses
        ],
        routes=[
            dataclasses.replace(
                r, words=amap.words(r.words), nexthops=[amap.words(h) for h in r.nexthops]
            )
            for r in state.routes
        ],
        rules=[dataclasses.replace(r, words=amap.words(r.words)) for r in state.rules],
        neighbours=[dataclasses.replace(n, address=amap.word(n.address)) for n in state.neighbours],
    )


def dump_differences(parsed_dump: DumpState, ip_json_state: Mapping[str, Any]) -> list[str]:
    """What differs between the dumps (addresses mapped, see `mapped`) and a namespace's
    state (`ip -j` output for each key of IP_READS); [] when it is the state they show."""
    out: list[str] = []
    out += _links(parsed_dump, ip_json_state)
    out += _addresses(parsed_dump, ip_json_state)
    out += _routes(parsed_dump, ip_json_state)
    out += _rules(parsed_dump, ip_json_state)
    out += _neighbours(parsed_dump, ip_json_state)
    return out


def _compare(what: str, dump: set[Any], built: set[Any]) -> list[str]:
    out = [
        f"{what} {item}: the dump shows it, the namespace lacks it" for item in sorted(dump - built)
    ]
    out += [
        f"{what} {item}: the namespace has it, the dump does not" for item in sorted(built - dump)
    ]
    return out


# --------------------------------------------------------------------------- links, addresses


def _links(dump: DumpState, reads: Mapping[str, Any]) -> list[str]:
    built = {link["ifname"]: link for link in reads.get("link", [])}
    out: list[str] = []
    for name, link in sorted(dump.links.items()):
        have = built.get(name)
        if have is None:
            out.append(f"link {name}: the dump shows it, the namespace lacks it")
            continue
        up = "UP" in have.get("flags", [])
        if up != link.up:
            said = ("down", "up")
            out.append(f"link {name}: {said[link.up]} in the dump, {said[up]} here")
        if link.mtu is not None and link.mtu != have.get("mtu"):
            out.append(f"link {name}: mtu {link.mtu} in the dump, {have.get('mtu')} here")
        if link.master != have.get("master"):
            out.append(f"link {name}: master {link.master} in the dump, {have.get('master')} here")
    return out


def _compared_address(ifname: str, local: str) -> bool:
    ip = ipaddress.ip_address(local)
    return not ((ip.version == 6 and ip.is_link_local) or (ifname == "lo" and ip.is_loopback))


def _addresses(dump: DumpState, reads: Mapping[str, Any]) -> list[str]:
    scopes = {(b.family, b.dev) for b in dump.blocks if b.kind == "address"}
    if not scopes:
        return []

    def shown(family: int, dev: str) -> bool:
        return any(f in (None, family) and d in (None, dev) for f, d in scopes)

    ours = {
        (a.dev, str(a.iface))
        for a in dump.addresses
        if shown(a.iface.version, a.dev)
        and _compared_address(a.dev, str(a.iface.ip))
        and "temporary" not in a.flags
    }
    theirs = {
        (link["ifname"], f"{i['local']}/{i['prefixlen']}")
        for link in reads.get("addr", [])
        for i in link.get("addr_info", [])
        if shown(6 if i.get("family") == "inet6" else 4, link["ifname"])
        and _compared_address(link["ifname"], i["local"])
    }
    return _compare("address", ours, theirs)


# --------------------------------------------------------------------------- routes


def _route_scopes(dump: DumpState) -> list[tuple[int, str | None]]:
    """(family, table or None for every table) of each route dump."""
    scopes: list[tuple[int, str | None]] = []
    for block in dump.shown("route"):
        families = [block.family] if block.family else _block_families(dump, block)
        table = None if block.table == "all" else (block.table or "main")
        scopes += [(family, table) for family in families]
    return scopes


def _block_families(dump: DumpState, block: Block) -> list[int]:
    if block.command is not None:
        return [4]  # `ip route` alone lists IPv4 (iproute.c: preferred_family AF_INET)
    families = {r.family for r in dump.routes if block.first <= r.line <= block.last}
    return sorted(families) or [4]


def _excluded(dst: str, dev: str | None, table: str) -> bool:
    """Routes that differ between machines by nature: those of link-local addresses, and
    lo's `::1` (in the main table before Linux 5.x moved it to the local table only)."""
    if dst.startswith(("fe80:", "ff00::/8")) or (dev == "lo" and dst == "::1"):
        return True
    return table == "local" and dst.startswith("ff")


def _table(name: str | None) -> str:
    return {None: "main", "254": "main", "255": "local", "253": "default"}.get(name, name or "main")


def _dump_route_key(route: Route) -> tuple[Any, ...]:
    hops = tuple(
        (_value(h, "via"), _value(h, "dev"), _value(h, "weight") or "1") for h in route.nexthops
    )
    metric = route.value("metric")
    if metric is None and route.family == 6 and route.kind != "local":
        metric = "1024"
    return (
        _table(route.table),
        route.kind,
        _host(route.dst),
        _via(route),
        route.value("dev"),
        route.value("src"),
        metric or "0",
        hops,
    )


def _value(words: list[str], key: str) -> str | None:
    for i, word in enumerate(words[:-1]):
        if word == key:
            return words[i + 1]
    return None


def _via(route: Route) -> str | None:
    via = route.value("via")
    if via in ("inet", "inet6"):
        words = route.words
        via = words[words.index("via") + 2] if words.index("via") + 2 < len(words) else None
    return via


def _host(dst: str) -> str:
    """`192.0.2.1/32` and `192.0.2.1` are the same destination (print_route omits /32)."""
    if "/" in dst:
        network = ipaddress.ip_network(dst, strict=False)
        if network.prefixlen == network.max_prefixlen:
            return str(network.network_address)
    return dst


def _said(key: tuple[Any, ...]) -> str:
    """A route key as `ip route` would print it (table and metric always said)."""
    table, kind, dst, via, dev, src, metric, hops = key
    words = [] if kind == "unicast" else [kind]
    words.append(dst)
    for name, value in (("via", via), ("dev", dev), ("src", src)):
        if value is not None:
            words += [name, value]
    words += ["table", table, "metric", metric]
    for hop_via, hop_dev, weight in hops:
        words += ["nexthop", *(["via", hop_via] if hop_via else []), "dev", str(hop_dev)]
        words += ["weight", weight]
    return " ".join(words)


def _json_route_key(route: Mapping[str, Any], family: int) -> tuple[Any, ...]:
    hops = tuple(
        (h.get("gateway"), h.get("dev"), str(h.get("weight", 1))) for h in route.get("nexthops", [])
    )
    gateway = route.get("gateway")
    if isinstance(route.get("via"), dict):
        gateway = route["via"].get("host")
    metric = route.get("metric")
    return (
        _table(route.get("table")),
        route.get("type", "unicast"),
        route["dst"],
        gateway,
        route.get("dev"),
        route.get("prefsrc"),
        str(metric if metric is not None else 0),
        hops,
    )


def _routes(dump: DumpState, reads: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for family, table in dict.fromkeys(_route_scopes(dump)):
        ours = {
            _said(_dump_route_key(r))
            for r in dump.routes
            if r.family == family
            and (table is None or _table(r.table) == _table(table))
            and not _excluded(r.dst, r.value("dev"), _table(r.table))
        }
        theirs = {
            _said(_json_route_key(r, family))
            for r in reads.get(f"route{family}", [])
            if (table is None or _table(r.get("table")) == _table(table))
            and not _excluded(r["dst"], r.get("dev"), _table(r.get("table")))
        }
        out += _compare(f"IPv{family} route", ours, theirs)
    return out


# --------------------------------------------------------------------------- rules, neighbours


def _dump_rule_key(pref: int, words: list[str]) -> tuple[Any, ...]:
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in _RULE_KEYS and i + 1 < len(words):
            value = words[i + 1]
            pairs.append(
                (_RULE_KEYS[word], _table(value) if word in ("lookup", "table") else value)
            )
            i += 2
            continue
        pairs.append(("action" if word in ("blackhole", "unreachable", "prohibit") else word, ""))
        i += 1
    return (pref, tuple(sorted(p for p in pairs if p != ("src", "all"))))


def _json_rule_key(rule: Mapping[str, Any]) -> tuple[Any, ...]:
    pairs: list[tuple[str, str]] = []
    for key in ("src", "dst"):
        if key in rule and rule[key] != "all":
            length = rule.get(f"{key}len")
            pairs.append((key, f"{rule[key]}/{length}" if length is not None else rule[key]))
    if "fwmark" in rule:
        mask = rule.get("fwmask")
        pairs.append(("fwmark", f"{rule['fwmark']}/{mask}" if mask else rule["fwmark"]))
    for key in ("iif", "oif", "tos", "goto"):
        if key in rule:
            pairs.append((key, str(rule[key])))
    if "table" in rule:
        pairs.append(("table", _table(str(rule["table"]))))
    if "not" in rule:
        pairs.append(("not", ""))
    if rule.get("action") in ("blackhole", "unreachable", "prohibit"):
        pairs.append(("action", ""))
    return (rule["priority"], tuple(sorted(pairs)))


def _rules(dump: DumpState, reads: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    blocks = dump.shown("rule")
    families = sorted({b.family or 4 for b in blocks})
    for family in families:
        ours = {_dump_rule_key(r.pref, rule_words(r)) for r in dump.rules if r.family == family}
        theirs = {_json_rule_key(r) for r in reads.get(f"rule{family}", [])}
        out += _compare(f"IPv{family} rule", ours, theirs)
    return out


def _neighbours(dump: DumpState, reads: Mapping[str, Any]) -> list[str]:
    blocks = dump.shown("neighbour")
    if not blocks:
        return []
    families = {b.family for b in blocks}
    wanted = {4, 6} if None in families else families
    ours = {
        (n.address, n.dev, n.lladdr)
        for n in dump.neighbours
        if n.state == "PERMANENT" and n.family in wanted
    }
    theirs = {
        (n["dst"], n.get("dev"), n.get("lladdr"))
        for n in reads.get("neigh", [])
        if (6 if ":" in n["dst"] else 4) in wanted
    }
    return _compare("permanent neighbour", ours, theirs)
