"""Words every stage shares: the strict model base, errno names and the address policy.

A scenario may only use addresses from the documentation and benchmark ranges
(real-world addresses from articles are mapped onto them), so that nothing a
case sends could ever mean a real host.  Link-local addresses (169.254.0.0/16,
fe80::/10) are allowed too, wherever an address is: no router forwards them, so
they mean nothing beyond the link they are on.  Multicast groups (224.0.0.0/4,
ff00::/8) and the limited broadcast 255.255.255.255 are allowed only where an
address is a destination (a probe's `dst`, a route's prefix, a rule's `to`, a
listener's bind or group), never as an interface's address, a gateway or a
source.  None of this can leave the namespaces: no scenario namespace is
connected to anything real.
"""

from __future__ import annotations

import errno
import ipaddress
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

ALLOWED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15", "2001:db8::/32")
)
ERRNO_NAMES = frozenset(errno.errorcode.values())
IFNAME_MAX = 15  # IFNAMSIZ - 1

LINK_LOCAL_NETWORKS = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10"))
DESTINATION_ONLY_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("224.0.0.0/4", "ff00::/8", "255.255.255.255/32")
)
# Where an address is used: only a destination may be a group or the limited broadcast.
AddressRole = Literal["address", "gateway", "source", "destination"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


class Strict(BaseModel):
    """A frozen model that refuses unknown keys (a typo in a scenario is an error, not ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


def errno_name(code: int) -> str:
    """ENETUNREACH for 101, etc."""
    return errno.errorcode.get(code, f"E{code}")


def check_errno_name(value: str, ok: bool = False) -> str:
    """An errno name such as ENETUNREACH (or 'ok' where `ok` is allowed), else ValueError."""
    if (ok and value == "ok") or value in ERRNO_NAMES:
        return value
    either = "neither 'ok' nor " if ok else "not "
    raise ValueError(f"{value!r} is {either}an errno name such as ENETUNREACH")


def _policy(role: AddressRole) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    extra = DESTINATION_ONLY_NETWORKS if role == "destination" else ()
    return (*ALLOWED_NETWORKS, *LINK_LOCAL_NETWORKS, *extra)


def _refusal(shown: object, role: AddressRole) -> ValueError:
    allowed = ", ".join(str(n) for n in ALLOWED_NETWORKS)
    local = ", ".join(str(n) for n in LINK_LOCAL_NETWORKS)
    special = "multicast and 255.255.255.255 only as a destination"
    if role == "destination":
        special = "multicast (224.0.0.0/4, ff00::/8), 255.255.255.255"
    return ValueError(
        f"{shown} is outside the documentation/benchmark ranges ({allowed}), "
        f"link-local ({local}) and {special}"
    )


def check_allowed(address: IPAddress | str, role: AddressRole = "address") -> None:
    """Refuse an address outside the documentation and benchmark ranges and link-local,
    and, for a destination, multicast and the limited broadcast (see the module docstring).
    A scope (`fe80::1%eth0`) is not part of the address."""
    addr = ipaddress.ip_address(_unscoped(address))
    if addr.is_unspecified:
        return
    if not any(addr in net for net in _policy(role)):
        raise _refusal(addr, role)


def check_allowed_network(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network, role: AddressRole = "destination"
) -> None:
    """Refuse a prefix that is not wholly inside one range `check_allowed` allows
    (192.0.2.0/23 starts in 192.0.2.0/24 but also covers 192.0.3.0/24)."""
    if not network.prefixlen:
        return  # `default`
    if not any(
        network.version == net.version and network.subnet_of(net)  # type: ignore[arg-type]
        for net in _policy(role)
    ):
        raise _refusal(network, role)


def same_ip(a: object, b: object) -> bool:
    """Two addresses are the same (2001:db8::1 == 2001:db8:0::1, fe80::1%eth0 == fe80::1: a
    scope is not part of the address on the wire); other text compares as text."""
    try:
        return ipaddress.ip_address(_unscoped(a)) == ipaddress.ip_address(_unscoped(b))
    except ValueError:
        return str(a) == str(b)


def _unscoped(address: object) -> str:
    return str(address).split("%", 1)[0]


def needs_scope(address: IPAddress | str) -> bool:
    """An IPv6 address the kernel needs an interface for: link-local unicast, and multicast
    of interface- or link-local scope (__ipv6_addr_needs_scope_id in include/net/ipv6.h)."""
    addr = ipaddress.ip_address(_unscoped(address))
    if addr.version != 6:
        return False
    return addr.is_link_local or (addr.is_multicast and (addr.packed[1] & 0x0F) in (1, 2))


def version_tuple(release: str) -> tuple[int, ...]:
    """(6, 1, 0) for `6.1.0-41-amd64`, (6, 18, 44) for `6.18.44-fc-v857`, (6, 2) for `6.2`."""
    numbers = re.match(r"\d+(?:\.\d+)*", release)
    return tuple(int(n) for n in numbers[0].split(".")) if numbers else ()
