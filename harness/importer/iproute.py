"""`ip addr`, `ip route`, `ip rule` and `ip neigh` (iproute2) -> the draft, and `ip` itself.

Routes, rules and neighbours keep the listing's words (the harness reads
iproute2's syntax, harness/scenario/ipsyntax/), put in the order that syntax wants and
checked with its parsers here.  A delete of something the listing added
removes it; a delete of something the kernel made (a `proto kernel` route,
a local-table entry) cannot be said by a topology and becomes a case's change.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import socket
from collections.abc import Callable
from typing import Any

from harness.importer.iplink import (
    OBJECTS,
    SHOW,
    Dispatch,
    Handler,
    command_of,
    link,
    netns,
    resolve,
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
    parse_route,
    parse_rule,
)

# Options that change only how `ip` prints.
_PRINTING = (
    "-d -details -s -stats -statistics -j -json -p -pretty -br -brief -c -color -o "
    "-oneline -t -timestamp -r -resolve -h -human -human-readable -a -all -N -numeric"
)
_GLOBAL_FLAGS = frozenset(_PRINTING.split())
_ROUTE_VALUED = {"via", "dev", "scope", "src", "table", "metric", "priority", "preference"}
_ROUTE_VALUED |= {"proto", "protocol", "tos", "dsfield"}


def ip(draft: Draft, ns: str, args: list[str], dispatch: Dispatch) -> None:
    """`ip [OPTIONS] OBJECT [COMMAND ...]` run in namespace `ns`."""
    family: int | None = None
    args = list(args)
    while args and args[0].startswith("-"):
        option = args.pop(0)
        if option in ("-n", "-netns", "--netns"):
            if not args:
                raise Unsupported(f"{option} needs a namespace name")
            ns = args.pop(0)
            draft.host(ns)
        elif option in ("-4", "-6"):
            family = int(option[1])
        elif option in ("-f", "-family"):
            name = args.pop(0) if args else ""
            family = {"inet": 4, "inet6": 6}.get(name)
            if family is None:
                raise Unsupported(f"family {name!r}")
        elif option in _GLOBAL_FLAGS or option.startswith("-c="):
            continue
        else:
            raise Unsupported(f"ip option {option}")
    if not args:
        raise Ignored("`ip` alone prints its usage")
    obj = resolve(args.pop(0), OBJECTS, "ip object")
    if obj == "netns":
        netns(draft, ns, args, dispatch)
        return
    handler = _HANDLERS.get(obj)
    if handler is None:
        raise Unsupported(f"`ip {obj}` is not translated (the harness has no {obj} field)")
    handler(draft, ns, args, family)


# --------------------------------------------------------------------------- addr


def _addr(draft: Draft, ns: str, args: list[str], family: int | None) -> None:
    verb = command_of("address", args)
    if verb in SHOW:
        raise Ignored("shows state")
    words = list(args[1:])
    dev = local = None
    while words:
        word = words.pop(0)
        if word in ("dev", "local") and words:
            value = words.pop(0)
            dev, local = (value, local) if word == "dev" else (dev, value)
        elif word in ("broadcast", "brd") and words:
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
        elif local is None and verb != "flush":
            local = word
        elif dev is None:
            dev = word
        else:
            raise Unsupported(f"unknown word {word!r}")
    if dev is None:
        raise Unsupported("an address command without `dev`")
    iface = draft.iface(ns, dev)
    if verb == "flush":
        kept = [a for a in iface.addresses if family and a.iface.version != family]
        if len(kept) < len(iface.addresses):
            draft.note(f"flushes the addresses of {dev} given earlier")
        iface.addresses = kept
        return
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


# --------------------------------------------------------------------------- route, rule, neigh


def _route_words(words: list[str]) -> list[str]:
    """A route's words in the order harness/scenario/ipsyntax wants:
    [TYPE] PREFIX KEY VALUE ... onlink."""
    rest = list(words)
    kind = prefix = None
    pairs: list[str] = []
    flags: list[str] = []
    while rest:
        word = rest.pop(0)
        if word in _ROUTE_VALUED and rest:
            pairs += [{"priority": "metric"}.get(word, word), rest.pop(0)]
        elif word == "onlink":
            flags.append(word)
        elif word in ROUTE_TYPES and kind is None and prefix is None:
            kind = word
        elif word == "to" and rest and prefix is None:
            prefix = rest.pop(0)
        elif prefix is None:
            prefix = word
        else:
            known = ", ".join(sorted(_ROUTE_VALUED))
            raise Unsupported(f"route word {word!r} (the harness reads: {known}, onlink)")
    if prefix is None:
        raise Unsupported("a route without a destination")
    return [w for w in (kind, prefix) if w is not None] + pairs + flags


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
    if verb in SHOW:
        raise Ignored("shows state")
    if verb not in ("add", "change", "replace", "delete"):
        raise Unsupported(f"`ip route {verb}`")
    host = draft.host(ns)
    words = list(args[1:])
    if "vrf" in words[:-1]:  # `vrf NAME`: the VRF's table
        at = words.index("vrf")
        vrf = host.interfaces.get(words[at + 1])
        if vrf is None or vrf.kind != "vrf":
            raise Unsupported(f"vrf {words[at + 1]} is no VRF the listing made")
        words[at : at + 2] = ["table", str(vrf.table)]
    words, spec = _parsed(_route_words(words), family, parse_route)
    if spec.dev is not None:
        draft.iface(ns, spec.dev)
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
    if spec.via is not None and not spec.onlink and not _on_link(host, spec):
        raise Unsupported(
            f"the kernel refuses it here: {spec.via} is on no subnet this host reaches "
            "directly yet (Network is unreachable)"
        )
    for old in same:
        host.routes.remove(old)
    host.routes.append(IpLine(words, draft.line))


def _on_link(host: Host, spec: Any) -> bool:
    """Whether the gateway is directly reachable (fib_check_nh): on a subnet of one of the
    host's addresses, or covered by a route without gateway (link-local: always)."""
    via = spec.via
    if via.is_link_local:
        return True
    for name, iface in host.interfaces.items():
        if spec.dev in (None, name) and any(via in a.iface.network for a in iface.addresses):
            return True
    for route in host.routes:
        other = parse_route(" ".join(route.words))
        direct = other.via is None and other.type == "unicast" and spec.dev in (None, other.dev)
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
    if verb in SHOW:
        raise Ignored("shows state")
    if verb not in ("add", "delete"):
        raise Unsupported(f"`ip rule {verb}`")
    words, spec = _parsed(list(args[1:]), family, parse_rule)
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
    del family
    verb = command_of("neigh", args)
    if verb in SHOW:
        raise Ignored("shows state")
    if verb == "flush":
        raise Unsupported("`ip neigh flush`")
    words = _neigh_words(args[1:])
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
    "neighbour": _neigh,
    "tuntap": tuntap,
    "tap": tuntap,
}
