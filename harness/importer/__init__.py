"""Importing an article's set-up listing: shell commands -> a topology and a skeleton scenario.

One subject per module: shell words (words) and the structure of a listing (shell),
addresses (addresses).
"""

from __future__ import annotations

from harness.importer.addresses import AddressMap, MappingError
from harness.importer.shell import read_listing
from harness.importer.words import Command, Listing

__all__ = ["AddressMap", "Command", "Listing", "MappingError", "read_listing"]
