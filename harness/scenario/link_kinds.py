"""Link kinds: every kind of interface a topology may have, one row each.

A row says what the kernel must support for it (the feature tried before a
case runs, and the config option named when it is missing), its place in a
topology, and what readiness means for it.  The loader (which kinds exist,
which fields each needs), the builder (harness/lab/builder.py), `harness doctor`
and the kernel-feature skips (harness/lab/kernel_features.py) all read this table;
how the lab makes a kind, and tries a feature, is harness/lab/link_makers.py,
keyed by the row's name.  Nothing here touches a kernel.

Adding a kind: one row here, its maker (and, when it is a new kernel feature, its
try) in harness/lab/link_makers.py, its README line, and a use in tests/scenarios/;
`harness import` reads the kinds it translates from the rows (`made_with`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# `mode:` of an ipvlan, as IFLA_IPVLAN_MODE numbers them (include/uapi/linux/if_link.h).
IPVLAN_MODES = {"l2": 0, "l3": 1, "l3s": 2}

Role = Literal["pair", "local", "stacked", "loopback"]


@dataclass(frozen=True)
class LinkKind:
    """One kind of interface."""

    name: str  # as a topology writes it (`kind: NAME`; `lan:` and `link:` imply port and veth)
    description: str
    # The kernel feature it needs, by the name of the row that tries it; None: always there.
    feature: str | None
    # pair: a veth end (the builder wires both ends); local: made inside its host alone;
    # stacked: made on top of the host's `parent` interface once that is up.
    role: Role
    # The kernel config option, named when the feature is missing; set on the one row
    # per feature that harness/lab/link_makers.py tries it with.
    config: str | None = None
    # Ready only once its operstate reads UP.  A veth is registered with carrier
    # on, so it reads IF_OPER_UNKNOWN until linkwatch first handles it; the end
    # raised while its peer was down gets carrier only when the peer comes up, and
    # its transmit queue stays noop_qdisc until linkwatch_do_dev() runs
    # dev_activate(), right after rfc2863_policy() writes UP (net/core/link_watch.c).
    # noop_qdisc drops every packet before the packet taps see it: an ARP request
    # sent in between vanished without a trace (about 1 in 100 cases under load).
    # Other kinds read UNKNOWN for good (tun/tap, dummy, vrf: no carrier), or are
    # activated when opened (macvlan, ipvlan: their lower link is up by then).
    operstate_up: bool = False
    link_local: bool = False  # gets an EUI-64 IPv6 link-local address once up with carrier
    wired: bool = False  # a veth underneath: TX checksum offload is switched off
    neigh_timers: bool = True  # sends ARP/ND of its own: gets the harness's neighbour timers
    modes: tuple[str, ...] = ()  # allowed `mode:` values, the first is the default
    requires: tuple[str, ...] = ()  # Interface fields it cannot do without
    early_up: bool = False  # set up as soon as it exists (unless it gets a fixed MAC later)
    # How a listing makes it (what `harness import` reads): `ip link add ... type NAME`,
    # `ip tuntap add ... mode NAME`, or nothing (a LAN port, lo).
    made_with: Literal["ip link add", "ip tuntap add"] | None = None
    # NETIF_F_NETNS_LOCAL: the kernel refuses to move it to another namespace
    # (dev_change_net_namespace() returns EINVAL), so `ip link set X netns N` fails.
    netns_local: bool = False


LINK_KINDS: dict[str, LinkKind] = {
    k.name: k
    for k in (
        LinkKind(
            "veth",
            "one end of a veth pair (`link: HOST.IFNAME` names the other)",
            "veth",
            "pair",
            config="CONFIG_VETH",
            operstate_up=True,
            link_local=True,
            wired=True,
            requires=("link",),
            early_up=True,
            made_with="ip link add",
        ),
        LinkKind(
            "port",
            "a host's port on a LAN (`lan: NAME`): a veth whose other end is on the LAN's bridge",
            "bridge",
            "pair",
            operstate_up=True,
            link_local=True,
            wired=True,
            requires=("lan",),
            early_up=True,
        ),
        LinkKind(
            "macvlan",
            "a macvlan on `parent`",
            "macvlan",
            "stacked",
            config="CONFIG_MACVLAN",
            link_local=True,
            wired=True,
            modes=("bridge", "private", "vepa", "passthru"),
            requires=("parent",),
            made_with="ip link add",
        ),
        LinkKind(
            "ipvlan",
            "an ipvlan on `parent`",
            "ipvlan",
            "stacked",
            config="CONFIG_IPVLAN",
            wired=True,
            modes=tuple(IPVLAN_MODES),
            requires=("parent",),
            made_with="ip link add",
        ),
        LinkKind(
            "tun",
            "a tun device (no link layer); the harness holds its fd and reads what the kernel "
            "writes to it",
            "tun",
            "local",
            config="CONFIG_TUN",
            made_with="ip tuntap add",
        ),
        LinkKind(
            "tap",
            "a tap device (Ethernet); the harness holds its fd and reads what the kernel "
            "writes to it",
            "tun",
            "local",
            link_local=True,
            made_with="ip tuntap add",
        ),
        LinkKind(
            "dummy",
            "a dummy device: packets routed to it are dropped",
            "dummy",
            "local",
            config="CONFIG_DUMMY",
            made_with="ip link add",
        ),
        LinkKind(
            "vrf",
            "a VRF device bound to routing `table`; interfaces join it with `master`",
            "vrf",
            "local",
            config="CONFIG_NET_VRF",
            neigh_timers=False,
            requires=("table",),
            made_with="ip link add",
            netns_local=True,
        ),
        LinkKind(
            "bridge",
            "a bridge inside the host; interfaces join it with `master`",
            "bridge",
            "local",
            config="CONFIG_BRIDGE",
            neigh_timers=False,
            made_with="ip link add",
            netns_local=True,
        ),
        LinkKind(
            "loopback",
            "`lo`, present in every namespace; listing it only adds addresses",
            None,
            "loopback",
            neigh_timers=False,
            netns_local=True,
        ),
    )
}

# What `harness import` translates: the kinds a listing makes with `ip link add`.
IP_LINK_KINDS = frozenset(k.name for k in LINK_KINDS.values() if k.made_with == "ip link add")
TUNTAP_KINDS = frozenset(k.name for k in LINK_KINDS.values() if k.made_with == "ip tuntap add")

# The kernel features, by name: the rows that name the config option of one.
FEATURES: dict[str, LinkKind] = {k.name: k for k in LINK_KINDS.values() if k.config}
