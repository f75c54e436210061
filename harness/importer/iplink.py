"""`ip netns`, `ip link` and `ip tuntap` (iproute2) -> the draft's hosts and links.

Objects, commands and keywords may be abbreviated as iproute2 allows (`ip a a`,
`ip li s`, `ip -n ns r add`, `ip link set x txql 10`): harness/importer/ipwords.py
holds iproute2's own tables, in the order iproute2 tries them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.importer import ipwords
from harness.importer.model import ChangeDraft, Draft, Iface, Ignored, Unsupported
from harness.scenario.ipsyntax.tokens import MAC
from harness.scenario.link_kinds import IP_LINK_KINDS, TUNTAP_KINDS

SHOW = ("show", "list", "lst", "get", "showdump", "save")
# The kinds `ip link add ... type KIND` makes that the harness has a row for.
_LINK_KINDS = IP_LINK_KINDS
Handler = Callable[[Draft, str, list[str], int | None], None]
Dispatch = Callable[[Draft, str, list[str]], None]


def command_of(obj: str, args: list[str], default: str = "") -> str:
    """The command of `ip OBJ`, abbreviations resolved as iproute2 does (none given: the
    object's default, or `default`)."""
    obj = {"neigh": "neighbor"}.get(obj, obj)
    if not args and default:
        return default
    try:
        return ipwords.ip_verb(obj, args)
    except ipwords.IpWordError as exc:
        raise Unsupported(str(exc)) from None


# --------------------------------------------------------------------------- netns


def netns(draft: Draft, ns: str, args: list[str], dispatch: Dispatch) -> None:
    """`ip netns add|exec|...`: a host per namespace; `exec` runs its command there."""
    del ns
    verb = command_of("netns", args, "list")
    if verb == "add" and len(args) == 2:
        draft.add_namespace(args[1])
    elif verb == "exec" and len(args) >= 3:
        draft.host(args[1])
        dispatch(draft, args[1], args[2:])
    elif verb == "delete":
        raise Ignored("a tear-down: left out")
    elif verb == "set":
        raise Ignored("assigns a namespace id; nothing a scenario sees")
    elif verb in ("list", "show", "identify", "pids", "monitor", "list-id", "help"):
        raise Ignored("shows state")
    else:
        raise Unsupported(f"`ip netns {' '.join(args)}`")


# --------------------------------------------------------------------------- link


def link(draft: Draft, ns: str, args: list[str], family: int | None) -> None:
    """`ip link add|set|del|show`."""
    del family
    verb = command_of("link", args)
    words = ipwords.keywords("link", args[1:])
    if verb == "add":
        _link_add(draft, ns, words)
    elif verb == "set":
        _link_set(draft, ns, words)
    elif verb == "delete":
        rest = [w for w in words if w != "dev"]
        if not rest:
            raise Unsupported("`ip link del` without a device")
        draft.delete(ns, rest[0])
    elif verb in ("show", "xstats", "afstats", "help"):
        raise Ignored("shows state")
    else:
        raise Unsupported(f"`ip link {verb}`")


# Words of ipwords.KEYWORDS["link"] (written in full there) a topology has no field for.
_UNSAID = {"numtxqueues", "numrxqueues", "group", "alias"}
_UNSAID_SET = _UNSAID | {"promisc", "multicast", "allmulticast", "type"}
MTU_MAX = 65535  # the topology's bound (Interface.mtu); the kernel's is each kind's max_mtu


def sized(word: str, value: str) -> int:
    """`mtu N` or `txqueuelen N` (iplink_parse: get_integer, base 0)."""
    try:
        number = int(value, 0)
    except ValueError:
        raise Unsupported(f'Invalid "{word}" value {value!r}') from None
    top = MTU_MAX if word == "mtu" else 0xFFFFFFFF
    if not (1 if word == "mtu" else 0) <= number <= top:
        raise Unsupported(f"{word} {value}: the harness takes {word} up to {top}")
    return number


def _link_options(words: list[str], draft: Draft) -> dict[str, Any]:
    """Options of one end of `ip link add` (up to `type`, or the words after `peer`)."""
    options: dict[str, Any] = {}
    while words:
        word = words.pop(0)
        if word in ("name", "dev", "link", "netns", "address") and words:
            options[{"dev": "name"}.get(word, word)] = words.pop(0)
        elif word == "up":
            options["up"] = True
        elif word == "type":
            options["type"] = words.pop(0) if words else ""
            options["args"] = list(words)
            words.clear()
        elif word in ("mtu", "txqueuelen") and words:
            options[word] = sized(word, words.pop(0))
        elif word in _UNSAID and words:
            options.setdefault("unsaid", []).append(f"{word} {words.pop(0)}")
        elif "name" not in options:
            options["name"] = word
        else:
            raise Unsupported(f"unknown word {word!r}")
    return options


def _mac(value: str | None) -> str | None:
    if value is not None and not MAC.fullmatch(value):
        raise Unsupported(f"{value!r} is not a MAC address")
    return None if value is None else value.lower()


def _link_add(draft: Draft, ns: str, words: list[str]) -> None:
    options = _link_options(list(words), draft)
    kind, args, name = options.get("type"), options.get("args", []), options.get("name")
    if kind not in _LINK_KINDS:
        kinds = ", ".join(sorted(_LINK_KINDS))
        raise Unsupported(f"link type {kind}: the harness makes {kinds}, tun and tap")
    if not name:
        raise Unsupported("a link without a name")
    here = options.get("netns", ns)
    iface = Iface(kind, draft.line, up=bool(options.get("up")), mac=_mac(options.get("address")))
    iface.mtu, iface.txqueuelen = options.get("mtu"), options.get("txqueuelen")
    if kind == "veth":
        if not args or args[0] != "peer":  # link_veth.c: strcmp
            raise Unsupported("a veth without `peer NAME` (the kernel would name the peer)")
        peer = _link_options(ipwords.keywords("link", args[1:]), draft)
        if not peer.get("name") or "type" in peer:
            raise Unsupported("a veth peer needs a name")
        there = peer.get("netns", ns)  # the peer is born where the command runs
        draft.host(here), draft.host(there)
        other = Iface("veth", draft.line, up=bool(peer.get("up")), mac=_mac(peer.get("address")))
        other.mtu, other.txqueuelen = peer.get("mtu"), peer.get("txqueuelen")
        iface.peer, other.peer = (there, peer["name"]), (here, name)
        if here == there and name == peer["name"]:
            raise Unsupported("both ends have the same name")
        # Both names first: the kernel makes both ends or neither (veth_newlink).
        draft.check_free(here, name)
        draft.check_free(there, peer["name"])
        draft.create(here, name, iface)
        draft.create(there, peer["name"], other)
        _left_out(draft, options.get("unsaid", []) + peer.get("unsaid", []))
        return
    if kind in ("macvlan", "ipvlan"):
        if "link" not in options:
            raise Unsupported(f"a {kind} needs `link PARENT`")
        if here != ns:
            raise Unsupported(f"a {kind} made in another namespace than its parent")
        draft.iface(ns, options["link"])
        iface.parent = options["link"]
        # Said explicitly: the kernel's default (macvlan: vepa, ipvlan: l3) is not the harness's.
        iface.mode = _kind_arg(args, "mode", kind) or {"macvlan": "vepa", "ipvlan": "l3"}[kind]
    elif kind == "vrf":
        table = _kind_arg(args, "table", kind)
        if table is None or not table.isdigit():
            raise Unsupported("a vrf needs `table N`")
        iface.table = int(table)
    elif args:
        options.setdefault("unsaid", []).append(" ".join(args))
    draft.create(here, name, iface)
    _left_out(draft, options.get("unsaid", []))


def _left_out(draft: Draft, unsaid: list[str]) -> None:
    """Report settings a topology has no field for (once the rest is translated)."""
    for words in unsaid:
        draft.note(f"`{words}` left out: a topology has no such setting", "partly")


def _kind_arg(args: list[str], key: str, kind: str) -> str | None:
    words = list(args)
    value = None
    while words:
        word = words.pop(0)
        if word == key and words:
            value = words.pop(0)
        elif kind == "ipvlan" and word == "bridge":
            continue  # ipvlan's default flag, which the harness makes too
        else:
            raise Unsupported(f"{kind} option {word!r}")
    return value


def _link_set(draft: Draft, ns: str, words: list[str]) -> None:
    words = list(words)
    settings: dict[str, str] = {}
    sizes: dict[str, int] = {}
    unsaid: list[str] = []
    dev: str | None = None
    while words:
        word = words.pop(0)
        if word in ("up", "down"):
            settings["state"] = word
        elif word == "nomaster":
            settings["master"] = ""
        elif word in ("dev", "name", "netns", "address", "master", "vrf", "arp") and words:
            value = words.pop(0)
            if word == "dev":
                dev = value
            else:
                settings["master" if word == "vrf" else word] = value
        elif word in ("mtu", "txqueuelen") and words:
            sizes[word] = sized(word, words.pop(0))
        elif word in _UNSAID_SET and words:
            left = [word, *words] if word == "type" else [word, words.pop(0)]
            words = [] if word == "type" else words
            unsaid.append(" ".join(left))
        elif dev is None:
            dev = word
        else:
            raise Unsupported(f"unknown word {word!r}")
    if dev is None:
        raise Unsupported("`ip link set` without a device")
    iface = draft.iface(ns, dev)
    master = settings.get("master") or None
    made = draft.host(settings.get("netns", ns)).interfaces.get(master or "")
    if master is not None and (made is None or made.kind not in ("bridge", "vrf")):
        raise Unsupported(f"master {master} is no bridge or vrf the listing made")
    address = _mac(settings.get("address"))
    if "netns" in settings:  # the kernel moves first, renaming on the way (do_setlink)
        target = settings["netns"]
        draft.move(ns, dev, target)
        ns = target
        if "name" in settings:
            new = settings.pop("name")
            draft.rename(ns, dev, new)
            dev = new
    if address is not None:
        iface.mac = address
    if "name" in settings:
        draft.rename(ns, dev, settings["name"])
        dev = settings["name"]
    if "master" in settings:
        iface.master = master
    if "state" in settings:
        iface.up = settings["state"] == "up"
    iface.mtu = sizes.get("mtu", iface.mtu)
    iface.txqueuelen = sizes.get("txqueuelen", iface.txqueuelen)
    if settings.get("arp") == "off":
        draft.changes.append(ChangeDraft(ns, "link", ["set", dev, "arp", "off"], draft.line))
        draft.note("`arp off`: a topology has no such field; written as a change", "change")
    _left_out(draft, unsaid)


# --------------------------------------------------------------------------- tuntap


def tuntap(draft: Draft, ns: str, args: list[str], family: int | None) -> None:
    """`ip tuntap add|del|show`: a tun or tap device, whose fd the harness will hold."""
    del family
    verb = command_of("tuntap", args)
    words = list(args[1:])
    name = mode = None
    unsaid: list[str] = []
    while words:
        word = words.pop(0)
        if word in ("dev", "name", "mode", "user", "group") and words:
            value = words.pop(0)
            name = value if word in ("dev", "name") else name
            mode = value if word == "mode" else mode
        elif word in ("pi", "vnet_hdr", "multi_queue"):
            unsaid.append(word)
        elif word == "one_queue":
            continue
        elif name is None:
            name = word
        else:
            raise Unsupported(f"unknown word {word!r}")
    if verb in ("show", "help"):
        raise Ignored("shows state")
    if name is None:
        raise Unsupported("`ip tuntap` without a device name")
    if verb == "delete":
        draft.delete(ns, name)
        return
    if mode not in TUNTAP_KINDS:
        raise Unsupported("`ip tuntap add` needs `mode tun` or `mode tap`")
    draft.create(ns, name, Iface(mode, draft.line))
    draft.note(f"{name}: the harness holds the {mode} device's fd (so it has carrier) and reads it")
    _left_out(draft, unsaid)
