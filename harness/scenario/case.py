"""Case models: changes, acts and cases, and the scenario file that holds them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from harness.core.validation import (
    NAME_MAX_CHARS,
    FieldError,
    Strict,
    check_errno_name,
    sysctl_interface,
    sysctl_path,
    sysctl_write_problem,
    version_tuple,
)
from harness.scenario.expect import Expect
from harness.scenario.iplines import check_spec_addresses, spec_devices
from harness.scenario.ipsyntax import (
    IpSyntaxError,
    parse_addr,
    parse_link_set,
    parse_neigh,
    parse_nexthop,
    parse_route,
    parse_rule,
    parse_verb,
)
from harness.scenario.limits import (
    MAX_ACTS,
    MAX_CASES,
    MAX_CHANGES,
    MAX_LINES,
    MAX_LISTENERS,
    at_most,
    neighbour_wait_problem,
    too_many,
)
from harness.scenario.probe import Listener, Probe
from harness.scenario.topology import Topology

_CHANGE_PARSERS: dict[str, tuple[tuple[str, ...], Callable[[str], Any]]] = {
    "route": (("add", "del", "replace"), parse_route),
    "nexthop": (("add", "del", "replace"), parse_nexthop),
    "rule": (("add", "del"), parse_rule),
    "neigh": (("add", "del", "replace"), parse_neigh),
    "addr": (("add", "del"), parse_addr),
    "link": (("set",), parse_link_set),
}
CHANGE_KINDS = (*_CHANGE_PARSERS, "sysctl")


class Change(Strict):
    """A change made during a case, like one `ip` or `sysctl` command on one host.

    `route`, `nexthop`, `rule`, `neigh`, `addr` take the words after `ip route`
    (etc.), verb first (`del default`); `link` the words after `ip link` (`set
    eth0 down`, `set eth0 name wan0`, `set eth0 mtu 1400`); `sysctl` a mapping of
    keys to values.
    """

    host: str = Field(description="the host the command runs on")
    route: str | None = Field(default=None, description="`ip route` words, verb first")
    nexthop: str | None = Field(
        default=None, description="`ip nexthop` words, verb first (`add id 1 via A dev D`)"
    )
    rule: str | None = Field(default=None, description="`ip rule` words, verb first")
    neigh: str | None = Field(default=None, description="`ip neigh` words, verb first")
    addr: str | None = Field(default=None, description="`ip addr` words, verb first")
    link: str | None = Field(default=None, description="`ip link` words: set IF ...")
    sysctl: dict[str, int | str] | None = Field(default=None, description="net.* keys")
    fails_with: str | None = Field(
        default=None,
        description="the claim is that the kernel refuses this change, with this errno "
        "(e.g. ENETUNREACH); the case then checks that it does",
    )

    @field_validator("fails_with")
    @classmethod
    def _errno_name(cls, value: str | None) -> str | None:
        return None if value is None else check_errno_name(value)

    @field_validator("route", "nexthop", "rule", "neigh", "addr", "link")
    @classmethod
    def _parses(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            verbs, parser = _CHANGE_PARSERS[str(info.field_name)]
            try:
                _, rest = parse_verb(value, verbs)
                check_spec_addresses(parser(rest))
            except IpSyntaxError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _one_action(self) -> Change:
        given = [k for k in CHANGE_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a change does exactly one thing: give one of {', '.join(CHANGE_KINDS)}"
            )
        if self.sysctl is not None:
            problem = too_many(self.sysctl, MAX_LINES, "keys", "a change is one command")
            if problem:
                raise FieldError(("sysctl",), problem)
        for key, value in (self.sysctl or {}).items():
            try:
                sysctl_path(key)
            except ValueError as exc:
                raise FieldError(("sysctl", key), str(exc)) from None
            problem = sysctl_write_problem(key, value, refusal_claimed=self.fails_with is not None)
            if problem:
                raise FieldError(("sysctl", key), problem)
        waits = neighbour_wait_problem((k, k, v) for k, v in (self.sysctl or {}).items())
        if waits:
            raise FieldError(("sysctl", waits[0]), waits[1])
        return self

    def devices(self) -> list[tuple[str, str]]:
        """(field, interface) of each interface of its host the change names: `dev` of an
        `ip` line, `link set DEV`, the interface of a per-interface sysctl key."""
        if self.sysctl is not None:
            named = ((key, sysctl_interface(key)) for key in self.sysctl)
            return [(f"sysctl[{key!r}]", ifname) for key, ifname in named if ifname]
        return [(self.kind, dev) for dev in spec_devices(self.parsed()[1])]

    @property
    def kind(self) -> str:
        """route, nexthop, rule, neigh, addr, link or sysctl."""
        return next(k for k in CHANGE_KINDS if getattr(self, k) is not None)

    def parsed(self) -> tuple[str, Any]:
        """(verb, spec) of an `ip` change."""
        verbs, parser = _CHANGE_PARSERS[self.kind]
        verb, rest = parse_verb(getattr(self, self.kind), verbs)
        return verb, parser(rest)

    @property
    def command(self) -> str:
        """The command as a reader would type it: `ip route del default`, `sysctl k=v`."""
        if self.sysctl is not None:
            return "sysctl " + " ".join(f"{k}={v}" for k, v in self.sysctl.items())
        return f"ip {self.kind} {getattr(self, self.kind)}"

    def __str__(self) -> str:
        text = f"{self.host}: {self.command}"
        return text + (f"  (expected to fail: {self.fails_with})" if self.fails_with else "")


class Act(Strict):
    """Changes, then one probe (or none), then what the claim expects of it.

    When the case is `refuted`, `kernel_does` says what this kernel does instead,
    so that a refuted claim is still a precise check of the kernel.  An act without
    a probe only changes and observes: its expectations are about the kernel's state
    and the frames on the wire (neighbours, links, arp, seen, not_seen).
    """

    change: list[Change] = Field(default=[], description="changes before the probe")
    probe: Probe | None = Field(
        default=None, description="what the socket does; none: the act only changes and observes"
    )
    expect: Expect = Field(description="what the claim says happens")
    kernel_does: Expect | None = Field(
        default=None, description="a refuted claim: what this kernel does instead"
    )

    @field_validator("change", mode="before")
    @classmethod
    def _few_changes(cls, value: Any) -> Any:
        return at_most(value, MAX_CHANGES, "changes", "an act is a few commands, then a probe")

    @model_validator(mode="after")
    def _probe_or_change(self) -> Act:
        if self.probe is None:
            check_without_probe(self.change, self.expect, self.kernel_does)
        return self


def check_without_probe(change: list[Change], expect: Expect, kernel_does: Expect | None) -> None:
    """An act without a probe changes something, and expects nothing of a probe."""
    if not change:
        raise ValueError("an act without a probe needs a 'change' (it only changes and observes)")
    for where, expectation in (("expect", expect), ("kernel_does", kernel_does)):
        names = expectation.about_the_probe() if expectation is not None else []
        if names:
            raise FieldError(
                (where, names[0]),
                "is about a probe, and this act has none (without one: neighbours, links, "
                "arp, seen, not_seen)",
            )


class ActAnswer(Strict):
    """What one act gives on the kernels a version change covers; what it leaves out is as
    the claim says."""

    answers: list[str] | None = Field(
        default=None,
        description="the kernel's answer to each of the act's changes, in order: ok or an errno",
    )
    expect: Expect | None = Field(default=None, description="what the act's probe does there")

    @field_validator("answers")
    @classmethod
    def _errnos(cls, value: list[str] | None) -> list[str] | None:
        for answer in value or []:
            check_errno_name(answer, ok=True)
        return value


class ChangedIn(Strict):
    """The kernel's behaviour changed at a version: what kernels before it (or from it on) do.

    The side not described does what the claim says.  A kernel on the described
    side that does what is written there gets the verdict `changed`.  With `from`, the
    described side is a window, [from, version): a behaviour one version brought and a
    later one took away again.
    """

    # `from` in YAML; records store the field by its name, read back the same way.
    model_config = ConfigDict(**Strict.model_config, populate_by_name=True)

    version: str = Field(
        pattern=r"^\d+\.\d+(\.\d+)?$", description="the first version with the new behaviour"
    )
    why: str = Field(description="what changed, in the kernel's code")
    commit: str = Field(default="", description="the commit or release note, where known")
    before: list[ActAnswer] | None = Field(
        default=None, description="per act: what kernels older than `version` do"
    )
    since: list[ActAnswer] | None = Field(
        default=None, description="per act: what kernels from `version` on do"
    )
    first: str | None = Field(
        default=None,
        alias="from",
        pattern=r"^\d+\.\d+(\.\d+)?$",
        description="with `before`: the first version that does what `before` says; older "
        "kernels do what the claim says (a behaviour that came in one version and went in a "
        "later one)",
    )

    @model_validator(mode="after")
    def _one_side(self) -> ChangedIn:
        if (self.before is None) == (self.since is None):
            raise ValueError(
                "say what kernels 'before' the version do, or what they do 'since' it "
                "(the other side does what the claim says)"
            )
        if self.first is not None:
            if self.before is None:
                raise ValueError("'from' bounds 'before' from below; with 'since', leave it out")
            if version_tuple(self.first) >= version_tuple(self.version):
                raise ValueError(f"'from' ({self.first}) must come before {self.version}")
        return self

    @property
    def side(self) -> list[ActAnswer]:
        """The acts as the described side of the change does them."""
        return self.before if self.before is not None else self.since or []

    def covers(self, version: tuple[int, ...]) -> bool:
        """The kernel of `version` is on the side this change describes."""
        boundary = version_tuple(self.version)
        if self.before is None:
            return version >= boundary
        return version < boundary and (self.first is None or version >= version_tuple(self.first))

    def summary(self) -> str:
        """`changed in 6.2: WHY (COMMIT)`, or `changed in 6.12 and again in 6.15: ...`."""
        commit = f" ({self.commit})" if self.commit else ""
        when = f"{self.first} and again in {self.version}" if self.first else self.version
        return f"changed in {when}: {self.why}{commit}"


class Case(Strict):
    """One run of the experiment.

    Either one act written inline (`change`, `probe`, `expect`) or several in
    `steps`, run in order on the same topology ("configure, act, change, act
    again").
    """

    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]*$",
        max_length=NAME_MAX_CHARS,  # a file name in the run folder (harness.core.validation)
        description="unique in its file",
    )
    title: str = Field(description="what the case does, in one line")
    change: list[Change] = Field(default=[], description="changes before the probe")
    probe: Probe | None = Field(default=None, description="one act: what the socket does")
    expect: Expect | None = Field(default=None, description="one act: what the claim says")
    kernel_does: Expect | None = Field(
        default=None, description="one act of a refuted claim: what this kernel does instead"
    )
    steps: list[Act] | None = Field(default=None, description="several acts, in order")
    listeners: list[Listener] | None = Field(
        default=None, description="default: one on every other host, on each probe's port"
    )
    refuted: str | None = Field(
        default=None,
        description="why the article's claim does not hold on this kernel; every act then "
        "says in `kernel_does` what the kernel does instead",
    )
    changed_in: ChangedIn | None = Field(
        default=None,
        description="the claim holds only from (or only before) a kernel version: what the "
        "kernels on the other side do",
    )

    @field_validator("change", mode="before")
    @classmethod
    def _few_changes(cls, value: Any) -> Any:
        return at_most(value, MAX_CHANGES, "changes", "an act is a few commands, then a probe")

    @field_validator("steps", mode="before")
    @classmethod
    def _few_acts(cls, value: Any) -> Any:
        return at_most(value, MAX_ACTS, "steps", "each act may wait seconds for the kernel")

    @field_validator("listeners", mode="before")
    @classmethod
    def _few_listeners(cls, value: Any) -> Any:
        return at_most(value, MAX_LISTENERS, "listeners", "each holds a file descriptor")

    @field_validator("title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value.strip():
            raise ValueError("a title is one line (a claim, a 'refuted' or a 'why' may be several)")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Case:
        inline = (
            self.probe is not None
            or self.expect is not None
            or bool(self.change)
            or self.kernel_does is not None
        )
        if self.steps is not None and inline:
            raise ValueError("give either 'steps' or 'change'/'probe'/'expect', not both")
        if self.steps is None and self.expect is None:
            raise ValueError("a case needs 'expect' and a 'probe' or a 'change' (or 'steps')")
        if self.steps is not None and not self.steps:
            raise ValueError("'steps' is empty")
        if self.steps is None and self.probe is None and self.expect is not None:
            check_without_probe(self.change, self.expect, self.kernel_does)
        _check_sockets(self.acts())
        with_kernel = [a.kernel_does is not None for a in self.acts()]
        if self.refuted and not all(with_kernel):
            raise ValueError(
                "a refuted claim must say in 'kernel_does' what the kernel does instead"
            )
        if not self.refuted and any(with_kernel):
            raise ValueError("'kernel_does' goes with 'refuted: WHY'")
        if self.changed_in is not None:
            if self.refuted:
                raise ValueError(
                    "give either 'refuted' (on every kernel) or 'changed_in' (from a version)"
                )
            acts = self.acts()
            side = self.changed_in.side
            if len(side) != len(acts):
                raise ValueError(f"changed_in describes {len(side)} acts; the case has {len(acts)}")
            for n, (answer, act) in enumerate(zip(side, acts, strict=True)):
                if answer.answers is not None and len(answer.answers) != len(act.change):
                    raise ValueError(
                        f"changed_in, act {n + 1}: {len(answer.answers)} answers for "
                        f"{len(act.change)} changes"
                    )
        return self

    def acts(self) -> list[Act]:
        """The acts of the case, in order."""
        if self.steps is not None:
            return list(self.steps)
        assert self.expect is not None
        return [
            Act(
                change=self.change,
                probe=self.probe,
                expect=self.expect,
                kernel_does=self.kernel_does,
            )
        ]


def _check_sockets(acts: list[Act]) -> None:
    """An act that names the socket of an earlier act acts like it: same host, kind and
    family, and no second bind."""
    opened: dict[str, tuple[int, Probe]] = {}
    for n, act in enumerate(acts, start=1):
        name = act.probe.socket if act.probe is not None else None
        if name is None or act.probe is None:
            continue
        if name not in opened:
            opened[name] = (n, act.probe)
            continue
        first_act, first = opened[name]
        family = {4: "IPv4", 6: "IPv6"}
        was = f"{first.proto} {family[first.dst.version]} on {first.host}"
        now = f"{act.probe.proto} {family[act.probe.dst.version]} on {act.probe.host}"
        if was != now:
            raise ValueError(
                f"act {n} sends on socket {name!r}, the {was} socket of act {first_act}, "
                f"as a {now} probe"
            )
        if act.probe.bind is not None:
            raise ValueError(
                f"act {n}: socket {name!r} was opened (and bound) in act {first_act}; "
                "give 'bind' there"
            )


class Source(Strict):
    """Where the claim comes from."""

    article: str = Field(description="the article's file name or title")
    section: str = Field(default="", description="its section")


class ScenarioFile(Strict):
    """The YAML document as written."""

    claim: str = Field(description="the claim, in our own words")
    source: Source = Field(description="the article and its section")
    topology: str | Topology = Field(
        description="a name from fixtures/topologies/, a path relative to this file "
        "(`./mynet.yaml`), or a topology drawn inline"
    )
    cases: list[Case] = Field(min_length=1, description="the experiments, at least one")

    @field_validator("cases", mode="before")
    @classmethod
    def _few_cases(cls, value: Any) -> Any:
        return at_most(value, MAX_CASES, "cases", "each builds its namespaces anew")


class Scenario(BaseModel):
    """A loaded scenario with its topology resolved."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    path: Path
    name: str
    claim: str
    source: Source
    topology: Topology
    cases: list[Case]
    # The file the topology was read from; None when it is drawn inline in `path`.
    topology_file: Path | None = None

    def case(self, case_id: str) -> Case:
        """The case called `case_id`."""
        for case in self.cases:
            if case.id == case_id:
                return case
        raise KeyError(
            f"{self.path}: no case {case_id!r} (cases: {', '.join(c.id for c in self.cases)})"
        )
