"""What a kernel source is: a name, how it finds a label's kernel, how it fetches into the cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Log = Callable[[str], None]


class KernelError(Exception):
    """A kernel could not be found, fetched or unpacked; the message is one sentence."""


@dataclass(frozen=True)
class Kernel:
    """A bootable image and its kernel release.

    Its modules are in `lib/modules/<release>` or `usr/lib/modules/<release>` in
    the image's directory or one above it: where virtme-ng looks for them.
    """

    image: Path
    release: str


@dataclass(frozen=True)
class Source:
    """One place kernels come from; `SOURCES` in `__init__.py` lists them in the order asked.

    `find(label)` is the kernel a `--kernel` label names, None when the label is
    not this source's to answer, KernelError when it is but there is no such
    kernel.  `fetch(labels, log)` puts the kernels the labels name into the cache
    (`cache.py`), where the cache source finds them; None for a source that does
    not download.
    """

    name: str
    find: Callable[[str], Kernel | None] | None = None
    fetch: Callable[[list[str], Log], list[Kernel]] | None = None
