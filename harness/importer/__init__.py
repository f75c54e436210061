"""Importing an article's set-up listing: shell commands -> a topology and a skeleton scenario.

One subject per module: shell words (words) and the structure of a listing (shell).
"""

from __future__ import annotations

from harness.importer.shell import read_listing
from harness.importer.words import Command, Listing

__all__ = ["Command", "Listing", "read_listing"]
