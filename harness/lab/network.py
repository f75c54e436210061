"""A built topology: the lab that owns it, and what the later stages need of it.

The builder (harness/lab/builder.py) makes it; changes during a case go through
`apply`, which waits until the kernel has finished each one.
"""

from __future__ import annotations

import errno
import functools
import socket
from dataclasses import dataclass, field

from harness.core import deadlines
from harness.lab.netlink_ip import APPLY, TopologyError, guarded
from harness.lab.netns import Lab, NetNS
from harness.lab.readiness import linkwatch_caught_up, record_announcements
from harness.scenario import Change, Topology


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
