"""A kernel image given by path, with its modules beside it (a kernel built here, say)."""

from __future__ import annotations

import struct
from pathlib import Path

from harness.guests.sources.base import Kernel, KernelError, Source


def image_release(image: Path) -> str:
    """The release a bzImage announces (`uname -r` in the guest), from its boot header."""
    # x86 boot protocol: "HdrS" at 0x202; kernel_version (0x20E) points to a
    # NUL-terminated string at its value + 0x200.
    try:
        with image.open("rb") as f:
            head = f.read(0x8000)
    except OSError as exc:
        raise KernelError(f"cannot read the kernel image {image}: {exc.strerror}") from None
    if len(head) < 0x210 or head[0x202:0x206] != b"HdrS":
        raise KernelError(f"{image} is not an x86 bzImage (no boot header)")
    (offset,) = struct.unpack_from("<H", head, 0x20E)
    text = head[offset + 0x200 :].split(b"\0", 1)[0].decode("ascii", "replace")
    if not text.split():
        raise KernelError(f"{image} names no kernel release in its boot header")
    return text.split()[0]


def find(label: str) -> Kernel | None:
    """The image at `label` (a path: it has a / or exists), with lib/modules/<release> above it."""
    path = Path(label)
    if "/" not in label and not path.exists():
        return None  # a release or series: the cache's
    if not path.is_file():
        raise KernelError(f"no kernel image {label}")
    image = path.absolute()
    release = image_release(image)
    # virtme-ng looks for the modules from the image's directory upwards, in
    # <dir>/lib/modules/<release> or <dir>/usr/lib/modules/<release>.
    for parent in image.parents:
        for base in ("lib", "usr/lib"):
            if (parent / base / "modules" / release).is_dir():
                return Kernel(image, release)
    raise KernelError(
        f"no modules for {release} beside {image}: put them in lib/modules/{release} "
        "in the image's directory or one above it (as `make modules_install "
        "INSTALL_MOD_PATH=DIR` does)"
    )


SOURCE = Source("path", find=find)
