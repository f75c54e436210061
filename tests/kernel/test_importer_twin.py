"""An imported topology builds what its listing builds: the product's proof, on the kernel.

For each listing under tests/listings/ (the seed articles' commands, and
listings written in the style of the kernel's selftests/net set-up functions),
the import is translated and then proven as `harness import` proves it
(harness/importer/proof.py): the harness builds the topology and applies the
importer's changes in one lab; the listing's own commands, addresses mapped,
run with iproute2, sysctl and net-tools in a twin lab; both are read with
`ip -j` and compared.  The proof is not blind (a route left out, an MTU
changed, a line the importer misreads are found, each as exactly that
difference), and what could reach outside the twin is never run.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from harness.importer import ImportResult, import_listing
from harness.importer.proof import CannotProve, Difference, prove
from harness.lab.kernel_features import missing
from harness.scenario import Topology
from tests.conftest import needs_root

pytestmark = [needs_root, pytest.mark.kernel]

LISTINGS = Path(__file__).parents[1] / "listings"
# Listing -> (line, outcome) of every line the import report lists as not (fully) translated.
EXPECTED_REPORT: dict[str, set[tuple[int, str]]] = {
    "seed-so-dontroute.txt": set(),  # the article's ./udpsend2 is an act: what follows, a step
    "seed-tun-tap-source.txt": set(),
    "seed-route-commands.txt": set(),
    "selftest-router.sh": set(),
    "selftest-redirect.sh": set(),
    "article-root-namespace.txt": set(),
    "selftest-dummy-vrf.sh": set(),
    "selftest-evict-nocarrier.sh": set(),
    "selftest-words.sh": set(),
    "selftest-multipath.sh": set(),
}
# What the proof finds besides (none: every listing here is proven).
EXPECTED_DIFFERENCES: dict[str, list[str]] = {}
NET_A = "ip netns add a\nip netns add b\nip -n a link add v0 type veth peer name v1 netns b\n"
NET_A += "ip -n a addr add 192.0.2.1/24 dev v0\nip -n a link set v0 up\nip -n b link set v1 up\n"


def _imported(listing: str) -> ImportResult:
    result = import_listing((LISTINGS / listing).read_text(), listing)
    reasons = missing(result.topology.kernel_features())
    if reasons:
        pytest.skip("; ".join(reasons))
    return result


def _with_topology(result: ImportResult, document: dict[str, Any]) -> ImportResult:
    return dataclasses.replace(result, topology=Topology.model_validate(document))


@pytest.mark.parametrize("listing", sorted(EXPECTED_REPORT))
def test_imported_topology_builds_what_the_listing_builds(
    host_untouched: None, listing: str
) -> None:
    result = import_listing((LISTINGS / listing).read_text(), listing)
    reported = {
        (e.line, e.outcome) for e in result.entries if e.outcome in ("unsupported", "partly")
    }
    assert reported == EXPECTED_REPORT[listing]
    result = _imported(listing)
    found = []
    for part in result.every_part:  # one per episode between tear-downs, each its own proof
        proof = prove(part)
        found += [str(d) for d in proof.differences]
        assert proof.replayed > 0 and proof.hosts == len(part.topology.hosts)
    assert found == EXPECTED_DIFFERENCES.get(listing, [])


def test_the_proof_sees_a_route_the_topology_lacks(host_untouched: None) -> None:
    """Not blind: one route left out of the topology is that one difference, with its line."""
    result = _imported("seed-route-commands.txt")
    hosts = result.document["hosts"]
    document = {"hosts": {**hosts, "a": {k: v for k, v in hosts["a"].items() if k != "routes"}}}
    (difference,) = prove(_with_topology(result, document)).differences
    assert (difference.host, difference.what, difference.topology) == ("a", "route", "")
    assert difference.listing.startswith("default ") and "gateway 192.0.2.1" in difference.listing
    assert difference.line is not None


def test_the_proof_sees_an_mtu_the_topology_changed(host_untouched: None) -> None:
    result = _imported("seed-route-commands.txt")
    hosts = result.document["hosts"]
    host, ifname = next(
        (h, i) for h, spec in hosts.items() for i in spec.get("interfaces", {}) if i != "lo"
    )
    changed = {**hosts[host]["interfaces"][ifname], "mtu": 1280}
    spec = {**hosts[host], "interfaces": {**hosts[host]["interfaces"], ifname: changed}}
    proof = prove(_with_topology(result, {"hosts": {**hosts, host: spec}}))
    assert [(d.host, d.what, d.listing, d.topology) for d in proof.differences] == [
        (host, "mtu", f"{ifname} mtu 1500", f"{ifname} mtu 1280")
    ]


def test_a_line_the_importer_misreads_is_never_proven(host_untouched: None) -> None:
    """`-net` is iproute2's `-netns` (ip.c matches any prefix): whatever the importer makes
    of it, the import is either proven (the topology has v0 with its address) or not."""
    text = "ip netns add a\nip -net a link add v0 type veth peer name v1\n"
    text += "ip -net a addr add 192.0.2.1/24 dev v0\n"
    text += "ip netns add b\nip -n b link add d0 type veth peer name d1\n"  # understood
    result = import_listing(text, "net.sh")
    proof = prove(result)
    if proof.proven:
        a = result.topology.hosts[result.host_names["a"]]
        assert [str(x) for x in a.interfaces["v0"].addresses] == ["192.0.2.1/24"]
    else:
        assert any(d.what in ("link", "address") for d in proof.differences), proof.differences


def test_a_line_the_importer_leaves_out_is_a_difference(host_untouched: None) -> None:
    """An `ip` line the importer does not translate but iproute2 applies is found."""
    result = import_listing(NET_A + "ip -n a addr add 192.0.2.9/24 dev v0 noprefixroute\n", "x")
    assert any(e.line == 7 and e.outcome == "unsupported" for e in result.entries)
    with pytest.raises(CannotProve, match=r"line 7 .* was not translated"):
        prove(result)
    # Were the importer to say nothing of the line, the replay still finds what it builds.
    result.entries = [e for e in result.entries if e.line != 7]
    local = (
        "local 192.0.2.9 dev v0 flags [] prefsrc 192.0.2.1 protocol kernel scope host table local"
    )
    assert prove(result).differences == [
        Difference("a", "address", "192.0.2.9/24 dev v0 secondary", "", 7),
        Difference("a", "route", local, "", 7),
    ]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("ip -n b link set v1 netns 1", "process id"),
        ("ip -n b link set v1 netns /proc/1/ns/net", "path"),
        ("ip -batch /etc/hostname", "reads commands from a file"),
        ("ip -b /etc/hostname", "reads commands from a file"),
        ("sysctl -p", "not replayed"),
        ("sysctl -w kernel.x=1", "only net.* keys"),
        ("ip monitor", "runs until it is stopped"),
    ],
)
def test_what_could_reach_outside_the_twin_is_refused_and_never_run(
    host_untouched: None, line: str, why: str
) -> None:
    result = import_listing(NET_A + line + "\n", "refused.sh")
    with pytest.raises(CannotProve, match=r"line 7 .* is not replayed: .*cannot be proven") as exc:
        prove(result)
    assert why in str(exc.value)


def test_a_line_neither_side_can_read_is_no_proof(host_untouched: None) -> None:
    """broadcast_pmtu.sh's shape: a route replaced with words read from `ip route show`
    output.  The reader cannot expand them, so neither the topology nor the replay has
    the new route, and they agree: that agreement proves nothing, and is refused."""
    text = NET_A + 'read -r -a ENTRY <<< "$(ip -n a route show table local type broadcast)"\n'
    text += 'ip -n a route del "${ENTRY[@]}"\nip -n a route add "${ENTRY[@]}" mtu 1500\n'
    result = import_listing(text, "broadcast.sh")
    with pytest.raises(CannotProve, match=r"line 7 .* was not translated .*\(and 1 more\)"):
        prove(result)
