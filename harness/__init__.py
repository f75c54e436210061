"""Checks claims about Linux routing and socket options on the running kernel.

The folders are the stages, and data flows one way through them (README "How it
works"; tests/unit/test_layout.py checks it, type hints included): core (shared
helpers) -> scenario (the language: loading, topologies, cases, the rows of link
kinds and socket options, expectations) -> lab (the kernel: namespaces, netlink,
the builder, capture, probes) -> case (one case: session, observation, verdict,
record, runner) -> runs (the run folder's store, stopped runs, comparison) ->
outputs (summary.md, JSON lines, TAP, JUnit, the console, the report); guests/
boots other kernels, importer/ reads listings, and cli/ and the pytest plugin
drive many cases through `case.runner`.
"""

__version__ = "0.1.0"
