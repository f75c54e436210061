"""The link-kind rows (the scenario language) and the lab's makers agree, kind by kind.

Pure reading of the two tables (no kernel): a row without its maker would fail only
when a topology first uses it, a feature without its try only in `harness doctor`.
"""

from __future__ import annotations

from harness.lab.link_makers import MAKERS, TRIES
from harness.scenario.link_kinds import FEATURES, LINK_KINDS


def test_every_local_and_stacked_kind_has_a_maker() -> None:
    made_here = {k.name for k in LINK_KINDS.values() if k.role in ("local", "stacked")}
    assert set(MAKERS) == made_here


def test_every_feature_has_a_try_and_a_row() -> None:
    assert set(TRIES) == set(FEATURES)
    assert {k.feature for k in LINK_KINDS.values() if k.feature} == set(FEATURES)
