"""`harness doctor`: what the catalogue needs from this machine, and what it lacks."""

from __future__ import annotations

import argparse
import importlib

from harness.cli.common import _scenarios
from harness.core.env import DISTRIBUTION, IN_CLONE, ROOT_HINT, is_root, kernel_release
from harness.guests.sources import kernels_extra_missing
from harness.lab import requirements
from harness.scenario.link_kinds import FEATURES


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check what the catalogue needs: root, kernel features, packages; say what will be skipped."""
    del args
    problems = 0
    print(f"kernel: {kernel_release()}")
    if not is_root():
        print(f"root: NO. {ROOT_HINT}")
        return 2
    print("root: yes")
    findings = requirements.survey()
    print("environment:", *requirements.lines(findings), sep="\n")
    if requirements.blocking(findings):
        return 2  # no namespace to try kernel features in
    needed: dict[str, list[str]] = {}
    for scenario in _scenarios([]):
        for feature in scenario.topology.kernel_features():
            needed.setdefault(feature, []).append(scenario.name)
    from harness.lab.kernel_features import unavailable

    for feature in FEATURES:
        reason = unavailable(feature)
        users = needed.get(feature, [])
        if reason is None:
            print(f"  {feature:<8} available")
        else:
            skipped = f"; skipped: {', '.join(sorted(set(users)))}" if users else ""
            print(f"  {feature:<8} MISSING: {reason}{skipped}")
    for package in ("pyroute2", "scapy", "pytest", "xdist", "pydantic", "yaml"):
        try:
            importlib.import_module(package)
        except ImportError as exc:
            problems += 1
            how = "run scripts/bootstrap" if IN_CLONE else f"reinstall {DISTRIBUTION}"
            print(f"  python package {package}: MISSING ({exc}); {how}")
    # Only --kernel and `harness kernels` need it: said, not counted as a problem.
    print(f"  {kernels_extra_missing() or 'other kernels: the extra kernels is installed'}")
    problems += sum(f.problem is not None for f in findings)
    print("ok" if not problems else f"{problems} problem(s)")
    return 2 if any(f.problem for f in findings) else 1 if problems else 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `doctor`."""
    doctor = sub.add_parser("doctor", help="check root, kernel features and packages")
    doctor.set_defaults(func=cmd_doctor)
