"""Where the harness runs: the project's folders, who runs it, on which kernel.

A neutral module: every stage may import it, it imports no stage.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCENARIO_DIR = PROJECT_ROOT / "scenarios"
TOPOLOGY_DIR = PROJECT_ROOT / "fixtures" / "topologies"
RESULTS_DIR = PROJECT_ROOT / "results"

ROOT_HINT = (
    "needs root to build network namespaces: run `sudo scripts/test`, "
    "or `sudo .venv/bin/pytest` from the project folder"
)


def is_root() -> bool:
    """True when this process may create network namespaces."""
    return os.geteuid() == 0


def kernel_release() -> str:
    """`uname -r` of the running kernel."""
    return platform.release()
