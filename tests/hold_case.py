"""Helper process for the kill tests: starts a real case and stops in the middle of it.

It builds the SO_DONTROUTE topology, opens the captures and listeners, sends the
probe, prints the identities of its namespaces and then blocks, as a run would
between two stages, until the test kills it.
"""

from __future__ import annotations

import json
import sys

from harness.capture import Capture
from harness.netns import Lab
from harness.probes import Listeners, act, default_listeners
from harness.scenario import SCENARIO_DIR, load_scenario
from harness.topology import build


def main() -> None:
    scenario = load_scenario(SCENARIO_DIR / "dontroute" / "so-dontroute-experiment-table.yaml")
    case = scenario.case("control-far-with-default-route")
    with Lab("hold") as lab:
        net = build(lab, scenario.topology)
        Capture(lab)
        assert case.probe is not None
        Listeners(net, default_listeners(net, [case.probe]))
        act(net, case.probe, b"held")
        made = [{"inode": ns.inode, "cookie": ns.cookie} for ns in lab.created()]
        print(json.dumps({"namespaces": made}), flush=True)
        sys.stdin.read()  # mid-case: blocks until the test signals us


if __name__ == "__main__":
    main()
