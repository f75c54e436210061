"""A built topology: the lab that owns it, what the later stages need of it, and when
the kernel has finished building or changing it.

The builder (harness/lab/builder.py) makes it and waits for `ready_in` in every
namespace; changes during a case go through `apply`, which waits until the
kernel has finished each one.  Each readiness check is a condition for
deadlines.wait_each: it is called with what its namespace's monitor socket
carried (link and IPv6 address notifications) and re-reads the state over
netlink.  Nothing here sleeps.
"""

from __future__ import annotations

import errno
import functools
import socket
from dataclasses import dataclass, field

from harness.core import deadlines
from harness.lab.linux import IFF_LOWER_UP, IFF_UP
from harness.lab.netlink_ip import APPLY, TopologyError, guarded
from harness.lab.netns import Lab, NetNS
from harness.lab.rtnl import new_addresses
from harness.scenario import Change, Topology, bridge_port_name
from harness.scenario.ipsyntax import SCOPES
from harness.scenario.link_kinds import LINK_KINDS

BRPORT_STATE_FORWARDING = 3

# Which kinds get an EUI-64 link-local address once up with carrier is their
# row's `link_local` (unless their own IPv6 settings say otherwise, see
# _gets_link_local).
IFA_F_TENTATIVE = 0x40
RT_SCOPE_LINK = SCOPES["link"]
IN6_ADDR_GEN_MODE_NONE = 1


@dataclass
class Network:
    """A built topology: the lab that owns it plus what the later stages need to know."""

    lab: Lab
    topology: Topology
    ipv6: bool = False
    lans: dict[str, NetNS] = field(default_factory=dict)
    tun_fds: dict[tuple[str, str], int] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    monitors: dict[str, socket.socket] = field(default_factory=dict)  # namespace -> link events
    # namespace -> (ifindex, address) of each IPv6 address the kernel announced as usable
    announced: dict[str, set[tuple[int, str]]] = field(default_factory=dict)
    # namespace -> interfaces the kernel will give a link-local address (read once)
    link_local_expected: dict[str, set[str]] = field(default_factory=dict)

    def wait_links_settled(self) -> None:
        """After a link change: wait until the kernel has applied it everywhere.

        Bringing a veth end down drops its peer's carrier at once, but the peer's
        operstate, and the link-down flag on routes through it, follow through
        linkwatch a moment later; a probe sent in between would race it.
        """
        deadlines.wait_each(
            {
                sock: functools.partial(linkwatch_caught_up, self.lab[name])
                for name, sock in self.monitors.items()
            },
            deadlines.READY_DEADLINE_S,
            "link changes to take effect",
        )

    def ready_in(self, name: str, events: list[bytes]) -> bool:
        """In namespace `name`: every link that should be up is operationally up, its
        IPv6 addresses are usable, and (in a LAN's switch) every bridge port forwards."""
        topology = self.topology
        announced = self.announced.setdefault(name, set())
        record_announcements(announced, events)
        links = self.lab[name].rtnl.links()
        if name in self.lans:
            # The bridge device's own operstate is left out on purpose: it does not
            # gate forwarding between ports, and its carrier change is a non-urgent
            # linkwatch event the kernel batches for up to 1 s.
            # A port whose host end the topology leaves down has no carrier, and the
            # bridge keeps it disabled (br_port_carrier_check): nothing to wait for.
            down = {
                bridge_port_name(host, ifname, n)
                for n, (host, ifname) in enumerate(topology.lans()[name])
                if not topology.hosts[host].interfaces[ifname].up
            }
            return all(
                link.operstate == "UP" and link.brport_state == BRPORT_STATE_FORWARDING
                for link in links
                if link.brport_state is not None and link.name not in down
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
        return not self.ipv6 or self._ipv6_usable(name, ipv6_ready, announced)

    def _ipv6_usable(self, name: str, ifnames: set[str], announced: set[tuple[int, str]]) -> bool:
        """Every IPv6 address of `ifnames` is usable, and with it the MLD report for its
        solicited-node group has been sent (see IPV6_ON), so none lands in a case.

        A link-local address shows it in its flags: it is tentative until then.  An
        address added with IFA_F_NODAD is never tentative; the kernel joins its group
        from a work queue and announces the address (RTM_NEWADDR) afterwards, so the
        announcement is what is waited for.
        """
        ns = self.lab[name]
        indexes = {ns.link_index(ifname) for ifname in ifnames}
        addresses = [a for a in ns.rtnl.addresses(socket.AF_INET6) if a.index in indexes]
        if any(a.flags & IFA_F_TENTATIVE for a in addresses):
            return False
        names = ns.interface_names()
        link_local = {names.get(a.index) for a in addresses if a.scope == RT_SCOPE_LINK}
        if name not in self.link_local_expected:  # read once: the host's sysctls are set by now
            self.link_local_expected[name] = {
                ifname
                for ifname in ifnames
                if LINK_KINDS[
                    str(self.topology.hosts[name].interfaces[ifname].resolved_kind)
                ].link_local
                and _gets_link_local(ns, ifname)
            }
        if not self.link_local_expected[name] <= link_local:
            return False
        for ifname in ifnames:
            iface = self.topology.hosts[name].interfaces[ifname]
            index = ns.link_index(ifname)
            for address in iface.addresses:
                if address.version == 6 and (index, str(address.ip)) not in announced:
                    return False
        return True

    def host(self, name: str) -> NetNS:
        """The namespace of host `name`."""
        return self.lab[name]

    def apply(self, change: Change) -> None:
        """Apply one change (route, rule, neigh, addr, link or sysctl) to the running topology."""
        ns = self.host(change.host)
        if change.sysctl is not None:
            for key, value in change.sysctl.items():
                guarded(ns, f"sysctl {key}={value}", functools.partial(ns.write_sysctl, key, value))
        else:
            verb, spec = change.parsed()
            try:
                new_ipv6 = change.kind == "addr" and verb == "add" and spec.address.version == 6
                address = (ns.link_index(spec.dev), str(spec.address.ip)) if new_ipv6 else None
                if address is not None:
                    self.announced.setdefault(change.host, set()).discard(address)
                APPLY[change.kind](ns, verb, spec)
            except LookupError as exc:
                # iproute2 asks the kernel for the device by name first, and the
                # kernel answers ENODEV (say, after a rename it refused).
                raise TopologyError(
                    f"host {ns.name}: `{change.command}` failed: {exc}", errno.ENODEV
                ) from None
            if address is not None:
                self._wait_announced(change.host, address)
        self.log.append(str(change))

    def _wait_announced(self, host: str, key: tuple[int, str]) -> None:
        """After `ip -6 addr add`: wait until the kernel announces the address usable.

        The add returns before the kernel has installed the address's local route
        (measured: in 29 of 40 adds the route was not there yet, and the
        announcement came 0.5 to 1.1 ms later), so a probe sent at once could
        reach a host that does not yet accept packets for it.  Only on a link that
        is operationally up: elsewhere nothing can arrive for the address anyway.
        """
        ns = self.host(host)
        if not any(
            link.index == key[0] and link.operstate in ("UP", "UNKNOWN") for link in ns.rtnl.links()
        ):
            return
        announced = self.announced.setdefault(host, set())

        def usable(events: list[bytes]) -> bool:
            record_announcements(announced, events)
            return key in announced

        deadlines.wait_each(
            {self.monitors[host]: usable},
            deadlines.READY_DEADLINE_S,
            f"the kernel to announce {key[1]} on {host} usable",
        )


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
