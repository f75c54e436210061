"""Link kinds: every kind of interface a topology may have, one row each.

A row says what the kernel must support for it (the feature tried before a
case runs, and the config option named when it is missing), how the builder
makes it, and what readiness means for it.  The loader (which kinds exist,
which fields each needs), the builder (harness/lab/builder.py), `harness doctor`
and the kernel-feature skips (harness/lab/kernel_features.py) all read this table.

Adding a kind: one row here (with its `create` and, when it is a new kernel
feature, its `try_create`), its README line, and a use in tests/scenarios/.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from harness.lab.netns import NetNS
    from harness.lab.network import Network
    from harness.scenario import Interface

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_TAP, IFF_NO_PI = 0x0001, 0x0002, 0x1000
IPVLAN_MODES = {"l2": 0, "l3": 1, "l3s": 2}

Role = Literal["pair", "local", "stacked", "loopback"]
Creator = Callable[["Network", "NetNS", str, "Interface"], None]


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
    create: Creator | None = None  # for local and stacked kinds
    config: str | None = None  # the kernel config option, named when the feature is missing
    try_create: Callable[[NetNS], None] | None = None  # the feature test, for feature rows
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


# ---------------------------------------------------------------- how each kind is made


def _with_mac(iface: Interface) -> dict[str, Any]:
    return {"address": iface.mac} if iface.mac else {}


def _tun_or_tap(net: Network, ns: NetNS, ifname: str, iface: Interface) -> None:
    """A tun or tap device whose character-device fd the harness keeps (and reads)."""
    # The device is created in the namespace of the thread that opens /dev/net/tun.
    with ns.entered():
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    net.lab.defer(_close_in_background, fd)
    ns.forget_names()
    flags = (IFF_TUN if iface.resolved_kind == "tun" else IFF_TAP) | IFF_NO_PI
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", ifname.encode(), flags))
    net.tun_fds[(ns.name, ifname)] = fd
    if iface.mac:
        ns.ipr.link("set", index=ns.link_index(ifname), address=iface.mac)


def _close_in_background(fd: int) -> None:
    """Close a tun/tap fd without waiting for it.

    The close unregisters the device, which waits for RCU grace periods: 26 ms on
    average here (81 closes in a catalogue pass, 2.1 s in all).  The fd stays this
    process's until the thread closes it, so a kill still frees everything, and
    the interpreter waits for the thread before it exits.  Until then the device's
    namespace outlives the lab by those milliseconds: nothing else refers to it.
    """
    threading.Thread(target=os.close, args=(fd,), name=f"close tun fd {fd}").start()


def _plain(kind: str) -> Creator:
    def create(net: Network, ns: NetNS, ifname: str, iface: Interface) -> None:
        del net
        ns.add_link(ifname, kind, **_with_mac(iface))

    return create


def _vrf(net: Network, ns: NetNS, ifname: str, iface: Interface) -> None:
    del net
    ns.add_link(ifname, "vrf", vrf_table=iface.table, **_with_mac(iface))


def _macvlan(net: Network, ns: NetNS, ifname: str, iface: Interface) -> None:
    del net
    lower = ns.link_index(str(iface.parent))
    mode = iface.mode or "bridge"
    ns.add_link(ifname, "macvlan", link=lower, macvlan_mode=mode, **_with_mac(iface))


def _ipvlan(net: Network, ns: NetNS, ifname: str, iface: Interface) -> None:
    del net
    lower = ns.link_index(str(iface.parent))
    mode = IPVLAN_MODES[iface.mode or "l2"]
    ns.add_link(ifname, "ipvlan", link=lower, ipvlan_mode=mode, **_with_mac(iface))


# ---------------------------------------------------------------- how a feature is tried


def _try_plain(kind: str) -> Callable[[NetNS], None]:
    def attempt(ns: NetNS) -> None:
        ns.add_link(f"{kind}-probe", kind)

    return attempt


def _try_veth(ns: NetNS) -> None:
    ns.add_link("probe-a", "veth", peer={"ifname": "probe-b"})


def _try_stacked(kind: str) -> Callable[[NetNS], None]:
    def attempt(ns: NetNS) -> None:
        ns.add_link("lower", "veth", peer={"ifname": "lower-peer"})
        ns.add_link("upper", kind, link=ns.link_index("lower"))

    return attempt


def _try_tun(ns: NetNS) -> None:
    with ns.entered():
        os.close(os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC))


def _try_vrf(ns: NetNS) -> None:
    ns.add_link("vrf-probe", "vrf", vrf_table=10)


LINK_KINDS: dict[str, LinkKind] = {
    k.name: k
    for k in (
        LinkKind(
            "veth",
            "one end of a veth pair (`link: HOST.IFNAME` names the other)",
            "veth",
            "pair",
            config="CONFIG_VETH",
            try_create=_try_veth,
            operstate_up=True,
            link_local=True,
            wired=True,
            requires=("link",),
            early_up=True,
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
            _macvlan,
            config="CONFIG_MACVLAN",
            try_create=_try_stacked("macvlan"),
            link_local=True,
            wired=True,
            modes=("bridge", "private", "vepa", "passthru"),
            requires=("parent",),
        ),
        LinkKind(
            "ipvlan",
            "an ipvlan on `parent`",
            "ipvlan",
            "stacked",
            _ipvlan,
            config="CONFIG_IPVLAN",
            try_create=_try_stacked("ipvlan"),
            wired=True,
            modes=tuple(IPVLAN_MODES),
            requires=("parent",),
        ),
        LinkKind(
            "tun",
            "a tun device (no link layer); the harness holds its fd and reads what the kernel "
            "writes to it",
            "tun",
            "local",
            _tun_or_tap,
            config="CONFIG_TUN",
            try_create=_try_tun,
        ),
        LinkKind(
            "tap",
            "a tap device (Ethernet); the harness holds its fd and reads what the kernel "
            "writes to it",
            "tun",
            "local",
            _tun_or_tap,
            link_local=True,
        ),
        LinkKind(
            "dummy",
            "a dummy device: packets routed to it are dropped",
            "dummy",
            "local",
            _plain("dummy"),
            config="CONFIG_DUMMY",
            try_create=_try_plain("dummy"),
        ),
        LinkKind(
            "vrf",
            "a VRF device bound to routing `table`; interfaces join it with `master`",
            "vrf",
            "local",
            _vrf,
            config="CONFIG_NET_VRF",
            try_create=_try_vrf,
            neigh_timers=False,
            requires=("table",),
        ),
        LinkKind(
            "bridge",
            "a bridge inside the host; interfaces join it with `master`",
            "bridge",
            "local",
            _plain("bridge"),
            config="CONFIG_BRIDGE",
            try_create=_try_plain("bridge"),
            neigh_timers=False,
        ),
        LinkKind(
            "loopback",
            "`lo`, present in every namespace; listing it only adds addresses",
            None,
            "loopback",
            neigh_timers=False,
        ),
    )
}

# The kernel features, by name: the rows that know how to try them.
FEATURES: dict[str, LinkKind] = {k.name: k for k in LINK_KINDS.values() if k.try_create}
