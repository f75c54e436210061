"""Shared test helpers: the root-only marker and a before/after check of the host."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.rootstate import differences, snapshot

if TYPE_CHECKING:
    from harness.lab.netns import NetNS

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to build network namespaces: run `sudo scripts/test`"
)


@pytest.fixture
def host_untouched() -> Iterator[None]:
    """Fail the test if the root namespace differs afterwards from before."""
    before = snapshot()
    yield
    assert differences(before, snapshot()) == {}


@pytest.fixture
def translation_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """`harness import` without its proof, for tests of the translation and of the files it
    writes; the proof, on the kernel, is tests/kernel/test_importer_twin.py's and
    tests/e2e/test_import_proof.py's."""
    from harness.importer import import_command as cli
    from harness.importer.proof import Proof

    monkeypatch.setattr(cli, "prove", lambda result: Proof([], 0, 0.0, len(result.topology.hosts)))


def ip_json(ns: NetNS, *args: str) -> Any:
    """iproute2's JSON view of a namespace: an independent reading of the kernel's state."""
    out = subprocess.run(
        ["nsenter", f"--net={ns.path}", "ip", "-j", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out) if out.strip() else []
