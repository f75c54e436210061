"""Fetched kernels, in a cache we own, found by release or series (`6.1`).

Where the cache is, and why
---------------------------
`$HARNESS_CACHE/kernels`, else `$XDG_CACHE_HOME/harness/kernels`, else
`~/.cache/harness/kernels`.  It is persistent (a kernel is 50-100 MB to
download), it is not inside the project (so a worktree or a fresh clone does not
fetch again, and `git status` stays clean), and it is on the host's own file
system, which virtme-ng shares read-only with the guest at the same path: the
guest loads its modules from there.

Layout: `<cache>/<release>/` is one kernel as its packages unpack it (`boot/vmlinuz-<release>`,
`lib/modules/<release>` or `usr/lib/modules/<release>`) with `modules.dep` made
by depmod at fetch time, plus `harness-kernel.json` saying where it came from.
A source that fetches (`debian.py`) makes the entry under a `.fetch-*` scratch
name, holding `locked`, and renames it into place only when complete.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.guests.sources.base import Kernel, KernelError, Source

METADATA = "harness-kernel.json"


def cache_dir() -> Path:
    """Where fetched kernels live (see the module docstring)."""
    if os.environ.get("HARNESS_CACHE"):
        return Path(os.environ["HARNESS_CACHE"]).absolute() / "kernels"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).absolute() / "harness" / "kernels"


def series_key(series: str) -> tuple[int, ...]:
    return tuple(int(part) for part in series.split("."))


@dataclass(frozen=True)
class CachedKernel:
    """A kernel unpacked in the cache, ready for virtme-ng."""

    release: str
    root: Path  # the unpacked package: boot/, lib/ or usr/lib/
    package: str = ""
    version: str = ""
    suite: str = ""

    @property
    def image(self) -> Path:
        """The bootable bzImage."""
        return self.root / "boot" / f"vmlinuz-{self.release}"

    @property
    def modules(self) -> Path:
        """The modules tree of this release (virtme-ng looks for it beside the image)."""
        for base in ("lib", "usr/lib"):
            path = self.root / base / "modules" / self.release
            if path.is_dir():
                return path
        return self.root / "lib" / "modules" / self.release

    def size(self) -> int:
        """Bytes on disk."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


def cached_kernels(cache: Path | None = None) -> list[CachedKernel]:
    """Every complete kernel in the cache, oldest series first."""
    cache = cache or cache_dir()
    found = []
    for meta in cache.glob(f"*/{METADATA}"):
        try:
            fields = json.loads(meta.read_text())
            kernel = CachedKernel(
                release=fields["release"],
                root=meta.parent,
                package=fields.get("package", ""),
                version=fields.get("version", ""),
                suite=fields.get("suite", ""),
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not ours, or damaged: ignored, and fetch makes it anew
        if kernel.image.is_file():
            found.append(kernel)
    # python-debian: the extra `kernels` (base.kernels_extra_missing), imported when used.
    from debian.debian_support import Version

    return sorted(found, key=lambda k: (series_key(_series(k.release)), Version(k.version)))


def _series(release: str) -> str:
    return ".".join(release.split(".")[:2]).split("-")[0]


def find_cached(name: str, cache: Path | None = None) -> CachedKernel:
    """A cached kernel by release (`6.1.0-57-amd64`) or series (`6.1`: the newest cached)."""
    kernels = cached_kernels(cache)
    matching = [k for k in kernels if name in (k.release, _series(k.release))]
    if not matching:
        have = ", ".join(k.release for k in kernels) or "none"
        raise KernelError(
            f"no kernel {name} in the cache {cache or cache_dir()} (cached: {have}); "
            f"fetch it with `harness kernels fetch {name}`"
        )
    return matching[-1]


@contextlib.contextmanager
def scratch_dir(cache: Path, prefix: str) -> Iterator[Path]:
    """A directory beside the cache entries (so rename works), removed whatever happens."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=cache))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def load_entry(root: Path) -> CachedKernel:
    fields = json.loads((root / METADATA).read_text())
    return CachedKernel(
        fields["release"], root, fields["package"], fields["version"], fields["suite"]
    )


@contextlib.contextmanager
def locked(cache: Path) -> Iterator[None]:
    """One fetch at a time per cache; whatever scratch a killed fetch left is removed first."""
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released by the kernel if we die
        for scratch in cache.glob(".fetch-*"):
            shutil.rmtree(scratch, ignore_errors=True)
        yield


def find(label: str) -> Kernel:
    """The cached kernel a release or series names (the cache answers every label not a path)."""
    cached = find_cached(label)
    return Kernel(cached.image, cached.release)


SOURCE = Source("cache", find=find)
