"""The wheel's catalogue: scenarios/ and fixtures/topologies/ go inside the package, as
harness/_catalogue/, where an installed harness finds them (harness/core/env.py).

A hook, not `force-include`: hatchling copies forced files into editable installs too,
and a folder `harness/` in site-packages would shadow the clone's package there.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

CATALOGUE = {
    "scenarios": "harness/_catalogue/scenarios",
    "fixtures/topologies": "harness/_catalogue/fixtures/topologies",
}


class CatalogueHook(BuildHookInterface):
    """Adds the catalogue to a standard wheel; an editable one reads the clone's own."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name == "wheel" and version == "standard":
            build_data["force_include"].update(CATALOGUE)
