"""Expectation fields about the kernel's answers and state: the syscall's errno, its
route lookup, and the neighbour tables and links after an act."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator

from harness.core.evidence import LinkAttrs, RouteLookup
from harness.core.validation import check_errno_name, same_ip
from harness.scenario.expect.base import Comparison, Evidence, ExpectField, Reference
from harness.scenario.expect.patterns import NEIGH_STATE_NAMES, LinkExpectation, RouteExpectation


def _errno_or_ok(value: str) -> str:
    return check_errno_name(value, ok=True)


class Errno(ExpectField[str]):
    name = "errno"
    annotation = Annotated[str, AfterValidator(_errno_or_ok)]
    description = "'ok' or an errno name such as ENETUNREACH: the probe's syscall answer"

    def compare(self, wanted: str, ev: Evidence) -> list[Comparison]:
        seen = ev.facts.outcome.errno if ev.facts else "(no probe)"
        return [self.row("errno", wanted, seen, wanted == seen, ev.act)]

    def happened(self, wanted: str, ev: Evidence) -> bool:
        # A different answer cannot turn into the expected one; but the act runs on
        # to its window so that the trace shows everything the kernel did instead.
        return ev.facts is not None and ev.facts.outcome.errno == wanted

    def text(self, wanted: str) -> str:
        return f"the syscall answers {wanted}"


class Route(ExpectField[RouteExpectation]):
    name = "route"
    example: ClassVar[Any] = {"dev": "eth0", "type": "unicast", "src": "192.0.2.1"}
    annotation = RouteExpectation
    description = (
        "the kernel's `ip route get` for the probe's flow: type, dev, gateway, src, table, "
        "error; its exception state: exception, redirected, expires, mtu"
    )

    def compare(self, wanted: RouteExpectation, ev: Evidence) -> list[Comparison]:
        lookup = ev.facts.route if ev.facts else None
        rows = []
        for name, value in wanted.model_dump(exclude_none=True).items():
            found: object = None
            if lookup is not None and lookup.error is not None and name != "error":
                found = None  # a failed lookup has no answer to compare
            elif lookup is not None:
                found = lookup.error_name if name == "error" else _answered(lookup, name)
            ok = found is not None and (
                same_ip(value, found) if name in ("gateway", "src") else str(value) == str(found)
            )
            if found is not None:
                shown = str(found)
            else:
                shown = (lookup.error if lookup else None) or "(none)"
            rows.append(self.row(f"route lookup {name}", str(value), shown, ok, ev.act))
        return rows

    def references(self, wanted: RouteExpectation, prober: str) -> Iterator[Reference]:
        return iter([Reference(".dev", prober, wanted.dev)] if wanted.dev else [])

    def text(self, wanted: RouteExpectation) -> str:
        words = " ".join(f"{k} {v}" for k, v in wanted.model_dump(exclude_none=True).items())
        return f"route lookup: {words}"


def _answered(lookup: RouteLookup, name: str) -> object:
    """A field of the lookup's answer as the expectation compares it."""
    if name == "redirected":
        return "redirected" in lookup.cache_flags
    if name == "expires":
        return lookup.expires is not None
    return getattr(lookup, name)


def _neighbour_states(value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    for entries in value.values():
        for address, state in entries.items():
            ipaddress.ip_address(address)
            if state not in NEIGH_STATE_NAMES:
                raise ValueError(f"{state!r}: known states are {', '.join(NEIGH_STATE_NAMES)}")
    return value


class Neighbours(ExpectField[dict[str, dict[str, str]]]):
    name = "neighbours"
    needs_probe = False
    example: ClassVar[Any] = {"a": {"192.0.2.2": "REACHABLE"}}
    annotation = Annotated[dict[str, dict[str, str]], AfterValidator(_neighbour_states)]
    description = (
        "host -> {IP: STATE} after the act (ABSENT: no entry at all; PRESENT: an entry in "
        "any state, as `ip neigh get` finds one)"
    )

    def compare(self, wanted: dict[str, dict[str, str]], ev: Evidence) -> list[Comparison]:
        rows = []
        for host, entries in wanted.items():
            for address, state in entries.items():
                seen = ev.obs.neighbour_state(ev.act, host, address)
                ok = seen != "ABSENT" if state == "PRESENT" else seen == state
                rows.append(self.row(f"neighbour {address} on {host}", state, seen, ok, ev.act))
        return rows

    def claims_absence(self, wanted: dict[str, dict[str, str]]) -> bool:
        return any(state == "ABSENT" for entries in wanted.values() for state in entries.values())

    def references(self, wanted: dict[str, dict[str, str]], prober: str) -> Iterator[Reference]:
        return (Reference(f".{host}", host) for host in wanted)

    def text(self, wanted: dict[str, dict[str, str]]) -> str:
        return "; ".join(
            f"{host} holds "
            + ", ".join(
                f"an entry for {ip}" if state == "PRESENT" else f"{ip} {state}"
                for ip, state in entries.items()
            )
            for host, entries in wanted.items()
        )


class Links(ExpectField[dict[str, dict[str, LinkExpectation]]]):
    name = "links"
    needs_probe = False
    example: ClassVar[Any] = {"a": {"eth0": {"flags": ["UP"], "mtu": 1500}}}
    annotation = dict[str, dict[str, LinkExpectation]]
    description = "host -> {interface: attributes} after the act, as `ip -d link` shows them"

    def compare(
        self, wanted: dict[str, dict[str, LinkExpectation]], ev: Evidence
    ) -> list[Comparison]:
        states = ev.facts.links if ev.facts else {}
        return [
            self.row(f"link {host}/{ifname} {attr}", expected, observed, ok, ev.act)
            for host, links in wanted.items()
            for ifname, expectation in links.items()
            for attr, expected, observed, ok in _link_rows(
                expectation, states.get(host, {}).get(ifname)
            )
        ]

    def references(
        self, wanted: dict[str, dict[str, LinkExpectation]], prober: str
    ) -> Iterator[Reference]:
        return (
            Reference(f".{host}.{ifname}", host, ifname)
            for host, links in wanted.items()
            for ifname in links
        )

    def text(self, wanted: dict[str, dict[str, LinkExpectation]]) -> str:
        return "; ".join(
            f"{host}/{ifname}: "
            + ", ".join(f"{k} {v}" for k, v in attrs.model_dump(exclude_none=True).items())
            for host, links in wanted.items()
            for ifname, attrs in links.items()
        )


def _link_rows(wanted: LinkExpectation, link: LinkAttrs | None) -> list[tuple[str, str, str, bool]]:
    """(attribute, expected, observed, agrees) for each attribute the expectation names."""
    if link is None:
        return [("exists", "yes", "no such link", False)]
    address = link.address
    rows: list[tuple[str, str, str, bool]] = []
    if wanted.type is not None:
        rows.append(("type", wanted.type, link.type, wanted.type == link.type))
    if wanted.address is not None:
        expected = "" if wanted.address == "none" else wanted.address
        rows.append(("address", wanted.address, address or "none", address == expected))
    if wanted.address_prefix is not None:
        ok = address.startswith(wanted.address_prefix)
        rows.append(("address starts with", wanted.address_prefix, address or "none", ok))
    if wanted.locally_administered is not None:
        local = bool(address) and bool(int(address[:2], 16) & 0x02)
        rows.append(
            (
                "address locally administered",
                str(wanted.locally_administered),
                f"{local} ({address or 'no address'})",
                local == wanted.locally_administered,
            )
        )
    if wanted.flags is not None:
        ok = set(wanted.flags) <= set(link.flags)
        rows.append(("flags include", ", ".join(wanted.flags), ", ".join(link.flags), ok))
    if wanted.without_flags is not None:
        ok = not set(wanted.without_flags) & set(link.flags)
        rows.append(("flags exclude", ", ".join(wanted.without_flags), ", ".join(link.flags), ok))
    for name in ("mtu", "txqueuelen"):
        value = getattr(wanted, name)
        if value is not None:
            seen = getattr(link, name)
            rows.append((name, str(value), str(seen), value == seen))
    return rows
