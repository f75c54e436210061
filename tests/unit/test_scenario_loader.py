"""Scenario files: the catalogue loads, and malformed files name file, field and problem."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from harness.scenario import ScenarioError, ScenarioFile, discover, load_scenario

GOOD = {
    "claim": "A claim.",
    "source": {"article": "so_dontroute-experiment.zh.txt"},
    "topology": "lan-with-gateway",
    "cases": [
        {
            "id": "one",
            "title": "a case",
            "probe": {"host": "sender", "dst": "192.0.2.193", "sockopts": ["SO_DONTROUTE"]},
            "expect": {
                "errno": "ok",
                "arp": {"sender": ["who-has 192.0.2.193 tell 192.0.2.224"]},
                "received": ["peer from 192.0.2.224"],
            },
        }
    ],
}


def write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


def variant(**changes: object) -> dict[str, object]:
    """GOOD with parts of its only case replaced."""
    case = {**GOOD["cases"][0], **changes}  # type: ignore[index]
    return {**GOOD, "cases": [case]}


def test_every_catalogue_file_loads() -> None:
    files = discover()
    assert files, "the catalogue is empty"
    for path in files:
        assert load_scenario(path).cases


def test_good_file_loads_with_parsed_expectations(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, GOOD))
    expect = scenario.case("one").acts()[0].expect
    arp, received = expect.value("arp"), expect.value("received")
    assert [str(p) for p in arp["sender"]] == ["who-has 192.0.2.193 tell 192.0.2.224"]
    assert str(received[0]) == "peer from 192.0.2.224"
    assert scenario.topology.owner_of("198.51.100.184") == "far"


@pytest.mark.parametrize(
    ("doc", "field", "problem"),
    [
        ({**GOOD, "claim": None}, "claim", "valid string"),
        ({k: v for k, v in GOOD.items() if k != "source"}, "source", "Field required"),
        ({**GOOD, "topology": "no-such-net"}, "topology", "no topology 'no-such-net'"),
        ({**GOOD, "cases": []}, "cases", "no case yet: fill in at least one case"),
        (variant(id="Bad Id"), "cases[0](Bad Id).id", "should match pattern"),
        (
            variant(probe={"host": "sender", "dst": "10.1.2.3"}),
            "cases[0](one).probe.dst",
            "outside the documentation/benchmark ranges",
        ),
        (
            variant(probe={"host": "nobody", "dst": "192.0.2.193"}),
            "cases[0](one).probe.host",
            "no host 'nobody'",
        ),
        (
            variant(probe={"host": "sender", "dst": "192.0.2.193", "sockopts": ["SO_DONTRUOTE"]}),
            "cases[0](one).probe.sockopts",
            "unknown socket option 'SO_DONTRUOTE'",
        ),
        (
            variant(probe={"host": "sender", "dst": "192.0.2.193", "bind_device": "eth9"}),
            "cases[0](one).probe.bind_device",
            "no interface 'eth9'",
        ),
        (
            variant(probe={"host": "sender", "dst": "192.0.2.193", "colour": "red"}),
            "cases[0](one).probe.colour",
            "Extra inputs are not permitted",
        ),
        (
            variant(expect={"errno": "ENOTANERRNO"}),
            "cases[0](one).expect.errno",
            "neither 'ok' nor an errno name",
        ),
        (variant(expect={}), "cases[0](one).expect", "must say something"),
        (
            variant(
                refuted="the kernel does otherwise",
                expect={"errno": "ok"},
                kernel_does={"arp": {"sendr": ["who-has 192.0.2.193"]}},
            ),
            "cases[0](one).kernel_does.arp.sendr",
            "no host 'sendr'",
        ),
        (
            variant(expect={"egress": "eth7"}),
            "cases[0](one).expect.egress",
            "host 'sender' has no interface 'eth7'",
        ),
        (
            variant(expect={"links": {"peer": {"eth3": {"mtu": 1500}}}}),
            "cases[0](one).expect.links.peer.eth3",
            "host 'peer' has no interface 'eth3'",
        ),
        (
            variant(expect={"arp": {"sender": ["asks for 192.0.2.1"]}}),
            "cases[0](one).expect.arp.sender[0]",
            "write a request as 'who-has IP'",
        ),
        (
            variant(expect={"received": ["peer from nowhere"]}),
            "cases[0](one).expect.received[0]",
            "valid IPv",
        ),
        (
            variant(change=[{"host": "sender", "route": "del default", "sysctl": {"net.a": 1}}]),
            "cases[0](one).change[0]",
            "give one of route, nexthop, rule, neigh, addr, link, sysctl",
        ),
        (
            variant(change=[{"host": "sender", "route": "add 192.168.1.0/24 dev eth0"}]),
            "cases[0](one).change[0].route",
            "outside the documentation/benchmark ranges",
        ),
        (
            # Host bits go to the kernel as written, but not a network wider than the ranges.
            variant(change=[{"host": "sender", "route": "add 192.0.2.9/8 dev eth0"}]),
            "cases[0](one).change[0].route",
            "outside the documentation/benchmark ranges",
        ),
        (
            variant(change=[{"host": "sender", "route": "add 198.51.100.0/24 dev eth0 tos 1ff"}]),
            "cases[0](one).change[0].route",
            "does not fit in a byte",
        ),
        (
            variant(
                probe={
                    "host": "sender",
                    "proto": "raw",
                    "iface": "eth0",
                    "eth_dst": "02:00:00:00:00:01",
                    "dst": "192.0.2.193",
                    "tos": 16,
                }
            ),
            "cases[0](one).probe",
            "'tos' does not apply",
        ),
        (
            variant(expect={"links": {"sender": {"eth0": {"flags": ["NOAPR"]}}}}),
            "cases[0](one).expect.links.sender.eth0.flags",
            "unknown flag 'NOAPR'",
        ),
        (
            variant(expect={"links": {"sender": {"tun9": {"mtu": 1500}}}}),
            "cases[0](one).expect.links.sender.tun9",
            "has no interface 'tun9'",
        ),
        (
            variant(change=[{"host": "sender", "route": "frobnicate default"}]),
            "cases[0](one).change[0].route",
            "expected add, del or replace",
        ),
        (
            variant(probe={"host": "sender", "dst": "239.1.2.3", "bind": "224.0.0.9"}),
            "cases[0](one).probe.bind",
            "multicast and 255.255.255.255 only as a destination",
        ),
        (
            variant(change=[{"host": "sender", "route": "add 192.0.2.0/23 dev eth0"}]),
            "cases[0](one).change[0].route",
            "192.0.2.0/23 is outside",
        ),
        (
            variant(change=[{"host": "sender", "route": "add default via 224.0.0.1"}]),
            "cases[0](one).change[0].route",
            "224.0.0.1 is outside",
        ),
        (
            variant(probe={"host": "sender", "dst": "fe80::1%eth5"}),
            "cases[0](one).probe.dst",
            "host 'sender' has no interface 'eth5'",
        ),
        (
            variant(probe={"host": "sender", "dst": "192.0.2.193", "payload_size": 70000}),
            "cases[0](one).probe.payload_size",
            "less than or equal to 65527",
        ),
        (
            variant(probe={"host": "sender", "dst": "192.0.2.193", "mtu_discover": "maybe"}),
            "cases[0](one).probe.mtu_discover",
            "'dont', 'want', 'do', 'probe', 'interface' or 'omit'",
        ),
        (
            variant(probe={"host": "sender", "proto": "tcp", "dst": "192.0.2.193", "flows": 4}),
            "cases[0](one).probe",
            "'flows' is for UDP probes",
        ),
        (
            variant(
                listeners=[{"host": "peer", "join": ["192.0.2.7"]}],
                probe={"host": "sender", "dst": "192.0.2.193"},
            ),
            "cases[0](one).listeners[0].join",
            "192.0.2.7 is not a multicast group",
        ),
        (
            variant(
                listeners=[{"host": "peer", "bind": "192.0.2.1", "join": ["ff02::1:3"]}],
                probe={"host": "sender", "dst": "192.0.2.193"},
            ),
            "cases[0](one).listeners[0].join",
            "bound to IPv4 192.0.2.1, it cannot join IPv6 group ff02::1:3",
        ),
        (
            variant(
                listeners=[{"host": "peer", "bind": "2001:db8::1", "join": ["239.1.2.3"]}],
                probe={"host": "sender", "dst": "192.0.2.193"},
            ),
            "cases[0](one).listeners[0].join",
            "bound to IPv6 2001:db8::1, it cannot join IPv4 group 239.1.2.3",
        ),
        (
            variant(
                listeners=[{"host": "peer", "join": ["239.1.2.3", "ff02::1:3"]}],
                probe={"host": "sender", "dst": "192.0.2.193"},
            ),
            "cases[0](one).listeners[0].join",
            "an IPv4 listener joins IPv4 groups",
        ),
        (
            variant(
                listeners=[{"host": "peer", "join": ["239.1.2.3"], "join_dev": "eth4"}],
                probe={"host": "sender", "dst": "239.1.2.3"},
            ),
            "cases[0](one).listeners[0].join_dev",
            "host 'peer' has no interface 'eth4'",
        ),
        (
            {
                **GOOD,
                "cases": [
                    {
                        "id": "two",
                        "title": "one socket, two kinds",
                        "steps": [
                            {
                                "probe": {"host": "sender", "dst": "192.0.2.193", "socket": "s"},
                                "expect": {"errno": "ok"},
                            },
                            {
                                "probe": {
                                    "host": "sender",
                                    "proto": "icmp",
                                    "dst": "192.0.2.193",
                                    "socket": "s",
                                },
                                "expect": {"errno": "ok"},
                            },
                        ],
                    }
                ],
            },
            "cases[0](two)",
            "act 2 sends on socket 's', the udp IPv4 on sender socket of act 1",
        ),
        (
            variant(expect={"seen": [{"host": "sender", "count": -1}]}),
            "cases[0](one).expect.seen[0].count",
            "greater than or equal to 0",
        ),
        (
            variant(expect={"egresses": ["eth0", "eth9"]}),
            "cases[0](one).expect.egresses[1]",
            "host 'sender' has no interface 'eth9'",
        ),
    ],
)
def test_errors_name_file_field_and_problem(
    tmp_path: Path, doc: object, field: str, problem: str
) -> None:
    path = write(tmp_path, doc)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    error = caught.value
    assert error.path == path
    assert error.field == field
    assert problem in error.problem
    assert str(error).startswith(f"{path}: {field}: ")


def test_inline_topology_checks_links_agree(tmp_path: Path) -> None:
    doc = {
        **GOOD,
        "topology": {
            "hosts": {
                "a": {"interfaces": {"eth0": {"link": "b.eth0", "addresses": ["192.0.2.1/24"]}}},
                "b": {"interfaces": {"eth0": {"link": "a.eth1", "addresses": ["192.0.2.2/24"]}}},
            }
        },
    }
    with pytest.raises(ScenarioError, match=r"links to b\.eth0 but b\.eth0 links to 'a\.eth1'"):
        load_scenario(write(tmp_path, doc))


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("claim: [unclosed\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(path)


def _models(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models an annotation refers to, through unions, lists and dicts."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def test_every_field_a_scenario_may_hold_has_a_description() -> None:
    """The README promises it: every key a scenario file can use is described in the code."""
    undescribed: list[str] = []
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [ScenarioFile]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            if not info.description:
                undescribed.append(f"{model.__name__}.{name}")
            todo += _models(info.annotation)
    assert undescribed == []


def test_a_case_too_big_for_the_process_is_refused_with_the_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.scenario import footprint

    hosts: dict[str, Any] = {
        "h0": {"interfaces": {f"e{i}": {"link": f"h{i}.e0"} for i in range(1, 30)}}
    }
    hosts |= {f"h{i}": {"interfaces": {"e0": {"link": f"h0.e{i}"}}} for i in range(1, 30)}
    steps = [
        {
            "probe": {"host": "h0", "dst": "192.0.2.1", "port": 1000, "flows": 6},
            "expect": {"errno": "ok"},
        }
        for i in range(32)
    ]
    doc = {
        **GOOD,
        "topology": {"hosts": hosts},
        "cases": [{"id": "a", "title": "t", "steps": steps}],
    }
    scenario = load_scenario(write(tmp_path, doc))
    fds, namespaces = footprint.case_needs(scenario, scenario.cases[0])
    assert namespaces == 30 and fds > 29 * 6 + 9 * 30  # a listener per host for each port
    monkeypatch.setattr("resource.getrlimit", lambda _: (512, 512))
    (problem,) = footprint.over_limits(scenario)
    assert f"needs about {fds} open files" in problem and "512" in problem


def test_the_fd_estimate_counts_the_listeners_the_run_opens(tmp_path: Path) -> None:
    """One listener per flow's port on each other host, and per prober: the count the run's
    own harness.lab.probes.default_listeners makes (a 50-flow probe, and probes from both ends
    to the same port)."""
    from harness.scenario import footprint

    hosts: dict[str, Any] = {
        "a": {"interfaces": {"e0": {"link": "b.e0", "addresses": ["192.0.2.1/24"]}}},
        "b": {"interfaces": {"e0": {"link": "a.e0", "addresses": ["192.0.2.2/24"]}}},
        "c": {},
    }
    steps = [
        {"probe": {"host": "a", "dst": "192.0.2.2", "port": 1000, "flows": 50}},
        {"probe": {"host": "a", "dst": "192.0.2.2", "port": 2000}},
        {"probe": {"host": "b", "dst": "192.0.2.1", "port": 2000}},
    ]
    doc = {
        **GOOD,
        "topology": {"hosts": hosts},
        "cases": [
            {"id": "a", "title": "t", "steps": [{**s, "expect": {"errno": "ok"}} for s in steps]}
        ],
    }
    scenario = load_scenario(write(tmp_path, doc))
    fds, namespaces = footprint.case_needs(scenario, scenario.cases[0])
    # flows: 50 ports on b and c; port 2000 on b and c (a's probe) and on a (b's probe).
    listeners = 50 * 2 + 3
    assert namespaces == 3
    assert fds == footprint.FDS_PER_NAMESPACE * 3 + listeners + len(steps) + footprint.FDS_SPARE
