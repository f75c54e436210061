"""Where guest kernels come from: one module per source, asked in the order of `SOURCES`.

A new source is one module here exporting `SOURCE` (a `base.Source`: a name,
`find` for `--kernel` labels, `fetch` into the cache) and its line in `SOURCES`.
"""

from __future__ import annotations

from harness.guests.sources import cache, debian, local
from harness.guests.sources.base import Kernel, KernelError, Log, Source, kernels_extra_missing

# A path first (a label with a / or naming a file), then the cache, which
# answers every other label; debian only fetches (into the cache).
SOURCES: tuple[Source, ...] = (local.SOURCE, cache.SOURCE, debian.SOURCE)
FETCHER = debian.SOURCE  # what `harness kernels fetch` downloads with

__all__ = [
    "FETCHER",
    "SOURCES",
    "Kernel",
    "KernelError",
    "Log",
    "Source",
    "fetch",
    "find_kernel",
    "kernels_extra_missing",
]


def find_kernel(label: str) -> Kernel:
    """The kernel a `--kernel` label names: the first source that claims the label answers."""
    if missing := kernels_extra_missing():
        raise KernelError(missing)
    for source in SOURCES:
        if source.find is not None:
            kernel = source.find(label)
            if kernel is not None:
                return kernel
    raise KernelError(f"no kernel source knows {label}")


def fetch(labels: list[str], log: Log) -> list[Kernel]:
    """Download the kernels `labels` name into the cache, with `FETCHER`."""
    if missing := kernels_extra_missing():
        raise KernelError(missing)
    if FETCHER.fetch is None:
        raise KernelError(f"the {FETCHER.name} kernel source does not download")
    return FETCHER.fetch(labels, log)
