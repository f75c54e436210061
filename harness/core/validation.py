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
import functools
import ipaddress
import re
from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict

from harness.core.display import one_line

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


def _written_as_text(value: object) -> object:
    """An address is written as text: pydantic takes an integer (or YAML's `true`, an int
    to Python) for an address, so `dst: true` meant 0.0.0.1 and `dst: 3221225985` 192.0.2.1."""
    if isinstance(value, bool | int | float):
        raise ValueError(f"{value!r} is not an address: write it as text, e.g. 192.0.2.1")
    return value


IPAddress = Annotated[
    ipaddress.IPv4Address | ipaddress.IPv6Address, BeforeValidator(_written_as_text)
]
IPInterface = Annotated[
    ipaddress.IPv4Interface | ipaddress.IPv6Interface, BeforeValidator(_written_as_text)
]


_IFNAME = re.compile(r"[\w.-]+")
# Names the kernel gives its per-namespace conf directories (/proc/sys/net/ipv4/conf/all,
# .../default): a device of that name cannot register its own.
_RESERVED_IFNAMES = ("all", "default")


def check_ifname(name: str) -> str:
    """A name Linux accepts for an interface (net/core/dev.c dev_valid_name), else ValueError."""
    size = len(name.encode())
    if size > IFNAME_MAX:
        raise ValueError(
            f"interface name {name!r} is {size} bytes; Linux allows at most {IFNAME_MAX}"
        )
    if name in (".", "..") or not _IFNAME.fullmatch(name):
        raise ValueError(
            f"interface name {name!r}: letters, digits, '.', '-' and '_' only (not '.' or '..')"
        )
    if name in _RESERVED_IFNAMES:
        raise ValueError(f"interface name {name!r} is the kernel's own conf/{name} directory")
    return name


# One rule for every name that becomes part of a path or a label the harness makes:
# LANs, scenario files (their stem), case ids and topologies (hosts and interfaces have
# stricter rules of their own and share the length).  A name is one file-name component
# (results/<run>/records/KERNEL/SCENARIO/CASE.json, pcap/.../LAN-IFNAME.pcap): no '/',
# no '..', no control or shell characters, and short enough that every path the run
# folder builds from it stays far below NAME_MAX (255 bytes, ENAMETOOLONG).
NAME_MAX_CHARS = 64
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_name(name: object, what: str = "name") -> str:
    """A name that is safe as one path component (see NAME_MAX_CHARS), else ValueError."""
    if not isinstance(name, str):
        raise ValueError(f"{what} {name!r} must be a string")
    shown = f"'{one_line(name)}'"  # a name from a file never moves the cursor
    if len(name) > NAME_MAX_CHARS:
        raise ValueError(
            f"{what} {shown[:NAME_MAX_CHARS]}... is {len(name)} characters; "
            f"at most {NAME_MAX_CHARS}"
        )
    if not _SAFE_NAME.fullmatch(name):
        raise ValueError(
            f"{what} {shown}: letters, digits, '.', '-' and '_' only, starting with a "
            "letter or digit"
        )
    return name


class FieldError(ValueError):
    """A model validator's problem with one of the model's fields (or deeper), so that the
    loader's message names that field: `hosts.a.interfaces.eth0.link`, not just `topology`.

    pydantic puts an error raised in a validator at the validator's own place; it keeps
    the exception (ctx['error']), and the loader appends `where` to that place.
    """

    def __init__(self, where: tuple[str | int, ...], problem: str) -> None:
        super().__init__(problem)
        self.where = where


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


# Keys under net.* that belong to the machine, not to a network namespace: a new
# namespace does not have them, or has them read-only (measured on 6.18 by
# comparing /proc/sys/net in the initial and in a new namespace; the kernel
# registers them for init_net only: net/core/sysctl_net_core.c net_core_table,
# net/ipv4/sysctl_net_ipv4.c ipv4_table, net/ipv4/route.c ipv4_route_table, ...).
GLOBAL_SYSCTLS = frozenset(
    (
        "net/core/bpf_jit_enable",
        "net/core/bpf_jit_harden",
        "net/core/bpf_jit_kallsyms",
        "net/core/bpf_jit_limit",
        "net/core/busy_poll",
        "net/core/busy_read",
        "net/core/default_qdisc",
        "net/core/dev_weight",
        "net/core/dev_weight_rx_bias",
        "net/core/dev_weight_tx_bias",
        "net/core/devconf_inherit_init_net",
        "net/core/fb_tunnels_only_for_init_net",
        "net/core/flow_limit_cpu_bitmap",
        "net/core/flow_limit_table_len",
        "net/core/gro_normal_batch",
        "net/core/high_order_alloc_disable",
        "net/core/max_skb_frags",
        "net/core/mem_pcpu_rsv",
        "net/core/message_burst",
        "net/core/message_cost",
        "net/core/netdev_budget",
        "net/core/netdev_budget_usecs",
        "net/core/netdev_max_backlog",
        "net/core/netdev_rss_key",
        "net/core/netdev_tstamp_prequeue",
        "net/core/netdev_unregister_timeout_secs",
        "net/core/rps_sock_flow_entries",
        "net/core/skb_defer_max",
        "net/core/warnings",
        "net/core/rmem_default",
        "net/core/rmem_max",
        "net/core/wmem_default",
        "net/core/wmem_max",
        "net/core/optmem_max",
        "net/ipv4/cipso_cache_bucket_size",
        "net/ipv4/cipso_cache_enable",
        "net/ipv4/cipso_rbm_optfmt",
        "net/ipv4/cipso_rbm_strictvalid",
        "net/ipv4/fib_sync_mem",
        "net/ipv4/inet_peer_maxttl",
        "net/ipv4/inet_peer_minttl",
        "net/ipv4/inet_peer_threshold",
        "net/ipv4/ipfrag_secret_interval",
        "net/ipv4/route/error_burst",
        "net/ipv4/route/error_cost",
        "net/ipv4/route/gc_elasticity",
        "net/ipv4/route/gc_interval",
        "net/ipv4/route/gc_min_interval",
        "net/ipv4/route/gc_min_interval_ms",
        "net/ipv4/route/gc_thresh",
        "net/ipv4/route/gc_timeout",
        "net/ipv4/route/max_size",
        "net/ipv4/route/redirect_load",
        "net/ipv4/route/redirect_number",
        "net/ipv4/route/redirect_silence",
        "net/ipv4/tcp_available_ulp",
        "net/ipv4/tcp_low_latency",
        "net/ipv4/tcp_max_orphans",
        "net/ipv4/tcp_mem",
        "net/ipv4/udp_mem",
        "net/ipv6/calipso_cache_bucket_size",
        "net/ipv6/calipso_cache_enable",
        "net/ipv6/ip6frag_secret_interval",
        "net/ipv6/mld_max_msf",
        "net/ipv6/mld_qrv",
        "net/netfilter/nf_log_all_netns",
        "net/nf_conntrack_max",
    )
)
# Per-interface sysctl folders: net/ipv4/conf/IF/..., net/ipv6/neigh/IF/..., and their
# all/default rows, which are no interface.
_PER_INTERFACE = {("ipv4", "conf"), ("ipv6", "conf"), ("ipv4", "neigh"), ("ipv6", "neigh")}
_PER_INTERFACE |= {("mpls", "conf")}
_SYSCTL_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*")


@functools.lru_cache(maxsize=4096)
def sysctl_path(key: str) -> str:
    """The path under /proc/sys of a per-namespace `net.*` sysctl, else ValueError saying why.

    `net.ipv4.ip_forward` and `net/ipv4/ip_forward` both work; the slash form
    lets an interface name hold a dot (`net/ipv4/conf/eth0.5/rp_filter`).  The one
    check for scenario files and the Python API alike: nothing outside
    /proc/sys/net, no `..`, and no key that is global to the machine.
    """
    parts = key.split("/") if "/" in key else key.split(".")
    if parts[0] != "net" or len(parts) < 2:
        raise ValueError(f"sysctl {key!r}: only net.* keys belong to a network namespace")
    for part in parts[1:]:
        if part in (".", "..") or not _SYSCTL_PART.fullmatch(part):
            raise ValueError(f"sysctl {key!r}: {part!r} is not a sysctl name")
    path = "/".join(parts)
    if path in GLOBAL_SYSCTLS:
        raise ValueError(
            f"sysctl {key!r} is global to the machine, not per network namespace: "
            "a scenario cannot set it"
        )
    return path


# Keys a namespace has but nobody may both write and read back (measured on 6.18: the
# files under /proc/sys/net of mode 0200 and 0444 in a new namespace).  The harness
# records every key a scenario sets by reading it back, so a write-only key can only
# fail (EACCES, proc_sys_permission); writing a read-only one is refused (EACCES)
# unless that refusal is the claim (`fails_with`).
WRITE_ONLY_SYSCTLS = frozenset(("net/ipv4/route/flush", "net/ipv6/route/flush"))
READ_ONLY_SYSCTLS = frozenset(
    (
        "net/ipv4/tcp_available_congestion_control",
        "net/ipv4/tcp_ehash_entries",
        "net/ipv4/udp_hash_entries",
        "net/mptcp/available_path_managers",
        "net/mptcp/available_schedulers",
        "net/netfilter/nf_conntrack_count",
    )
)
_READ_ONLY_PER_INTERFACE = frozenset((("ipv4", "conf", "mc_forwarding"),))
# The kernel takes one page at most (proc_sys_call_handler): a longer value is EINVAL.
SYSCTL_VALUE_MAX = 4096


def sysctl_write_problem(key: str, value: object, refusal_claimed: bool = False) -> str | None:
    """Why setting `key` to `value` can only fail (a write-only or read-only key, a value
    the kernel cannot take), or None; `refusal_claimed`: the claim is that the kernel
    refuses the write, so a read-only key is fine."""
    parts = sysctl_path(key).split("/")
    path = "/".join(parts)
    if path in WRITE_ONLY_SYSCTLS:
        return f"sysctl {key!r} is write-only: the harness reads back every key it sets"
    per_interface = len(parts) == 5 and (parts[1], parts[2], parts[4]) in _READ_ONLY_PER_INTERFACE
    if not refusal_claimed and (path in READ_ONLY_SYSCTLS or per_interface):
        return f"sysctl {key!r} is read-only: the kernel refuses any write (EACCES)"
    text = str(value)
    if len(text.encode()) > SYSCTL_VALUE_MAX:
        return f"sysctl {key!r}: a value of {len(text)} characters; the kernel reads one page"
    if "\n" in text or "\t" in text:
        return f"sysctl {key!r}: a value is one line (numbers separated by spaces)"
    return None


def sysctl_row(key: str) -> str | None:
    """The folder a per-interface key is in: an interface (`eth0` of
    net.ipv4.conf.eth0.rp_filter, `eth0.5` of net/ipv4/conf/eth0.5/rp_filter), `all` or
    `default`; None for any other key."""
    parts = sysctl_path(key).split("/")
    if len(parts) > 4 and (parts[1], parts[2]) in _PER_INTERFACE:
        return parts[3]
    return None


def sysctl_interface(key: str) -> str | None:
    """The interface a per-interface key is about (`eth0` of net.ipv4.conf.eth0.rp_filter),
    None for any other key and for the conf/all and conf/default rows."""
    row = sysctl_row(key)
    return None if row in _RESERVED_IFNAMES else row


def sysctl_interface_problem(key: str, interfaces: Iterable[str]) -> str | None:
    """Why `key` cannot be set on a host with these interfaces (its interface is not one of
    them: the key would not exist), or None."""
    ifname = sysctl_interface(key)
    known = set(interfaces)
    if ifname is None or ifname in known:
        return None
    dotted = "/" not in key and any("." in name for name in known)
    hint = "; an interface name with a dot goes in the slash form, net/ipv4/conf/IF/KEY"
    return f"sysctl {key!r}: the host has no interface {ifname!r}" + (hint if dotted else "")
