"""Helper process for the kill tests: starts a real case and stops in the middle of it.

It starts a case session on the SO_DONTROUTE topology (captures and listeners open),
sends the probe, prints the identities of its namespaces and then blocks, as a run would
between two stages, until the test kills it.
"""

from __future__ import annotations

import json
import sys

from harness.case.session import CaseSession
from harness.core.env import SCENARIO_DIR
from harness.lab.netns import Lab
from harness.scenario import load_scenario


def main() -> None:
    scenario = load_scenario(SCENARIO_DIR / "dontroute" / "so-dontroute-experiment-table.yaml")
    case = scenario.case("control-far-with-default-route")
    with Lab("hold") as lab:
        assert case.probe is not None
        session = CaseSession.start(lab, scenario.topology, [case.probe])
        session.act(case.probe)
        made = [{"inode": ns.inode, "cookie": ns.cookie} for ns in lab.created()]
        print(json.dumps({"namespaces": made}), flush=True)
        sys.stdin.read()  # mid-case: blocks until the test signals us


if __name__ == "__main__":
    main()
