"""What a scenario may ask for: the bounds checked at load.

The bounds below are checked at load, so that a file from the internet cannot
make the harness work for hours, or hold more than a process can: each is
refused with one line naming the field.  What a case needs of this machine
(file descriptors, network namespaces) is harness/scenario/footprint.py's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sized

from harness.core import deadlines
from harness.core.validation import sysctl_path

# The size of a scenario.  The catalogue's largest (scenarios/, measured): 4 hosts,
# 7 interfaces, 1 LAN, 3 listeners, 12 cases in a file, 3 acts in a case, 4 changes
# in an act, 5 routes/rules/neighbours on a host, 4 sysctls, 5.5 kB.  The bounds are
# far above that, and low enough that a case within all of them holds fewer than
# 1024 file descriptors (FD_SETSIZE, and the usual soft RLIMIT_NOFILE) on any
# machine: 9 x 64 namespaces + 192 listeners + 32 probes + 128 tun/tap + 64 spare
# = 992 (tests/unit/test_loader_bounds.py checks the sum).
MAX_NAMESPACES = 64  # hosts + LANs: each is a namespace with 9 fds of this process
MAX_INTERFACES = 128  # in a topology: a tun/tap holds an fd, every link a build step
MAX_LISTENERS = 192  # in a case, given or by default (each flow's port on each host)
# A case's acts run one after the other, each up to its settle deadline (1.5 s, 8 s
# with --kernel-timers) or a pending resolution's bound (deadlines.NEIGHBOUR_WAIT_MAX_S):
# 32 acts are minutes at worst, where an unbounded list made a 22 kB file run 2.8 h.
MAX_ACTS = 32
# Every case builds its namespaces anew (about 0.1 s for a few hosts) before its acts.
MAX_CASES = 64
MAX_CHANGES = 64  # in one act: each is a netlink request or a sysctl write
MAX_LINES = 256  # per host: routes, rules, neighbours, nexthops (each), sysctls
# YAML aliases make a small file stand for a huge document: 1.9 kB of them (cases x
# steps x changes) kept `harness list` busy for 100 s.  The expanded document is
# counted before anything is built from it.  The catalogue's largest has 422 nodes;
# a file of 50,000 loads in about 0.3 s.
MAX_YAML_NODES = 50_000


def too_many(value: object, limit: int, what: str, why: str) -> str | None:
    """`N WHAT: at most LIMIT (WHY)` when `value` (a list or mapping) holds more than
    `limit` items, else None."""
    if isinstance(value, Sized) and len(value) > limit:
        return f"{len(value)} {what}: at most {limit} ({why})"
    return None


def at_most(value: object, limit: int, what: str, why: str) -> object:
    """`value`, unless it is a list or mapping of more than `limit` items (ValueError): for
    a `mode="before"` validator, so that a huge list is refused before its items are read."""
    problem = too_many(value, limit, what, why)
    if problem:
        raise ValueError(problem)
    return value


# Neighbour timers that decide how long a pending resolution holds an act: an
# INCOMPLETE entry fails after mcast_solicit + app_solicit probes retrans_time
# apart (neigh_timer_handler, neigh_max_probes: the count starts at ucast_solicit),
# and a proxy answers after up to proxy_delay (pneigh_enqueue); harness/case/session.py
# waits that long.  Other neighbour timers (base_reachable_time, delay_first_probe_time,
# gc_stale_time, locktime, ucast_solicit, ...) hold no act: no frame waits on them.
# Each row: the unit in seconds (a count: None) and the kernel's default.
_WAIT_PARAMS: dict[str, tuple[float | None, float]] = {
    "retrans_time_ms": (0.001, 1.0),
    "retrans_time": (0.01, 1.0),  # USER_HZ (1/100 s): proc_dointvec_userhz_jiffies
    "mcast_solicit": (None, 3),
    "app_solicit": (None, 0),
    "proxy_delay": (0.01, 0.8),  # USER_HZ
}
_SAME_TIMER = {"retrans_time": "retrans", "retrans_time_ms": "retrans"}


def _number(value: int | str) -> int | None:
    """An integer sysctl value as the kernel would read it (decimal), or None."""
    text = str(value).strip()
    digits = text.removeprefix("-")
    if not digits.isdecimal() or len(digits) > 18:
        return None
    return int(text)


def neighbour_wait_problem(
    settings: Iterable[tuple[str, str, int | str]],
) -> tuple[str, str] | None:
    """(field, problem) when neighbour sysctls of one host would let a pending resolution
    hold an act longer than deadlines.NEIGHBOUR_WAIT_MAX_S, else None.

    `settings` are (field, key, value) in the order they are applied (the topology's,
    then a case's changes); every value a key takes is considered, as each holds for a
    while.  An interface's own row counts, else the `default` row, else the kernel's.
    """
    # (family, row) -> parameter -> (seconds or count, field, key), the largest given
    rows: dict[tuple[str, str], dict[str, tuple[float, str, str]]] = {}
    for field, key, value in settings:
        try:
            parts = sysctl_path(key).split("/")
        except ValueError:
            continue  # refused by its own check
        if len(parts) != 5 or parts[2] != "neigh" or parts[4] not in _WAIT_PARAMS:
            continue
        unit, _ = _WAIT_PARAMS[parts[4]]
        number = _number(value)
        if number is None:
            return field, f"sysctl {key!r}: {str(value)[:40]!r} is not a whole number"
        amount = max(number, 0) * (unit or 1)
        name = _SAME_TIMER.get(parts[4], parts[4])
        row = rows.setdefault((parts[1], parts[3]), {})
        if name not in row or amount > row[name][0]:
            row[name] = (amount, field, key)
    for (family, ifname), row in rows.items():
        default = rows.get((family, "default"), {})
        probes = _effective(row, default, "mcast_solicit") + _effective(row, default, "app_solicit")
        wait = probes * _effective(row, default, "retrans") + _effective(
            row, default, "proxy_delay"
        )
        if wait <= deadlines.NEIGHBOUR_WAIT_MAX_S:
            continue
        # Blame the setting furthest above the kernel's default.
        blamed = max(
            (given for given in (*row.values(), *default.values())),
            key=lambda given: given[0] / (_default_of(given[2]) or 1),
        )
        return blamed[1], (
            f"sysctl {blamed[2]!r}: a pending neighbour resolution on {ifname} would hold an "
            f"act {wait:.0f} s ((mcast_solicit + app_solicit) x retrans_time + proxy_delay); "
            f"a case waits at most {deadlines.NEIGHBOUR_WAIT_MAX_S:.0f} s for one"
        )
    return None


def _effective(
    row: dict[str, tuple[float, str, str]], default: dict[str, tuple[float, str, str]], name: str
) -> float:
    """A parameter of an interface: its own row's, else the `default` row's, else the
    kernel's default."""
    given = row.get(name) or default.get(name)
    return given[0] if given else _WAIT_PARAMS["retrans_time" if name == "retrans" else name][1]


def _default_of(key: str) -> float:
    """The kernel's default of a neighbour parameter, in seconds (or a count)."""
    return _WAIT_PARAMS[sysctl_path(key).rsplit("/", 1)[1]][1]
