"""Linux constants the lab needs, each written once.

Python 3.11's os and socket lack CLONE_NEWNET and ETH_P_ALL (3.12 adds them), and
the interface flags are pyroute2's, which the controller process does not load
(the environment checks of harness/lab/requirements.py run there).
tests/unit/test_link_kinds.py checks every value against pyroute2 and, where Python
has them, os and socket.
"""

from __future__ import annotations

import ctypes

# libc, for the calls Python 3.11's os lacks (unshare, setns, setfsuid, prctl): the
# process's own symbols, which hold libc's.  ctypes.util.find_library("c") would
# run ldconfig (or gcc) in a subprocess to find it: 0.1 s on the host and 1.5 s of
# a guest's start under TCG, for each module that asked.
LIBC = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNET = 0x40000000  # include/uapi/linux/sched.h
ETH_P_ALL = 0x0003  # include/uapi/linux/if_ether.h: every protocol, for a packet socket
# include/uapi/linux/if.h: net_device_flags
IFF_UP = 0x1
IFF_MULTICAST = 0x1000
IFF_LOWER_UP = 0x10000
