"""A pytest plugin `harness run` loads (`-p harness.data_only`): the paths it was given are
data, so no collector, whichever plugin it comes from, sees a file that is not YAML.

With `-p no:python -p no:doctest --noconftest -c /dev/null` (harness/cli/run.py) it
leaves scenario files as the only thing a downloaded folder can contribute to a run.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """True (leave it alone) for every file that is not YAML; folders are walked."""
    if collection_path.is_dir() or collection_path.suffix in (".yaml", ".yml"):
        return None
    return True
