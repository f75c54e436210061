"""Checks claims about Linux routing and socket options on the running kernel.

Data flows one way (README "How it works"; tests/test_layout.py checks it):
the shared words (env, vocabulary, timing) and the vocabulary of claims
(ipsyntax, linkkinds, sockopts, expect, facts) -> scenario (load) -> netns
(lifecycle) -> topology (build) -> capture + probes (act) -> observe +
kernelstate (what happened, what the kernel held) -> session (one case) ->
verdict -> record -> runner + results -> report; the pytest plugin and the CLI
drive many cases through `runner`.
"""

__version__ = "0.1.0"
