"""Readiness: when a built topology, or a change to it, has taken effect in the kernel.

Each check is a condition for timing.wait_each: it is called with what its
namespace's monitor socket carried (link and IPv6 address notifications) and
re-reads the state over netlink.  Nothing here sleeps.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from harness.lab.netns import NetNS
from harness.lab.rtnl import new_addresses
from harness.scenario.link_kinds import LINK_KINDS

if TYPE_CHECKING:
    from harness.lab.network import Network

BRPORT_STATE_FORWARDING = 3
IFF_UP, IFF_LOWER_UP = 0x1, 0x10000


def ready_in(net: Network, name: str, events: list[bytes]) -> bool:
    """In namespace `name`: every link that should be up is operationally up, its
    IPv6 addresses are usable, and (in a LAN's switch) every bridge port forwards."""
    topology = net.topology
    announced = net.announced.setdefault(name, set())
    record_announcements(announced, events)
    links = net.lab[name].rtnl.links()
    if name in net.lans:
        # The bridge device's own operstate is left out on purpose: it does not
        # gate forwarding between ports, and its carrier change is a non-urgent
        # linkwatch event the kernel batches for up to 1 s.
        return all(
            link.operstate == "UP" and link.brport_state == BRPORT_STATE_FORWARDING
            for link in links
            if link.brport_state is not None
        )
    states = {link.name: link.operstate for link in links}
    ipv6_ready: set[str] = set()
    for ifname, iface in topology.hosts[name].interfaces.items():
        kind = LINK_KINDS[str(iface.resolved_kind)]
        if kind.role == "loopback":
            # Up since the namespace was made, no carrier; but an IPv6 address on lo
            # is local only once addrconf_dad_completed() has installed its local
            # route (from a work queue) and announced it, as on any link.
            ipv6_ready.add(ifname)
            continue
        if not iface.up:
            continue
        if iface.link is not None:  # a veth is up only once its other end is
            peer_host, _, peer_if = iface.link.partition(".")
            if not topology.hosts[peer_host].interfaces[peer_if].up:
                continue
        # tun/tap, dummy and vrf report UNKNOWN: they have no carrier to watch.  A veth
        # reads UNKNOWN too until linkwatch first handles it, and until then its
        # transmit queue may still be noop_qdisc (see LinkKind.operstate_up).
        state = states.get(ifname)
        if state != "UP" and (state != "UNKNOWN" or kind.operstate_up):
            return False
        ipv6_ready.add(ifname)
    return not net.ipv6 or _ipv6_usable(net, name, ipv6_ready, announced)


# Which kinds get an EUI-64 link-local address once up with carrier is their
# row's `link_local` (unless their own IPv6 settings say otherwise, see
# _gets_link_local).
IFA_F_TENTATIVE = 0x40
RT_SCOPE_LINK = 253
IN6_ADDR_GEN_MODE_NONE = 1


def record_announcements(announced: set[tuple[int, str]], events: list[bytes]) -> None:
    """Add (ifindex, address) of each address the events announce as usable."""
    announced.update(
        (a.index, a.address) for a in new_addresses(events) if not a.flags & IFA_F_TENTATIVE
    )


def _gets_link_local(ns: NetNS, ifname: str) -> bool:
    """Whether the kernel will give `ifname` a link-local address: IPv6 is on for it
    and its address generation mode is not `none` (a scenario may set either)."""
    conf = f"net/ipv6/conf/{ifname}"
    values = ns.read_sysctls([f"{conf}/disable_ipv6", f"{conf}/addr_gen_mode"])
    return values.get(f"{conf}/disable_ipv6") == "0" and values.get(f"{conf}/addr_gen_mode") != str(
        IN6_ADDR_GEN_MODE_NONE
    )


def _ipv6_usable(
    net: Network, name: str, ifnames: set[str], announced: set[tuple[int, str]]
) -> bool:
    """Every IPv6 address of `ifnames` is usable, and with it the MLD report for its
    solicited-node group has been sent (see IPV6_ON), so none lands in a case.

    A link-local address shows it in its flags: it is tentative until then.  An
    address added with IFA_F_NODAD is never tentative; the kernel joins its group
    from a work queue and announces the address (RTM_NEWADDR) afterwards, so the
    announcement is what is waited for.
    """
    ns = net.lab[name]
    indexes = {ns.link_index(ifname) for ifname in ifnames}
    addresses = [a for a in ns.rtnl.addresses(socket.AF_INET6) if a.index in indexes]
    if any(a.flags & IFA_F_TENTATIVE for a in addresses):
        return False
    names = ns.interface_names()
    link_local = {names.get(a.index) for a in addresses if a.scope == RT_SCOPE_LINK}
    if name not in net.link_local_expected:  # read once: the host's sysctls are set by now
        net.link_local_expected[name] = {
            ifname
            for ifname in ifnames
            if LINK_KINDS[str(net.topology.hosts[name].interfaces[ifname].resolved_kind)].link_local
            and _gets_link_local(ns, ifname)
        }
    if not net.link_local_expected[name] <= link_local:
        return False
    for ifname in ifnames:
        iface = net.topology.hosts[name].interfaces[ifname]
        index = ns.link_index(ifname)
        for address in iface.addresses:
            if address.version == 6 and (index, str(address.ip)) not in announced:
                return False
    return True


def linkwatch_caught_up(ns: NetNS, events: list[bytes]) -> bool:
    """Every link's operstate agrees with its flags: up with carrier <=> UP."""
    del events  # a wake-up only: the state is re-read
    for link in ns.rtnl.links():
        if link.operstate == "UNKNOWN" or link.name == "lo":
            continue  # tun/tap, dummy, vrf: no carrier to follow
        running = link.flags & IFF_UP and link.flags & IFF_LOWER_UP
        if bool(running) != (link.operstate == "UP"):
            return False
    return True
