"""iproute2's abbreviation rules (harness/importer/ipwords.py), case by case as iproute2 7.1.0
resolves them (ip/ip.c, ip/iproute.c, ip/iprule.c, ip/ipaddress.c, ip/iplink.c,
ip/ipneigh.c, ip/ipnexthop.c, ip/ipnetns.c, ip/rtm_map.c), including what it refuses."""

from __future__ import annotations

import pytest

from harness.importer.ipwords import (
    IpWordError,
    ip_object,
    ip_verb,
    keywords,
    route_type,
    split_options,
)


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        (["-n", "x"], ("-netns", "x")),
        (["-ne", "x"], ("-netns", "x")),
        (["-net", "x"], ("-netns", "x")),
        (["--netns", "x"], ("-netns", "x")),
        (["--n", "x"], ("-netns", "x")),
        (["-f", "inet6"], ("-family", "inet6")),
        (["-fam", "inet"], ("-family", "inet")),
        (["-fo"], ("-force", None)),  # -family is tried first: only `-fo` is -force
        (["-4"], ("-4", None)),
        (["-6"], ("-6", None)),
        (["-d"], ("-details", None)),
        (["-s"], ("-stats", None)),
        (["-stat"], ("-stats", None)),
        (["-statis"], ("-stats", None)),  # -statistics, the same option
        (["-h"], ("-human", None)),  # not -help: -human is tried first
        (["-he"], ("-help", None)),
        (["-b", "file"], ("-batch", "file")),  # -batch before -brief
        (["-br"], ("-brief", None)),
        (["-c"], ("-color", None)),
        (["-color=never"], ("-color", None)),
        (["-N"], ("-Numeric", None)),
        (["-a"], ("-all", None)),
        (["-t"], ("-timestamp", None)),
        (["-ts"], ("-tshort", None)),
        (["-r"], ("-resolve", None)),
        (["-rc", "1"], ("-rcvbuf", "1")),
        (["-j"], ("-json", None)),
        (["-echo"], ("-echo", None)),
        (["-"], ("-loops", "x")),  # "-" is a prefix of -loops, the first option
    ],
)
def test_global_options_resolve_as_ip_c_tries_them(
    written: list[str], meant: tuple[str, str | None]
) -> None:
    args = [*written, "x"] if written == ["-"] else written
    options, rest = split_options([*args, "route"])
    assert options == [meant]
    assert rest == ["route"]


@pytest.mark.parametrize("written", ["-44", "-4x", "-e", "-ec", "-v", "-x", "-color=pink", "--"])
def test_options_iproute2_refuses_are_refused_or_end_the_options(written: str) -> None:
    if written == "--":  # ends the options: the next word is the object even if it has a dash
        assert split_options(["--", "-6", "route"]) == ([], ["-6", "route"])
        return
    with pytest.raises(IpWordError, match=f'Option "{written}" is unknown'):
        split_options([written, "route"])


def test_an_option_that_takes_a_value_needs_one() -> None:
    with pytest.raises(IpWordError, match="needs an argument"):
        split_options(["-n"])


@pytest.mark.parametrize(
    ("word", "meant"),
    [
        ("a", "address"),
        ("addr", "address"),
        ("addrl", "addrlabel"),
        ("m", "maddress"),
        ("r", "route"),
        ("ro", "route"),
        ("ru", "rule"),
        ("n", "neighbor"),
        ("nei", "neighbor"),
        ("neighbour", "neighbor"),
        ("l", "link"),
        ("li", "link"),
        ("t", "tunnel"),
        ("tunt", "tuntap"),
        ("tap", "tuntap"),
        ("netn", "netns"),
        ("nex", "nexthop"),
        ("nexth", "nexthop"),
        ("mo", "monitor"),
        ("h", "help"),
    ],
)
def test_objects_resolve_in_cmds_order(word: str, meant: str) -> None:
    assert ip_object(word) == meant


@pytest.mark.parametrize("word", ["z", "routes", "linkx", ""])
def test_an_unknown_object_is_iproute2s_error(word: str) -> None:
    with pytest.raises(IpWordError, match="is unknown, try"):
        ip_object(word)


@pytest.mark.parametrize(
    ("obj", "word", "meant"),
    [
        ("route", "a", "add"),
        ("route", "c", "change"),
        ("route", "chg", "change"),
        ("route", "ap", "append"),
        ("route", "p", "prepend"),
        ("route", "d", "delete"),
        ("route", "del", "delete"),
        ("route", "l", "show"),
        ("route", "s", "show"),  # show before save and showdump
        ("route", "sa", "save"),
        ("route", "f", "flush"),
        ("route", "g", "get"),
        ("route", "t", "test"),
        ("address", "a", "add"),
        ("address", "s", "show"),
        ("address", "f", "flush"),
        ("rule", "a", "add"),
        ("rule", "d", "delete"),
        ("rule", "s", "show"),
        ("rule", "f", "flush"),
        ("neighbor", "r", "replace"),
        ("neighbor", "s", "show"),
        ("link", "s", "set"),  # set before show: `ip link s` sets
        ("link", "sh", "show"),
        ("link", "c", "set"),
        ("link", "d", "delete"),
        ("nexthop", "a", "add"),
        ("nexthop", "f", "flush"),
        ("nexthop", "b", "bucket"),
        ("netns", "s", "show"),  # show before set
        ("netns", "se", "set"),
        ("netns", "e", "exec"),
        ("netns", "a", "add"),
        ("netns", "list-id", "list-id"),
        ("netns", "list-", "list-id"),
    ],
)
def test_commands_resolve_in_each_objects_order(obj: str, word: str, meant: str) -> None:
    assert ip_verb(obj, [word]) == meant


@pytest.mark.parametrize(
    ("obj", "word"),
    [("route", "ch"), ("route", "x"), ("link", "chg"), ("rule", "replace"), ("nexthop", "c")],
)
def test_unknown_or_exact_only_commands_are_refused(obj: str, word: str) -> None:
    # `ch` is not `chg` (strcmp) but a prefix of change: only link's `chg` is no command.
    if (obj, word) == ("route", "ch"):
        assert ip_verb(obj, [word]) == "change"
        return
    with pytest.raises(IpWordError, match=f'Command "{word}" is unknown'):
        ip_verb(obj, [word])


def test_without_a_command_an_object_shows() -> None:
    assert ip_verb("route", []) == "show"


@pytest.mark.parametrize(
    ("place", "words", "meant"),
    [
        ("route", ["10.0.0.0/8", "v", "x"], ["10.0.0.0/8", "vrf", "x"]),  # via is strcmp
        ("route", ["p", "5"], ["metric", "5"]),  # priority
        ("route", ["m", "5"], ["metric", "5"]),
        ("route", ["pref", "high"], ["pref", "high"]),  # router preference, not metric
        ("route", ["preference", "5"], ["metric", "5"]),
        ("route", ["t", "100"], ["table", "100"]),  # tos is strcmp: `t` is table
        ("route", ["d", "0x10"], ["tos", "0x10"]),  # dsfield comes before dev (strcmp)
        ("route", ["dev", "d"], ["dev", "d"]),  # a value is never a keyword
        ("route", ["de", "x"], ["de", "x"]),  # no keyword: a prefix, which iproute2 refuses
        ("route", ["pro", "static"], ["proto", "static"]),
        ("route", ["oif", "eth0"], ["dev", "eth0"]),
        ("route", ["mtu", "lock", "1400", "t", "5"], ["mtu", "lock", "1400", "table", "5"]),
        (
            "route",
            ["default", "nexthop", "via", "A", "d", "x", "w", "2"],
            ["default", "nexthop", "via", "A", "d", "x", "w", "2"],  # dev/weight: strcmp
        ),
        ("rule", ["pri", "5", "t", "7"], ["pref", "5", "tun_id", "7"]),  # tun_id before table
        ("rule", ["pri", "5", "ta", "7"], ["pref", "5", "table", "7"]),
        (
            "rule",
            ["lookup", "7", "o", "x"],
            ["table", "7", "pref", "x"],
        ),  # `o`: order; oif is strcmp
        ("link", ["x", "m", "br0"], ["x", "master", "br0"]),
        ("link", ["x", "t", "5"], ["x", "txqueuelen", "5"]),  # txqueuelen before type
        ("link", ["x", "qlen", "5"], ["x", "txqueuelen", "5"]),
        ("link", ["x", "txql", "5"], ["x", "txqueuelen", "5"]),
        ("link", ["x", "mt", "5"], ["x", "mt", "5"]),  # mtu is strcmp
        ("link", ["x", "ty", "veth", "peer", "t", "5"], ["x", "type", "veth", "peer", "t", "5"]),
        ("address", ["1.2.3.4/24", "b", "+"], ["1.2.3.4/24", "broadcast", "+"]),
        ("address", ["1.2.3.4/24", "brd", "+"], ["1.2.3.4/24", "broadcast", "+"]),
        (
            "address",
            ["1.2.3.4/24", "pre", "5"],
            ["1.2.3.4/24", "metric", "5"],
        ),
        ("neighbor", ["1.2.3.4", "l", "m", "p"], ["1.2.3.4", "lladdr", "m", "proxy"]),
        ("neighbor-filter", ["dev", "x", "pro", "all"], ["dev", "x", "proto", "all"]),
        ("route-filter", ["pro", "kernel", "t", "all"], ["proto", "kernel", "table", "all"]),
        ("nexthop", ["id", "1", "pro", "static"], ["id", "1", "proto", "static"]),
    ],
)
def test_keywords_resolve_in_each_parsers_order(
    place: str, words: list[str], meant: list[str]
) -> None:
    assert keywords(place, words) == meant


@pytest.mark.parametrize(
    ("word", "meant"),
    [
        ("unr", "unreachable"),
        ("u", "unreachable"),  # unreachable is tried before unicast
        ("uni", "unicast"),
        ("b", "broadcast"),
        ("brd", "broadcast"),
        ("bl", "blackhole"),
        ("p", "prohibit"),
        ("a", "anycast"),
        ("local", "local"),
        ("loc", None),  # strcmp
        ("th", None),  # throw is strcmp
        ("throw", "throw"),
        ("10.0.0.0/8", None),
        ("default", None),
    ],
)
def test_route_types_resolve_as_rtm_map_c(word: str, meant: str | None) -> None:
    assert route_type(word) == meant
