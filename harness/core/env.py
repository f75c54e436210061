"""Where the harness runs: the project's folders, who runs it, on which kernel.

A neutral module: every stage may import it, it imports no stage.
"""

from __future__ import annotations

import os
import platform
from importlib import resources
from pathlib import Path

# The distribution's name, which `pip install` takes ("harness" on PyPI is another
# project); the import package and the command are `harness`.
DISTRIBUTION = "sockopt-harness"


def _is_clone(root: Path) -> bool:
    """True when the package runs from a clone of the repository (as `pip install -e`
    and `python -m harness` there do): the catalogue is then the clone's own, edits
    included; a wheel's install has none of these beside the package."""
    return (root / "pyproject.toml").is_file() and (root / "fixtures" / "topologies").is_dir()


def _shipped() -> Path:
    """The catalogue inside the installed package (pyproject.toml: force-include), which
    holds scenarios/ and fixtures/topologies/ as a clone does."""
    folder = resources.files("harness") / "_catalogue"
    # An installed wheel is a folder on disk; a zipped one would give no Path to pytest.
    if not isinstance(folder, Path):
        raise RuntimeError(f"harness: the catalogue is not a folder ({folder}): unzip the package")
    return folder


_CODE_ROOT = Path(__file__).resolve().parents[2]
IN_CLONE = _is_clone(_CODE_ROOT)
# The clone's top folder, or the installed package's catalogue folder: either way the
# folder that holds scenarios/ and fixtures/topologies/.
PROJECT_ROOT = _CODE_ROOT if IN_CLONE else _shipped()
SCENARIO_DIR = PROJECT_ROOT / "scenarios"
TOPOLOGY_DIR = PROJECT_ROOT / "fixtures" / "topologies"


def _here() -> Path:
    """The folder the command runs in (a relative path when it was removed meanwhile)."""
    try:
        return Path.cwd()
    except OSError:
        return Path()


# Runs land in the clone's results/ (README), and, installed, in ./results of the folder
# the command runs in: never inside the environment it is installed in.
RESULTS_DIR = (PROJECT_ROOT if IN_CLONE else _here()) / "results"
# Where `harness new NAME` and `harness import` put a claim by default: the clone's
# scenarios/ (README), or, installed, the folder the command runs in (named as ".").
NEW_SCENARIO_DIR = SCENARIO_DIR if IN_CLONE else Path()


def given_path(path: Path) -> Path:
    """A scenario path as given; installed, one that names nothing here but a file or folder
    of the shipped catalogue is that (`harness run scenarios/dontroute` works in the clone
    and installed alike)."""
    if IN_CLONE or path.is_absolute() or os.path.lexists(path):
        return path
    shipped = PROJECT_ROOT / path
    return shipped if shipped.exists() else path


def shown(path: Path) -> str:
    """A scenario's path as a user types it (given_path reads it back): relative to the
    clone's top, or, installed, to the shipped catalogue or the folder the command runs
    in, when below one of them; else whole."""
    for base in (PROJECT_ROOT,) if IN_CLONE else (PROJECT_ROOT, _here()):
        if path.is_relative_to(base) and base.is_absolute():
            return str(path.relative_to(base))
    return str(path)


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
