"""Checks claims about Linux routing and socket options on the running kernel.

Data flows one way through these modules:
scenario (load) -> netns (lifecycle) -> topology (build) -> capture + probes (act)
-> observe -> verdict -> results; `runner` drives one case through them, and the
pytest plugin and the CLI drive many cases through `runner`.
"""

__version__ = "0.1.0"
