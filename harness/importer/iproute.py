"""`ip addr`, `ip route`, `ip rule` and `ip neigh` (iproute2) -> the draft, and `ip` itself.

Routes, rules and neighbours keep the listing's words (the harness reads
iproute2's syntax, harness/scenario/ipsyntax/), put in the order that syntax wants and
checked with its parsers here.  A delete of something the listing added
removes it; a delete of something the kernel made (a `proto kernel` route,
a local-table entry) cannot be said by a topology and becomes a case's change.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import ipaddress
import socket
from collections.abc import Callable
from typing import Any

from harness.importer import ipwords
from harness.importer.iplink import (
    SHOW,
    Dispatch,
    Handler,
    command_of,
    link,
    netns,
    tuntap,
)
from harness.importer.model import (
    Address,
    ChangeDraft,
    Draft,
    Host,
    Ignored,
    IpLine,
    Unsupported,
    room,
)
from harness.scenario.ipsyntax import (
    ROUTE_TYPES,
    IpSyntaxError,
    parse_neigh,
    parse_nexthop,
    parse_route,
    parse_rule,
)
from harness.scenario.ipsyntax.route import NextHop

_ROUTE_VALUED = {"via", "dev", "scope", "src", "table", "metric", "proto", "tos", "nhid"}
_ROUTE_METRICS = ("mtu", "advmss", "hoplimit")  # `NAME [lock] N`
# Global options that change only how `ip` prints or talks to the kernel (ipwords.GLOBAL_OPTIONS).
# Next hops of one route the importer joins by append/prepend: each join reparses the route,
# so a listing appending to one prefix in a loop would grow with the square of this.
MAX_HOPS = 32
_HARMLESS = {"-loops", "-force", "-rcvbuf", "-echo", "-all"}


def ip(draft: Draft, ns: str, args: list[str], dispatch: Dispatch) -> None:
    """`ip [OPTIONS] OBJECT [COMMAND ...]` run in namespace `ns`, every word resolved as
    iproute2 resolves it (harness/importer/ipwords.py)."""
    family: int | None = None
    try:
        options, args = ipwords.split_options(args)
        obj = ipwords.ip_object(args[0]) if args else ""
    except ipwords.IpWordError as exc:
        raise Unsupported(str(exc)) from None
    for name, value in options:
        if name == "-netns" and value is not None:
            ns = value
            draft.host(ns)
        elif name in ("-4", "-6"):
            family = int(name[1])
        elif name == "-family":
            family = ipwords.FAMILIES.get(value or "")
            if family is None:
                raise Unsupported(f"invalid protocol family {value!r}")
            if not family:
                raise Unsupported(f"family {value}: the harness sets up inet and inet6")
        elif name in ("-0", "-M", "-B"):
            raise Unsupported(f"`{name}`: the harness sets up inet and inet6")
        elif name == "-batch":
            raise Unsupported("`-batch` reads its commands from a file the listing does not show")
        elif name in ("-help", "-Version"):
            raise Ignored("prints its usage or version")
        elif name == "-all" and obj == "netns":
            raise Unsupported("`ip -all netns`: every namespace of the machine")
    if not args:
        raise Ignored("`ip` alone prints its usage")
    args.pop(0)
    if obj == "netns":
        netns(draft, ns, args, dispatch)
        return
    if obj == "help":
        raise Ignored("prints its usage")
    handler = _HANDLERS.get(obj)
    if handler is None:
        raise Unsupported(f"`ip {obj}` is not translated (the harness has no {obj} field)")
    handler(draft, ns, args, family)


# --------------------------------------------------------------------------- addr


def _addr(draft: Draft, ns: str, args: list[str], family: int | None) -> None:
    verb = command_of("address", args)
    if verb in SHOW or verb in ("help", "restore"):
        raise Ignored("shows state")
    if verb == "flush":
        _addr_flush(draft, ns, args[1:], family)
        return
    if verb not in ("add", "change", "replace", "delete"):
        raise Unsupported(f"`ip address {verb}`")
    words = ipwords.keywords("address", args[1:])
    dev = local = None
    while words:
        word = words.pop(0)
        if word in ("dev", "local") and words:
            value = words.pop(0)
            dev, local = (value, local) if word == "dev" else (dev, value)
        elif word == "broadcast" and words:
            value = words.pop(0)
            if value not in ("+", "-"):
                draft.note(f"`{word} {value}` left out: a topology has no broadcast", "partly")
        elif word in ("label", "valid_lft", "preferred_lft") and words:
            value = words.pop(0)
            if word != "label" and value != "forever":
                raise Unsupported(f"{word} {value}: the harness's addresses do not expire")
        elif word == "scope" and words:
            if words.pop(0) not in ("global", "universe", "0"):
                raise Unsupported("an address scope other than global")
        elif word in ("nodad", "optimistic"):
            continue  # the harness never runs duplicate address detection
        elif word in ("peer", "noprefixroute", "home", "mngtmpaddr", "autojoin", "metric"):
            raise Unsupported(f"`{word}`: a topology's address has no such option")
        elif local is None:
            local = word
        else:
            raise Unsupported(f"unknown word {word!r}")
    if dev is None:
        raise Unsupported("an address command without `dev`")
    iface = draft.iface(ns, dev)
    if local is None:
        raise Unsupported("an address command without an address")
    try:
        address = ipaddress.ip_interface(local)
    except ValueError:
        raise Unsupported(f"{local!r} is not an address") from None
    if verb != "delete":
        room(iface.addresses, f"addresses on {dev}")
    same = [a for a in iface.addresses if a.iface == address]
    if verb == "delete":
        if same:
            iface.addresses.remove(same[0])
            draft.note(f"removes the address given on line {same[0].line}")
        else:
            change = ChangeDraft(ns, "addr", ["del", str(address), "dev", dev], draft.line)
            draft.changes.append(change)
            draft.note("removes an address the listing did not add: written as a change", "change")
        return
    if dev == "lo" and address.ip.is_loopback:
        raise Ignored(f"lo has {address} in every namespace once it is up")
    if same:
        if verb == "add":
            raise Unsupported(f"{address} is on {dev} already (File exists)")
        return
    iface.addresses.append(Address(address, draft.line))


def _addr_flush(draft: Draft, ns: str, args: list[str], family: int | None) -> None:
    """`ip addr flush [dev] D [to PREFIX] [scope S] [label L]` (ipaddr_list_flush_or_save):
    every address the filter matches goes, of both families unless `-4`/`-6` says one."""
    words = ipwords.keywords("address-filter", args)
    if not words:
        raise Unsupported("Flush requires arguments.")
    dev = prefix = None
    while words:
        word = words.pop(0)
        if word == "to" and words:
            try:
                prefix = ipaddress.ip_network(words.pop(0), strict=False)
            except ValueError:
                raise Unsupported("`to` takes a prefix") from None
        elif word == "scope" and words:
            if words.pop(0) not in ("global", "all"):
                raise Unsupported("a flush of another scope than global")
        elif word in ("dev",) and words:
            dev = words.pop(0)
        elif word in _ADDR_FILTER_WORDS:
            raise Unsupported(f"`{word}` in an address flush (the importer reads dev, to, scope)")
        elif dev is None:
            dev = word
        else:
            raise Unsupported(f"unknown word {word!r}")
    if dev is None:
        raise Unsupported("an address flush without a device (it would flush every link)")
    iface = draft.iface(ns, dev)
    gone = [
        a
        for a in iface.addresses
        if family in (None, a.iface.version)
        and (prefix is None or (a.iface.version == prefix.version and a.iface.ip in prefix))
    ]
    iface.addresses = [a for a in iface.addresses if a not in gone]
    if gone:
        lines = ", ".join(str(a.line) for a in gone)
        draft.note(f"removes the addresses of {dev} given on lines {lines}")
    if family != 4 and prefix is None and iface.up:
        # The kernel's own IPv6 link-local address goes too (and its fe80::/64 route).
        v6 = any(
            a.iface.version == 6
            for h in draft.hosts.values()
            for i in h.interfaces.values()
            for a in i.addresses
        )
        draft.note(
            f"also removes {dev}'s kernel-made IPv6 link-local address and fe80::/64 route, "
            "which a topology cannot say (`ip -4 addr flush` leaves them)",
            "partly" if v6 else "note",
        )
    host = draft.host(ns)
    # An IPv4 route whose `src` was a removed address goes with it (fib_sync_down_addr).
    sources = {str(a.iface.ip) for a in gone if a.iface.version == 4}
    kept_elsewhere = {str(a.iface.ip) for i in host.interfaces.values() for a in i.addresses}
    for route in [r for r in host.routes if _src_of(r.words) in sources - kept_elsewhere]:
        host.routes.remove(route)
        draft.note(f"the route of line {route.line} goes with its source address")


_ADDR_FILTER_WORDS = {e.meaning for e in ipwords.KEYWORDS["address-filter"]} - {
    "dev",
    "to",
    "scope",
}


def _src_of(words: list[str]) -> str | None:
    return words[words.index("src") + 1] if "src" in words[:-1] else None


# --------------------------------------------------------------------------- route, rule, neigh


def _route_words(words: list[str]) -> list[str]:
    """A route's words (keywords already in full) in the order harness/scenario/ipsyntax
    wants: [TYPE] PREFIX KEY VALUE ... onlink [nexthop ...]."""
    rest = list(words)
    kind = prefix = None
    pairs: list[str] = []
    flags: list[str] = []
    hops: list[str] = []
    while rest:
        word = rest.pop(0)
        if word in _ROUTE_VALUED and rest:
            pairs += [word, rest.pop(0)]
        elif word in _ROUTE_METRICS and rest:
            pairs += [word, rest.pop(0)]
            if pairs[-1] == "lock" and rest:
                pairs.append(rest.pop(0))
        elif word == "onlink":
            flags.append(word)
        elif word == "nexthop":  # iproute2 reads every word after it as next hops
            hops, rest = ["nexthop", *rest], []
        elif word == "to" and rest and prefix is None:
            prefix = rest.pop(0)
            if ipwords.route_type(prefix) and kind is None and rest:  # `to TYPE PREFIX`
                kind, prefix = ipwords.route_type(prefix), rest.pop(0)
        elif kind is None and prefix is None and ipwords.route_type(word):
            kind = ipwords.route_type(word)
            if kind not in ROUTE_TYPES:
                raise Unsupported(f"a route of type {kind}")
        elif prefix is None:
            prefix = word
        else:
            known = ", ".join(sorted(_ROUTE_VALUED | set(_ROUTE_METRICS)))
            raise Unsupported(f"route word {word!r} (the harness reads: {known}, onlink, nexthop)")
    if prefix is None:
        raise Unsupported("a route without a destination")
    return [w for w in (kind, prefix) if w is not None] + pairs + flags + hops


def _parsed(
    words: list[str], family: int | None, parse: Callable[[str], Any]
) -> tuple[list[str], Any]:
    """Words (with `-6` first when only `ip -6` says IPv6) and their spec."""
    try:
        spec = parse(" ".join(words))
        if family == 6 and spec.family != socket.AF_INET6:
            words = ["-6", *words]
            spec = parse(" ".join(words))
    except IpSyntaxError as exc:
        raise Unsupported(str(exc)) from None
    return words, spec


def _key(spec: Any) -> tuple[Any, ...]:
    """What makes two routes the same route for the kernel (fib_table_insert)."""
    local = spec.type in ("local", "broadcast")
    table = spec.table if spec.table is not None else (255 if local else 254)
    dst = None if spec.dst is None else spec.dst.network
    return (spec.family, dst, table, spec.tos, spec.metric)


def ip_route(draft: Draft, ns: str, args: list[str], family: int | None) -> None:
    verb = command_of("route", args)
    if verb in SHOW or verb in ("help", "restore", "test"):
        raise Ignored("shows state")
    if verb == "flush":
        _route_flush(draft, ns, args[1:], family)
        return
    if verb not in ("add", "change", "replace", "delete", "append", "prepend"):
        raise Unsupported(f"`ip route {verb}`")
    host = draft.host(ns)
    words = ipwords.keywords("route", args[1:])
    if "vrf" in words[:-1]:  # `vrf NAME`: the VRF's table
        at = words.index("vrf")
        vrf = host.interfaces.get(words[at + 1])
        if vrf is None or vrf.kind != "vrf":
            raise Unsupported(f"vrf {words[at + 1]} is no VRF the listing made")
        words[at : at + 2] = ["table", str(vrf.table)]
    words, spec = _parsed(_route_words(words), family, parse_route)
    for dev in [spec.dev, *(hop.dev for hop in spec.nexthops)]:
        if dev is not None:
            draft.iface(ns, dev)
    if verb != "delete":
        room(host.routes, "routes")
    same = [r for r in host.routes if _key(_route_of(" ".join(r.words))) == _key(spec)]
    if verb == "delete":
        match = [r for r in same if _given_match(spec, _route_of(" ".join(r.words)))]
        if match:
            host.routes.remove(match[-1])
            draft.note(f"removes the route of line {match[-1].line}")
        else:
            draft.changes.append(ChangeDraft(ns, "route", ["del", *words], draft.line))
            draft.note("deletes a route the listing did not add: written as a change", "change")
        return
    if same and verb == "add":
        raise Unsupported(f"the route of line {same[0].line} exists already (File exists)")
    if spec.nhid is not None and not _nexthop_ids(host, str(spec.nhid)):
        raise Unsupported(f"nexthop id {spec.nhid} does not exist (the kernel refuses it)")
    gateways = [(spec.via, spec.dev)] + [(hop.via, hop.dev) for hop in spec.nexthops]
    for via, dev in gateways:
        if via is not None and not spec.onlink and not _on_link(host, via, dev):
            raise Unsupported(
                f"the kernel refuses it here: {via} is on no subnet this host reaches "
                "directly yet (Network is unreachable)"
            )
    if same and verb in ("append", "prepend"):
        words = _merged(same, spec, words)
        draft.note(f"joins the route of line {same[0].line} as one multipath route, as IPv6 does")
    for old in same:
        host.routes.remove(old)
    host.routes.append(IpLine(words, draft.line))


def _merged(same: list[IpLine], spec: Any, words: list[str]) -> list[str]:
    """`ip -6 route append|prepend` of a gateway route to a prefix and metric that has one:
    the kernel makes them one multipath route, the new next hop last (fib6_add_rt2node,
    rt6_qualify_for_ecmp).  IPv4 keeps two routes, which a topology (whose routes are
    added with NLM_F_EXCL) cannot say."""
    old = _route_of(" ".join(same[0].words))
    if spec.family != socket.AF_INET6:
        raise Unsupported(
            f"a second IPv4 route to {spec.dst or 'default'} beside the one of line "
            f"{same[0].line}: the harness adds routes with `add`, which refuses it"
        )
    if not _ecmp(old) or not _ecmp(spec):
        raise Unsupported(
            f"a second IPv6 route to {spec.dst or 'default'} beside the one of line "
            f"{same[0].line} that the kernel keeps apart (only gateway routes join as "
            "multipath): the harness adds routes with `add`, which refuses it"
        )
    hops = _hops(old)
    for hop in _hops(spec):
        if any((h.via, h.dev) == (hop.via, hop.dev) for h in hops):  # rt6_duplicate_nexthop
            raise Unsupported(
                f"{hop.via} is a next hop of line {same[0].line} already (File exists)"
            )
        hops.append(hop)
    if len(hops) > MAX_HOPS:
        raise Unsupported(f"more than {MAX_HOPS} next hops in one route: not a set-up listing")
    merged = dataclasses.replace(old, via=None, dev=None, onlink=False, nexthops=tuple(hops))
    return str(merged).split()


def _ecmp(spec: Any) -> bool:
    return (
        spec.type == "unicast"
        and spec.nhid is None
        and (spec.via is not None or (bool(spec.nexthops) and all(h.via for h in spec.nexthops)))
    )


def _hops(spec: Any) -> list[NextHop]:
    if spec.nexthops:
        return list(spec.nexthops)
    return [NextHop(via=spec.via, dev=spec.dev, onlink=spec.onlink)]


def _nexthop_ids(host: Host, nh_id: str) -> list[IpLine]:
    return [n for n in host.nexthops if n.words[n.words.index("id") + 1] == nh_id]


def _dev_of(host: Host, spec: Any) -> str | None:
    """The device the kernel gives a route: its `dev`, or the one its gateway is on."""
    if spec.dev is not None or spec.via is None:
        return str(spec.dev) if spec.dev is not None else None
    for name, iface in host.interfaces.items():
        if any(spec.via in a.iface.network for a in iface.addresses):
            return name
    return None


def _route_flush(draft: Draft, ns: str, args: list[str], family: int | None) -> None:
    """`ip route flush [table T] [dev D] [proto P]` (iproute_list_flush_or_save): the main
    table unless `table` names another (`all`: every table and, without -4/-6, both
    families; otherwise IPv4 unless -6).  A multipath route has no single device, so
    `dev` never flushes it (filter_nlmsg compares RTA_OIF)."""
    words = ipwords.keywords("route-filter", args)
    if not words:
        raise Unsupported('"ip route flush" requires arguments.')
    table: int | None = 254
    dev = proto = metric = None
    while words:
        word = words.pop(0)
        value = words.pop(0) if words else ""
        if word == "table" and value == "cache":
            raise Ignored("flushes the routing cache")
        if word == "cloned":
            raise Ignored("flushes cached routes")
        if word == "table":
            table = None if value == "all" else _table_id(value)
        elif word == "dev":
            dev = value
        elif word == "proto":
            proto = None if value == "all" else value
        elif word == "metric":
            metric = _number(value, "metric")
        else:
            raise Unsupported(
                f"`{word}` in a route flush (the importer reads table, dev, proto, metric)"
            )
    if dev is not None:
        draft.iface(ns, dev)
    families = {family} if family else ({4} if table is not None else {4, 6})
    host = draft.host(ns)
    if table in (None, 255) and proto in (None, "kernel"):
        raise Unsupported("it flushes the kernel's local routes, which a topology cannot say")
    gone = []
    for route in host.routes:
        spec = _route_of(" ".join(route.words))
        if (
            (6 if spec.family == socket.AF_INET6 else 4) in families
            and table in (None, _key(spec)[2])
            and proto in (None, spec.proto or "boot")
            and metric in (None, spec.metric or (1024 if spec.family == socket.AF_INET6 else 0))
            and (dev is None or (not spec.nexthops and _dev_of(host, spec) == dev))
        ):
            gone.append(route)
    for route in gone:
        host.routes.remove(route)
    if gone:
        draft.note(f"removes the routes of lines {', '.join(str(r.line) for r in gone)}")
    if table == 254 and proto in (None, "kernel"):
        v6_metric = metric in (None, 256)  # IPv6 prefix routes have metric 256, IPv4 0
        kept = {4} if metric in (None, 0) else set()
        for words in _kernel_routes(host, families & (kept | ({6} if v6_metric else set())), dev):
            draft.changes.append(ChangeDraft(ns, "route", ["del", *words], draft.line))
            draft.note(
                f"removes the kernel's route {words[0]} (of an address): written as a change",
                "change",
            )


def _number(value: str, what: str) -> int:
    try:
        return int(value, 0)
    except ValueError:
        raise Unsupported(f"{what} value {value!r} is invalid") from None


def _table_id(value: str) -> int:
    try:
        return {"main": 254, "local": 255, "default": 253}.get(value) or int(value, 0)
    except ValueError:
        raise Unsupported(f"table id value {value!r} is invalid") from None


def _kernel_routes(host: Host, families: set[int], dev: str | None) -> list[list[str]]:
    """The prefix routes the kernel made for the addresses of up links (fib_add_ifaddr,
    addrconf_prefix_route), in the main table, as `DST dev D` (what `ip route del` needs)."""
    routes: list[list[str]] = []
    for name, iface in host.interfaces.items():
        if not iface.up or dev not in (None, name) or name == "lo":
            continue
        for address in iface.addresses:
            net = address.iface.network
            full = net.prefixlen == net.max_prefixlen
            words = [str(net), "dev", name]
            if net.version in families and not full and words not in routes:
                routes.append(words)
    return routes


def _on_link(host: Host, via: Any, dev: str | None) -> bool:
    """Whether the gateway is directly reachable (fib_check_nh): on a subnet of one of the
    host's addresses, or covered by a route without gateway (link-local: always)."""
    if via.is_link_local:
        return True
    for name, iface in host.interfaces.items():
        if dev in (None, name) and any(via in a.iface.network for a in iface.addresses):
            return True
    for route in host.routes:
        other = _route_of(" ".join(route.words))
        direct = other.via is None and not other.nexthops and other.nhid is None
        direct = direct and other.type == "unicast" and dev in (None, other.dev)
        covers = other.dst is None or (
            other.dst.version == via.version and via in other.dst.network
        )
        if direct and covers:
            return True
    return False


def _given_match(wanted: Any, route: Any) -> bool:
    """Whether a route matches what a `del` gave (the kernel ignores what it leaves out)."""
    fields = ("via", "dev", "src", "scope", "proto")
    return all(getattr(wanted, f) in (None, getattr(route, f)) for f in fields) and (
        wanted.type in ("unicast", route.type)
    )


def _rule(draft: Draft, ns: str, args: list[str], family: int | None) -> None:
    verb = command_of("rule", args)
    if verb in SHOW or verb in ("help", "restore"):
        raise Ignored("shows state")
    if verb == "flush":
        _rule_flush(draft, ns, args[1:], family)
        return
    if verb not in ("add", "delete"):
        raise Unsupported(f"`ip rule {verb}`")
    words, spec = _parsed(_rule_words(args[1:]), family, parse_rule)
    for name in (spec.iif, spec.oif):
        if name is not None:
            draft.iface(ns, name)
    host = draft.host(ns)
    prefs = host.rule_prefs.setdefault(spec.family, [0, 32766, 32767])
    if verb == "add":
        if spec.priority is None:
            # The kernel picks one below the second rule's (fib_default_rule_pref) among
            # the rules there at that moment; the builder's kernel sees only the rules that
            # survive the listing (not those it deleted, nor kernel rules a change deletes
            # later), so it could pick another: the listing's pick is written out.
            pref = prefs[1] - 1 if len(prefs) > 1 and prefs[1] > 0 else 0
            words = [*words, "pref", str(pref)]
            draft.note(f"no `pref`: written with the one the kernel gives it here, {pref}")
            spec = parse_rule(" ".join(words))
        room(host.rules, "rules")
        bisect.insort(prefs, spec.priority)
        host.rules.append(IpLine(words, draft.line))
        return
    same = [r for r in host.rules if _rule_matches(spec, _rule_of(" ".join(r.words)))]
    if same:
        host.rules.remove(same[0])
        prefs.remove(int(parse_rule(" ".join(same[0].words)).priority or 0))
        draft.note(f"removes the rule of line {same[0].line}")
        return
    if spec.priority in prefs:
        prefs.remove(spec.priority)
    draft.changes.append(ChangeDraft(ns, "rule", ["del", *words], draft.line))
    draft.note("deletes a rule the listing did not add: written as a change", "change")


def _rule_words(args: list[str]) -> list[str]:
    """A rule's words with iproute2's abbreviations written out: its keywords, then in the
    last branch of iprule_modify `type`, `goto`, `nop` or a route type (`unr`, `bl`)."""
    words = ipwords.keywords("rule", args)
    out: list[str] = []
    for i, word in enumerate(words):
        value = i and words[i - 1] in _RULE_VALUED
        action = None if value else ipwords.lookup(word, ipwords.KEYWORDS["rule-action"])
        kind = None if value or action else ipwords.route_type(word)
        out.append(action.meaning if action else kind or word)
    return [w for i, w in enumerate(out) if w != "type" or (i and out[i - 1] in _RULE_VALUED)]


_RULE_VALUED = {e.meaning for e in ipwords.KEYWORDS["rule"] if e.values} | {"goto"}


def _rule_flush(draft: Draft, ns: str, args: list[str], family: int | None) -> None:
    """`ip rule flush`: every rule of the family (IPv4 unless -6) that has a priority goes,
    the kernel's `main` and `default` rules too; only priority 0 stays (flush_rule,
    iprule_list_flush_or_save)."""
    if args:
        raise Unsupported("a rule flush with a filter (the importer reads `ip rule flush`)")
    wanted = socket.AF_INET6 if family == 6 else socket.AF_INET
    host = draft.host(ns)
    gone = [r for r in host.rules if _rule_of(" ".join(r.words)).family == wanted]
    for rule in gone:
        host.rules.remove(rule)
    if gone:
        draft.note(f"removes the rules of lines {', '.join(str(r.line) for r in gone)}")
    prefs = host.rule_prefs.setdefault(wanted, [0, 32766, 32767])
    ours = {_rule_of(" ".join(r.words)).priority for r in gone}
    # IPv6 has no `default` rule of its own (fib6_rules_net_init adds local and main).
    kernel = [p for p in prefs if p and p not in ours and (p, wanted) != (32767, socket.AF_INET6)]
    for pref in kernel:
        words = (["-6"] if wanted == socket.AF_INET6 else []) + ["pref", str(pref)]
        draft.changes.append(ChangeDraft(ns, "rule", ["del", *words], draft.line))
        draft.note(f"removes the kernel's rule {pref}: written as a change", "change")
    host.rule_prefs[wanted] = [p for p in prefs if not p]


def _rule_matches(wanted: Any, rule: Any) -> bool:
    """Whether `ip rule del` with what `wanted` gives removes `rule` (fib_nl_delrule)."""
    fields = ("src", "dst", "fwmark", "fwmask", "iif", "oif", "priority", "table", "goto", "tos")
    return (
        wanted.family == rule.family
        and all(getattr(wanted, f) in (None, getattr(rule, f)) for f in fields)
        and wanted.action in ("lookup", rule.action)
        and (not wanted.invert or rule.invert)
    )


def _neigh_words(words: list[str]) -> list[str]:
    rest, address, proxy, pairs = list(words), None, [], []
    while rest:
        word = rest.pop(0)
        if word in ("lladdr", "dev", "nud") and rest:
            value = rest.pop(0)
            # A MAC's hex digits in either case are one address; a link name is case-sensitive.
            pairs += [word, value.lower() if word == "lladdr" else value]
        elif word == "proxy":
            proxy = ["proxy"]
        elif word == "to" and rest:
            address = rest.pop(0)
        elif address is None:
            address = word
        else:
            raise Unsupported(
                f"neighbour word {word!r} (the harness reads lladdr, dev, nud, proxy)"
            )
    if address is None:
        raise Unsupported("a neighbour without an address")
    return [*proxy, address, *pairs]


def _neigh(draft: Draft, ns: str, args: list[str], family: int | None) -> None:
    verb = command_of("neigh", args)
    if verb in SHOW or verb == "help":
        raise Ignored("shows state")
    if verb == "flush":
        _neigh_flush(draft, ns, args[1:], family)
        return
    words = _neigh_words(ipwords.keywords("neighbor", args[1:]))
    try:
        spec = parse_neigh(" ".join(words))
    except IpSyntaxError as exc:
        raise Unsupported(str(exc)) from None
    draft.iface(ns, spec.dev)
    host = draft.host(ns)
    if verb != "delete":
        room(host.neighbours, "neighbours")
    same = [n for n in host.neighbours if _neigh_key(n.words) == (spec.dst, spec.dev, spec.proxy)]
    if verb == "delete":
        if same:
            host.neighbours.remove(same[-1])
            draft.note(f"removes the neighbour of line {same[-1].line}")
        else:
            draft.changes.append(ChangeDraft(ns, "neigh", ["del", *words], draft.line))
            draft.note("deletes a neighbour the listing did not add: written as a change", "change")
        return
    if same and verb == "add":
        raise Unsupported(f"the neighbour of line {same[0].line} exists already (File exists)")
    for old in same:
        host.neighbours.remove(old)
    host.neighbours.append(IpLine(words, draft.line))


def _neigh_flush(draft: Draft, ns: str, args: list[str], family: int | None) -> None:
    """`ip neigh flush dev D [nud S ...]` (do_show_or_flush): without `nud` it flushes every
    entry but permanent and noarp ones; `nud all` everything but noarp ones."""
    words = ipwords.keywords("neighbor-filter", args)
    if not words:
        raise Unsupported("Flush requires arguments.")
    dev: str | None = None
    states: set[str] = set()
    while words:
        word = words.pop(0)
        if word in ("dev", "nud") and words:
            value = words.pop(0)
            dev, states = (value, states) if word == "dev" else (dev, states | {value})
        elif word in ("proxy", "master", "vrf", "nomaster", "unused", "proto"):
            raise Unsupported(f"`{word}` in a neighbour flush (the importer reads dev, nud)")
        elif dev is None and word != "to":
            dev = word
        else:
            raise Unsupported(f"unknown word {word!r} in a neighbour flush")
    if dev is None:
        raise Unsupported("a neighbour flush without a device")
    draft.iface(ns, dev)
    host = draft.host(ns)
    gone = []
    for item in host.neighbours:
        spec = parse_neigh(" ".join(item.words))
        nud = spec.nud or "permanent"
        flushed = nud in states or "all" in states if states else True
        flushed = flushed and nud != "noarp" and (bool(states) or nud != "permanent")
        version = spec.dst.version
        if spec.dev == dev and not spec.proxy and family in (None, version) and flushed:
            gone.append(item)
    for item in gone:
        host.neighbours.remove(item)
    if gone:
        draft.note(f"removes the neighbours of lines {', '.join(str(n.line) for n in gone)}")
    elif not states:
        raise Ignored("flushes learned entries only: permanent ones stay")


def _nexthop(draft: Draft, ns: str, args: list[str], family: int | None) -> None:
    """`ip nexthop add|replace|delete id N ...`: a host's nexthop objects (ipnh_modify)."""
    verb = command_of("nexthop", args)
    if verb in SHOW or verb in ("help", "bucket"):
        raise Ignored("shows state")
    if verb not in ("add", "replace", "delete"):
        raise Unsupported(f"`ip nexthop {verb}`")
    words = ipwords.keywords("nexthop", args[1:])
    words = ([f"-{family}"] if family else []) + words
    try:
        spec = parse_nexthop(" ".join(words))
    except IpSyntaxError as exc:
        raise Unsupported(str(exc)) from None
    if spec.id is None:
        raise Unsupported("a nexthop without `id N` (the kernel would pick one)")
    host = draft.host(ns)
    same = _nexthop_ids(host, str(spec.id))
    if verb == "delete":
        if not same:
            raise Unsupported(f"there is no nexthop id {spec.id} to delete")
        host.nexthops.remove(same[0])
        users = [r for r in host.routes if "nhid" in r.words and _uses_id(r.words, spec.id)]
        for route in users:  # the kernel removes the routes using it (remove_nexthop)
            host.routes.remove(route)
            draft.note(f"the route of line {route.line} goes with nexthop {spec.id}")
        return
    if spec.dev is not None:
        draft.iface(ns, spec.dev)
    if spec.via is not None and spec.dev is None:
        raise Unsupported("a nexthop with `via` needs `dev` (the kernel refuses it without)")
    if spec.via is not None and not spec.onlink and not _on_link(host, spec.via, spec.dev):
        raise Unsupported(f"the kernel refuses it here: {spec.via} is on no subnet of {spec.dev}")
    for member, _ in spec.group:
        if not _nexthop_ids(host, str(member)):
            raise Unsupported(f"group member {member} is no nexthop the listing made")
    if same and verb == "add":
        raise Unsupported(f"nexthop id {spec.id} exists already (File exists)")
    room(host.nexthops, "nexthops")
    words = [w for w in words if w not in ("-4", "-6")] if spec.via or spec.group else words
    if same:
        host.nexthops[host.nexthops.index(same[0])] = IpLine(words, draft.line)
    else:
        host.nexthops.append(IpLine(words, draft.line))


def _uses_id(words: list[str], nh_id: int) -> bool:
    return words[words.index("nhid") + 1] == str(nh_id)


def _neigh_key(words: list[str]) -> tuple[Any, ...]:
    return _neigh_of(" ".join(words))


# Each command compares its route, rule or neighbour with the host's earlier ones: parsed
# once each (a listing of 3,000 routes parsed 4.5 million times took minutes).
_route_of = functools.lru_cache(maxsize=4096)(parse_route)
_rule_of = functools.lru_cache(maxsize=4096)(parse_rule)


@functools.lru_cache(maxsize=4096)
def _neigh_of(text: str) -> tuple[Any, ...]:
    spec = parse_neigh(text)
    return (spec.dst, spec.dev, spec.proxy)


_HANDLERS: dict[str, Handler] = {
    "address": _addr,
    "link": link,
    "route": ip_route,
    "rule": _rule,
    "neighbor": _neigh,
    "nexthop": _nexthop,
    "tuntap": tuntap,
}
