"""Fuzzing the inputs that come from outside: scenario files, topology files, shell listings
and results folders.  Each mutant either loads, imports or reads, or is refused with exit
status 2 and one line naming the file; never a traceback, a hang or a raw control
character on the terminal.  Issue 18, item 6.

Fixed seed and a time budget per fuzzer (tests/fuzz/engine.py: HARNESS_FUZZ_BUDGET,
HARNESS_FUZZ_SEED, HARNESS_FUZZ_INPUT_BOUND).  Every command runs in this process
(`harness.cli.main`), so no root is needed: listing, importing and reporting build no
namespace.  A failure lists each kind once, with the mutation, the saved (shrunk) input
under pytest's tmp_path and the command that shows it again.
"""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.case.record import CaseRecord
from harness.core.env import PROJECT_ROOT, SCENARIO_DIR, TOPOLOGY_DIR
from harness.runs.store import read_run, record_path, running_path
from harness.scenario import load_scenario, load_topology
from tests.fuzz.engine import Fuzzer, judge, run_cli
from tests.fuzz.mutate import mutate_bytes, mutate_json, mutate_listing, mutate_yaml, scalars_of

LISTINGS = Path(__file__).parents[1] / "listings"
# A run of three catalogue scenarios (14 cases, all pass), made once by
# `harness run -n 2 --pcaps none --results-dir DIR scenarios/dontroute/dontroute-lookup-
# limited-to-link-scope.yaml scenarios/ip-layer/path-mtu-and-fragments.yaml
# scenarios/policy-routing/tos-selects-rule-and-route-ipv6.yaml`, its paths made relative.
RESULTS = Path(__file__).parent / "results.json"


@functools.cache
def _yaml_files(folder: Path) -> dict[Path, str]:
    return {p: p.read_text() for p in sorted(folder.rglob("*.yaml"))}


@functools.cache
def _donors() -> list[Any]:
    """Leaf values of the whole catalogue, spliced into mutants of other files."""
    found: list[Any] = []
    for text in [*_yaml_files(SCENARIO_DIR).values(), *_yaml_files(TOPOLOGY_DIR).values()]:
        scalars_of(yaml.safe_load(text), found, limit=200)
    return found


def _report(fuzzer: Fuzzer, tmp_path: Path) -> None:
    fuzzer.run(tmp_path)
    print(fuzzer.summary())
    if fuzzer.findings:
        pytest.fail(fuzzer.summary(), pytrace=False)


def test_scenario_mutants_load_or_are_refused_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Mutants of the catalogue's scenario files, through `harness list FILE`."""
    originals = list(_yaml_files(SCENARIO_DIR).values())

    def make(rng: random.Random) -> tuple[dict[str, bytes], str]:
        data, what = mutate_yaml(rng.choice(originals), rng, _donors())
        return {"mutant.yaml": data}, what

    def check(folder: Path) -> tuple[str | None, str]:
        path = folder / "mutant.yaml"
        outcome = run_cli(["list", str(path)], capfd)
        return judge(outcome, [str(path)]), f".venv/bin/harness list {path}"

    _report(Fuzzer("scenarios", make, check), tmp_path)


@functools.cache
def _named_topologies() -> list[tuple[str, str, str]]:
    """(scenario text, topology name, topology text) for each catalogue scenario that names
    its topology."""
    found = []
    for text in _yaml_files(SCENARIO_DIR).values():
        name = yaml.safe_load(text).get("topology")
        if isinstance(name, str) and (TOPOLOGY_DIR / f"{name}.yaml").is_file():
            found.append((text, name, _yaml_files(TOPOLOGY_DIR)[TOPOLOGY_DIR / f"{name}.yaml"]))
    return found


def test_topology_mutants_load_or_are_refused_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Mutants of fixtures/topologies/*.yaml, named by an unchanged catalogue scenario,
    through `harness list SCENARIO` with the loader looking for topologies beside it."""
    pairs = _named_topologies()

    def make(rng: random.Random) -> tuple[dict[str, bytes], str]:
        scenario, name, topology = rng.choice(pairs)
        data, what = mutate_yaml(topology, rng, _donors())
        return {f"topologies/{name}.yaml": data, "scenario.yaml": scenario.encode()}, what

    def check(folder: Path) -> tuple[str | None, str]:
        scenario, topologies = folder / "scenario.yaml", folder / "topologies"
        # `harness list` has no flag for the topology folder: the loader's default stands in.
        defaults = load_scenario.__defaults__
        load_scenario.__defaults__ = (topologies,)
        load_topology.cache_clear()  # a topology of the same name and folder was read before
        try:
            outcome = run_cli(["list", str(scenario)], capfd)
        finally:
            load_scenario.__defaults__ = defaults
        command = (
            ".venv/bin/python -c 'from pathlib import Path; from harness.scenario import "
            f'load_scenario; load_scenario("{scenario}", topology_dir=Path("{topologies}"))\''
        )
        return judge(outcome, [str(scenario)]), command

    _report(Fuzzer("topologies", make, check), tmp_path)


@pytest.mark.usefixtures("translation_only")  # the translation's bounds; the proof runs a kernel
def test_listing_mutants_import_or_are_refused_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Mutants of tests/listings/, through `harness import`; a listing it imports gives a
    topology the loader reads."""
    originals = [p.read_text() for p in sorted(LISTINGS.iterdir())]

    def make(rng: random.Random) -> tuple[dict[str, bytes], str]:
        data, what = mutate_listing(rng.choice(originals), rng, originals)
        return {"listing.sh": data}, what

    def check(folder: Path) -> tuple[str | None, str]:
        listing, topologies = folder / "listing.sh", folder / "out" / "topologies"
        argv = ["import", str(listing), "--topology-dir", str(topologies)]
        argv += ["--scenario", str(folder / "out" / "scenario.yaml")]
        command = ".venv/bin/harness " + " ".join(argv)
        outcome = run_cli(argv, capfd)
        # ImportFailure lists what became of each line under its one-line reason, by design.
        kind = judge(outcome, [listing.name], detail_lines="  line ")
        if kind is None and outcome.code == 0:
            load_topology.cache_clear()
            try:  # one topology per part of the listing: listing.yaml, or listing-1 ...
                for written in sorted(topologies.glob("*.yaml")):
                    load_topology(written.stem, topologies)
                assert any(topologies.glob("*.yaml"))
            except Exception as exc:
                kind = f"import wrote a topology the loader refuses: {type(exc).__name__}"
        return kind, command

    _report(Fuzzer("listings", make, check), tmp_path)


@functools.cache
def _record_files() -> dict[str, bytes]:
    """The fixture run as a run whose controller died: records/ and no results.json."""
    run, records = read_run(RESULTS.parent)
    assert run is not None and records
    files: dict[str, bytes] = {}
    for record in records:
        files[str(record_path(Path("run"), record))] = record.to_json().encode()
    return files


def _stopped_run(rng: random.Random) -> tuple[dict[str, bytes], str]:
    """A mutant of the record files of a stopped run: a record, a marker of a case that
    started and has no record, or a name in the folder."""
    files = dict(_record_files())
    names = list(files)
    victim = rng.choice(names)
    record = CaseRecord.from_json(files[victim])
    marker = str(running_path(Path("run"), record.kernel, record.scenario, record.case))
    op = rng.randrange(4)
    if op == 0:
        data, what = mutate_json(files.pop(victim).decode(), rng, [])
        return {victim: data, **files}, f"record {victim}: {what}"
    # The case started and its record is gone: `report` names it from its scenario file.
    del files[victim]
    target = str(PROJECT_ROOT / record.file)
    if op == 1:
        data, what = mutate_bytes(target.encode(), rng)
        return {marker: data, **files}, f"marker {marker}: {what}"
    if op == 2:
        return {
            marker: rng.choice(["/dev/zero", "/proc/self/mem", "", "\x00", "x" * 5000]).encode(),
            **files,
        }, "marker"
    weird = rng.choice([".x", "..x", "a\x1bb", "a\nb", "é" * 100, "x" * 255, " ", "-", "*"])
    parts = Path(marker).parts
    at = rng.randrange(3, len(parts))
    renamed = str(Path(*parts[:at], weird, *parts[at + 1 :]))
    return {renamed: target.encode(), **files}, f"marker renamed to {renamed!r}"


def test_results_folder_mutants_read_or_are_refused_in_one_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Mutants of a results folder (results.json, or the record files of a stopped run),
    through `harness show`, `compare` (with the unchanged run) and `report`."""
    original = RESULTS.read_text()
    keys = [f"{r['scenario']}/{r['case']}" for r in json.loads(original)["records"]]
    donors: list[Any] = []
    scalars_of(json.loads(original), donors, limit=3000)
    pristine = tmp_path / "original-run"
    pristine.mkdir()
    (pristine / "results.json").write_text(original)

    def make(rng: random.Random) -> tuple[dict[str, bytes], str]:
        # The case `show` asks for: a mutation of one record is seen in full 1 time in 14.
        case = {"case": rng.choice(keys).encode()}
        if rng.random() < 0.25:
            files, what = _stopped_run(rng)
            return {**files, **case}, what
        data, what = mutate_json(original, rng, donors)
        return {"run/results.json": data, **case}, what

    def check(folder: Path) -> tuple[str | None, str]:
        run = folder / "run"
        case = (folder / "case").read_text()
        verbs: list[tuple[list[str], tuple[int, ...]]] = [
            (["show", case, "--run", str(run)], (0,)),
            (["compare", str(run), str(pristine)], (0, 1)),
            (["report", str(run), "--every-diagram"], (0,)),
        ]
        for argv, ok in verbs:
            kind = judge(run_cli(argv, capfd), [str(run)], ok_codes=ok)
            if kind is not None:
                return f"{argv[0]}: {kind}", ".venv/bin/harness " + " ".join(argv)
        return None, ""

    fuzzer = Fuzzer("results", make, check)
    _report(fuzzer, tmp_path)
