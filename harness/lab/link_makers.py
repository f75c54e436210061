"""How the lab makes each link kind, and tries each kernel feature, keyed by the row's name.

The rows (which kinds exist, what each needs, its feature and config option) are
the scenario language's: harness/scenario/link_kinds.py.  Here is what touches
the kernel: the netlink requests, /dev/net/tun and its ioctl, the fds the lab
keeps.  Pair kinds (veth, port) are made by the builder's link pass, loopback
is there in every namespace; every other kind has a maker here.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.scenario.link_kinds import IPVLAN_MODES

if TYPE_CHECKING:
    from harness.lab.netns import NetNS
    from harness.lab.network import Network
    from harness.scenario import Interface

# include/uapi/linux/if_tun.h
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_TAP, IFF_NO_PI = 0x0001, 0x0002, 0x1000

Maker = Callable[["Network", "NetNS", str, "Interface"], None]


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


def _plain(kind: str) -> Maker:
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


# The local and stacked kinds, by name: how each is made.
MAKERS: dict[str, Maker] = {
    "macvlan": _macvlan,
    "ipvlan": _ipvlan,
    "tun": _tun_or_tap,
    "tap": _tun_or_tap,
    "dummy": _plain("dummy"),
    "vrf": _vrf,
    "bridge": _plain("bridge"),
}

# The kernel features, by name (harness/scenario/link_kinds.py's FEATURES): how each is tried.
TRIES: dict[str, Callable[[NetNS], None]] = {
    "veth": _try_veth,
    "macvlan": _try_stacked("macvlan"),
    "ipvlan": _try_stacked("ipvlan"),
    "tun": _try_tun,
    "dummy": _try_plain("dummy"),
    "vrf": _try_vrf,
    "bridge": _try_plain("bridge"),
}
