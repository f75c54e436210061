"""Checks claims about Linux routing and socket options on the running kernel.

Data flows one way through these modules:
scenario + ipsyntax (load) -> netns (lifecycle) -> topology + kernel (build)
-> capture + probes (act) -> observe + kernelstate (what happened, what the
kernel held) -> verdict -> results -> report.  `timing` holds every wait;
`rtnl` is the plain netlink socket the build and the kernel-state readers share.
`runner` drives one case through the stages; the pytest plugin and the CLI drive
many cases through `runner`.
"""

__version__ = "0.1.0"
