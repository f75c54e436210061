"""Scenarios: YAML files -> validated, fully resolved `Scenario` objects.

A scenario file states one claim, names its source, names (or draws) a topology
and lists cases.  The package holds one subject per module: `ip` lines
(iplines), the topology (topology), probes and listeners (probe), changes,
acts and cases (case), reading YAML as data (yamldoc), the bounds of what a
scenario may ask for and what a case needs of the process (limits), and loading
with its error messages (load).  What an expectation may say lives in
harness/scenario/expect/.
"""

from __future__ import annotations

from harness.scenario.case import (
    CHANGE_KINDS,
    Act,
    ActAnswer,
    Case,
    Change,
    ChangedIn,
    Scenario,
    ScenarioFile,
    Source,
)
from harness.scenario.expect import Expect
from harness.scenario.load import (
    ScenarioError,
    discover,
    is_scenario_file,
    load_scenario,
    load_topology,
    validate,
)
from harness.scenario.probe import Listener, Probe, parse_bind
from harness.scenario.topology import (
    Host,
    Interface,
    Topology,
    bridge_port_name,
)

__all__ = [
    "CHANGE_KINDS",
    "Act",
    "ActAnswer",
    "Case",
    "Change",
    "ChangedIn",
    "Expect",
    "Host",
    "Interface",
    "Listener",
    "Probe",
    "Scenario",
    "ScenarioError",
    "ScenarioFile",
    "Source",
    "Topology",
    "bridge_port_name",
    "discover",
    "is_scenario_file",
    "load_scenario",
    "load_topology",
    "parse_bind",
    "validate",
]
