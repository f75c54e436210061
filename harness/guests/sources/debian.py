"""Debian's generic -amd64 kernels, fetched into the cache (`cache.py`) with a private apt.

`<cache>/.apt/` is a private apt configuration (own sources list, lists, cache
and empty status file, used through APT_CONFIG): the machine's own sources and
installed packages are never touched (adding another release's suite to the
system's sources once upgraded this machine's libc).  A kernel is fetched with
`apt-get download` and unpacked with `dpkg-deb -x`.

Why Debian's generic images: they have 9p (virtme-ng shares the root over 9p
where no virtiofsd is usable; the -cloud-amd64 images lack it) and every module
the scenarios load (veth, bridge, macvlan, ipvlan, dummy, vrf, tun).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.guests.sources.base import Kernel, KernelError, Log, Source
from harness.guests.sources.cache import (
    METADATA,
    CachedKernel,
    cache_dir,
    load_entry,
    locked,
    scratch_dir,
    series_key,
)

# Releases the Debian archive still serves, oldest first (buster is gone).
# Each is read with its -updates and -security suites, where it has them.
RELEASES = ("bullseye", "bookworm", "trixie", "sid")
SYSTEM_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")

# linux-image-6.1.0-57-amd64 (bullseye, bookworm), linux-image-6.12.57+deb13-amd64
# (trixie on).  Not -cloud-amd64 (no 9p), -rt-amd64, -dbg or -unsigned.
_IMAGE_PACKAGE = re.compile(
    r"linux-image-(?P<release>(?P<series>\d+\.\d+)\.\d+(?:-\d+|\+deb\d+|\+[a-z0-9.~]+)?-amd64)"
)


_KERNEL_STANZA = re.compile(r"^Package: linux-image-.*?(?:\n\n|\Z)", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Archive:
    """The Debian archive and its security archive, as the system's own sources name them."""

    main: str
    security: str | None


def system_archive(paths: Iterable[Path] = SYSTEM_SOURCES) -> Archive:
    """The archive URLs of the machine's sources (deb822 or one-line format), read only."""
    main: str | None = None
    security: str | None = None
    for path in paths:
        try:
            text = path.read_text()
        except OSError:
            continue
        for uri, suites in _source_entries(text, deb822=path.suffix == ".sources"):
            if any(s.endswith("-security") for s in suites):
                security = security or uri
            else:
                main = main or uri
    if main is None:
        names = " or ".join(str(p) for p in paths)
        raise KernelError(f"no Debian archive URL found in {names}")
    return Archive(main.rstrip("/"), security.rstrip("/") if security else None)


def _source_entries(text: str, deb822: bool) -> Iterator[tuple[str, list[str]]]:
    if deb822:
        from debian.deb822 import Deb822  # the extra `kernels`: imported when used

        for stanza in Deb822.iter_paragraphs(text.splitlines()):
            if "deb" not in stanza.get("Types", "").split():
                continue
            if stanza.get("Enabled", "yes").lower() == "no":
                continue
            for uri in stanza.get("URIs", "").split():
                yield uri, stanza.get("Suites", "").split()
        return
    for line in text.splitlines():
        words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            yield words[1], [words[2]]


def sources_list(archive: Archive, releases: Iterable[str] = RELEASES) -> str:
    """The private sources.list: main of every release, with its -updates and -security."""
    signed = f"[arch=amd64 signed-by={KEYRING}]"
    lines = []
    for release in releases:
        lines.append(f"deb {signed} {archive.main} {release} main")
        if release != "sid":
            lines.append(f"deb {signed} {archive.main} {release}-updates main")
            if archive.security:
                lines.append(f"deb {signed} {archive.security} {release}-security main")
    return "\n".join(lines) + "\n"


def apt_config(apt_dir: Path) -> str:
    """An APT_CONFIG file that points every state apt writes into apt_dir."""
    settings = {
        "Dir::Etc::SourceList": apt_dir / "sources.list",
        "Dir::Etc::SourceParts": apt_dir / "sources.list.d",
        "Dir::Etc::Preferences": apt_dir / "preferences",
        "Dir::Etc::PreferencesParts": apt_dir / "preferences.d",
        "Dir::State": apt_dir / "state",
        "Dir::State::Lists": apt_dir / "lists",
        "Dir::State::status": apt_dir / "status",
        "Dir::Cache": apt_dir / "cache",
        "APT::Architecture": "amd64",
        # Only Packages indices: no translations, no Contents.
        "Acquire::Languages": "none",
        # apt drops to the _apt user to download; it cannot enter /root/.cache
        # and would say so in a warning before downloading as root anyway.
        "APT::Sandbox::User": "root",
    }
    return "".join(f'{key} "{value}";\n' for key, value in settings.items()) + (
        'APT::Architectures { "amd64"; };\n'
    )


@dataclass(frozen=True)
class Candidate:
    """One linux-image package of the archive."""

    package: str
    version: str
    release: str  # the kernel release, as `uname -r` will say it in the guest
    series: str  # major.minor
    suite: str  # the suite whose index listed it (bookworm-security, ...)
    size: int  # bytes of the .deb
    # From sid in 2026 on, linux-image-<release> is a small package that depends
    # on linux-binary-<release> (the vmlinuz) and linux-modules-<release>; up to
    # trixie it ships both itself.  Every package of the kernel, image first.
    parts: tuple[str, ...] = ()


def _same_release_dependencies(depends: str, release: str) -> list[str]:
    """`linux-*-<release> (= version)` dependencies that have no alternative, as name=version."""
    found = []
    for group in depends.split(","):
        if "|" in group:
            continue  # dracut | initramfs-tools: the host's business, not the guest's
        name, _, constraint = group.strip().partition(" ")
        if re.fullmatch(rf"linux-[a-z-]+-{re.escape(release)}", name):
            version = re.fullmatch(r"\(= ?([^)]+)\)", constraint.strip())
            found.append(f"{name}={version[1]}" if version else name)
    return found


def candidates(index: str, suite: str) -> list[Candidate]:
    """The generic -amd64 image packages a Packages index lists."""
    found = []
    # Package is the first field of a stanza: only those of linux-image-* are
    # parsed (an index has 60,000 stanzas; a handful are kernels).
    kernels = "\n".join(m[0] for m in _KERNEL_STANZA.finditer(index))
    from debian.deb822 import Packages  # the extra `kernels`: imported when used

    for stanza in Packages.iter_paragraphs(kernels.splitlines(), use_apt_pkg=False):
        match = _IMAGE_PACKAGE.fullmatch(stanza.get("Package", ""))
        if match:
            found.append(
                Candidate(
                    package=stanza["Package"],
                    version=stanza["Version"],
                    release=match["release"],
                    series=match["series"],
                    suite=suite,
                    size=int(stanza.get("Size", 0)),
                    parts=(
                        f"{stanza['Package']}={stanza['Version']}",
                        *_same_release_dependencies(stanza.get("Depends", ""), match["release"]),
                    ),
                )
            )
    return found


def newest(series: str, offered: Iterable[Candidate]) -> Candidate:
    """The newest image of a series (`6.1`), or an exact release (`6.1.0-57-amd64`)."""
    offered = list(offered)
    matching = [c for c in offered if series in (c.series, c.release)]
    if not matching:
        versions = sorted({c.series for c in offered}, key=series_key)
        raise KernelError(
            f"Debian's archive has no generic amd64 kernel {series}: it offers "
            f"{', '.join(versions) or 'none'} (in {', '.join(RELEASES)})"
        )
    from debian.debian_support import Version  # the extra `kernels`: imported when used

    return max(matching, key=lambda c: Version(c.version))


class PrivateApt:
    """apt-get with a configuration of its own under <cache>/.apt; the system's apt is untouched."""

    def __init__(self, cache: Path, archive: Archive) -> None:
        self.dir = cache / ".apt"
        for sub in ("lists/partial", "cache/archives/partial", "state", "sources.list.d"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        (self.dir / "preferences.d").mkdir(exist_ok=True)
        (self.dir / "status").touch()
        self._write(self.dir / "sources.list", sources_list(archive))
        self._write(self.dir / "apt.conf", apt_config(self.dir))
        self.archive = archive

    @staticmethod
    def _write(path: Path, text: str) -> None:
        if not path.exists() or path.read_text() != text:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text)
            tmp.replace(path)

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """apt-get ARGS under the private configuration."""
        env = {**os.environ, "APT_CONFIG": str(self.dir / "apt.conf"), "LC_ALL": "C"}
        return _run(["apt-get", "-q", *args], APT_TIMEOUT, cwd=cwd, env=env)

    def update(self) -> None:
        """Refresh the package indices of every release."""
        done = self.run("update")
        # apt-get update exits 0 even when a suite could not be fetched; its
        # W:/E: lines say which.
        failed = [line for line in done.stderr.splitlines() if line.startswith(("E:", "W: Failed"))]
        if done.returncode != 0 or failed:
            reason = (failed or done.stderr.strip().splitlines() or ["no message"])[-1]
            raise KernelError(
                f"could not read Debian's archive at {self.archive.main} (network down or "
                f"archive unreachable?): {reason.removeprefix('E: ').removeprefix('W: ')}"
            )

    def offered(self) -> list[Candidate]:
        """Every generic amd64 image in the downloaded indices."""
        # apt stores indices compressed as the system's apt.conf.d says (lz4 in
        # Debian's container images); apt itself names and decompresses them.
        targets = self.run(
            "indextargets", "--format", "$(FILENAME)\t$(CODENAME)", "Identifier: Packages"
        )
        if targets.returncode != 0:
            raise KernelError(f"apt-get indextargets failed: {targets.stderr.strip()}")
        found: list[Candidate] = []
        for line in targets.stdout.splitlines():
            filename, _, suite = line.partition("\t")
            index = _run(["/usr/lib/apt/apt-helper", "cat-file", filename], LOCAL_TIMEOUT)
            if index.returncode != 0:
                raise KernelError(f"apt-helper could not read {filename}: {index.stderr.strip()}")
            found += candidates(index.stdout, suite)
        return found

    def download(self, candidate: Candidate, into: Path) -> list[Path]:
        """The .debs of every part of a kernel, downloaded into a directory."""
        done = self.run("download", *candidate.parts, cwd=into)
        debs = sorted(into.glob("*.deb"))
        if done.returncode != 0 or len(debs) != len(candidate.parts):
            reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise KernelError(
                f"could not download {' '.join(candidate.parts)} from "
                f"{self.archive.main}: {reason.removeprefix('E: ')}"
            )
        return debs


def fetch(versions: list[str], cache: Path | None = None, log: Log = print) -> list[CachedKernel]:
    """Download and unpack the newest generic amd64 kernel of each series, unless it is cached."""
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with locked(cache):
        apt = PrivateApt(cache, system_archive())
        log(f"reading Debian's package indices ({', '.join(RELEASES)}) from {apt.archive.main}")
        apt.update()
        offered = apt.offered()
        chosen = [newest(series, offered) for series in versions]  # all known before any download
        return [_fetch_one(apt, candidate, cache, log) for candidate in chosen]


def _fetch_one(apt: PrivateApt, chosen: Candidate, cache: Path, log: Log) -> CachedKernel:
    target = cache / chosen.release
    if (target / METADATA).is_file():
        log(f"{chosen.release} is cached already: {target}")
        return load_entry(target)
    log(f"downloading {' '.join(chosen.parts)} ({chosen.suite})")
    # Everything is made under a temporary name and renamed into place only when
    # complete: an interrupted fetch leaves no entry that looks usable.
    with scratch_dir(cache, ".fetch-") as scratch:
        unpacked = scratch / "root"
        for deb in apt.download(chosen, scratch):
            extracted = _run(["dpkg-deb", "-x", str(deb), str(unpacked)], LOCAL_TIMEOUT)
            if extracted.returncode != 0:
                raise KernelError(
                    f"dpkg-deb could not unpack {deb.name}: {extracted.stderr.strip()}"
                )
            deb.unlink()
        kernel = CachedKernel(
            chosen.release, unpacked, chosen.package, chosen.version, chosen.suite
        )
        # sid ships the image as usr/lib/modules/<release>/vmlinuz (its
        # maintainer scripts put it in /boot): linked, so every entry looks alike.
        moved = kernel.modules / "vmlinuz"
        if not kernel.image.exists() and moved.is_file():
            kernel.image.parent.mkdir(exist_ok=True)
            kernel.image.symlink_to(os.path.relpath(moved, kernel.image.parent))
        if not kernel.image.is_file() or not kernel.modules.is_dir():
            raise KernelError(
                f"{', '.join(chosen.parts)} unpacked hold no boot/vmlinuz-{chosen.release} "
                f"with lib/modules/{chosen.release}"
            )
        _depmod(kernel)
        meta = {k: v for k, v in asdict(kernel).items() if k != "root"}
        (unpacked / METADATA).write_text(json.dumps(meta, indent=2) + "\n")
        unpacked.rename(target)
    log(f"unpacked into {target}")
    return load_entry(target)


def _depmod(kernel: CachedKernel) -> None:
    # Done here once, so that virtme-ng, which runs depmod when modules.dep is
    # missing, never writes into the cache at boot.
    base = kernel.modules.parents[2]  # <root> or <root>/usr
    done = _run(["depmod", "-a", "-b", str(base), kernel.release], LOCAL_TIMEOUT)
    if done.returncode != 0 or not (kernel.modules / "modules.dep").is_file():
        raise KernelError(
            f"depmod could not index the modules of {kernel.release}: {done.stderr.strip()}"
        )


APT_TIMEOUT = 1800.0  # seconds for one apt-get (a kernel's .debs are about 100 MB)
LOCAL_TIMEOUT = 300.0  # reading an index, unpacking a .deb, depmod: seconds each here


def _run(
    argv: list[str], timeout: float, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A command of the fetch, bounded: one that hangs becomes a KernelError."""
    try:
        return subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        hung = shlex.join(argv)
        raise KernelError(f"{argv[0]} did not end within {timeout:.0f} s: {hung}") from None


def _fetch_kernels(labels: list[str], log: Log) -> list[Kernel]:
    return [Kernel(k.image, k.release) for k in fetch(labels, log=log)]


SOURCE = Source("debian", fetch=_fetch_kernels)
