"""net-tools and friends: `ifconfig`, `route`, `sysctl`, `echo V > /proc/sys/...`, `brctl`.

Each is read as what the kernel makes of it, so that the topology says the
same as iproute2 would show afterwards:
- `ifconfig IF ADDR` sets the interface's first address (or the alias
  `IF:N`'s), with the classful netmask when none is given (inet_abc_len in
  net/ipv4/devinet.c: 10.1.2.3 gets /8), and brings the interface up;
- `route add` becomes the `ip route` line the kernel installs for it
  (rtentry_to_fib_config: scope link without a gateway, `reject` an
  unreachable route of scope host, `metric N` as metric N).
"""

from __future__ import annotations

import ipaddress
import re

from harness.importer.iplink import sized
from harness.importer.iproute import ip_route
from harness.importer.model import Address, Draft, Iface, Ignored, Unsupported, room


def _classful(address: ipaddress.IPv4Address) -> int:
    first = int(address) >> 24
    if first < 128:
        return 8
    if first < 192:
        return 16
    if first < 224:
        return 24
    raise Unsupported(f"{address} has no classful netmask (multicast or reserved)")


def _prefix_len(mask: str) -> int:
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
    except ValueError:
        raise Unsupported(f"{mask!r} is not a netmask") from None


def ifconfig(draft: Draft, ns: str, words: list[str]) -> None:
    """`ifconfig IF [ADDR[/LEN]] [netmask M] [broadcast B] [up|down] [hw ether MAC] ...`."""
    if not words or words[0] in ("-a", "-s", "-v") or len(words) == 1:
        raise Ignored("shows state")
    name, rest = words[0], list(words[1:])
    base, _, alias = name.partition(":")
    iface = draft.iface(ns, base)
    address: str | None = None
    mask: str | None = None
    state: bool | None = None
    while rest:
        word = rest.pop(0)
        if word in ("up", "down"):
            state = word == "up"
        elif word == "netmask" and rest:
            mask = rest.pop(0)
        elif word in ("broadcast", "-broadcast"):
            if rest and word == "broadcast":
                rest.pop(0)
            draft.note("the broadcast address is left out: a topology has none", "partly")
        elif word == "hw" and len(rest) >= 2 and rest[0] == "ether":
            iface.mac = rest[1].lower()
            rest = rest[2:]
        elif word == "inet6" and len(rest) >= 2 and rest[0] in ("add", "del"):
            _inet6(draft, iface, rest[0], rest[1])
            rest = rest[2:]
        elif word in ("mtu", "txqueuelen") and rest:  # SIOCSIFMTU, SIOCSIFTXQLEN
            setattr(iface, word, sized(word, rest.pop(0)))
        elif word == "metric" and rest:
            draft.note(f"`{word} {rest.pop(0)}` left out: a topology has no {word}", "partly")
        elif word in ("arp", "-arp", "promisc", "-promisc", "multicast", "allmulti", "-allmulti"):
            draft.note(f"`{word}` left out", "partly")
        elif address is None and not word.startswith("-"):
            address = word
        else:
            raise Unsupported(f"ifconfig word {word!r}")
    if address is not None:
        _set_address(draft, iface.addresses, name, address, mask)
        state = True if state is None else state  # ifconfig brings the interface up with it
    elif mask is not None:
        raise Unsupported("a netmask without an address")
    if state is not None and not (alias and state is False):
        iface.up = state
    elif alias and state is False:
        raise Unsupported("taking an alias down (it deletes the alias's address)")


def _set_address(
    draft: Draft, addresses: list[Address], label: str, word: str, mask: str | None
) -> None:
    try:
        if "/" in word:
            iface = ipaddress.IPv4Interface(word)
        else:
            ip = ipaddress.IPv4Address(word)
            length = _prefix_len(mask) if mask else _classful(ip)
            iface = ipaddress.IPv4Interface(f"{ip}/{length}")
    except ValueError:
        raise Unsupported(f"{word!r} is not an IPv4 address") from None
    if mask and "/" in word:
        iface = ipaddress.IPv4Interface(f"{iface.ip}/{_prefix_len(mask)}")
    if not mask and "/" not in word:
        draft.note(
            f"no netmask: the kernel gives {iface.ip} its class's, /{iface.network.prefixlen}"
        )
    # SIOCSIFADDR replaces the address carrying this label (the primary one for IF).
    base = label.partition(":")[0]
    same = [
        i for i, a in enumerate(addresses) if (a.label or base) == label and a.iface.version == 4
    ]
    entry = Address(iface, draft.line, label if label != base else None)
    if same:
        addresses[same[0]] = entry
    else:
        room(addresses, "addresses on one interface")
        addresses.append(entry)


def _inet6(draft: Draft, iface: Iface, verb: str, word: str) -> None:
    try:
        address = ipaddress.IPv6Interface(word if "/" in word else f"{word}/128")
    except ValueError:
        raise Unsupported(f"{word!r} is not an IPv6 address") from None
    if verb == "add":
        room(iface.addresses, "addresses on one interface")
        iface.addresses.append(Address(address, draft.line))
    else:
        iface.addresses = [a for a in iface.addresses if a.iface != address]


def route(draft: Draft, ns: str, words: list[str]) -> None:
    """net-tools `route add|del [-net|-host] TARGET [netmask M] [gw G] [metric N] [dev] IF`."""
    rest = [w for w in words if w not in ("-n", "-e", "-ee", "-v", "-F", "-C")]
    if not rest:
        raise Ignored("shows state")
    if rest[0] in ("-A", "-6", "--inet6") or rest[0] not in ("add", "del"):
        raise Unsupported(f"`route {' '.join(words)}` (the importer reads IPv4 route add|del)")
    verb, rest = rest[0], rest[1:]
    kind = None
    if rest and rest[0] in ("-net", "-host"):
        kind = rest.pop(0)
    if not rest:
        raise Unsupported("a route without a target")
    target = rest.pop(0)
    values: dict[str, str] = {}
    reject = False
    while rest:
        word = rest.pop(0)
        if word in ("netmask", "gw", "metric", "dev") and rest:
            values[word] = rest.pop(0)
        elif word == "reject":
            reject = True
        elif word in ("mss", "window", "irtt") and rest:
            draft.note(
                f"`{word} {rest.pop(0)}` left out: a topology's route has no {word}", "partly"
            )
        elif "dev" not in values and not rest:
            values["dev"] = word  # net-tools: `dev` may be left out before the last word
        else:
            raise Unsupported(f"route word {word!r}")
    prefix = _target(target, kind, values.get("netmask"))
    if ":" in values.get("dev", ""):
        raise Unsupported("`dev IF:N` (the kernel then takes the alias's address as source)")
    line = (["unreachable"] if reject else []) + [prefix]
    line += ["via", values["gw"]] if "gw" in values else []
    line += ["dev", values["dev"]] if "dev" in values else []
    line += ["metric", values["metric"]] if "metric" in values else []
    line += ["scope", "host"] if reject and verb == "add" else []
    draft.note(f"read as `ip route {verb} {' '.join(line)}`")
    ip_route(draft, ns, [verb, *line], None)


def _target(target: str, kind: str | None, mask: str | None) -> str:
    if target == "default":
        return "default"
    try:
        if "/" in target:
            return str(ipaddress.IPv4Network(target))
        address = ipaddress.IPv4Address(target)
    except ValueError:
        raise Unsupported(f"route target {target!r} is not an IPv4 address or prefix") from None
    if mask is not None:
        return str(ipaddress.IPv4Network(f"{address}/{_prefix_len(mask)}", strict=False))
    if kind == "-host":
        return f"{address}/32"
    raise Unsupported("`-net` without a netmask (net-tools refuses it: SIOCADDRT Invalid argument)")


def sysctl(draft: Draft, ns: str, words: list[str]) -> None:
    """`sysctl [-q] [-w] KEY=VALUE ...`; reading a key shows state."""
    settings = [w for w in words if not w.startswith("-")]
    if any(w.startswith(("-p", "--load", "--system")) for w in words):
        raise Unsupported("`sysctl -p` reads a file the listing does not show")
    if not settings or not all("=" in w for w in settings):
        raise Ignored("shows state")
    for setting in settings:
        key, _, value = setting.partition("=")
        draft.set_sysctl(ns, key.strip(), value.strip())


def echo(draft: Draft, ns: str, words: list[str], target: str) -> None:
    """`echo VALUE > /proc/sys/KEY`: a sysctl."""
    match = re.fullmatch(r"/proc/sys/(.+)", target)
    if match is None:
        raise Unsupported(f"writes to {target}, not to /proc/sys")
    values = [w for w in words[1:] if w not in ("-n", "-e")]
    draft.set_sysctl(ns, match.group(1), " ".join(values))  # a path: eth0.5 stays one name


def brctl(draft: Draft, ns: str, words: list[str]) -> None:
    """bridge-utils: `brctl addbr BR`, `brctl addif BR IF`, `brctl delif BR IF`."""
    if not words or words[0] in ("show", "showmacs", "showstp"):
        raise Ignored("shows state")
    if words[0] == "addbr" and len(words) == 2:
        draft.create(ns, words[1], Iface("bridge", draft.line))
    elif words[0] in ("addif", "delif") and len(words) >= 3:
        bridge = draft.host(ns).interfaces.get(words[1])
        if bridge is None or bridge.kind != "bridge":
            raise Unsupported(f"{words[1]} is no bridge the listing made")
        for name in words[2:]:
            draft.iface(ns, name).master = words[1] if words[0] == "addif" else None
    elif words[0] == "stp" and words[2:] in (["off"], ["no"]):
        raise Ignored("STP is off on a new bridge already")
    else:
        raise Unsupported(f"`brctl {' '.join(words)}`")
