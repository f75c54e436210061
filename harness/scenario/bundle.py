"""Scenarios loaded once, by the process that starts the workers, for all of them.

Every xdist worker collects the cases it is given by reading and checking the scenario
files itself; in a guest kernel under TCG that took 15 s of CPU for the catalogue before
its first case (the host: 0.5 s), three guests at once on two cores.  The controller
loads them once instead and hands each worker the checked `Scenario` objects with its
start-up data (xdist's workerinput, over the worker's own channel).  The worker still
walks the paths with pytest's own collection (node ids, -k, FILE::CASE are pytest's), and
takes a file's `Scenario` from the bundle only while the file (and its topology file) is
the one the controller read: same size and modification time, else it loads it itself.

The bundle is pickled: it goes from the controller's memory to its own worker's, over
the channel through which execnet already sends the worker the code it runs, and is
never written to or read from a file.  Only scenarios that come out of pickle equal to
what went in travel (`_travelling`), and only to a worker running the same Python.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Iterable
from pathlib import Path

from harness.scenario.case import Scenario
from harness.scenario.load import ScenarioError, discover, load_scenario

# What a file was when it was loaded: its real path, size and modification time (ns).
Stamp = tuple[str, int, int]


def _stamp(path: Path) -> Stamp | None:
    try:
        real = os.path.realpath(path)
        status = os.stat(real)
    except OSError:
        return None
    return real, status.st_size, status.st_mtime_ns


def _stamps(scenario: Scenario) -> tuple[Stamp | None, ...]:
    files = [scenario.path, *([scenario.topology_file] if scenario.topology_file else [])]
    return tuple(_stamp(f) for f in files)


# A scenario as it travels: what its files were, and the scenario pickled on its own (a
# worker unpickles only the files it collects).
Entry = tuple[tuple[Stamp | None, ...], bytes]


def make(paths: Iterable[Path]) -> bytes:
    """The scenario files under `paths` (absolute, as pytest names what it collects) that
    load, with what each file was, pickled.  A file that does not load is left out: its
    worker loads it and reports the error as it always does."""
    kept: dict[str, Entry] = {}
    for root in paths:
        try:
            files = discover([root])
        except (OSError, ScenarioError):
            continue
        for path in files:
            before = _stamp(path)  # taken before reading: a change during the load shows
            try:
                scenario = load_scenario(path)
            except (OSError, ScenarioError):
                continue
            blob = _travelling(scenario)
            if before is not None and blob is not None:
                kept[before[0]] = ((before, *_stamps(scenario)[1:]), blob)
    return pickle.dumps({"python": sys.version, "scenarios": kept}, pickle.HIGHEST_PROTOCOL)


def _travelling(scenario: Scenario) -> bytes | None:
    """The scenario pickled, when it comes out of pickle as it went in, field for field and
    in its JSON form; else None.  Not a given: Debian 12's Python 3.11.2 pickles an
    IPv6Address by its integer, and `fe80::c%eth1` arrived in the worker as `fe80::c`,
    sent by another link (seen in CI: two cases failed).  One that does not travel is left
    to its worker to load."""
    try:
        blob = pickle.dumps(scenario, pickle.HIGHEST_PROTOCOL)
        back = pickle.loads(blob)
        same = back == scenario and back.model_dump_json() == scenario.model_dump_json()
    except (pickle.PicklingError, TypeError, AttributeError, ValueError, RecursionError):
        return None
    return blob if same else None


class Bundle:
    """The scenarios a controller loaded, looked up by file."""

    def __init__(self, data: bytes) -> None:
        # From this process's own controller (see the module's docstring).  One that does
        # not unpickle here, or comes from another Python (a `--tx ssh=` worker, whose
        # pickle may differ), is no bundle: the worker loads every file itself.
        try:
            bundle = pickle.loads(data)
        except (pickle.UnpicklingError, AttributeError, ImportError, EOFError, TypeError):
            bundle = {}
        same = isinstance(bundle, dict) and bundle.get("python") == sys.version
        self._loaded: dict[str, Entry] = bundle.get("scenarios", {}) if same else {}

    def __len__(self) -> int:
        return len(self._loaded)

    def get(self, path: Path) -> Scenario | None:
        """The file's scenario as the controller loaded it, or None when it did not or the
        file (or its topology file) has changed since."""
        stamp = _stamp(path)
        if stamp is None or stamp[0] not in self._loaded:
            return None
        stamps, blob = self._loaded[stamp[0]]
        if stamp != stamps[0]:
            return None  # changed since
        scenario: Scenario = pickle.loads(blob)
        if scenario.path != path or _stamps(scenario)[1:] != stamps[1:]:
            return None  # another name for it (the records name the file), or its topology changed
        return scenario
