"""Writing inside a run folder: every file stays inside it and no symbolic link is followed.

A run folder may come from elsewhere (`harness report` on a downloaded
`results/<run>/`, `harness run --results-dir` of a folder that already holds
files), and the harness runs as root: a `summary.md` or `pcap` that is a
symbolic link to /etc/... must not be written through.  So every writer goes
through here:

- each part of the path below the run folder is one plain name (no '/', no
  '..'), checked before anything is made;
- each folder on the way is made or entered with O_NOFOLLOW | O_DIRECTORY
  relative to its parent's fd, so a link anywhere below the run folder is
  refused, not followed;
- a file is written to a fresh temporary name (O_CREAT | O_EXCL | O_NOFOLLOW)
  in its folder and renamed over its final name; rename(2) replaces a name, it
  never follows one, and a reader never sees half a file.  A final name that is
  a symbolic link or not a regular file is refused, not replaced.

The run folder itself is what the user named on the command line (or
results/<run>/ that the harness made) and is taken as it is.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

# One path component, as the kernel's NAME_MAX limits it.
_NAME_MAX_BYTES = 255
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_TOP_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC  # the run folder: as named
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class RunFolderError(OSError):
    """A path inside the run folder cannot be written safely; says which and why."""


def _check_part(part: str, where: Path) -> None:
    if (
        not part
        or part in (".", "..")
        or "/" in part
        or "\0" in part
        or len(part.encode(errors="surrogateescape")) > _NAME_MAX_BYTES
    ):
        raise RunFolderError(f"{where}: {part!r} is not one plain file name")


def _parts(run_dir: Path, relative: str | Path) -> list[str]:
    rel = Path(relative)
    if rel.is_absolute():
        raise RunFolderError(f"{run_dir}: {str(rel)!r} is not a path inside the run folder")
    parts = list(rel.parts)
    for part in parts:
        _check_part(part, run_dir)
    if not parts:
        raise RunFolderError(f"{run_dir}: no file name given")
    return parts


def _enter(name: str | Path, dir_fd: int | None, make: bool) -> int:
    """An fd of the folder `name` (relative to dir_fd), entered without following a link;
    made first (0755) where it is missing and `make` says so.  Opened before it is made:
    under a guest's run folder (9p) each call is a round trip to the host, and the folder
    is there for every write but the first."""
    try:
        return os.open(name, _DIR_FLAGS if dir_fd is not None else _TOP_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        if not make:
            raise
    with contextlib.suppress(FileExistsError):
        if dir_fd is None:
            Path(name).mkdir(parents=True, exist_ok=True)
        else:
            os.mkdir(name, 0o755, dir_fd=dir_fd)
    return os.open(name, _DIR_FLAGS if dir_fd is not None else _TOP_FLAGS, dir_fd=dir_fd)


@contextlib.contextmanager
def _folder_fd(run_dir: Path, parts: list[str]) -> Iterator[int]:
    """An fd of run_dir/parts..., each folder made (0755) or entered without following links."""
    fd = _enter(run_dir, None, make=True)  # the run folder itself: as the user named it
    try:
        where = run_dir
        for part in parts:
            where = where / part
            try:
                inner = _enter(part, fd, make=True)
            except OSError as exc:
                raise _refusal(where, exc) from None
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def _refusal(where: Path, exc: OSError) -> RunFolderError:
    """ELOOP (a link where O_NOFOLLOW is set) and ENOTDIR say the same to a reader."""
    if os.path.islink(where):
        return RunFolderError(f"{where} is a symbolic link: the harness does not write through one")
    return RunFolderError(f"{where}: {exc.strerror}")


def make_folder(run_dir: Path, relative: str | Path) -> Path:
    """run_dir/relative as a real folder (made where missing), never reached through a link."""
    parts = _parts(run_dir, relative)
    with _folder_fd(run_dir, parts):
        pass
    return run_dir.joinpath(*parts)


@contextlib.contextmanager
def _new_file(run_dir: Path, relative: str | Path) -> Iterator[tuple[int, str]]:
    """A new temporary file beside run_dir/relative, as (its folder's fd, its name); when
    the block ends without an error it becomes run_dir/relative (atomically), else it is
    removed."""
    parts = _parts(run_dir, relative)
    *folders, name = parts
    final = run_dir.joinpath(*parts)
    with _folder_fd(run_dir, folders) as fd:
        try:
            before = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            before = None
        if before is not None and not stat.S_ISREG(before.st_mode):
            what = "a symbolic link" if stat.S_ISLNK(before.st_mode) else "not a regular file"
            raise RunFolderError(f"{final} is {what}: the harness does not write over it")
        tmp_name = f".{name[:200]}.tmp{os.getpid()}"
        try:
            new = os.open(tmp_name, _NEW_FILE_FLAGS, 0o644, dir_fd=fd)
        except FileExistsError:
            os.unlink(tmp_name, dir_fd=fd)  # left by a killed writer of this pid
            new = os.open(tmp_name, _NEW_FILE_FLAGS, 0o644, dir_fd=fd)
        except OSError as exc:
            raise _refusal(final.with_name(tmp_name), exc) from None
        try:
            yield new, tmp_name
            os.replace(tmp_name, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name, dir_fd=fd)
            raise


@contextlib.contextmanager
def replacing(run_dir: Path, relative: str | Path) -> Iterator[Path]:
    """Yield a new temporary file's path beside run_dir/relative; when the block ends
    without an error, it becomes run_dir/relative (atomically), else it is removed.

    For writers that take a file name (scapy's pcap writers): the temporary name is
    created here, exclusively, before they open it."""
    with _new_file(run_dir, relative) as (fd, tmp_name):
        os.close(fd)
        yield run_dir.joinpath(relative).with_name(tmp_name)


def write_bytes(run_dir: Path, relative: str | Path, data: bytes) -> Path:
    """Write run_dir/relative whole (see the module docstring); its path."""
    # Written through the fd the exclusive create gave (the name is never reopened), with
    # os.write: a file object would fstat, ioctl and seek it first, and in a guest's run
    # folder the fstat is one more round trip to the host.
    with _new_file(run_dir, relative) as (fd, _):
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    return run_dir / relative


def write_text(run_dir: Path, relative: str | Path, text: str) -> Path:
    """Write run_dir/relative as UTF-8 text (see write_bytes)."""
    return write_bytes(run_dir, relative, text.encode("utf-8"))


def open_log(run_dir: Path, relative: str | Path) -> int:
    """An fd for a file that is written while something runs (a child's output), made
    new or emptied, refused when the name is a link."""
    parts = _parts(run_dir, relative)
    *folders, name = parts
    with _folder_fd(run_dir, folders) as fd:
        try:
            return os.open(
                name,
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o644,
                dir_fd=fd,
            )
        except OSError as exc:
            raise _refusal(run_dir.joinpath(*parts), exc) from None


def refuse_links(run_dir: Path, limit: int = 100_000) -> None:
    """RunFolderError naming a symbolic link below run_dir (not followed; at most `limit`
    entries looked at): a folder about to be written into is checked before a run starts."""
    seen = 0
    for folder, dirs, files in os.walk(run_dir):
        for name in [*dirs, *files]:
            seen += 1
            if seen > limit:
                return
            path = Path(folder) / name
            if path.is_symlink():
                raise RunFolderError(
                    f"{path} is a symbolic link; the harness writes into no folder that holds "
                    "links (choose an empty folder)"
                )
