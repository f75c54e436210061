"""Kernel state: what the kernel holds and decides, read over netlink and /proc/sys.

The kernel's own route lookup for a probe's flow (`ip route get`), the route
tables and rules of a host (in `ip` words), its neighbour table, and the
sysctls that decide routing and ARP.  The runner records these next to the
frames, so a report can say why the kernel chose what it chose.
"""

from __future__ import annotations

import socket
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from harness.core.evidence import HostTables, LinkAttrs, NeighbourEntry, RouteLookup
from harness.core.validation import errno_name
from harness.lab.builder import IPV4_CONF_DEFAULTS
from harness.lab.network import Network
from harness.scenario import Probe
from harness.scenario.expect.patterns import link_flag_names
from harness.scenario.ipsyntax import (
    FR_ACTIONS,
    NUD_STATES,
    PROTOCOLS,
    ROUTE_TYPES,
    SCOPES,
    TABLES,
    dscp_name,
    protocol_name,
)
from harness.scenario.ipsyntax import METRICS as METRIC_NUMBERS

_STATE_NAMES = {v: k.upper() for k, v in NUD_STATES.items()}
_TYPE_NAMES = {v: k for k, v in ROUTE_TYPES.items()}
RTM_F_LOOKUP_TABLE = 0x1000
RTM_F_CLONED = 0x200
USER_HZ = 100  # rta_expires is in clock_t (jiffies_to_clock_t); iproute2 divides by it
# RTCF_* of include/uapi/linux/in_route.h, named as iproute2 prints them after `cache`.
RTCF_NAMES = (
    ("local", 0x80000000),
    ("reject", 0x40000000),
    ("mc", 0x20000000),
    ("brd", 0x10000000),
    ("dst-nat", 0x08000000),
    ("src-nat", 0x00800000),
    ("masq", 0x00400000),
    ("dst-direct", 0x00020000),
    ("src-direct", 0x04000000),
    ("redirected", 0x00040000),
    ("redirect", 0x01000000),
    ("fastroute", 0x00200000),
    ("notify", 0x00010000),
    ("proxy", 0x00080000),
)
# Recorded with every case: the sysctls that decide the behaviours the articles discuss.
WATCHED_CONF = (
    "forwarding",
    "rp_filter",
    "accept_local",
    "arp_announce",
    "arp_ignore",
    "arp_filter",
    "proxy_arp",
    "send_redirects",
    "accept_redirects",
)


def route_get(net: Network, probe: Probe) -> RouteLookup:
    """The kernel's own lookup for the probe's flow, as `ip route get` would ask it: with
    the keys the probe's socket options give its own lookup (harness/scenario/sockopts.py)."""
    ns = net.host(probe.host)
    query: dict[str, Any] = {"dst": probe.address, "family": probe.family}
    # iproute2 sets RTM_F_LOOKUP_TABLE; without it the kernel reports table main
    # whatever table the lookup used (inet_rtm_getroute).
    flags = RTM_F_LOOKUP_TABLE
    if probe.scope_steers:
        # udpv6_sendmsg: a link-local destination's sin6_scope_id is the flow's oif,
        # before the bound device and the unicast/multicast interface options.
        query["oif"] = ns.link_index(str(probe.scope))
    for option, value in probe.options():
        key = option.route_get
        if key == "oif" and option.steers(probe.multicast):
            query.setdefault("oif", ns.link_index(str(value)))  # the first device option wins
        elif key is not None and key != "oif":
            query[key] = value
    if probe.iface is not None:
        query.setdefault("oif", ns.link_index(probe.iface))
    bind = probe.bind_address()
    if bind and bind[0]:
        query["src"] = bind[0]
    if probe.iif is not None:
        # `ip route get DST from SRC iif DEV`: the input lookup (inet_rtm_getroute ->
        # ip_route_input_rcu; inet6_rtm_getroute -> ip6_route_input_lookup) for a packet
        # built from these keys (its mark, tos, protocol and ports) arriving on DEV.
        query["src"] = str(probe.src)
        query["iif"] = ns.link_index(probe.iif)
        if probe.flowlabel is not None:
            query["flowlabel"] = probe.flowlabel
    # The keys fib rules select on beyond the addresses (udp_sendmsg, tcp_v4_connect,
    # ping_v4_sendmsg fill flowi4_proto, the ports and sk_uid; ip6 the same).
    if probe.uid is not None:
        query["uid"] = probe.uid
    query["ipproto"] = {
        "udp": socket.IPPROTO_UDP,
        "tcp": socket.IPPROTO_TCP,
        "raw": socket.IPPROTO_UDP,
    }.get(
        probe.proto,
        socket.IPPROTO_ICMPV6 if probe.family == socket.AF_INET6 else socket.IPPROTO_ICMP,
    )
    if bind and bind[1] and probe.proto in ("udp", "tcp"):
        query["sport"] = bind[1]
    elif probe.proto == "raw" and probe.sport is not None:
        query["sport"] = probe.sport
    if probe.proto in ("udp", "tcp", "raw"):
        query["dport"] = probe.port
    names = ns.interface_names()
    asked = " ".join(f"{k} {_shown(k, v, names)}" for k, v in query.items() if k != "family")
    try:
        answer = ns.rtnl.route_get(
            probe.family, flags, {k: v for k, v in query.items() if k != "family"}
        )
    except NetlinkError as exc:
        return RouteLookup(query=asked, error=f"{errno_name(exc.code)}: {exc.args[1]}")
    oif = answer.get("RTA_OIF")
    cache = answer.get("RTA_CACHEINFO")
    expires = cache["rta_expires"] if cache is not None else 0
    metrics = answer.get("RTA_METRICS")
    cloned = bool(answer["flags"] & RTM_F_CLONED)
    # IPv4 only: iproute2 prints the RTCF_* bits of an IPv4 answer (print_cache_flags);
    # every IPv4 answer is a clone (rt_fill_info), an IPv6 one only from an exception.
    ipv4 = probe.family == socket.AF_INET
    cache_flags = [n for n, bit in RTCF_NAMES if answer["flags"] & bit] if ipv4 else []
    return RouteLookup(
        cloned=cloned,
        exception=(bool(expires) or "redirected" in cache_flags) if ipv4 else cloned,
        cache_flags=cache_flags,
        expires=expires // USER_HZ if expires else None,
        mtu=metrics.get_attr("RTAX_MTU") if metrics is not None else None,
        query=asked,
        type=_TYPE_NAMES.get(answer["type"], str(answer["type"])),
        dev=names.get(oif, str(oif)) if oif else None,
        gateway=answer.get("RTA_GATEWAY"),
        src=answer.get("RTA_PREFSRC"),
        table=answer.get("RTA_TABLE"),
    )


def _shown(key: str, value: Any, names: dict[int, str]) -> str:
    """A lookup key as `ip route get` takes it."""
    if key in ("tos", "flowlabel"):
        return hex(value)
    if key == "iif":
        return names.get(value, str(value))
    if key == "ipproto":
        return protocol_name(value)
    return str(value)


# The words of `ip route` by number, from ipsyntax's tables (the first name of a number
# wins: scope 0 is "global", as iproute2 names it, not "universe").
_SCOPE_NAMES = {number: name for name, number in reversed(SCOPES.items())}
_PROTO_NAMES = {number: name for name, number in PROTOCOLS.items()}
_TABLE_NAMES = {number: name for name, number in TABLES.items()}


def _route_text(entry: Any, names: dict[int, str]) -> str:
    """One route in `ip route` words and order."""
    words = [] if entry["type"] == 1 else [_TYPE_NAMES.get(entry["type"], str(entry["type"]))]
    dst = entry.get("RTA_DST")
    words.append(f"{dst}/{entry['dst_len']}" if dst else "default")
    if entry.get("RTA_GATEWAY") is not None:
        words += ["via", str(entry.get("RTA_GATEWAY"))]
    oif = entry.get("RTA_OIF")
    if oif:
        words += ["dev", names.get(oif, str(oif))]
    table = entry.get("RTA_TABLE") or entry["table"]
    if table != 254:
        words += ["table", _TABLE_NAMES.get(table, str(table))]
    if entry["proto"] in _PROTO_NAMES and entry["proto"] != 3:  # iproute2 omits boot too
        words += ["proto", _PROTO_NAMES[entry["proto"]]]
    if entry["scope"] != 0:
        words += ["scope", _SCOPE_NAMES.get(entry["scope"], str(entry["scope"]))]
    for key, attr in (("src", "RTA_PREFSRC"), ("metric", "RTA_PRIORITY")):
        if entry.get(attr) is not None:
            words += [key, str(entry.get(attr))]
    if entry["tos"]:
        words += ["tos", hex(entry["tos"])]
    if entry.get("RTA_NH_ID") is not None:
        words += ["nhid", str(entry.get("RTA_NH_ID"))]
    metrics = entry.get("RTA_METRICS")
    if metrics is not None:
        locked = metrics.get_attr("RTAX_LOCK") or 0
        for name, number in METRIC_NUMBERS.items():
            value = metrics.get_attr(f"RTAX_{name.upper()}")
            if value is not None:
                words += (
                    [name, "lock", str(value)] if locked & (1 << number) else [name, str(value)]
                )
    for hop in entry.get("RTA_MULTIPATH") or []:
        words.append("nexthop")
        if hop.get_attr("RTA_GATEWAY") is not None:
            words += ["via", str(hop.get_attr("RTA_GATEWAY"))]
        if hop["oif"]:
            words += ["dev", names.get(hop["oif"], str(hop["oif"]))]
        words += ["weight", str(hop["hops"] + 1)]
    return " ".join(words)


_RULE_ACTIONS = {v: k for k, v in FR_ACTIONS.items()}
_RULE_PROTOCOLS = {v: k for k, v in PROTOCOLS.items()}
FIB_RULE_INVERT = 0x2
HOST_LENGTHS = {socket.AF_INET: 32, socket.AF_INET6: 128}


def _ports(entry: Any, key: str) -> list[str]:
    """`sport`/`dport` as print_rule prints them: a range `N-M`, a port `N`, a port
    under a mask other than 0xffff in hex `0xN/0xM`."""
    ports = entry.get(f"FRA_{key.upper()}_RANGE")
    if ports is None:
        return []
    start, end = (int(p) for p in str(ports).split(":"))
    if start != end:
        return [key, f"{start}-{end}"]
    mask = entry.get(f"FRA_{key.upper()}_MASK")
    return [key, str(start) if mask in (None, 0xFFFF) else f"{hex(start)}/{hex(mask)}"]


def _rule_text(entry: Any) -> str:
    """One policy rule in `ip rule` words and order (iproute2 ip/iprule.c print_rule)."""
    words = [f"{entry.get('FRA_PRIORITY', 0)}:"]
    if entry["flags"] & FIB_RULE_INVERT:
        words.append("not")
    host = HOST_LENGTHS.get(entry["family"])
    for key, attr, length in (("from", "FRA_SRC", "src_len"), ("to", "FRA_DST", "dst_len")):
        address = entry.get(attr)
        if address:
            words += [key, address if entry[length] == host else f"{address}/{entry[length]}"]
        elif key == "from":
            words += ["from", "all"]
    if entry["tos"]:
        words += ["tos", hex(entry["tos"])]
    mark, mask = entry.get("FRA_FWMARK"), entry.get("FRA_FWMASK")
    if mark is not None or mask is not None:
        shown = hex(mark or 0)
        words += ["fwmark", shown if mask in (None, 0xFFFFFFFF) else f"{shown}/{hex(mask)}"]
    for key, attr in (("iif", "FRA_IIFNAME"), ("oif", "FRA_OIFNAME")):
        if entry.get(attr) is not None:
            words += [key, str(entry.get(attr))]
    if entry.get("FRA_L3MDEV"):
        words += ["lookup", "[l3mdev-table]"]
    uids = entry.get("FRA_UID_RANGE")
    if uids is not None:
        words += ["uidrange", str(uids).replace(":", "-")]
    if entry.get("FRA_IP_PROTO") is not None:
        words += ["ipproto", protocol_name(entry.get("FRA_IP_PROTO"))]
    words += _ports(entry, "sport") + _ports(entry, "dport")
    if entry.get("FRA_TUN_ID") is not None:
        words += ["tun_id", str(entry.get("FRA_TUN_ID"))]
    action = _RULE_ACTIONS.get(entry["action"], str(entry["action"]))
    table = entry.get("FRA_TABLE") or entry["table"]
    if table:
        words += ["lookup", _TABLE_NAMES.get(table, str(table))]
        length = entry.get("FRA_SUPPRESS_PREFIXLEN")
        if length is not None and length != 0xFFFFFFFF:  # -1: not set
            words += ["suppress_prefixlength", str(length)]
        group = entry.get("FRA_SUPPRESS_IFGROUP")
        if group is not None and group != 0xFFFFFFFF:
            words += ["suppress_ifgroup", "default" if group == 0 else str(group)]
    flow = entry.get("FRA_FLOW")
    if flow is not None:
        source, destination = flow >> 16, flow & 0xFFFF
        words += ["realms", f"{source}/{destination}" if source else str(destination)]
    if action == "goto":
        goto = entry.get("FRA_GOTO")
        words += ["goto", "none" if goto is None else str(goto)]
    elif action != "lookup":
        words.append(action)
    protocol = entry.get("FRA_PROTOCOL")
    if protocol and protocol != PROTOCOLS["kernel"]:
        words += ["proto", _RULE_PROTOCOLS.get(protocol, str(protocol))]
    dscp = entry.get("FRA_DSCP")
    if dscp is not None:
        mask = entry.get("FRA_DSCP_MASK")
        words += ["dscp", dscp_name(dscp) if mask in (None, 0x3F) else f"{hex(dscp)}/{hex(mask)}"]
    label, mask = entry.get("FRA_FLOWLABEL"), entry.get("FRA_FLOWLABEL_MASK")
    if label is not None and mask is not None:
        words += ["flowlabel", hex(label) if mask == 0xFFFFF else f"{hex(label)}/{hex(mask)}"]
    return " ".join(words)


def kernel_tables(net: Network, hosts: list[str]) -> dict[str, HostTables]:
    """For `hosts`: the routes (every table; the kernel's own local and link-local
    entries left out) and the rules the kernel holds, in `ip` words.

    Only for the hosts whose tables can differ from the topology (the prober and
    those a change touched): parsing every host's dump cost about 30 ms a case.
    """
    tables: dict[str, HostTables] = {}
    families = [socket.AF_INET, socket.AF_INET6] if net.ipv6 else [socket.AF_INET]
    for host in hosts:
        ns = net.host(host)
        names = ns.interface_names()
        routes, rules = [], []
        for family in families:
            # Without the local/broadcast entries the kernel made for addresses and
            # IPv6's fe80::/ff00:: routes of every link (left out before decoding).
            routes += [_route_text(entry, names) for entry in ns.rtnl.routes(family, own=False)]
            # `ip -6 rule` lists IPv6 rules on their own; here both are in one list.
            family_word = "-6 " if family == socket.AF_INET6 else ""
            rules += [family_word + _rule_text(entry) for entry in ns.rtnl.rules(family)]
        tables[host] = HostTables(routes=routes, rules=rules)
    return tables


def state_name(state: int) -> str:
    """NUD_* bits as `ip neigh` names them: REACHABLE, INCOMPLETE, STALE|..."""
    return _STATE_NAMES.get(state) or "|".join(
        n for bit, n in _STATE_NAMES.items() if bit and state & bit
    )


def neighbour_tables(net: Network) -> dict[str, list[NeighbourEntry]]:
    """Every host's neighbour entries (ARP and ND), like `ip neigh show`."""
    tables: dict[str, list[NeighbourEntry]] = {}
    for host in net.topology.hosts:
        ns = net.host(host)
        names = ns.interface_names()
        entries = []
        for entry in ns.rtnl.neighbours():
            entries.append(
                NeighbourEntry(
                    dst=entry.dst,
                    state=state_name(entry.state),
                    lladdr=entry.lladdr,
                    dev=names.get(entry.ifindex, str(entry.ifindex)),
                )
            )
        tables[host] = entries
    return tables


# ARPHRD_* of include/uapi/linux/if_arp.h, named as `ip link` names them.
HARDWARE_TYPES = {1: "ether", 772: "loopback", 0xFFFE: "none"}


def link_states(net: Network) -> dict[str, dict[str, LinkAttrs]]:
    """Every host's links as `ip link` shows them: type, address, flags, MTU, queue length."""
    states: dict[str, dict[str, LinkAttrs]] = {}
    for host in net.topology.hosts:
        states[host] = {
            link.name: LinkAttrs(
                type=HARDWARE_TYPES.get(link.hardware_type, str(link.hardware_type)),
                address=link.address,
                flags=link_flag_names(link.flags),
                mtu=link.mtu,
                txqueuelen=link.txqueuelen,
            )
            for link in net.host(host).rtnl.links()
        }
    return states


def state_after_act(net: Network, record_links: bool) -> dict[str, Any]:
    """The kernel state every act's facts hold once it has settled, by ActFacts field: the
    one place a new kind of such evidence is read (its reader above, its type in
    harness/core/evidence.py).  `record_links`: a case that names no link skips that read."""
    return {
        "neighbours": neighbour_tables(net),
        "links": link_states(net) if record_links else {},
    }


def watched_sysctls(net: Network, changed: set[str]) -> dict[str, dict[str, str]]:
    """Per host: the sysctls the scenario names (in its hosts and `changed` by its
    changes), and those that decide routing and ARP where they are not at the kernel's
    default (the harness resets them to it; a record would otherwise repeat ~40 defaults
    per host)."""
    values: dict[str, dict[str, str]] = {}
    for host_name, host in net.topology.hosts.items():
        ns = net.host(host_name)
        named = [*host.sysctls, *changed]
        watched = ["net.ipv4.ip_forward"]
        for dev in ["all", *sorted(ns.interface_names().values())]:
            if dev != "lo":
                watched += [f"net/ipv4/conf/{dev}/{k}" for k in WATCHED_CONF]
        found = ns.read_sysctls(list(dict.fromkeys([*named, *watched])))
        values[host_name] = {
            key.replace("/", "."): value
            for key, value in found.items()
            if key in named or value != _default_of(key)
        }
    return values


def _default_of(key: str) -> str:
    """The kernel's built-in value of a watched key (harness/lab/builder.py resets to it)."""
    name = key.replace(".", "/").rsplit("/", 1)[-1]
    return str(IPV4_CONF_DEFAULTS.get(name, 0))
