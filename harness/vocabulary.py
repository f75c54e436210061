"""Words every stage shares: the strict model base, errno names and the address policy.

A scenario may only use addresses from the documentation and benchmark ranges
(real-world addresses from articles are mapped onto them), so that nothing a
case sends could ever mean a real host.
"""

from __future__ import annotations

import errno
import ipaddress
import re

from pydantic import BaseModel, ConfigDict

ALLOWED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15", "2001:db8::/32")
)
ERRNO_NAMES = frozenset(errno.errorcode.values())
IFNAME_MAX = 15  # IFNAMSIZ - 1

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


def check_allowed(address: IPAddress | str) -> None:
    """Refuse any address outside the documentation and benchmark ranges."""
    addr = ipaddress.ip_address(address)
    if addr.is_unspecified:
        return
    if not any(addr in net for net in ALLOWED_NETWORKS):
        allowed = ", ".join(str(n) for n in ALLOWED_NETWORKS)
        raise ValueError(f"{addr} is outside the documentation/benchmark ranges ({allowed})")


def same_ip(a: object, b: object) -> bool:
    """Two addresses are the same (2001:db8::1 == 2001:db8:0::1); other text compares as text."""
    try:
        return ipaddress.ip_address(str(a)) == ipaddress.ip_address(str(b))
    except ValueError:
        return str(a) == str(b)


def version_tuple(release: str) -> tuple[int, ...]:
    """(6, 1, 0) for `6.1.0-41-amd64`, (6, 18, 44) for `6.18.44-fc-v857`, (6, 2) for `6.2`."""
    numbers = re.match(r"\d+(?:\.\d+)*", release)
    return tuple(int(n) for n in numbers[0].split(".")) if numbers else ()
