"""`harness new NAME`: a scenario skeleton with every field of the format, commented.

The fields and what they mean come from the models themselves (each pydantic
field's description: the same text the loader's checks and the README's
vocabulary table are kept in line with), so a field added to the format
appears here by itself.  The skeleton loads as written: an inline two-host
topology and one example case (a UDP datagram from a to b on their veth)
that holds on every kernel; it is marked EXAMPLE, to be replaced by the
claim's own cases.
"""

from __future__ import annotations

import shlex
import textwrap
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from harness.core.env import TOPOLOGY_DIR
from harness.scenario import (
    Act,
    ActAnswer,
    Case,
    Change,
    ChangedIn,
    Host,
    Interface,
    Listener,
    Probe,
    Source,
    Topology,
)
from harness.scenario.expect import Expect

# An example value for each optional field, by model.
_EXAMPLES: dict[str, dict[str, Any]] = {
    "Interface": {
        "kind": "tun",
        "lan": "lan0",
        "link": "b.eth1",
        "parent": "eth0",
        "mode": "bridge",
        "table": 100,
        "master": "br0",
        "mac": "02:00:00:00:00:01",
        "addresses": ["198.51.100.1/24", "2001:db8::1/64"],
        "mtu": 1400,
        "txqueuelen": 1000,
        "up": False,
    },
    "Host": {
        "nexthops": ["id 1 via 192.0.2.2 dev eth0"],
        "routes": ["default via 192.0.2.2"],
        "rules": ["fwmark 0x7 lookup 100"],
        "neighbours": ["192.0.2.9 lladdr 02:00:00:00:00:09 dev eth0"],
        "sysctls": {"net.ipv4.ip_forward": 1},
    },
    "Change": {
        "route": "del default",
        "nexthop": "replace id 1 via 192.0.2.3 dev eth0",
        "rule": "add from 192.0.2.1 lookup 100",
        "neigh": "add 192.0.2.9 lladdr 02:00:00:00:00:09 dev eth0",
        "addr": "add 192.0.2.5/24 dev eth0",
        "link": "set eth0 down",
        "sysctl": {"net.ipv4.conf.eth0.proxy_arp": 1},
        "fails_with": "ENETUNREACH",
    },
    "Probe": {
        "proto": "udp",
        "port": 9000,
        "sockopts": ["SO_DONTROUTE"],
        "flags": ["MSG_DONTROUTE"],
        "bind": "192.0.2.1:5000",
        "connect": True,
        "payload_size": 64,
        "flows": 1,
        "socket": "s1",
        "timeout_ms": 1000,
        "iface": "eth0",
        "eth_dst": "ff:ff:ff:ff:ff:ff",
        "src": "192.0.2.1",
        "bind_device": "eth0",
        "unicast_if": "eth0",
        "multicast_if": "eth0",
        "mark": 7,
        "tos": 16,
        "ttl": 64,
        "multicast_ttl": 1,
        "mtu_discover": "do",
    },
    "Expect": {
        "arp": {"a": ["who-has 192.0.2.2 tell 192.0.2.1"]},
        "src": "192.0.2.1",
        "egress": "eth0",
        "egresses": ["eth0"],
        "egress_one_of": ["eth0", "eth1"],
        "icmp": ["type 3 code 1 from 192.0.2.2"],
        "route": {"dev": "eth0", "type": "unicast", "src": "192.0.2.1"},
        "seen": [{"host": "b", "ifname": "eth0", "direction": "in", "proto": "udp"}],
        "not_seen": [{"host": "a", "proto": "arp"}],
        "neighbours": {"a": {"192.0.2.2": "REACHABLE"}},
        "links": {"a": {"eth0": {"flags": ["UP"], "mtu": 1500}}},
    },
    "Listener": {
        "host": "b",
        "proto": "udp",
        "port": 9000,
        "bind": "192.0.2.2",
        "bind_device": "eth0",
        "ipv6": False,
        "join": ["239.1.2.3"],
        "join_dev": "eth0",
    },
    "Case": {
        "kernel_does": {"errno": "ENETUNREACH"},
        "refuted": "the article says so, but this kernel does otherwise, because ...",
    },
    "ChangedIn": {
        "version": "6.2",
        "why": "dev_change_name() no longer refuses a link that is up",
        "commit": 'abcdef123456 ("the commit\'s title")',
    },
}


def _flow(value: Any) -> str:
    text: str = yaml.safe_dump(value, default_flow_style=True, width=1 << 20, sort_keys=False)
    return text.strip().removesuffix("...").strip()


def _commented(model: type[BaseModel], indent: int, given: set[str]) -> list[str]:
    """One commented line per field of `model` not in `given`: example value and meaning."""
    # A field made from a row (a socket option, an expectation) carries its own example.
    examples = {
        name: field.examples[0] for name, field in model.model_fields.items() if field.examples
    }
    examples |= _EXAMPLES.get(model.__name__, {})
    lines = []
    for name, field in model.model_fields.items():
        if name in given or name not in examples:
            continue
        setting = f"{' ' * indent}# {name}: {_flow(examples[name])}"
        lines.append(f"{setting:<58} # {field.description or ''}".rstrip())
    return lines


def _described(model: type[BaseModel], name: str) -> str:
    return model.model_fields[name].description or ""


def new_scenario_text(name: str, path: Path) -> str:
    """The skeleton of scenario `name`, to be written at `path`."""
    known = ", ".join(sorted(p.stem for p in TOPOLOGY_DIR.glob("*.yaml")))
    lines = [
        f"# {name}: one claim, checked on the running kernel.  Written by `harness new`.",
        "# Every field of the format is here; the optional ones are commented out, each with",
        '# an example and what it means (README.md, "Scenarios", has the whole vocabulary).',
        "# Replace the TODOs and the EXAMPLE case with the claim's own; then show and run it:",
        f"#   harness list {shlex.quote(str(path))}",
        f"#   harness run {shlex.quote(str(path))}",
        "claim: >",
        "  TODO: the claim, in our own words: what the kernel does, and when.",
        "source:",
        f"  article: TODO                 # {_described(Source, 'article')}",
        f'  section: ""                   # {_described(Source, "section")}',
        "# topology: lan-with-gateway     # a file of fixtures/topologies/, a path relative to",
        "#                                # this file (./mynet.yaml), or inline as below",
        *textwrap.wrap(
            f"known: {known}",
            86,
            initial_indent="#   ",
            subsequent_indent="#   ",
            break_on_hyphens=False,
        ),
        "topology:",
        "  # description: what it is      # for a reader",
        "  # diagram: |                   # an ASCII drawing of hosts, links and addresses",
        f"  hosts:                         # {_described(Topology, 'hosts')}",
        "    a:",
        f"      interfaces:                # {_described(Host, 'interfaces')}",
        "        eth0: {link: b.eth0, addresses: [192.0.2.1/24]}",
        "        # eth1:                   # an interface's fields (lan, link or kind first):",
        *_commented(Interface, 10, set()),
        *_commented(Host, 6, {"interfaces"}),
        "    b:",
        "      interfaces:",
        "        eth0: {link: a.eth0, addresses: [192.0.2.2/24]}",
        "cases:",
        "  - id: example-a-reaches-b      # EXAMPLE: replace with the claim's cases",
        "    title: EXAMPLE, a UDP datagram from a reaches b on their veth",
        f"    # change:                    # {_described(Case, 'change')}, each like:",
        "    #   - host: a                 # " + _described(Change, "host"),
        *_commented(Change, 8, {"host"}),
        "    probe:",
        "      host: a                    # " + _described(Probe, "host"),
        "      dst: 192.0.2.2             # " + _described(Probe, "dst"),
        *_commented(Probe, 6, {"host", "dst"}),
        "    expect:                      # only what the claim is about; each list an exact set",
        "      errno: ok                  # " + _described(Expect, "errno"),
        "      received: [b from 192.0.2.1]   # " + _described(Expect, "received"),
        *_commented(Expect, 6, {"errno", "received"}),
        f"    # listeners:                 # {_described(Case, 'listeners')}",
        "    #   - host: b                 # " + _described(Listener, "host"),
        *_commented(Listener, 8, {"host"}),
        *_commented(Case, 4, set()),
        f"    # steps:                     # {_described(Case, 'steps')}; each act has",
        "    #   - change: [...]           # " + _described(Act, "change"),
        "    #     probe: {...}            # " + _described(Act, "probe"),
        "    #     expect: {...}           # " + _described(Act, "expect"),
        "    #     kernel_does: {...}      # " + _described(Act, "kernel_does"),
        f"    # changed_in:                # {_described(Case, 'changed_in')}",
        *_commented(ChangedIn, 6, {"before", "since"}),
        "    #   before:                   # " + _described(ChangedIn, "before"),
        "    #     - answers: [EBUSY]      # " + _described(ActAnswer, "answers"),
        "    #       expect: {errno: ok}   # " + _described(ActAnswer, "expect"),
        "    #   since: [...]              # " + _described(ChangedIn, "since"),
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"
