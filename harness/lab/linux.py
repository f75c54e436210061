"""Linux constants the lab needs, each written once.

Python 3.11's os and socket lack CLONE_NEWNET and ETH_P_ALL (3.12 adds them); the
interface flags are read from the one table of them, LINK_FLAGS (the controller
process, where harness/lab/requirements.py checks the environment, does not load
pyroute2).  tests/unit/test_link_kinds.py checks every value against pyroute2 and,
where Python has them, os and socket.
"""

from __future__ import annotations

import ctypes

from harness.scenario.expect.patterns import LINK_FLAGS

# libc, for the calls Python 3.11's os lacks (unshare, setns, setfsuid, prctl): the
# process's own symbols, which hold libc's.  ctypes.util.find_library("c") would
# run ldconfig (or gcc) in a subprocess to find it: 0.1 s on the host and 1.5 s of
# a guest's start under TCG, for each module that asked.
LIBC = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNET = 0x40000000  # include/uapi/linux/sched.h
ETH_P_ALL = 0x0003  # include/uapi/linux/if_ether.h: every protocol, for a packet socket
# include/uapi/linux/if.h: net_device_flags, from the one table of them (named as
# `ip link` prints them, harness/scenario/expect/patterns.py).
_IFF = dict(LINK_FLAGS)
IFF_UP, IFF_MULTICAST, IFF_LOWER_UP = _IFF["UP"], _IFF["MULTICAST"], _IFF["LOWER_UP"]
