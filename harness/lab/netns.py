"""Namespace lifecycle: anonymous network namespaces that cannot outlive the process.

Why anonymous namespaces, and why this cannot leak
---------------------------------------------------
`ip netns add` bind-mounts a namespace under /run/netns, so it survives the
process that made it: a run killed with SIGKILL leaves it behind.  Here a
namespace is made with unshare(CLONE_NEWNET) on the calling thread, an fd to it
is kept, and the thread returns to where it was.  Nothing names it on the file
system; it lives exactly as long as something references it: our fd, the
netlink and packet sockets opened inside it.  All of those are fds of this
process, so when the process ends, for any reason, SIGKILL included, the kernel
drops the last reference and destroys the namespace together with every link
in it (a veth pair dies with either end).  Nothing is ever created in the
namespace the process started in.

Every resource is registered with its owning `Lab` at the moment it is made and
released last-in-first-out when the lab closes, even when setup fails half-way.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import itertools
import os
import secrets
import socket
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pyroute2 import IPRoute

from harness.core.validation import sysctl_path
from harness.lab.linux import CLONE_NEWNET, LIBC
from harness.lab.rtnl import Rtnl

SO_NETNS_COOKIE = 71  # Linux >= 5.14 (older: see _cookie_here); not in Python's socket module
CHOSEN_INDEX_BASE = 1000

# os.unshare/os.setns exist only from Python 3.12; Debian 12 ships 3.11.

_THREAD_NS = "/proc/thread-self/ns/net"


class NamespaceError(RuntimeError):
    """A namespace could not be made or entered."""


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        if err == errno.EPERM:
            raise NamespaceError(
                f"{what}: permission denied. Building network namespaces needs root "
                "(CAP_SYS_ADMIN); run as root, e.g. `sudo scripts/test` or `sudo .venv/bin/pytest`."
            )
        raise NamespaceError(f"{what}: {os.strerror(err)}")


def _setns(fd: int) -> None:
    _check(LIBC.setns(fd, CLONE_NEWNET), "setns")


@contextlib.contextmanager
def _inside(fd: int) -> Iterator[None]:
    """This thread inside the namespace `fd` refers to for the block, then back."""
    here = os.open(_THREAD_NS, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd)
        try:
            yield
        finally:
            _setns(here)
    finally:
        os.close(here)


class _Entry:
    """The one way into a namespace for any thread: refused once its fd is closed,
    since the fd's number may name another namespace by then."""

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name
        self.closed = False

    def inside(self) -> contextlib.AbstractContextManager[None]:
        """The calling thread inside the namespace for a `with` block, then back."""
        if self.closed:
            raise NamespaceError(f"namespace {self.name!r} is closed")
        return _inside(self.fd)


def _sockets_inside(ipr: IPRoute, entry: _Entry) -> None:
    """Make every netlink socket of `ipr` inside the namespace, whichever thread asks.

    pyroute2 0.9 keeps a netlink socket per thread: the first request a thread
    makes reads AsyncCoreSocket.socket (thread-local), which calls
    `setup_socket()`, which opens a plain socket in the namespace that thread
    is in at that moment.  Another thread than the creating one would act on
    its own namespace (the host's, typically) and be answered "ok".  Wrapping
    that one factory costs no request anything: it runs once per thread.
    """
    core = ipr.asyncore
    if not callable(getattr(type(core), "setup_socket", None)):
        raise NamespaceError(
            f"pyroute2's {type(core).__name__} has no setup_socket(): its per-thread netlink "
            "sockets cannot be tied to a namespace (see pyroute2's bounds in pyproject.toml)"
        )
    make = core.setup_socket

    def setup_socket() -> socket.socket:
        with entry.inside():
            sock: socket.socket = make()
        return sock

    core.setup_socket = setup_socket  # an instance attribute wins over the class's method


@dataclass(frozen=True)
class NamespaceId:
    """Who a namespace is: its inode (what /proc/PID/ns/net shows) and its cookie.

    The kernel recycles inode numbers as soon as a namespace is freed; the
    cookie is never reused, so the pair tells a namespace from a later one.
    """

    inode: int
    cookie: int


# Linux < 5.14 has no SO_NETNS_COOKIE.  There a namespace made by NetNS carries a
# random 63-bit number as the alias of its loopback (IFLA_IFALIAS, which no
# scenario reads and nothing routes by), written once when it is made; a
# namespace made by anyone else reads as cookie 0.
_COOKIE_ALIAS = "harness-netns-cookie:"


def _cookie_here(ipr: IPRoute | None, stamp: bool) -> int:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            raw = sock.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8)
        return int(struct.unpack("Q", raw)[0])
    except OSError as exc:
        if exc.errno != errno.ENOPROTOOPT:
            raise
    with contextlib.ExitStack() as opened:
        if ipr is None:
            ipr = opened.enter_context(IPRoute())
        alias = ipr.get_links(1)[0].get_attr("IFLA_IFALIAS") or ""
        if alias.startswith(_COOKIE_ALIAS):
            return int(alias.removeprefix(_COOKIE_ALIAS), 16)
        if not stamp:
            return 0
        cookie = secrets.randbits(63) | 1
        ipr.link("set", index=1, ifalias=f"{_COOKIE_ALIAS}{cookie:x}")
        return cookie


def namespace_id(fd: int, ipr: IPRoute | None = None, stamp: bool = False) -> NamespaceId:
    """Identify the namespace an fd (from /proc/PID/ns/net or /proc/PID/fd/N) refers to."""
    with _inside(fd):
        cookie = _cookie_here(ipr, stamp)
    return NamespaceId(os.fstat(fd).st_ino, cookie)


class NetNS:
    """One anonymous network namespace with one netlink socket reused for every call.

    Any thread may use it: everything it opens (`ipr`'s per-thread netlink
    sockets included) is opened inside the namespace, never in the caller's.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        here = os.open(_THREAD_NS, os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(LIBC.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            try:
                # Netlink sockets belong to the namespace they are created in.  If
                # one cannot be made, what was made is closed before the error goes on.
                with contextlib.ExitStack() as made:
                    self.fd = os.open(_THREAD_NS, os.O_RDONLY | os.O_CLOEXEC)
                    made.callback(os.close, self.fd)
                    self.ipr = IPRoute()
                    made.callback(self.ipr.close)
                    self._entry = _Entry(self.fd, name)
                    _sockets_inside(self.ipr, self._entry)
                    self.rtnl = Rtnl(
                        socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
                    )
                    made.callback(self.rtnl.close)
                    self.id = namespace_id(self.fd, self.ipr, stamp=True)
                    made.pop_all()  # all made: from now on close() releases them
            finally:
                _setns(here)
        finally:
            os.close(here)
        # ifname -> ifindex; every netlink round trip costs about a millisecond.
        self._indexes: dict[str, int] = {"lo": 1}
        self._chosen: set[int] = set()
        self._names: dict[int, str] | None = None

    @property
    def path(self) -> str:
        """A path other tools can enter while we hold it: `nsenter --net=PATH ip route`."""
        # /proc/self is resolved by the proc mount, so this is our pid as /proc
        # numbers it, even inside a PID namespace without its own /proc mount
        # (`unshare --pid --fork`), where os.getpid() would name another process.
        return f"/proc/{os.readlink('/proc/self')}/fd/{self.fd}"

    def entered(self) -> contextlib.AbstractContextManager[None]:
        """Run the block with this thread inside the namespace, then go back (any thread)."""
        return self._entry.inside()

    def socket(self, family: int, kind: int, proto: int = 0) -> socket.socket:
        """A socket that lives in this namespace (a socket keeps the namespace it was made in)."""
        with self.entered():
            return socket.socket(family, kind, proto)

    @staticmethod
    def sysctl_path(key: str) -> str:
        """/proc/sys path of a per-namespace net.* key (harness.core.validation.sysctl_path: no
        way out of /proc/sys/net, nothing global to the machine), else ValueError."""
        # A plain string: a case resolves a few hundred of these, and pathlib
        # objects cost a tenth of a millisecond each.
        return "/proc/sys/" + sysctl_path(key)

    def read_sysctl(self, key: str) -> str:
        """The value of a sysctl as this namespace sees it."""
        values = self.read_sysctls([key])
        if key not in values:
            raise FileNotFoundError(f"sysctl {key!r} does not exist in namespace {self.name!r}")
        return values[key]

    def write_sysctls(self, values: Mapping[str, int | str], skip_missing: bool = False) -> None:
        """Set several sysctls with one entry into the namespace (plain syscalls: a case
        writes about a hundred of them)."""
        paths = {key: self.sysctl_path(key) for key in values}  # all checked before any write
        with self.entered():
            for key, value in values.items():
                try:
                    fd = os.open(paths[key], os.O_WRONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    if skip_missing:
                        continue
                    raise FileNotFoundError(
                        f"sysctl {key!r} does not exist in namespace {self.name!r}"
                    ) from None
                try:
                    os.write(fd, f"{value}\n".encode())
                except OSError as exc:
                    # Whether a value fits is the kernel's to say (and differs between
                    # kernels); the bare errno would not say which key it refused.
                    exc.add_note(f"writing sysctl {key}={value!r} in namespace {self.name!r}")
                    raise
                finally:
                    os.close(fd)

    def read_sysctls(self, keys: list[str]) -> dict[str, str]:
        """The values of the sysctls that exist among `keys`, with one entry into the namespace."""
        values: dict[str, str] = {}
        paths = {key: self.sysctl_path(key) for key in keys}
        with self.entered():
            for key in keys:
                try:
                    fd = os.open(paths[key], os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:
                    continue
                try:
                    values[key] = os.read(fd, 4096).decode().strip()
                finally:
                    os.close(fd)
        return values

    def write_sysctl(self, key: str, value: str | int) -> None:
        """Set a sysctl inside this namespace only."""
        self.write_sysctls({key: value})

    def add_link(self, ifname: str, kind: str, **attrs: Any) -> int:
        """`ip link add`, with the ifindex chosen here where that is safe (saves a lookup)."""
        self._names = None
        peer = attrs.get("peer")
        if isinstance(peer, dict) and "net_ns_fd" not in peer:
            # The kernel registers a same-namespace veth peer first, and it takes the
            # next free ifindex: choosing one here would collide (EBUSY).
            self.ipr.link("add", ifname=ifname, kind=kind, **attrs)
            return self.link_index(ifname)
        # Chosen indexes start at 1000, far above what the kernel hands out by
        # itself in a namespace this small, for two reasons: they never collide
        # with an index the kernel gave a veth peer born here, and the two ends of
        # a veth never share a number.  If they did (2 and 2 in two fresh
        # namespaces), linkwatch_urgent_event() would see ifindex == iflink and
        # batch the carrier change for up to a second.
        index = max([CHOSEN_INDEX_BASE - 1, *self._chosen]) + 1
        self.ipr.link("add", index=index, ifname=ifname, kind=kind, **attrs)
        self._chosen.add(index)
        self._indexes[ifname] = index
        return index

    def renamed(self, old: str, new: str) -> None:
        """Keep the ifindex cache right after `ip link set OLD name NEW`."""
        self._names = None
        if old in self._indexes:
            self._indexes[new] = self._indexes.pop(old)

    def link_index(self, ifname: str) -> int:
        """ifindex of an interface of this namespace, with a clear error when it is missing."""
        if ifname not in self._indexes:
            found = {name: index for index, name in self.interface_names().items()}
            if ifname not in found:
                raise LookupError(f"no interface {ifname!r} in namespace {self.name!r}")
            self._indexes[ifname] = found[ifname]
        return self._indexes[ifname]

    def interface_names(self) -> dict[int, str]:
        """ifindex -> name for every link of the namespace (cached until a link is
        added or renamed; `forget_names` drops it when something else may have)."""
        if self._names is None:
            self._names = {link.index: link.name for link in self.rtnl.links()}
        return dict(self._names)

    def forget_names(self) -> None:
        """Links appeared or changed name by other means (a veth peer born here, a tun)."""
        self._names = None

    def close(self) -> None:
        """Drop this object's references; the kernel frees the namespace once no socket holds it."""
        self._entry.closed = True
        with contextlib.suppress(Exception):
            self.ipr.close()
        self.rtnl.close()
        os.close(self.fd)

    def __repr__(self) -> str:
        return f"NetNS({self.name!r}, inode={self.id.inode})"


_lab_counter = itertools.count(1)


class Lab:
    """Owns every namespace and socket of one case and releases them last-in-first-out."""

    def __init__(self, label: str = "lab") -> None:
        # Labels only name things in reports: anonymous namespaces cannot collide
        # between xdist workers or runs, so no global name has to be unique.
        self.label = f"{label}#{os.getpid()}.{next(_lab_counter)}"
        self.namespaces: dict[str, NetNS] = {}
        self._created: set[NamespaceId] = set()
        self._stack = contextlib.ExitStack()

    def namespace(self, name: str) -> NetNS:
        """Create a namespace called `name` inside this lab."""
        if name in self.namespaces:
            raise ValueError(f"namespace {name!r} exists already in {self.label}")
        ns = NetNS(name)
        self._stack.callback(ns.close)
        self.namespaces[name] = ns
        self._created.add(ns.id)
        return ns

    def __getitem__(self, name: str) -> NetNS:
        try:
            return self.namespaces[name]
        except KeyError:
            raise KeyError(
                f"no host {name!r} in this lab (hosts: {', '.join(self.namespaces)})"
            ) from None

    def socket(self, host: str, family: int, kind: int, proto: int = 0) -> socket.socket:
        """A socket inside host's namespace, closed with the lab."""
        sock = self[host].socket(family, kind, proto)
        self._stack.callback(sock.close)
        return sock

    def defer(self, callback: Callable[..., Any], *args: Any) -> None:
        """Register a cleanup that runs when the lab closes (LIFO)."""
        self._stack.callback(callback, *args)

    def created(self) -> set[NamespaceId]:
        """Every namespace this lab made; still known after close, to prove them gone."""
        return set(self._created)

    def close(self) -> None:
        """Release everything, newest first."""
        self.namespaces.clear()
        self._stack.close()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
