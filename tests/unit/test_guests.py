"""Guest kernels: apt configuration, version choice, kernel lookup, the launcher's commands.

Everything here runs without booting, except the last test, which boots one
cached kernel through an execnet gateway as pytest-xdist would.

The tests that need root or boot a guest kernel are tests/e2e/test_guests.py.
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest

from harness.core.env import kernel_release
from harness.guests import launch
from harness.guests.matrix import seen_kernel_run
from harness.guests.sources import Kernel, KernelError, find_kernel
from harness.guests.sources.cache import METADATA, cached_kernels, find_cached
from harness.guests.sources.debian import (
    KEYRING,
    Archive,
    apt_config,
    candidates,
    newest,
    sources_list,
    system_archive,
)

PROJECT = Path(__file__).resolve().parents[2]

# Stanzas as Debian's Packages indices have them (fields trimmed).
PACKAGES = """\
Package: linux-headers-6.1.0-57-amd64
Version: 6.1.192-3

Package: linux-image-6.1.0-56-amd64
Version: 6.1.190-1
Size: 70000000

Package: linux-image-6.1.0-57-amd64
Version: 6.1.192-3
Size: 70591024

Package: linux-image-6.1.0-57-cloud-amd64
Version: 6.1.192-3

Package: linux-image-6.1.0-57-amd64-dbg
Version: 6.1.192-3

Package: linux-image-6.1.0-57-amd64-unsigned
Version: 6.1.192-3

Package: linux-image-6.1.0-57-rt-amd64
Version: 6.1.192-3

Package: linux-image-amd64
Version: 6.1.192-3

Package: linux-image-6.12.118+deb13-amd64
Version: 6.12.118-1
Size: 108547552

Package: linux-image-6.1.0-9-amd64
Version: 6.1.27-1
"""


def test_only_generic_amd64_images_are_candidates() -> None:
    found = candidates(PACKAGES, "bookworm")
    assert [c.package for c in found] == [
        "linux-image-6.1.0-56-amd64",
        "linux-image-6.1.0-57-amd64",
        "linux-image-6.12.118+deb13-amd64",
        "linux-image-6.1.0-9-amd64",
    ]
    trixie = found[2]
    assert (trixie.release, trixie.series, trixie.size) == (
        "6.12.118+deb13-amd64",
        "6.12",
        108547552,
    )


def test_a_split_image_package_brings_its_binary_and_modules_packages() -> None:
    # sid: linux-image-<release> only depends on the packages that hold the
    # vmlinuz and the modules; the initramfs generator is the host's business.
    index = (
        "Package: linux-image-7.2.13+deb14-amd64\nVersion: 7.2.13-1\nDepends: dracut | "
        "initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, "
        "linux-base-7.2.13+deb14-amd64 (= 7.2.13-1), linux-binary-7.2.13+deb14-amd64 (= "
        "7.2.13-1), linux-modules-7.2.13+deb14-amd64 (= 7.2.13-1), kmod\n"
    )
    (sid,) = candidates(index, "sid")
    assert sid.parts == (
        "linux-image-7.2.13+deb14-amd64=7.2.13-1",
        "linux-base-7.2.13+deb14-amd64=7.2.13-1",
        "linux-binary-7.2.13+deb14-amd64=7.2.13-1",
        "linux-modules-7.2.13+deb14-amd64=7.2.13-1",
    )
    bookworm = candidates(PACKAGES, "bookworm")[1]
    assert bookworm.parts == ("linux-image-6.1.0-57-amd64=6.1.192-3",)


def test_newest_of_a_series_compares_debian_versions() -> None:
    found = candidates(PACKAGES, "bookworm")
    # 6.1.192-3 > 6.1.190-1 > 6.1.27-1: a string comparison would pick 6.1.27.
    assert newest("6.1", found).package == "linux-image-6.1.0-57-amd64"
    assert newest("6.12", found).release == "6.12.118+deb13-amd64"
    assert newest("6.1.0-56-amd64", found).version == "6.1.190-1"


def test_an_unknown_series_names_what_the_archive_offers() -> None:
    with pytest.raises(KernelError, match=r"no generic amd64 kernel 4\.19: it offers 6\.1, 6\.12"):
        newest("4.19", candidates(PACKAGES, "bookworm"))


def test_private_apt_configuration_writes_only_under_its_own_directory(tmp_path: Path) -> None:
    config = apt_config(tmp_path)
    for key in ("Dir::State::Lists", "Dir::State::status", "Dir::Cache", "Dir::Etc::SourceList"):
        value = next(line for line in config.splitlines() if line.startswith(f"{key} "))
        assert f'"{tmp_path}/' in value, value
    assert "/etc/apt" not in config and "/var/lib" not in config


def test_private_sources_list_is_signed_and_has_security_suites() -> None:
    archive = Archive("http://deb.example.org/debian", "http://deb.example.org/debian-security")
    lines = sources_list(archive, ["bookworm", "sid"]).splitlines()
    assert all(f"signed-by={KEYRING}" in line for line in lines)
    suites = [line.split()[-2] for line in lines]
    assert suites == ["bookworm", "bookworm-updates", "bookworm-security", "sid"]
    assert lines[2].split()[-3] == archive.security


def test_archive_urls_come_from_the_system_sources(tmp_path: Path) -> None:
    deb822 = tmp_path / "debian.sources"
    deb822.write_text(
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n"
    )
    assert system_archive([deb822]) == Archive(
        "http://mirror.example/debian", "http://mirror.example/debian-security"
    )
    one_line = tmp_path / "sources.list"
    one_line.write_text("# comment\ndeb [arch=amd64] http://other.example/debian bookworm main\n")
    assert system_archive([one_line]) == Archive("http://other.example/debian", None)
    with pytest.raises(KernelError, match="no Debian archive URL found"):
        system_archive([tmp_path / "missing.sources"])


def _cache_entry(cache: Path, release: str, version: str, usr: bool = False) -> Path:
    root = cache / release
    (root / "boot").mkdir(parents=True)
    (root / "boot" / f"vmlinuz-{release}").write_bytes(b"image")
    (root / ("usr/lib" if usr else "lib") / "modules" / release).mkdir(parents=True)
    meta = {"release": release, "package": f"linux-image-{release}", "version": version}
    (root / METADATA).write_text(json.dumps({**meta, "suite": "test"}))
    return root


def test_cached_kernels_are_found_by_series_or_release(tmp_path: Path) -> None:
    _cache_entry(tmp_path, "6.1.0-9-amd64", "6.1.27-1")
    _cache_entry(tmp_path, "6.1.0-57-amd64", "6.1.192-3")
    _cache_entry(tmp_path, "6.12.118+deb13-amd64", "6.12.118-1", usr=True)
    (tmp_path / ".fetch-interrupted").mkdir()  # a killed fetch's scratch: not a kernel
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / METADATA).write_text("{")
    assert [k.release for k in cached_kernels(tmp_path)] == [
        "6.1.0-9-amd64",
        "6.1.0-57-amd64",
        "6.12.118+deb13-amd64",
    ]
    assert find_cached("6.1", tmp_path).release == "6.1.0-57-amd64"
    assert find_cached("6.1.0-9-amd64", tmp_path).release == "6.1.0-9-amd64"
    trixie = find_cached("6.12", tmp_path)
    assert trixie.modules == tmp_path / trixie.release / "usr/lib/modules" / trixie.release
    with pytest.raises(KernelError, match=r"no kernel 5\.10 in the cache .*harness kernels fetch"):
        find_cached("5.10", tmp_path)


def _bzimage(path: Path, version: bytes) -> Path:
    """The first bytes of an x86 bzImage: boot header and version string."""
    head = bytearray(0x1000)
    head[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", head, 0x20E, 0x600)  # version string at 0x600 + 0x200
    head[0x800 : 0x800 + len(version)] = version
    path.write_bytes(bytes(head))
    return path


def test_a_user_kernel_is_found_with_its_modules_above_it(tmp_path: Path) -> None:
    image = _bzimage(tmp_path / "bzImage", b"6.13.0-rc1+ (me@box) #1 SMP")
    with pytest.raises(KernelError, match=r"no modules for 6\.13\.0-rc1\+ beside"):
        find_kernel(str(image))
    (tmp_path / "lib/modules/6.13.0-rc1+").mkdir(parents=True)
    assert find_kernel(str(image)) == Kernel(image, "6.13.0-rc1+")
    (tmp_path / "notakernel").write_bytes(b"\0" * 4096)
    with pytest.raises(KernelError, match="is not an x86 bzImage"):
        find_kernel(str(tmp_path / "notakernel"))
    with pytest.raises(KernelError, match="no kernel image"):
        find_kernel(str(tmp_path / "missing"))


def test_launcher_arguments_are_options_kernel_then_python_args() -> None:
    bootstrap = ["-u", "-c", "import sys;exec(eval(sys.stdin.readline()))"]
    kernel, options, python_args = launch.parse(["--cpus", "1", "6.1", *bootstrap])
    assert (kernel, options.cpus, python_args) == ("6.1", 1, bootstrap)
    assert options.rwdirs == [PROJECT / "results"]


def test_guest_script_prints_the_marker_before_it_becomes_python() -> None:
    script = launch.guest_script(["-u", "-c", "print('a b')"], {"HARNESS_GUEST_KERNEL": "6.1"})
    assert script.index("modprobe tun") < script.index("harness-guest-ready")
    python = f"{sys.prefix}/bin/python"
    quoted = "'print('\"'\"'a b'\"'\"')'"
    assert script.endswith(f"exec env HARNESS_GUEST_KERNEL=6.1 {python} -u -c {quoted}")


def test_vng_command_disables_kvm_only_for_tcg() -> None:
    kernel = Kernel(Path("/k/boot/vmlinuz-6.1"), "6.1")
    options = launch.Options(rwdirs=[Path("/r")], append=["quiet"])
    tcg = launch.vng_command(kernel, "tcg", options, "true")
    assert "--disable-kvm" in tcg
    assert "--disable-kvm" not in launch.vng_command(kernel, "kvm", options, "true")
    assert "--rwdir=/r" in tcg and tcg[-2:] == ["--exec", "true"]
    assert tcg[tcg.index("quiet") - 1] == "--append"


def test_console_tail_leads_with_the_panic(tmp_path: Path) -> None:
    console = tmp_path / "console"
    console.write_text(
        "[ 2.4] Kernel panic - not syncing: VFS: Unable to mount root fs\n"
        + "".join(f"[ 2.5] trace {i}\n" for i in range(100))
    )
    tail = launch._tail(console, lines=3).splitlines()
    assert tail == [
        "[ 2.4] Kernel panic - not syncing: VFS: Unable to mount root fs",
        "...",
        "[ 2.5] trace 97",
        "[ 2.5] trace 98",
        "[ 2.5] trace 99",
    ]


def test_a_kernel_no_kernel_option_asked_for_is_this_machine_or_another() -> None:
    """`pytest --tx ssh=...` reaches other machines: their kernels are not labelled host."""
    here = seen_kernel_run(kernel_release(), (1.0, 2.0))
    assert (here.label, here.machine) == ("host", "host")
    there = seen_kernel_run("6.1.0-99-amd64", (1.5, 3.0))
    assert there.label == "6.1.0-99-amd64" and there.machine.startswith("another machine")
    assert (there.first_case_seconds, there.last_case_seconds) == (1.5, 3.0)


def test_the_package_a_guest_imports_has_its_bytecode_built_on_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guest's mount is read-only: what it cannot find compiled it compiles at every
    import.  The launcher compiles it first, even where this process writes no bytecode."""
    import importlib.util

    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    sources = [package / "__init__.py", package / "sub" / "module.py"]
    for source in sources:
        source.write_text("VALUE = 1\n")
    launch.prebuild_bytecode(package)
    for source in sources:
        assert Path(importlib.util.cache_from_source(str(source))).is_file(), source
