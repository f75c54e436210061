"""Importing an article's set-up listing: shell commands -> a topology and a skeleton scenario.

`harness import LISTING` reads the commands (it never runs them), maps the
listing's addresses onto the documentation ranges and writes a topology and a
scenario skeleton; `harness new NAME` writes a commented scenario from
scratch.  One subject per module: shell words (words, split) and a listing's structure
(shell), its time order: episodes, set-up, acts and steps (episodes), the network
being built (model), `ip` (iplink, iproute), net-tools and sysctl (nettools), pasted
`ip ... show` output (dumps, dump_setup, dump_check), addresses (addresses), the whole
translation (translate), the proof against iproute2 (replay, proof), the
files written (writer, skeleton) and the command line (cli).
"""

from __future__ import annotations

from harness.importer.addresses import AddressMap, MappingError
from harness.importer.shell import read_listing
from harness.importer.shell_words import Command, Listing
from harness.importer.translate import ROOT_HOST, ImportFailure, ImportResult, import_listing

__all__ = [
    "ROOT_HOST",
    "AddressMap",
    "Command",
    "ImportFailure",
    "ImportResult",
    "Listing",
    "MappingError",
    "import_listing",
    "read_listing",
]
