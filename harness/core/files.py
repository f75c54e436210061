"""Reading a file that came from elsewhere: a regular file of a bounded size, or a reason.

A scenario, a listing and a results folder's files are read the same way: opened
without blocking (a FIFO would wait for a writer for ever), checked to be a
regular file on the opened descriptor (a device such as /dev/zero never ends),
and read to at most `limit` bytes.  The callers say in their own words what the
file should have been.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class UnreadableFile(ValueError):
    """Why a file cannot be read as one of bounded size; the message is the reason alone."""


def read_bounded(path: Path, limit: int, follow_links: bool = True) -> bytes:
    """The bytes of `path`, a regular file of at most `limit` bytes; FileNotFoundError when
    it does not exist, UnreadableFile otherwise.  `follow_links=False`: a symbolic link
    is refused (in a downloaded folder it could name any file of the host)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    try:
        fd = os.open(path, flags if follow_links else flags | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_links:
            raise UnreadableFile("a symbolic link, not a regular file") from None
        raise UnreadableFile(f"cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # before fdopen, which refuses a folder
        os.close(fd)
        raise UnreadableFile("not a regular file (a folder, device, FIFO or socket)")
    with os.fdopen(fd, "rb") as stream:
        try:
            data = stream.read(limit + 1)
        except OSError as exc:
            raise UnreadableFile(f"cannot read: {exc.strerror}") from None
    if len(data) > limit:
        raise UnreadableFile(f"larger than {limit >> 20} MiB")
    return data
