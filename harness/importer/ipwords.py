"""iproute2's own words: which option, object, command or keyword an `ip` word means.

iproute2 lets a word be abbreviated to any prefix (`matches()` in lib/utils.c:
a non-empty prefix of the full word), tries the words of each place in a fixed
order and takes the first that fits; some words must be written in full
(`strcmp`).  So `ip -n NS` is `-netns` and `ip -f inet` is `-family`, `ip r a`
is `ip route add`, `ip link s` is `set` (before `show`), and in a route `d` is
`dsfield` while `de` is no keyword at all.

The tables below are copied, in iproute2's order, from iproute2 7.1.0
(git v7.1.0-55-gee2a4a86, github.com/iproute2/iproute2):
- GLOBAL_OPTIONS: ip/ip.c main() (and lib/color.c matches_color);
- OBJECTS: ip/ip.c cmds[] (do_cmd);
- VERBS: do_iproute (ip/iproute.c), do_ipaddr (ip/ipaddress.c), do_iprule
  (ip/iprule.c), do_ipneigh (ip/ipneigh.c), do_iplink (ip/iplink.c), do_ipnh
  (ip/ipnexthop.c), do_iptuntap (ip/iptuntap.c), do_netns (ip/ipnetns.c);
- KEYWORDS: iproute_modify, parse_one_nh and iproute_list_flush_or_save
  (ip/iproute.c), iprule_modify and iprule_list_flush_or_save (ip/iprule.c),
  ipaddr_modify and ipaddr_list_flush_or_save (ip/ipaddress.c), iplink_parse
  (ip/iplink.c), ipneigh_modify and do_show_or_flush (ip/ipneigh.c), ipnh_modify
  (ip/ipnexthop.c), rtnl_rtntype_a2n (ip/rtm_map.c).

A table is written as one string of entries in that order: `word` is tried with
matches() (any prefix), `word!` with strcmp (in full only); `=meaning` names
the word it stands for when that differs (`chg!=change`); `:N` says how many
values follow it (which are never read as keywords).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass


class IpWordError(ValueError):
    """A word iproute2 would refuse; the message is iproute2's own where it has one."""


@dataclass(frozen=True)
class Word:
    """One entry of a table: how it is written, what it means, how it is matched."""

    spelling: str
    meaning: str
    exact: bool = False  # strcmp: only the full word
    values: int = 0  # words after it that are its values

    def fits(self, word: str) -> bool:
        """Whether `word` is this entry (iproute2's matches(), or strcmp when exact)."""
        if self.exact:
            return word == self.spelling
        return bool(word) and self.spelling.startswith(word)


Table = tuple[Word, ...]


def table(text: str) -> Table:
    """Entries from `word[!][=meaning][:N]` items, in order (see the module's docstring)."""
    entries = []
    for item in text.split():
        item, _, values = item.partition(":")
        item, _, meaning = item.partition("=")
        exact = item.endswith("!")
        spelling = item.rstrip("!")
        entries.append(Word(spelling, meaning or spelling, exact, int(values or 0)))
    return tuple(entries)


def lookup(word: str, entries: Table) -> Word | None:
    """The first entry `word` is, as iproute2 tries them; None when none is."""
    key = (id(entries), word)
    if key in _SEEN:
        return _SEEN[key]
    found = next((entry for entry in entries if entry.fits(word)), None)
    if len(_SEEN) >= _SEEN_MAX:  # a listing's words are few; a fuzzed one's are not
        _SEEN.clear()
    _SEEN[key] = found
    return found


# Every table is a module constant (its id stays), and a listing repeats its words: each
# (table, word) is looked up once (a listing of 50,000 commands looked each up 40 times).
_SEEN: dict[tuple[int, str], Word | None] = {}
_SEEN_MAX = 4096


# --------------------------------------------------------------------------- options

# ip/ip.c main(): an option is tried against these in this order ("--x" is read as "-x").
# `-color` stands for matches_color (lib/color.c): `-c`, `-col`, `-color=auto|always|never`.
GLOBAL_OPTIONS = table(
    "-loops:1 -family:1 -4! -6! -0! -M! -B! -human -human-readable=-human -iec -stats "
    "-statistics=-stats -details -resolve -oneline -timestamp -tshort -Version -force "
    "-batch:1 -brief -json -pretty -rcvbuf:1 -color -help -netns:1 -Numeric -all -echo!"
)
_COLORS = ("", "always", "auto", "never")


@functools.lru_cache(maxsize=1024)  # a listing repeats its options on every line
def option(written: str) -> Word | None:
    """The global option `written` is (`--x` read as `-x`), as ip.c tries them; None: unknown."""
    name = written[1:] if written.startswith("--") else written
    for entry in GLOBAL_OPTIONS:
        if entry.meaning == "-color":
            stem, eq, value = name.partition("=")
            if entry.fits(stem) and (value if eq else "") in _COLORS and (value or not eq):
                return entry
        elif entry.fits(name):
            return entry
    return None


def split_options(args: Sequence[str]) -> tuple[list[tuple[str, str | None]], list[str]]:
    """`ip`'s global options, each as (its full name, its value or None), and the words after
    them; IpWordError with iproute2's message for an option it does not know."""
    options: list[tuple[str, str | None]] = []
    rest = list(args)
    while rest and rest[0].startswith("-"):
        written = rest.pop(0)
        if written == "--":
            break
        entry = option(written)
        if entry is None:
            raise IpWordError(f'Option "{written}" is unknown, try "ip -help".')
        value = None
        if entry.values:
            if not rest:
                raise IpWordError(f'option "{written}" ({entry.meaning}) needs an argument')
            value = rest.pop(0)
        options.append((entry.meaning, value))
    return options, rest


# read_family (lib/utils.c): `-family` takes these, in full.
FAMILIES = {"inet": 4, "inet6": 6, "link": 0, "mpls": 0, "bridge": 0}


# --------------------------------------------------------------------------- objects, commands

OBJECTS = table(
    "address addrlabel maddress route rule neighbor neighbour ntable ntbl link l2tp fou ila "
    "macsec tunnel tunl tuntap tap token tcpmetrics tcp_metrics monitor xfrm mroute mrule "
    "netns netconf vrf sr nexthop mptcp ioam help stats"
)
# The meaning every `ip OBJECT` handler below uses (neighbour is neighbor's twin, tap tuntap's).
_SAME_OBJECT = {"neighbour": "neighbor", "tap": "tuntap", "ntbl": "ntable", "tunl": "tunnel"}

# Each object's commands in the order its do_* function tries them; list and lst are show.
VERBS: dict[str, Table] = {
    "route": table(
        "add change chg!=change replace prepend append test delete list=show show lst=show "
        "get flush save restore showdump help"
    ),
    "address": table(
        "add change chg!=change replace delete list=show show lst=show flush save showdump "
        "restore help"
    ),
    "rule": table("list=show lst=show show save restore add delete flush help"),
    "neighbor": table(
        "add change chg!=change replace delete get show lst=show list=show flush help"
    ),
    "link": table(
        "add set change=set replace delete show lst=show list=show xstats afstats property help"
    ),
    "nexthop": table("add replace delete list=show show lst=show get flush bucket help"),
    "tuntap": table("add delete show lst=show list=show help"),
    "netns": table(
        "list=show show lst=show list-id help add set delete identify pids exec monitor attach"
    ),
}
# What each object does without a command (do_*: argc < 1).
DEFAULT_VERB = {
    "route": "show",
    "address": "show",
    "rule": "show",
    "neighbor": "show",
    "link": "show",
    "nexthop": "show",
    "tuntap": "show",
    "netns": "show",
}


def ip_object(word: str) -> str:
    """The object `word` names (ip.c do_cmd), neighbour and tap as neighbor and tuntap."""
    entry = lookup(word, OBJECTS)
    if entry is None:
        raise IpWordError(f'Object "{word}" is unknown, try "ip help".')
    return _SAME_OBJECT.get(entry.meaning, entry.meaning)


def ip_verb(obj: str, args: Sequence[str]) -> str:
    """The command of `ip OBJ ARGS` (its first word resolved; none: the object's default)."""
    if not args:
        return DEFAULT_VERB[obj]
    entry = lookup(args[0], VERBS[obj])
    if entry is None:
        raise IpWordError(f'Command "{args[0]}" is unknown, try "ip {obj} help".')
    return entry.meaning


# --------------------------------------------------------------------------- keywords

# rtnl_rtntype_a2n (ip/rtm_map.c): a route type, or a rule's action.
ROUTE_TYPE_WORDS = table(
    "local! nat! broadcast brd!=broadcast anycast multicast prohibit unreachable blackhole "
    "xresolve unicast throw!"
)

KEYWORDS: dict[str, Table] = {
    # iproute_modify: `ip route add|change|replace|prepend|append|delete ...`.  Words that
    # fit none are `to`, a route type or the prefix; `nexthop` (in full) starts the next hops.
    "route": table(
        "src!:1 as!:1 via!:1 from!:1 tos!:1 dsfield=tos:1 expires!:1 metric:1 "
        "priority=metric:1 preference!=metric:1 scope!:1 mtu!:1 hoplimit!:1 advmss!:1 "
        "reordering:1 rtt!:1 rto_min!:1 window:1 cwnd:1 initcwnd:1 initrwnd:1 features:1 "
        "quickack:1 congctl:1 rttvar:1 ssthresh:1 realms:1 onlink! nexthop! nhid!:1 "
        "protocol=proto:1 table:1 vrf:1 dev!:1 oif!=dev:1 pref:1 encap!:1 ttl-propagate!:1 "
        "fastopen_no_cookie:1"
    ),
    # parse_one_nh: one `nexthop ...` group of a multipath route.
    "route-nexthop": table("nexthop! via!:1 dev!:1 weight!:1 onlink! realms:1 encap!:1 as!:1"),
    # iproute_list_flush_or_save: the filter of `ip route flush|show`.
    "route-filter": table(
        "table:1 vrf:1 cached=cloned cloned tos!:1 dsfield=tos:1 protocol=proto:1 scope:1 "
        "type:1 dev!:1 oif!=dev:1 iif!:1 mark!:1 metric:1 priority=metric:1 "
        "preference!=metric:1 via!:1 src!:1 realms:1 from:1"
    ),
    # iprule_modify: `ip rule add|delete ...`; the rest is `type`, an action or a type.
    "rule": table(
        "not! from!:1 to!:1 preference=pref:1 order=pref:1 priority=pref:1 tos!:1 "
        "dsfield=tos:1 fwmark!:1 realms:1 protocol=proto:1 tun_id:1 table:1 lookup!=table:1 "
        "suppress_prefixlength:1 sup_pl!=suppress_prefixlength:1 suppress_ifgroup:1 "
        "sup_group!=suppress_ifgroup:1 dev!=iif:1 iif!:1 oif!:1 l3mdev! uidrange!:1 "
        "nat!:1 map-to=nat:1 ipproto!:1 sport!:1 dport!:1 dscp!:1 flowlabel!:1"
    ),
    # The action words of iprule_modify's last branch (before rtnl_rtntype_a2n).
    "rule-action": table("help goto:1 nop"),
    # iprule_list_flush_or_save: the filter of `ip rule flush|show`.
    "rule-filter": table(
        "preference=pref:1 order=pref:1 priority=pref:1 not! tos!:1 dsfield!=tos:1 fwmark!:1 "
        "dev!=iif:1 iif!:1 oif!:1 l3mdev! uidrange!:1 tun_id:1 lookup=table:1 table:1 "
        "from:1 src=from:1 protocol=proto:1 ipproto!:1 sport!:1 dport!:1 dscp!:1 "
        "flowlabel!:1"
    ),
    # ipaddr_modify: `ip addr add|change|replace|delete ...`; the rest is `local` or the address.
    "address": table(
        "peer!:1 remote!=peer:1 broadcast:1 brd!=broadcast:1 anycast!:1 scope!:1 dev!:1 "
        "label!:1 metric:1 priority=metric:1 preference=metric:1 valid_lft:1 "
        "preferred_lft:1 home! nodad! optimistic! mngtmpaddr! noprefixroute! autojoin! "
        "proto!:1"
    ),
    # ipaddr_list_flush_or_save: the filter of `ip addr flush|show`; the rest is the device.
    "address-filter": table(
        "to!:1 scope!:1 up! down! label!:1 group!:1 master!:1 vrf!:1 nomaster! type!:1 "
        "proto!:1 novf! dev!:1"
    ),
    # iplink_parse: `ip link add|set ...`; `type` ends it, the rest is the device.
    "link": table(
        "up! down! name!:1 index!:1 link:1 address:1 broadcast:1 brd!=broadcast:1 "
        "txqueuelen:1 qlen!=txqueuelen:1 txqlen=txqueuelen:1 mtu!:1 inet! xdpgeneric!:1 "
        "xdpdrv!:1 xdpoffload!:1 xdp!:1 netns!:1 multicast!:1 allmulticast!:1 promisc!:1 "
        "trailers!:1 arp!:1 carrier!:1 vf!:1 master:1 vrf!:1 nomaster dynamic:1 type:1 "
        "alias:1 group!:1 mode!:1 state!:1 numtxqueues:1 numrxqueues:1 addrgenmode:1 "
        "link-netns:1 link-netnsid:1 protodown!:1 protodown_reason!:2 gso_max_size!:1 "
        "gso_max_segs!:1 gro_max_size!:1 gso_ipv4_max_size!:1 gro_ipv4_max_size!:1 "
        "parentdev!:1 dev!:1"
    ),
    # ipneigh_modify: `ip neigh add|change|replace|delete ...`; the rest is `to` or the address.
    "neighbor": table(
        "lladdr:1 nud!:1 proxy router! use! managed! extern_learn extern_valid! dev!:1 "
        "protocol=proto:1"
    ),
    # do_show_or_flush: the filter of `ip neigh flush|show`.
    "neighbor-filter": table(
        "dev!:1 master!:1 vrf!:1 nomaster! unused! nud!:1 proxy! protocol=proto:1"
    ),
    # ipnh_modify: `ip nexthop add|replace|delete ...`.
    "nexthop": table(
        "id!:1 dev!:1 via!:1 encap!:1 blackhole! fdb! onlink! group!:1 type!:1 "
        "protocol=proto:1 hw_stats!:1"
    ),
}


def keywords(place: str, words: Sequence[str]) -> list[str]:
    """`words` with each keyword written in full, as iproute2 reads them at `place` (a key of
    KEYWORDS); a keyword's values, and words that are no keyword there (a prefix, a device),
    are left as written.  In a route, the words after `nexthop` are read as next hops."""
    out: list[str] = []
    rest = list(words)
    entries = KEYWORDS[place]
    while rest:
        word = rest.pop(0)
        entry = lookup(word, entries)
        if entry is None:
            out.append(word)
            continue
        out.append(entry.meaning)
        if place in ("route", "route-nexthop") and entry.meaning == "nexthop":
            entries = KEYWORDS["route-nexthop"]
            continue
        if place == "link" and entry.meaning == "type":
            out += rest  # the kind's own options (a veth's `peer` is read by the caller)
            return out
        values = entry.values
        if entry.meaning in ("mtu", "hoplimit", "advmss") and place == "route" and rest:
            values += rest[0] == "lock"  # `mtu lock N`
        out += rest[:values]
        del rest[:values]
    return out


def route_type(word: str) -> str | None:
    """The route type `word` names (rtnl_rtntype_a2n; a word starting with a digit never
    does, so that a prefix is not taken for one), None when it names none."""
    if word[:1].isdigit():
        return None
    entry = lookup(word, ROUTE_TYPE_WORDS)
    return None if entry is None else entry.meaning
