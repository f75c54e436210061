"""What a kernel source is: a name, how it finds a label's kernel, how it fetches into the cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from harness.core.env import DISTRIBUTION, IN_CLONE

Log = Callable[[str], None]

# What other kernels need beyond the harness (pyproject.toml's extra `kernels`): the
# import name and the distribution of each.
KERNELS_EXTRA = (("virtme_ng", "virtme-ng"), ("debian", "python-debian"))


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


def kernels_extra_missing() -> str | None:
    """One line naming the extra to install when virtme-ng or python-debian is missing
    (`--kernel` and `harness kernels` need both), else None."""
    missing = [dist for module, dist in KERNELS_EXTRA if find_spec(module) is None]
    if not missing:
        return None
    how = "scripts/bootstrap-guests" if IN_CLONE else f"pip install '{DISTRIBUTION}[kernels]'"
    return f"other kernels need the extra 'kernels' ({', '.join(missing)} not installed): {how}"
