"""Shared test helpers: the root-only marker and a before/after check of the host."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.rootstate import differences, snapshot

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to build network namespaces: run `sudo scripts/test`"
)


@pytest.fixture
def host_untouched() -> Iterator[None]:
    """Fail the test if the root namespace differs afterwards from before."""
    before = snapshot()
    yield
    assert differences(before, snapshot()) == {}
