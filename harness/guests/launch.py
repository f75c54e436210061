"""A "python" that runs inside another kernel: the launcher of an execnet/xdist gateway.

    pytest --dist each --tx popen --tx 'popen//python=.venv/bin/harness-guest 6.1'

(`harness-guest` is `python -m harness.guests.launch`; its options come before
KERNEL, see `harness-guest --help`.)

execnet runs `<python spec> -u -c "import sys;exec(eval(sys.stdin.readline()))"` and
then speaks its protocol over the process's stdin and stdout.  This module boots
KERNEL with virtme-ng (the host's file system shared read-only, `--rwdir` for
results), and in the guest runs `modprobe tun`, prints a marker line and execs
this project's venv python with those arguments.  It relays stdin/stdout only
after the marker, so nothing of the boot reaches the channel; the guest console
goes to a log file.

When the guest does not reach the marker in time (a kernel that does not boot,
panics, or qemu dying), the launcher execs the HOST python with the same
arguments and HARNESS_GUEST_ERROR set to what went wrong and the console's last
lines: the xdist worker still starts, and the harness's plugin records every
case it is given as an error of that kernel, naming the reason.  The
pytest run finishes either way.

Nothing outlives the launcher: see harness/guests/keeper.py.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import select
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from harness.core import run_folder
from harness.core.env import RESULTS_DIR
from harness.guests.keeper import VENV_BIN, Keeper
from harness.guests.sources import Kernel, KernelError, find_kernel
from harness.guests.sources.cache import cache_dir

MARKER = b"harness-guest-ready"
BOOT_TIMEOUT = 120.0  # seconds to the marker; a TCG boot here takes 15-25 s
KVM_PROBE_TIMEOUT = 10.0  # a KVM boot to the marker takes 2-3 s where KVM works
CONSOLE_TAIL_LINES = 40
# virtme-ng-init runs udev when the host has it, and udev's coldplug loads a
# driver for every device of qemu's q35 machine and every CPU feature: under TCG
# that took 15 of a 25 s boot (kvm_amd alone 6 s).  No scenario uses these;
# modprobe (kmod) skips aliases of modules named in modprobe.blacklist=.
UNUSED_MODULES = (
    "kvm,kvm_amd,kvm_intel,ahci,libahci,sr_mod,cdrom,sg,i2c_i801,lpc_ich,iTCO_wdt,"
    "iTCO_vendor_support,pcspkr,aesni_intel,ghash_clmulni_intel,crc32_pclmul,powernow_k8,"
    "acpi_cpufreq,i6300esb,serio_raw,evdev,button,joydev,psmouse,cryptd"
)


class BootError(Exception):
    """The guest did not start Python; the message says why and ends with the console's tail."""


@dataclass
class Options:
    """How to boot a guest."""

    # One xdist worker per guest runs one case at a time: with 1 vCPU a case
    # took 351 ms (median, 6.1, TCG), with 2 vCPUs 438 ms and 45% more host CPU.
    memory: str = "1G"
    cpus: int = 1
    rwdirs: list[Path] = field(default_factory=list)
    boot_timeout: float = BOOT_TIMEOUT
    accel: str | None = None  # kvm, tcg, or None: probe once, cached
    console: Path | None = None  # the guest console log; default in the cache
    status: Path | None = None  # a JSON file saying what happened (for the controller)
    append: list[str] = field(default_factory=list)  # more kernel parameters
    cpu_model: str | None = None  # qemu -cpu; None: virtme-ng's choice (host with KVM, max)


def console_path(kernel: Kernel, options: Options) -> Path:
    """Where the guest console goes."""
    if options.console is not None:
        return options.console
    return cache_dir().parent / "consoles" / f"{kernel.release}.log"


def _python_dirs() -> list[str]:
    """The directories Python imports from: the standard library, this venv, and the
    harness package itself (a clone's, installed editable, lies outside the venv: its
    modules took 0.45 s each over the uncached root mount under TCG, against 0.05 s
    for the venv's, half of a guest's imports)."""
    import sysconfig

    import harness

    paths = sysconfig.get_paths()
    package = str(Path(harness.__file__).resolve().parent)
    # No more than these: each mount is three kernel parameters that become init's
    # environment, and the kernel panics past 32 of them ("Too many boot env vars",
    # seen with the catalogue's two folders added).
    found = {paths["stdlib"], paths["platstdlib"], sys.prefix, package}
    # Only the outermost of nested directories (a venv inside the stdlib's prefix).
    return sorted(d for d in found if not any(d.startswith(o + "/") for o in found))


def prebuild_bytecode(package: Path | None = None) -> None:
    """Compile the harness package's modules on the host, where it is quick.  The guest
    mounts the package read-only, so a module without an up-to-date .pyc (none is written
    under PYTHONDONTWRITEBYTECODE, and none after an edit) is compiled from source at each
    import there, under TCG at about the cost of running it.  py_compile replaces each .pyc
    atomically, so launchers booting at once may do this together."""
    import compileall

    import harness

    compileall.compile_dir(package or Path(harness.__file__).parent, quiet=2)


def guest_script(python_args: Sequence[str], env: dict[str, str]) -> str:
    """The shell command the guest runs: prepare, say it is ready, become Python."""
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
    python = shlex.join([str(VENV_BIN / "python"), *python_args])
    # virtme-ng mounts the host's root over 9p without caching, so every stat
    # and open of an import is a round trip: importing scapy, pyroute2 and the
    # harness took 46 s under TCG.  The standard library and the venv do not
    # change during a run: vng exports them once more (--rodir, see
    # vng_command), and here they are mounted again with cache=loose.
    remount = (
        "for d in " + " ".join(shlex.quote(d) for d in _python_dirs()) + "; do "
        "n=$(tr ' ' '\\n' </proc/cmdline "
        '| sed -n "s|^virtme_initmount\\([0-9]*\\)=${d#/}$|\\1|p"); '
        '[ -n "$n" ] && umount "$d" && mount -t 9p -o ro,trans=virtio,version=9p2000.L,'
        'cache=loose,msize=512000 "virtme.initmount$n" "$d"; done >&2; '
    )
    # tun is the one module the scenarios use that nothing loads on demand
    # (veth, bridge, macvlan, ipvlan, dummy and vrf load when a link is made).
    return (
        remount + "modprobe tun >&2; "
        f"printf '{MARKER.decode()} %s\\n' \"$(uname -r)\"; "
        f"cd {shlex.quote(os.getcwd())} && exec env {exports} {python}"
    )


def vng_command(kernel: Kernel, accel: str, options: Options, script: str) -> list[str]:
    """The vng command line that boots the kernel and runs script."""
    command = [
        str(VENV_BIN / "vng"),
        "--run",
        str(kernel.image),
        "--force-9p",  # Debian 12 has no virtiofsd that virtme-ng can use
        "--verbose",  # the console, to the log: what a failed boot said
        "--memory",
        options.memory,
        "--cpus",
        str(options.cpus),
        "--append",
        f"modprobe.blacklist={UNUSED_MODULES}",
    ]
    for parameter in options.append:
        command += ["--append", parameter]
    if accel != "kvm":
        command.append("--disable-kvm")
    for rwdir in options.rwdirs:
        command.append(f"--rwdir={rwdir}")
    for python_dir in _python_dirs():
        command.append(f"--rodir={python_dir}")
    command += ["--exec", script]
    if options.cpu_model:
        command.append(f"--qemu-opts=-cpu {options.cpu_model}")  # must come last
    return command


@dataclass
class Guest:
    """A booted guest whose Python reads `to_guest` and writes `from_guest`."""

    kernel: Kernel
    accel: str
    boot_seconds: float
    to_guest: int
    from_guest: int
    keeper: Keeper
    leftover: bytes  # what followed the marker in the same read


def _tail(path: Path, lines: int = CONSOLE_TAIL_LINES) -> str:
    """The console's last lines, after its most telling one (a panic, qemu's own error)."""
    try:
        text = path.read_bytes()[-65536:].decode("utf-8", "replace").replace("\r", "")
    except OSError:
        return "(no console log)"
    telling = [
        line
        for line in text.splitlines()
        if "Kernel panic" in line or line.startswith(("qemu-system", "virtme-run:", "vng:"))
    ]
    last = text.splitlines()[-lines:]
    return "\n".join([*telling[:1], "...", *last] if telling[:1] else last)


def boot(
    kernel: Kernel,
    python_args: Sequence[str],
    accel: str,
    options: Options,
    timeout: float,
    env: dict[str, str],
) -> Guest:
    """Boot kernel and start Python in it; BootError if it is not running within timeout."""
    console = console_path(kernel, options)
    console.parent.mkdir(parents=True, exist_ok=True)
    # O_NOFOLLOW: the console log may sit in a run folder (RUN/guests/), never written
    # through a link (harness/core/run_folder.py says why).
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_NOFOLLOW
    console_fd = os.open(console, flags, 0o644)
    guest_stdin, to_guest = os.pipe()
    from_guest, guest_stdout = os.pipe()
    for fd in (to_guest, from_guest):
        fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
    # The script goes in a file beside the console log, which the guest reads through the
    # host's file system: vng passes --exec on the kernel command line (base64), and
    # with the mounts' parameters that passed x86's 2048 bytes (COMMAND_LINE_SIZE),
    # which cut off the rest of the line and left the guest silent after "Probing EDD".
    script_path = console.with_suffix(".sh")
    script_fd = os.open(script_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(script_fd, "w", encoding="utf-8") as script_file:
        script_file.write(guest_script(python_args, env) + "\n")
    run_script = f"exec /bin/sh {shlex.quote(str(script_path))}"
    started = time.monotonic()
    keeper = Keeper(
        vng_command(kernel, accel, options, run_script), guest_stdin, guest_stdout, console_fd
    )
    for fd in (guest_stdin, guest_stdout, console_fd):
        os.close(fd)
    received = b""
    deadline = started + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            keeper.stop()
            raise BootError(
                f"kernel {kernel.release} ({accel}) did not start Python within {timeout:.0f} s; "
                f"console ({console}):\n{_tail(console)}"
            )
        ready, _, _ = select.select([from_guest], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(from_guest, 65536)
        if not chunk:
            keeper.stop()
            raise BootError(
                f"kernel {kernel.release} ({accel}): qemu ended before Python started; "
                f"console ({console}):\n{_tail(console)}"
            )
        received += chunk
        start = received.find(MARKER)
        end = received.find(b"\n", start)
        if start >= 0 and end >= 0:
            return Guest(
                kernel,
                accel,
                time.monotonic() - started,
                to_guest,
                from_guest,
                keeper,
                received[end + 1 :],
            )


def _copy(source: int, target: int) -> None:
    with contextlib.suppress(OSError):
        while chunk := os.read(source, 65536):
            view = memoryview(chunk)
            while view:
                view = view[os.write(target, view) :]


def relay(guest: Guest) -> int:
    """Connect our stdin/stdout to the guest's Python until it ends; then stop the guest."""
    if guest.leftover:
        os.write(1, guest.leftover)

    def channel_in() -> None:
        _copy(0, guest.to_guest)
        # End of input: the guest's Python sees EOF on its stdin port.
        os.close(guest.to_guest)

    threading.Thread(target=channel_in, daemon=True).start()
    outward = threading.Thread(target=_copy, args=(guest.from_guest, 1), daemon=True)
    outward.start()
    # The guest runs until its stdout closes (qemu ended) or until no one reads
    # ours any more: a pipe whose reader is gone polls POLLERR, so a controller
    # killed while its worker is silent does not leave the guest running.
    reader = select.poll()
    reader.register(1, 0)
    while outward.is_alive():
        outward.join(timeout=0.5)
        if any(event & (select.POLLERR | select.POLLHUP) for _, event in reader.poll(0)):
            break
    guest.keeper.stop()
    return 0


@dataclass
class GuestRun:
    """What a command run in a guest gave: its kernel, how it booted, whether it ended in time."""

    release: str
    accel: str
    boot_seconds: float
    timed_out: bool


def run_python(
    spec: str,
    python_args: Sequence[str],
    options: Options,
    timeout: float,
    on_output: Callable[[bytes], None],
    stdin: bytes = b"",
) -> GuestRun:
    """Boot the kernel `spec` names, run this project's Python with `python_args` in it (its
    stdin `stdin`, then EOF), hand its stdout to `on_output` as it comes, and stop the guest
    when Python ends or `timeout` seconds after the boot, whichever is first (the keeper
    makes sure no qemu outlives this call).  KernelError or BootError when no guest comes up.

    `python_args` reach the guest in the script file boot() writes, not on the kernel's
    command line (virtme-ng's virtme.exec, base64), whose limit is 2048 bytes on x86: 6.1
    panicked at boot (fortify_panic in start_kernel) when paths made it longer."""
    kernel = find_kernel(spec)
    for rwdir in options.rwdirs:
        rwdir.mkdir(parents=True, exist_ok=True)
    prebuild_bytecode()
    accel, _ = choose_accel(kernel, options)
    env = {"HARNESS_GUEST_KERNEL": kernel.release, "HARNESS_GUEST_ACCEL": accel}
    guest = boot(kernel, python_args, accel, options, options.boot_timeout, env)
    timed_out = True
    try:
        with os.fdopen(guest.to_guest, "wb") as to_guest:  # then its Python reads EOF
            to_guest.write(stdin)
        if guest.leftover:
            on_output(guest.leftover)
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([guest.from_guest], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(guest.from_guest, 65536)
            if not chunk:  # its stdout closed: Python ended, and with it the guest
                timed_out = False
                break
            on_output(chunk)
    finally:
        guest.keeper.stop()
        os.close(guest.from_guest)
    return GuestRun(kernel.release, accel, guest.boot_seconds, timed_out)


# --- KVM or TCG -------------------------------------------------------------------------


def _accel_key() -> str:
    qemu = shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"
    try:
        version = subprocess.run(
            [qemu, "--version"], capture_output=True, text=True, timeout=10
        ).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        version = "no qemu"
    device = os.stat("/dev/kvm").st_rdev
    return f"{os.uname().release} | {version} | /dev/kvm {os.major(device)}:{os.minor(device)}"


def choose_accel(kernel: Kernel, options: Options) -> tuple[str, str]:
    """kvm when a short KVM boot reaches Python here, else tcg; and why. Cached per host."""
    forced = options.accel or os.environ.get("HARNESS_GUEST_ACCEL")
    if forced:
        return forced, "asked for"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg", "no usable /dev/kvm"
    cache = cache_dir().parent / "accel.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    key = _accel_key()
    # One probe per host kernel and qemu version, even with several launchers at once.
    with open(cache.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            known = json.loads(cache.read_text())
        except (OSError, ValueError):
            known = {}
        if key in known:
            return str(known[key]), f"probed before ({cache})"
        probe_options = Options(memory="512M", cpus=1, console=console_path(kernel, options))
        try:
            guest = boot(kernel, ["-c", "pass"], "kvm", probe_options, KVM_PROBE_TIMEOUT, {})
        except BootError:
            choice = "tcg"
        else:
            guest.keeper.stop()
            choice = "kvm"
        known[key] = choice
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(known, indent=2) + "\n")
        tmp.replace(cache)
    return choice, f"probed a KVM boot of {kernel.release}"


# --- entry point ------------------------------------------------------------------------


def _write_status(options: Options, status: dict[str, object]) -> None:
    if options.status is not None:
        options.status.parent.mkdir(parents=True, exist_ok=True)
        # RUN/guests/RELEASE.json: replaced, never written through a link.
        run_folder.write_text(
            options.status.parent, options.status.name, json.dumps(status, indent=2) + "\n"
        )


def _fail_on_host(python_args: Sequence[str], env: dict[str, str], reason: str) -> NoReturn:
    """Become the host's Python as an xdist worker whose every case is an error: the
    harness's pytest plugin reads HARNESS_GUEST_ERROR and records each case of the
    kernel HARNESS_GUEST_KERNEL as not run, with the reason."""
    os.execve(
        sys.executable,
        [sys.executable, *python_args],
        {**os.environ, **env, "HARNESS_GUEST_ERROR": reason},
    )


def parse(argv: Sequence[str]) -> tuple[str, Options, list[str]]:
    """Options, KERNEL, then the Python arguments (execnet appends `-u -c ...`)."""
    parser = argparse.ArgumentParser(
        prog="python -m harness.guests.launch",
        description="Boot KERNEL with virtme-ng and run this project's Python in it with "
        "the remaining arguments, stdin/stdout connected (an execnet popen 'python').",
    )
    parser.add_argument("--memory", default=Options.memory, help="guest memory (%(default)s)")
    parser.add_argument("--cpus", type=int, default=Options.cpus, help="vCPUs (%(default)s)")
    parser.add_argument(
        "--rwdir",
        type=Path,
        action="append",
        default=[],
        help="a host directory the guest may write (repeatable; default: harness run's results/)",
    )
    parser.add_argument("--boot-timeout", type=float, default=BOOT_TIMEOUT)
    parser.add_argument("--accel", choices=["kvm", "tcg"], help="skip the KVM probe")
    parser.add_argument(
        "--append", action="append", default=[], help="a kernel parameter (repeatable)"
    )
    parser.add_argument("--cpu-model", help="qemu's -cpu (default: virtme-ng's)")
    parser.add_argument("--console", type=Path, help="guest console log file")
    parser.add_argument("--status", type=Path, help="write what happened here, as JSON")
    parser.add_argument("kernel", metavar="KERNEL", help="5.10, 6.1.0-57-amd64 or an image path")
    parser.add_argument("python_args", nargs=argparse.REMAINDER, help="arguments for python")
    args = parser.parse_args(argv)
    rwdirs = args.rwdir or [RESULTS_DIR]
    options = Options(
        memory=args.memory,
        cpus=args.cpus,
        rwdirs=[d.absolute() for d in rwdirs],
        boot_timeout=args.boot_timeout,
        accel=args.accel,
        console=args.console,
        status=args.status,
        append=args.append,
        cpu_model=args.cpu_model,
    )
    return args.kernel, options, args.python_args


def main(argv: Sequence[str] | None = None) -> int:
    """Boot the guest and relay, or fall back to an erroring host worker."""
    spec, options, python_args = parse(sys.argv[1:] if argv is None else argv)
    env = {"HARNESS_GUEST_KERNEL": spec}
    try:
        kernel = find_kernel(spec)
    except KernelError as exc:
        _write_status(options, {"kernel": spec, "error": str(exc)})
        _fail_on_host(python_args, env, str(exc))
    for rwdir in options.rwdirs:
        rwdir.mkdir(parents=True, exist_ok=True)
    prebuild_bytecode()
    accel, why = choose_accel(kernel, options)
    env = {
        "HARNESS_GUEST_KERNEL": kernel.release,
        "HARNESS_GUEST_ACCEL": accel,
        "HARNESS_GUEST_CPUS": str(options.cpus),
        "HARNESS_GUEST_MEMORY": options.memory,
    }
    status: dict[str, object] = {
        "kernel": kernel.release,
        "image": str(kernel.image),
        "accel": accel,
        "accel_reason": why,
        "cpus": options.cpus,
        "memory": options.memory,
        "console": str(console_path(kernel, options)),
    }
    try:
        guest = boot(kernel, python_args, accel, options, options.boot_timeout, env)
    except BootError as exc:
        _write_status(options, {**status, "error": str(exc)})
        _fail_on_host(python_args, env, str(exc))
    _write_status(options, {**status, "boot_seconds": round(guest.boot_seconds, 1)})
    print(
        f"harness: {kernel.release} booted ({accel}, {why}) in {guest.boot_seconds:.1f} s",
        file=sys.stderr,
    )
    return relay(guest)


if __name__ == "__main__":
    sys.exit(main())
